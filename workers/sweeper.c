/* sweeper: periodic repair passes over the deliveries table. */
#include "sweeper.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"
#include "proc.h"

/* A lease that ran out means its worker died mid-send. Before the handover
 * nothing reached the provider: try again now. After it the message was
 * complete at the provider: it is sent (its attempt row says so), and sending
 * it again would deliver it twice. */
static const char *const leases_sql =
    "WITH expired AS ("
    "  SELECT id, attempts, handed_over_at FROM deliveries"
    "  WHERE status = 'sending' AND lease_until < now() FOR UPDATE SKIP LOCKED),"
    " att AS ("
    "  INSERT INTO attempts (delivery_id, attempt, started_at, duration_ms, outcome, error)"
    "  SELECT id, attempts, handed_over_at, 0, 'sent',"
    "   'unconfirmed: the worker stopped after handing the message over'"
    "  FROM expired WHERE handed_over_at IS NOT NULL ON CONFLICT DO NOTHING)"
    " UPDATE deliveries d SET lease_until = NULL, updated_at = now(),"
    "  status = CASE WHEN e.handed_over_at IS NULL THEN 'retrying' ELSE 'sent' END,"
    "  next_attempt_at = CASE WHEN e.handed_over_at IS NULL THEN now() END,"
    "  sent_at = CASE WHEN e.handed_over_at IS NULL THEN d.sent_at ELSE e.handed_over_at END,"
    "  error = CASE WHEN e.handed_over_at IS NULL THEN 'lease expired'"
    "   ELSE 'unconfirmed: the worker stopped after handing the message over' END"
    " FROM expired e WHERE d.id = e.id";

/* Due retries, and queued deliveries that made no progress for a while (their
 * stream entry may be lost): mark them enqueued (next_attempt_at NULL,
 * updated_at now) and return them to be put on their streams. */
static const char *const due_sql =
    "UPDATE deliveries SET next_attempt_at = NULL, updated_at = now()"
    " WHERE id IN (SELECT id FROM deliveries"
    "   WHERE (status = 'retrying' AND next_attempt_at <= now())"
    "      OR (status IN ('queued', 'retrying') AND next_attempt_at IS NULL"
    "          AND updated_at < now() - make_interval(secs => $1::int))"
    "   ORDER BY updated_at LIMIT 5000 FOR UPDATE SKIP LOCKED)"
    " RETURNING id, channel, notification_id";

/* Monthly partitions: make sure the next ones exist, drop those wholly past
 * retention (a month is dropped once its last day is older than it). */
static const char *const partitions_sql =
    "SELECT herald_ensure_partitions(now(), 2),"
    " herald_drop_partitions(now() - make_interval(days => $1::int))";

/* Ingest entries read by a router that then died stay in its pending list.
 * A living router takes them over after router_claim_idle_ms; the sweeper
 * waits twice as long, so it only steps in when no router is left to do it
 * (all stopped, or all stuck), and stores them the way a router would. */
static int sweeper_rescue_ingest(hr_sweeper_t *s, char *err, size_t errlen)
{
    hr_router_t *rt = &s->rescue;
    rt->consumer.claim_idle_ms = 2 * s->cfg->router_claim_idle_ms;
    int stored = 0;
    for (int round = 0; round < 20 && !hr_proc_stop; round++) {
        hr_stream_batch_t batch;
        if (hr_consumer_claim(&rt->consumer, s->cfg->router_batch, &batch, err, errlen) != 0)
            return -1;
        size_t n = batch.n;
        int rc = n > 0 ? hr_router_process(rt, &batch, err, errlen) : 0;
        hr_stream_batch_free(&batch);
        if (rc != 0)
            return -1;
        stored += (int)n;
        if (strcmp(rt->consumer.claim_cursor, "0-0") == 0)
            break;
    }
    if (stored > 0)
        hr_log_json(HR_LOG_WARN, NULL, "ingest entries of a dead router stored",
                    json_pack("{s:i}", "count", stored));
    return 0;
}

int hr_sweeper_pass(hr_sweeper_t *s, char *err, size_t errlen)
{
    /* After an outage, leases that ran out meanwhile belong to workers that
     * were waiting to record their results: give them one lease period. */
    time_t now = time(NULL);
    if (now >= s->lease_hold_until && hr_db_run(&s->db, leases_sql, 0, NULL, err, errlen) != 0)
        return -1;
    /* Redis first: the rows are only marked once Redis can take them, so a
     * Redis outage never leaves them marked but not queued for long. */
    redisReply *ping = hr_redis_cmd(&s->redis, err, errlen, "PING");
    if (ping == NULL)
        return -1;
    freeReplyObject(ping);
    if (sweeper_rescue_ingest(s, err, errlen) != 0)
        return -1;
    char after[24];
    snprintf(after, sizeof after, "%ld", s->cfg->sweeper_requeue_after_s);
    const char *p[1] = {after};
    PGresult *res = hr_db_exec(&s->db, due_sql, 1, p, err, errlen);
    if (res == NULL)
        return -1;
    int n = PQntuples(res), queued = 0;
    for (int i = 0; i < n; i++) {
        hr_channel_t ch;
        if (hr_channel_parse(PQgetvalue(res, i, 1), &ch) != 0)
            continue;
        char stream[64];
        hr_channel_stream(ch, stream, sizeof stream);
        const char *argv[7] = {"XADD", stream, "*", "d", PQgetvalue(res, i, 0), "n",
                               PQgetvalue(res, i, 2)};
        if (hr_redis_append(&s->redis, 7, argv, NULL, err, errlen) != 0)
            break;
        queued++;
    }
    PQclear(res);
    /* If this fails the rows come back after requeue_after_s. */
    if (queued > 0 && hr_redis_flush(&s->redis, queued, err, errlen) != 0)
        return -1;
    if (queued > 0)
        hr_log_json(HR_LOG_INFO, NULL, "deliveries queued again", json_pack("{s:i}", "count", queued));
    if (now - s->last_retention >= 3600) {
        char days[24];
        snprintf(days, sizeof days, "%ld", s->cfg->sweeper_retention_days);
        const char *rp[1] = {days};
        if (hr_db_run(&s->db, partitions_sql, 1, rp, err, errlen) != 0)
            return -1;
        s->last_retention = now;
    }
    return queued;
}

int hr_sweeper_run(hr_sweeper_t *s, const char *config_path)
{
    char err[512];
    hr_redis_init(&s->redis, s->cfg);
    snprintf(s->db.conninfo, sizeof s->db.conninfo, "%s", s->cfg->pg_conninfo);
    /* The rescue router has connections of its own, as a router would; its
     * consumer name tells its entries apart from a real router's in XINFO. */
    hr_router_t *rt = &s->rescue;
    rt->cfg = s->cfg;
    hr_redis_init(&rt->redis, s->cfg);
    snprintf(rt->db.conninfo, sizeof rt->db.conninfo, "%s", s->cfg->pg_conninfo);
    char name[128], host[64] = "localhost";
    (void)gethostname(host, sizeof host - 1);
    snprintf(name, sizeof name, "sweeper-%s-%ld", host, (long)getpid());
    hr_consumer_init(&rt->consumer, &rt->redis, HR_STREAM_INGEST, HR_GROUP_INGEST, name,
                     2 * s->cfg->router_claim_idle_ms);
    hr_log_info("sweeper started");
    while (!hr_proc_stop) {
        hr_proc_check_reload(s->cfg, config_path);
        if (hr_sweeper_pass(s, err, sizeof err) < 0) {
            hr_log_warn("sweep failed: %s", err);
            s->lease_hold_until = time(NULL) + s->cfg->worker_lease_s;
        }
        hr_proc_sleep_ms(s->cfg->sweeper_interval_ms);
    }
    hr_log_info("sweeper stopped");
    hr_db_close(&rt->db);
    hr_redis_close(&rt->redis);
    hr_db_close(&s->db);
    hr_redis_close(&s->redis);
    return 0;
}
