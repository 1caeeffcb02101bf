/* health: liveness (/healthz) and readiness (/readyz: Redis and PostgreSQL). */
#include <string.h>

#include "handlers.h"
#include "log.h"

static void health_live(hr_req_t *r)
{
    hr_req_reply(r, 200, json_pack("{s:s}", "status", "ok"), NULL);
}

static void health_ready(hr_req_t *r)
{
    char err[256];
    bool redis_ok = false, pg_ok = false;
    redisReply *rep = hr_redis_cmd(&r->app->redis, err, sizeof err, "PING");
    if (rep != NULL) {
        redis_ok = rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;
        freeReplyObject(rep);
    }
    if (!redis_ok)
        hr_log(HR_LOG_WARN, r->request_id, "readyz: redis: %s", err);
    if (hr_db_run(&r->app->db, "SELECT 1", 0, NULL, err, sizeof err) == 0)
        pg_ok = true;
    else
        hr_log(HR_LOG_WARN, r->request_id, "readyz: postgres: %s", err);
    bool ready = redis_ok && pg_ok;
    hr_req_reply(r, ready ? 200 : 503,
                 json_pack("{s:s, s:s, s:s}", "status", ready ? "ready" : "not_ready", "redis",
                           redis_ok ? "ok" : "down", "postgres", pg_ok ? "ok" : "down"),
                 NULL);
}

const hr_route_t hr_routes_health[] = {
    {"GET", "/healthz", health_live},
    {"GET", "/readyz", health_ready},
    {NULL, NULL, NULL},
};
