/* usage: GET /v1/usage[?month=YYYY-MM] — the month's accepted notifications
 * per environment and channel, and the tenant's quota. A member sees every
 * environment of the tenant; an API key its own. Counted at ingest by the
 * send path's script (Redis hash herald:usage:<tenant>:<YYYYMM>). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enqueue.h"
#include "handlers.h"
#include "log.h"
#include "query.h"
#include "member_auth.h"

/* "YYYY-MM" → "YYYYMM"; -1 when malformed. */
static int usage_month(const char *s, char out[7])
{
    if (strlen(s) != 7 || s[4] != '-')
        return -1;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int mon = (s[5] - '0') * 10 + (s[6] - '0');
    if (mon < 1 || mon > 12)
        return -1;
    memcpy(out, s, 4);
    memcpy(out + 4, s + 5, 2);
    out[6] = '\0';
    return 0;
}

static void usage_get(hr_req_t *r)
{
    hr_scope_t sc;
    char err[256], month[7];
    time_t month_end = 0;
    if (hr_req_scope(r, &sc) != 0)
        return;
    hr_enqueue_month(time(NULL), month, &month_end);
    bool current = true;
    const char *m = hr_query_get(r, "month");
    if (m != NULL) {
        char asked[7];
        if (usage_month(m, asked) != 0) {
            hr_req_error(r, 422, "validation_failed", "month must be YYYY-MM", "month");
            return;
        }
        current = strcmp(asked, month) == 0;
        memcpy(month, asked, sizeof month);
    }
    /* The tenant's environments (and limits), from PostgreSQL. */
    const char *p[2] = {sc.tenant_id, sc.member ? NULL : sc.environment_id};
    PGresult *res = hr_db_exec(&r->app->db,
                               "SELECT e.id, e.project_id, p.name, e.kind, t.plan,"
                               " COALESCE(t.rate_limit, -1), COALESCE(t.monthly_quota, -1)"
                               " FROM environments e JOIN projects p ON p.id = e.project_id"
                               " JOIN tenants t ON t.id = e.tenant_id WHERE e.tenant_id = $1"
                               " AND ($2::uuid IS NULL OR e.id = $2::uuid)"
                               " ORDER BY p.created_at, e.kind",
                               2, p, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "usage", err);
        return;
    }
    redisReply *rep = hr_redis_cmd(&r->app->redis, err, sizeof err,
                                   "HGETALL herald:usage:%s:%s", sc.tenant_id, month);
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        PQclear(res);
        if (rep != NULL)
            freeReplyObject(rep);
        hr_log(HR_LOG_ERROR, r->request_id, "usage: %s", err);
        hr_req_error(r, 503, "not_ready", "the usage counters are unreachable; try again", NULL);
        return;
    }
    json_t *envs = json_array();
    long long tenant_total = 0;
    /* Tenant-wide total (for the quota) counts every environment. */
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        const char *f = rep->element[i]->str, *bar = strchr(f, '|');
        if (bar != NULL && strcmp(bar + 1, "notifications") == 0)
            tenant_total += strtoll(rep->element[i + 1]->str, NULL, 10);
    }
    hr_auth_t plan = {0};
    for (int row = 0; row < PQntuples(res); row++) {
        const char *env = PQgetvalue(res, row, 0);
        if (row == 0) {
            snprintf(plan.plan, sizeof plan.plan, "%s", PQgetvalue(res, 0, 4));
            plan.rate_limit = strtol(PQgetvalue(res, 0, 5), NULL, 10);
            plan.quota = strtoll(PQgetvalue(res, 0, 6), NULL, 10);
        }
        json_t *chans = json_object();
        long long total = 0;
        size_t elen = strlen(env);
        for (size_t i = 0; i + 1 < rep->elements; i += 2) {
            const char *f = rep->element[i]->str;
            if (strncmp(f, env, elen) != 0 || f[elen] != '|')
                continue;
            long long v = strtoll(rep->element[i + 1]->str, NULL, 10);
            if (strcmp(f + elen + 1, "notifications") == 0)
                total = v;
            else
                json_object_set_new(chans, f + elen + 1, json_integer((json_int_t)v));
        }
        json_array_append_new(envs, json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "id", env,
                                              "project_id", PQgetvalue(res, row, 1), "project",
                                              PQgetvalue(res, row, 2), "kind",
                                              PQgetvalue(res, row, 3), "notifications",
                                              (json_int_t)total, "channels", chans));
    }
    PQclear(res);
    freeReplyObject(rep);
    long rate = 0;
    long long quota = 0;
    hr_enqueue_plan_limits(&r->app->cfg, &plan, &rate, &quota);
    char mon[8], resets[32];
    snprintf(mon, sizeof mon, "%.4s-%.2s", month, month + 4);
    struct tm tm;
    gmtime_r(&month_end, &tm);
    strftime(resets, sizeof resets, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *q = json_pack("{s:I, s:I}", "limit", (json_int_t)quota, "used", (json_int_t)tenant_total);
    json_object_set_new(q, "remaining",
                        quota > 0 ? json_integer((json_int_t)(quota > tenant_total ? quota - tenant_total : 0))
                                  : json_null());
    if (current)
        json_object_set_new(q, "resets_at", json_string(resets));
    hr_req_reply(r, 200,
                 json_pack("{s:s, s:s, s:o, s:{s:I, s:I}, s:o}", "month", mon, "plan",
                           plan.plan[0] ? plan.plan : "free", "quota", q, "rate_limit", "limit",
                           (json_int_t)rate, "window_s", (json_int_t)r->app->cfg.limits_rate_window_s,
                           "environments", envs),
                 NULL);
}

const hr_route_t hr_routes_usage[] = {
    {"GET", "/v1/usage", usage_get},
    {NULL, NULL, NULL},
};
