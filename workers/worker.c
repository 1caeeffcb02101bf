/* worker: claim → send → record → ack, for one channel. Duplicate stream
 * entries are harmless: a delivery that cannot be claimed is acked and
 * skipped, so the transport is at-least-once and the send happens once. */
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "backoff.h"
#include "buf.h"
#include "ids.h"
#include "jsonutil.h"
#include "log.h"
#include "proc.h"

static const char *const claim_sql =
    "UPDATE deliveries d SET status = 'sending', attempts = d.attempts + 1,"
    " lease_until = now() + make_interval(secs => $2::int), next_attempt_at = NULL,"
    " updated_at = now()"
    " FROM notifications n"
    " WHERE d.id = ANY($1::uuid[]) AND d.channel = $3 AND n.id = d.notification_id"
    " AND d.status IN ('queued', 'retrying')"
    " AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= now())"
    " RETURNING d.id, d.attempts, COALESCE(d.address, ''), n.id, n.environment_id, n.user_id,"
    " n.type, n.title, n.body, n.data::text, COALESCE(n.request_id, '')";

static const char *const record_sql =
    "WITH a AS (INSERT INTO attempts (delivery_id, attempt, started_at, duration_ms,"
    "   response_code, outcome, error)"
    "   VALUES ($1, $2, to_timestamp($3::bigint / 1000.0), $4, $5, $6, $7)"
    "   ON CONFLICT DO NOTHING)"
    " UPDATE deliveries SET status = $8, error = $7, lease_until = NULL, updated_at = now(),"
    "  provider_message_id = COALESCE($9, provider_message_id),"
    "  sent_at = CASE WHEN $8 = 'sent' THEN now() ELSE sent_at END,"
    "  next_attempt_at = CASE WHEN $8 = 'retrying'"
    "    THEN now() + make_interval(secs => $10::double precision / 1000) END"
    /* attempts is the claim's fencing token: a worker whose lease ran out and
     * whose delivery was claimed again cannot overwrite the newer claim. */
    " WHERE id = $1 AND status = 'sending' AND attempts = $2::int";

static const char *const inbox_sql =
    "INSERT INTO inbox_items (id, environment_id, user_id, notification_id, title, body, data)"
    " SELECT d.id, d.environment_id, n.user_id, n.id, n.title, n.body, n.data"
    " FROM deliveries d JOIN notifications n ON n.id = d.notification_id WHERE d.id = $1"
    " ON CONFLICT (id) DO NOTHING";

static long long wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void worker_pick_provider(hr_worker_t *w)
{
    const hr_provider_ops_t *want = &hr_provider_sink;
    if (w->channel == HR_CHANNEL_EMAIL && w->cfg->email_smtp_url[0] != '\0')
        want = &hr_provider_smtp;
    if (want == w->provider)
        return;
    if (w->provider != NULL)
        w->provider->close(w->provider_state);
    char err[256];
    w->provider = NULL;
    w->provider_state = NULL;
    if (want->open(&w->provider_state, w->cfg, w->channel, err, sizeof err) != 0) {
        hr_log_error("provider %s: %s", want->name, err);
        return;
    }
    w->provider = want;
    hr_log_json(HR_LOG_INFO, NULL, "provider ready", json_pack("{s:s}", "provider", want->name));
}

/* In-app: the delivery becomes an inbox item. */
static void worker_inbox(hr_worker_t *w, const hr_message_t *m, hr_send_result_t *res)
{
    char err[256];
    const char *p[1] = {m->delivery_id};
    if (hr_db_run(&w->db, inbox_sql, 1, p, err, sizeof err) != 0) {
        res->outcome = HR_SEND_TRANSIENT;
        snprintf(res->error, sizeof res->error, "inbox: %s", err);
        return;
    }
    res->outcome = HR_SEND_OK;
    snprintf(res->provider_message_id, sizeof res->provider_message_id, "inbox:%s", m->delivery_id);
}

/* Records the attempt and the delivery's new state. Returns 0 or -1. */
static int worker_record(hr_worker_t *w, const hr_message_t *m, long long started,
                         long duration, const hr_send_result_t *res, const char **state_out)
{
    const char *outcome = res->outcome == HR_SEND_OK          ? "sent"
                          : res->outcome == HR_SEND_TRANSIENT ? "transient"
                                                              : "permanent";
    const char *state = "sent";
    long delay = 0;
    if (res->outcome == HR_SEND_PERMANENT ||
        (res->outcome == HR_SEND_TRANSIENT && m->attempt >= w->cfg->worker_max_attempts)) {
        state = "failed";
    } else if (res->outcome == HR_SEND_TRANSIENT) {
        state = "retrying";
        delay = hr_backoff_ms(m->attempt, w->cfg->worker_retry_base_ms, w->cfg->worker_retry_factor,
                              w->cfg->worker_retry_cap_ms);
        if (res->retry_after_ms > delay)
            delay = res->retry_after_ms;
    }
    char attempt[16], start[24], dur[24], code[24], delay_s[24];
    snprintf(attempt, sizeof attempt, "%d", m->attempt);
    snprintf(start, sizeof start, "%lld", started);
    snprintf(dur, sizeof dur, "%ld", duration);
    snprintf(code, sizeof code, "%ld", res->response_code);
    snprintf(delay_s, sizeof delay_s, "%ld", delay);
    const char *p[10] = {m->delivery_id,
                         attempt,
                         start,
                         dur,
                         res->response_code ? code : NULL,
                         outcome,
                         res->outcome == HR_SEND_OK ? NULL : res->error,
                         state,
                         res->provider_message_id[0] ? res->provider_message_id : NULL,
                         delay_s};
    char err[256];
    if (hr_db_run(&w->db, record_sql, 10, p, err, sizeof err) != 0) {
        hr_log_json(HR_LOG_ERROR, m->request_id, "recording the attempt failed",
                    json_pack("{s:s, s:s}", "delivery_id", m->delivery_id, "error", err));
        return -1;
    }
    *state_out = state;
    return 0;
}

static void worker_dead(hr_worker_t *w, const hr_message_t *m, const hr_send_result_t *res)
{
    char err[256];
    redisReply *rep = hr_redis_cmd(&w->redis, err, sizeof err,
                                   "XADD " HR_STREAM_DEAD " * d %s n %s channel %s error %s",
                                   m->delivery_id, m->notification_id,
                                   hr_channel_name(m->channel), res->error);
    if (rep == NULL)
        hr_log_warn("dead-letter copy failed: %s", err);
    else
        freeReplyObject(rep);
}

static void worker_send_row(hr_worker_t *w, PGresult *res, int row)
{
    json_t *data = json_loads(PQgetvalue(res, row, 9), 0, NULL);
    hr_message_t m = {
        .delivery_id = PQgetvalue(res, row, 0),
        .attempt = atoi(PQgetvalue(res, row, 1)),
        .address = PQgetvalue(res, row, 2),
        .notification_id = PQgetvalue(res, row, 3),
        .environment_id = PQgetvalue(res, row, 4),
        .user_id = PQgetvalue(res, row, 5),
        .type = PQgetvalue(res, row, 6),
        .title = PQgetvalue(res, row, 7),
        .body = PQgetvalue(res, row, 8),
        .data = data != NULL ? data : json_object(),
        .request_id = PQgetvalue(res, row, 10),
        .channel = w->channel,
    };
    if (data == NULL)
        data = (json_t *)m.data;
    hr_send_result_t r;
    memset(&r, 0, sizeof r);
    r.retry_after_ms = -1;
    long long started = wall_ms();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (w->channel == HR_CHANNEL_IN_APP) {
        worker_inbox(w, &m, &r);
    } else if (w->provider != NULL) {
        w->provider->send(w->provider_state, &m, &r);
    } else {
        r.outcome = HR_SEND_TRANSIENT;
        snprintf(r.error, sizeof r.error, "no provider available for %s", hr_channel_name(w->channel));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long dur = (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
    const char *state = NULL;
    if (worker_record(w, &m, started, dur, &r, &state) == 0) {
        if (strcmp(state, "failed") == 0)
            worker_dead(w, &m, &r);
        json_t *f = json_pack("{s:s, s:s, s:s, s:i, s:s, s:i}", "delivery_id", m.delivery_id,
                              "notification_id", m.notification_id, "channel",
                              hr_channel_name(w->channel), "attempt", m.attempt, "status", state,
                              "duration_ms", (int)dur);
        if (r.outcome != HR_SEND_OK)
            json_object_set_new(f, "error", json_string(r.error));
        hr_log_json(r.outcome == HR_SEND_OK ? HR_LOG_INFO : HR_LOG_WARN, m.request_id,
                    "delivery attempt", f);
    }
    json_decref(data);
}

/* Claims what it can of a batch, sends it, then acks every entry. */
static int worker_batch(hr_worker_t *w, hr_stream_batch_t *batch, char *err, size_t errlen)
{
    const char **ids = calloc(batch->n + 1, sizeof *ids);
    hr_buf_t arr = HR_BUF_INIT;
    hr_assert(ids != NULL);
    hr_buf_puts(&arr, "{");
    size_t nd = 0;
    for (size_t i = 0; i < batch->n; i++) {
        ids[i] = batch->entries[i].id;
        const char *d = hr_stream_field(&batch->entries[i], "d");
        if (d == NULL || !hr_uuid_valid(d))
            continue;
        hr_buf_printf(&arr, "%s%s", nd++ ? "," : "", d);
    }
    hr_buf_puts(&arr, "}");
    int rc = -1;
    if (nd > 0) {
        char lease[24];
        snprintf(lease, sizeof lease, "%ld", w->cfg->worker_lease_s);
        const char *p[3] = {arr.data, lease, hr_channel_name(w->channel)};
        PGresult *res = hr_db_exec(&w->db, claim_sql, 3, p, err, errlen);
        if (res == NULL)
            goto done;
        for (int row = 0; row < PQntuples(res); row++)
            worker_send_row(w, res, row);
        PQclear(res);
    }
    /* Entries whose delivery was not claimable are acked too: duplicates or
     * already handled. A delivery left 'sending' by a stop is recovered by
     * the sweeper when its lease ends. */
    rc = hr_consumer_ack(&w->consumer, ids, batch->n, err, errlen);
done:
    hr_buf_free(&arr);
    free(ids);
    return rc;
}

int hr_worker_run(hr_worker_t *w, const char *config_path)
{
    char err[512], stream[64], group[64];
    hr_channel_stream(w->channel, stream, sizeof stream);
    snprintf(group, sizeof group, "%s-workers", hr_channel_name(w->channel));
    hr_redis_init(&w->redis, w->cfg->redis_host, (int)w->cfg->redis_port, w->cfg->redis_socket,
                  w->cfg->redis_timeout_ms);
    snprintf(w->db.conninfo, sizeof w->db.conninfo, "%s", w->cfg->pg_conninfo);
    hr_consumer_init(&w->consumer, &w->redis, stream, group, NULL, w->cfg->worker_claim_idle_ms);
    hr_log_json(HR_LOG_INFO, NULL, "worker started",
                json_pack("{s:s, s:s}", "channel", hr_channel_name(w->channel), "consumer",
                          w->consumer.name));
    while (!hr_proc_stop) {
        hr_proc_check_reload(w->cfg, config_path);
        w->consumer.claim_idle_ms = w->cfg->worker_claim_idle_ms;
        worker_pick_provider(w);
        hr_stream_batch_t batch;
        if (!hr_consumer_next(&w->consumer, w->cfg->worker_batch, w->cfg->worker_block_ms, &batch))
            continue;
        bool ok = worker_batch(w, &batch, err, sizeof err) == 0;
        if (!ok)
            hr_log_warn("batch not finished, will retry: %s", err);
        hr_consumer_done(&w->consumer, ok);
        hr_stream_batch_free(&batch);
    }
    hr_log_info("worker stopped");
    if (w->provider != NULL)
        w->provider->close(w->provider_state);
    hr_db_close(&w->db);
    hr_redis_close(&w->redis);
    return 0;
}
