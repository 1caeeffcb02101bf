/* worker: claim → send → record → ack, for one channel. Duplicate stream
 * entries are harmless: a delivery that cannot be claimed is acked and
 * skipped, so the transport is at-least-once and the send happens once.
 * Network sends run many at once through the libcurl multi interface; the
 * loop keeps reading while sends are in flight, and each entry is acked once
 * its attempt is recorded. */
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "alert.h"
#include "backoff.h"
#include "buf.h"
#include "ids.h"
#include "jsonutil.h"
#include "lanes.h"
#include "log.h"
#include "proc.h"
#include "render.h"
#include "rtpub.h"
#include "whevent.h"

/* The status fence of a statement that names its deliveries by id (a
 * batch of them), written so that no index on status can serve it: with
 * the statistics a burst of work leaves stale, the planner would otherwise
 * read every pending delivery's entry of the status index (the whole
 * backlog) instead of the named ids' primary keys. */
#define BY_ID_STATUS(alias) "(" alias ".status || '')"

static const char *const claim_sql =
    "UPDATE deliveries d SET status = 'sending', attempts = d.attempts + 1,"
    " lease_until = now() + make_interval(secs => $2::int), next_attempt_at = NULL,"
    " handed_over_at = NULL, updated_at = now()"
    " FROM notifications n" HR_RENDER_STORED_JOIN
    " WHERE d.id = ANY($1::uuid[]) AND d.channel = $3 AND n.id = d.notification_id"
    " AND " BY_ID_STATUS("d") " IN ('queued', 'retrying')"
    " AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= now())"
    " RETURNING d.id, d.attempts, COALESCE(d.address, ''), n.id, n.environment_id, n.user_id,"
    " n.type, n.title, n.body, n.data::text, COALESCE(n.request_id, ''), herald_ts(n.created_at),"
    " COALESCE(d.webhook_event::text, ''),"
    /* what rendering needs, read here rather than once per message */
    " " HR_RENDER_STORED_COLUMNS;

static const char *const record_sql =
    "WITH a AS (INSERT INTO attempts (delivery_id, attempt, started_at, duration_ms,"
    "   response_code, outcome, error, response_excerpt)"
    /* only while the delivery exists: a deleted project takes its
     * deliveries along, and the attempt then has nothing to belong to */
    "   SELECT $1::uuid, $2::int, to_timestamp($3::bigint / 1000.0), $4::int, $5::int,"
    "    $6::text, $7::text, $11::text"
    "   WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = $1::uuid)"
    "   ON CONFLICT DO NOTHING)"
    " UPDATE deliveries SET status = $8, error = $7, lease_until = NULL, updated_at = now(),"
    "  provider_message_id = COALESCE($9, provider_message_id),"
    "  sent_at = CASE WHEN $8 = 'sent' THEN now() ELSE sent_at END,"
    "  next_attempt_at = CASE WHEN $8 = 'retrying'"
    "    THEN now() + make_interval(secs => $10::double precision / 1000) END"
    /* attempts is the claim's fencing token: a worker whose lease ran out and
     * whose delivery was claimed again cannot overwrite the newer claim. While
     * attempts is unchanged nobody claimed it since, so the result stands even
     * if the sweeper already turned the expired lease into 'retrying'. */
    " WHERE id = $1 AND status IN ('sending', 'retrying') AND attempts = $2::int";

/* A claimed delivery that was not tried (breaker open, bulkhead full,
 * shutting down) goes back to 'retrying' without using up an attempt. */
static const char *const release_sql =
    "UPDATE deliveries SET status = 'retrying', attempts = attempts - 1, lease_until = NULL,"
    " next_attempt_at = now() + make_interval(secs => $3::double precision / 1000),"
    " error = $4, updated_at = now()"
    " WHERE id = $1 AND status = 'sending' AND attempts = $2::int";

static const char *const inbox_sql =
    "INSERT INTO inbox_items (id, environment_id, user_id, notification_id, title, body, data)"
    /* title, body and action URL as rendered (lib/render.h) when given */
    " SELECT d.id, d.environment_id, n.user_id, n.id, COALESCE($2, n.title), COALESCE($3, n.body),"
    "  CASE WHEN COALESCE($4, '') = '' THEN n.data"
    "   ELSE n.data || jsonb_build_object('action_url', $4::text) END"
    " FROM deliveries d JOIN notifications n ON n.id = d.notification_id WHERE d.id = $1"
    " ON CONFLICT (id) DO NOTHING";

/* A webhook endpoint's failure streak; one that failed without a success
 * for [webhooks] disable_after_s is disabled. */
static const char *const endpoint_ok_sql =
    "UPDATE webhook_endpoints SET failing_since = NULL"
    " WHERE id = ANY($1::uuid[]) AND failing_since IS NOT NULL";
/* Returns whether this very statement disabled the endpoint (the row as it
 * was, locked, against the row as it is), so it is told once. */
static const char *const endpoint_fail_sql =
    "WITH was AS (SELECT id, disabled_at FROM webhook_endpoints WHERE id = $1::uuid FOR UPDATE)"
    " UPDATE webhook_endpoints e SET failing_since = COALESCE(e.failing_since, now()),"
    " disabled_at = CASE WHEN e.disabled_at IS NULL AND COALESCE(e.failing_since, now())"
    "   <= now() - make_interval(secs => $2::int) THEN now() ELSE e.disabled_at END,"
    " disabled_reason = CASE WHEN e.disabled_at IS NULL AND COALESCE(e.failing_since, now())"
    "   <= now() - make_interval(secs => $2::int)"
    "   THEN 'failing since ' || herald_ts(COALESCE(e.failing_since, now())) || ': ' || $3"
    "   ELSE e.disabled_reason END"
    " FROM was WHERE e.id = was.id"
    " RETURNING was.disabled_at IS NULL AND e.disabled_at IS NOT NULL,"
    " e.environment_id, e.url, e.disabled_reason";

static long long wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static long long mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

long hr_worker_max_attempts(const hr_config_t *cfg, hr_channel_t ch)
{
    const char *name = hr_channel_name(ch), *s = cfg->worker_channel_max_attempts;
    size_t nl = strlen(name);
    while (s != NULL && *s) {
        while (*s == ' ' || *s == ',')
            s++;
        if (strncmp(s, name, nl) == 0 && s[nl] == '=') {
            long v = strtol(s + nl + 1, NULL, 10);
            if (v >= 1)
                return v;
        }
        s = strchr(s, ',');
    }
    return cfg->worker_max_attempts;
}

static void worker_pick_provider(hr_worker_t *w)
{
    const hr_provider_ops_t *want = &hr_provider_sink;
    if (want == w->provider)
        return;
    char err[256];
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
    const char *p[4] = {m->delivery_id, m->title, m->body,
                        m->rendered != NULL ? m->rendered->action_url : NULL};
    if (hr_db_run(&w->db, inbox_sql, 4, p, err, sizeof err) != 0) {
        res->outcome = HR_SEND_TRANSIENT;
        snprintf(res->error, sizeof res->error, "inbox: %s", err);
        return;
    }
    res->outcome = HR_SEND_OK;
    snprintf(res->provider_message_id, sizeof res->provider_message_id, "inbox:%s", m->delivery_id);
    /* Push it to the user's open tabs. The item is stored: a failed publish
     * is logged, and the tabs see the item when they next refetch (resync). */
    hr_rtpub_opts_t o;
    hr_rtpub_opts(w->cfg, &o);
    if (hr_rtpub_created(&w->db, &w->redis, &o, m->delivery_id, err, sizeof err) != 0)
        hr_log_json(HR_LOG_WARN, m->request_id, "realtime publish failed",
                    json_pack("{s:s, s:s}", "delivery_id", m->delivery_id, "error", err));
}

/* The delivery's next state after an attempt, and the retry delay (ms). */
static const char *worker_next_state(const hr_worker_t *w, const hr_message_t *m,
                                     const hr_send_result_t *res, long *delay)
{
    *delay = 0;
    if (res->outcome == HR_SEND_OK)
        return "sent";
    if (res->outcome == HR_SEND_PERMANENT ||
        m->attempt >= hr_worker_max_attempts(w->cfg, w->channel))
        return "failed";
    *delay = hr_backoff_ms(m->attempt, w->cfg->worker_retry_base_ms, w->cfg->worker_retry_factor,
                           w->cfg->worker_retry_cap_ms);
    if (res->retry_after_ms > *delay)
        *delay = res->retry_after_ms;
    return "retrying";
}

static const char *worker_outcome_name(const hr_send_result_t *res)
{
    return res->outcome == HR_SEND_OK          ? "sent"
           : res->outcome == HR_SEND_TRANSIENT ? "transient"
                                               : "permanent";
}

/* Records the attempt and the delivery's new state. Returns 0, -1 for a
 * failure worth retrying (PostgreSQL away) or -2 for a statement PostgreSQL
 * refuses for good. */
static int worker_record(hr_worker_t *w, const hr_message_t *m, long long started,
                         long duration, const hr_send_result_t *res, const char **state_out)
{
    const char *outcome = worker_outcome_name(res);
    long delay = 0;
    const char *state = worker_next_state(w, m, res, &delay);
    char attempt[16], start[24], dur[24], code[24], delay_s[24];
    snprintf(attempt, sizeof attempt, "%d", m->attempt);
    snprintf(start, sizeof start, "%lld", started);
    snprintf(dur, sizeof dur, "%ld", duration);
    snprintf(code, sizeof code, "%ld", res->response_code);
    snprintf(delay_s, sizeof delay_s, "%ld", delay);
    const char *p[11] = {m->delivery_id,
                         attempt,
                         start,
                         dur,
                         res->response_code ? code : NULL,
                         outcome,
                         res->error[0] ? res->error : NULL,
                         state,
                         res->provider_message_id[0] ? res->provider_message_id : NULL,
                         delay_s,
                         res->excerpt[0] ? res->excerpt : NULL};
    char err[256];
    if (hr_db_run(&w->db, record_sql, 11, p, err, sizeof err) != 0) {
        hr_log_json(HR_LOG_ERROR, m->request_id, "recording the attempt failed",
                    json_pack("{s:s, s:s}", "delivery_id", m->delivery_id, "error", err));
        return hr_db_err_lasting(err) ? -2 : -1;
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

/* Tells the tenant's members by email that Herald disabled an endpoint. */
static void worker_endpoint_alert(hr_worker_t *w, const char *endpoint_id, const char *env,
                                  const char *url, const char *reason)
{
    const char *title = "Webhook endpoint disabled";
    char err[256];
    char *body = NULL;
    if (asprintf(&body,
                 "Herald stopped sending to the webhook endpoint %s (%s): %s.\n"
                 "Fix the receiver, then enable it again: PUT /v1/webhook-endpoints/%s "
                 "{\"enabled\": true}.",
                 url, endpoint_id, reason, endpoint_id) < 0)
        body = NULL;
    hr_assert(body != NULL);
    json_t *data = json_pack("{s:s, s:s, s:s}", "endpoint_id", endpoint_id, "url", url, "reason",
                             reason);
    int n = hr_alert_members(&w->db, &w->redis, env, "herald.endpoint_disabled", title, body, data,
                             err, sizeof err);
    if (n < 0)
        hr_log_warn("endpoint %s disabled, but telling the tenant failed: %s", endpoint_id, err);
    else
        hr_log_json(HR_LOG_INFO, NULL, "tenant told: endpoint disabled",
                    json_pack("{s:s, s:i}", "endpoint_id", endpoint_id, "members", n));
    json_decref(data);
    free(body);
}

/* A finished attempt and what it led to, for what follows its record. */
typedef struct worker_outcome {
    const hr_message_t *m;
    const char *provider;
    long dur;
    const hr_send_result_t *r;
    const char *state;
} worker_outcome_t;

/* Whether o's webhook endpoint learns something from it: a success ends a
 * failure streak; a failure that says nothing of the receiver's health
 * (breaker_neutral: an SSRF refusal, a request never sent) counts not. */
static bool worker_endpoint_news(const hr_worker_t *w, const worker_outcome_t *o)
{
    return w->channel == HR_CHANNEL_WEBHOOK && hr_uuid_valid(o->m->address) &&
           (o->r->outcome == HR_SEND_OK || !o->r->breaker_neutral);
}

/* The endpoints that answered in this turn end their failure streaks, in
 * one statement (it writes only those that had one). */
static void worker_endpoints_ok(hr_worker_t *w, const worker_outcome_t *os, size_t n)
{
    hr_buf_t ids = HR_BUF_INIT;
    size_t k = 0;
    hr_buf_puts(&ids, "{");
    for (size_t i = 0; i < n; i++)
        if (worker_endpoint_news(w, &os[i]) && os[i].r->outcome == HR_SEND_OK)
            hr_buf_printf(&ids, "%s%s", k++ ? "," : "", os[i].m->address);
    hr_buf_puts(&ids, "}");
    char err[256];
    const char *p[1] = {ids.data};
    if (k > 0 && hr_db_run(&w->db, endpoint_ok_sql, 1, p, err, sizeof err) != 0)
        hr_log_warn("endpoint health: %s", err);
    hr_buf_free(&ids);
}

/* A failure extends its webhook endpoint's failure streak; after [webhooks]
 * disable_after_s without a success the endpoint is disabled, the log says
 * so and the tenant's members are told by email. */
static void worker_endpoint_failed(hr_worker_t *w, const worker_outcome_t *o)
{
    if (!worker_endpoint_news(w, o) || o->r->outcome == HR_SEND_OK)
        return;
    const hr_message_t *m = o->m;
    const hr_send_result_t *r = o->r;
    char err[256], after[24];
    snprintf(after, sizeof after, "%ld", w->cfg->webhooks_disable_after_s);
    const char *p[3] = {m->address, after, r->error};
    PGresult *res = hr_db_exec(&w->db, endpoint_fail_sql, 3, p, err, sizeof err);
    if (res == NULL) {
        hr_log_warn("endpoint health: %s", err);
        return;
    }
    if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't') {
        hr_log_json(HR_LOG_WARN, m->request_id, "webhook endpoint disabled",
                    json_pack("{s:s, s:s, s:s}", "endpoint_id", m->address, "environment_id",
                              PQgetvalue(res, 0, 1), "error", r->error));
        worker_endpoint_alert(w, m->address, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
                              PQgetvalue(res, 0, 3));
    }
    PQclear(res);
}

/* notification.sent / notification.failed to the subscribed webhook
 * endpoints (lib/whevent.h: derived ids, so a replay inserts nothing), for
 * every outcome of the turn in one statement. */
static void worker_emit_events(hr_worker_t *w, const worker_outcome_t *os, size_t n)
{
    hr_whevent_t *evs = calloc(n, sizeof *evs);
    hr_assert(evs != NULL);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const hr_message_t *m = os[i].m;
        const hr_send_result_t *r = os[i].r;
        if (strcmp(os[i].state, "sent") != 0 && strcmp(os[i].state, "failed") != 0)
            continue;
        evs[k++] = (hr_whevent_t){
            .environment_id = m->environment_id,
            .notification_id = m->notification_id,
            .delivery_id = m->delivery_id,
            .channel = hr_channel_name(m->channel),
            .status = os[i].state,
            .address = m->address,
            .attempts = m->attempt,
            .provider_message_id = r->provider_message_id[0] ? r->provider_message_id : NULL,
            .error = r->outcome == HR_SEND_OK ? NULL : r->error,
        };
    }
    char err[256];
    int rc = k > 0 ? hr_whevent_emit_many(&w->db, &w->redis, evs, k, NULL, err, sizeof err) : 0;
    if (rc == -1)
        hr_log_json(HR_LOG_WARN, k == 1 ? os[0].m->request_id : NULL, "webhook events not stored",
                    json_pack("{s:s, s:i, s:s}", "delivery_id", evs[0].delivery_id, "count",
                              (int)k, "error", err));
    else if (rc == 1)
        hr_log_warn("webhook events not queued now: %s", err);
    free(evs);
}

static void worker_after_record(hr_worker_t *w, const worker_outcome_t *os, size_t n);

/* SMS: long texts are left to the provider's segmentation; the log line
 * reports their length in characters and the segments it costs (GSM-7:
 * 160, then 153 per part; anything beyond ASCII: UCS-2, 70, then 67). */
static void worker_sms_length(const hr_message_t *m, json_t *f)
{
    const hr_rendered_t *rd = m->rendered;
    const char *text = rd != NULL && rd->text != NULL && rd->text[0] ? rd->text : NULL;
    size_t chars = 0;
    bool ascii = true;
    const char *parts[3] = {text ? text : m->title, text ? "" : "\n", text ? "" : m->body};
    for (int k = 0; k < 3; k++)
        for (const unsigned char *p = (const unsigned char *)parts[k]; *p; p++) {
            if (*p >= 0x80)
                ascii = false;
            if ((*p & 0xc0) != 0x80)
                chars++;
        }
    size_t single = ascii ? 160 : 70, part = ascii ? 153 : 67;
    size_t segments = chars <= single ? 1 : (chars + part - 1) / part;
    json_object_set_new(f, "length", json_integer((json_int_t)chars));
    json_object_set_new(f, "segments", json_integer((json_int_t)segments));
    json_object_set_new(f, "encoding", json_string(ascii ? "gsm7" : "ucs2"));
}

/* Records a finished attempt (waiting for PostgreSQL if need be) and logs it. */
static void worker_finish(hr_worker_t *w, const hr_message_t *m, const char *provider,
                          long long started, long dur, const hr_send_result_t *r)
{
    const char *state = NULL;
    /* The send happened: its result must not be lost, or the delivery would be
     * sent again once its lease runs out. Without PostgreSQL nothing else can
     * be done anyway, so wait for it (until told to stop). */
    long pause = 200;
    int rc;
    while ((rc = worker_record(w, m, started, dur, r, &state)) == -1 && !hr_proc_stop) {
        /* Only an outage is worth waiting for: a statement PostgreSQL refuses
         * for good would stall the channel forever. */
        hr_proc_sleep_ms(pause);
        pause = pause * 2 > 5000 ? 5000 : pause * 2;
    }
    if (rc != 0)
        return;
    worker_outcome_t o = {m, provider, dur, r, state};
    worker_after_record(w, &o, 1);
}

/* What follows recorded attempts: endpoint health, outcome events (each
 * in one statement for all), dead-letter copies, the log lines. */
static void worker_after_record(hr_worker_t *w, const worker_outcome_t *os, size_t n)
{
    worker_endpoints_ok(w, os, n);
    worker_emit_events(w, os, n);
    for (size_t i = 0; i < n; i++) {
        const hr_message_t *m = os[i].m;
        const hr_send_result_t *r = os[i].r;
        if (strcmp(os[i].state, "failed") == 0)
            worker_dead(w, m, r);
        worker_endpoint_failed(w, &os[i]);
        json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:i}", "delivery_id",
                              m->delivery_id, "notification_id", m->notification_id, "channel",
                              hr_channel_name(w->channel), "provider", os[i].provider, "attempt",
                              m->attempt, "status", os[i].state, "duration_ms", (int)os[i].dur);
        if (r->response_code)
            json_object_set_new(f, "response_code", json_integer(r->response_code));
        if (r->outcome != HR_SEND_OK)
            json_object_set_new(f, "error", json_string(r->error));
        if (w->channel == HR_CHANNEL_SMS)
            worker_sms_length(m, f);
        hr_log_json(r->outcome == HR_SEND_OK ? HR_LOG_INFO : HR_LOG_WARN, m->request_id,
                    "delivery attempt", f);
    }
}

static void worker_ack_later(hr_worker_t *w, const char *stream_id)
{
    if (w->nacks == w->capacks) {
        w->capacks = w->capacks ? w->capacks * 2 : 64;
        w->acks = realloc(w->acks, w->capacks * sizeof *w->acks);
        hr_assert(w->acks != NULL);
    }
    w->acks[w->nacks] = strdup(stream_id);
    hr_assert(w->acks[w->nacks] != NULL);
    w->nacks++;
}

/* Acks what was recorded. In the loop they are only written (wait false):
 * their answers, and Redis's fsync of them, come with the next read's. */
static void worker_flush_acks(hr_worker_t *w, bool wait)
{
    if (w->nacks == 0)
        return;
    char err[256];
    if (hr_consumer_ack(&w->consumer, (const char *const *)w->acks, w->nacks, wait, err,
                        sizeof err) != 0)
        hr_log_warn("ack failed (the entries are read again and skipped): %s", err);
    for (size_t i = 0; i < w->nacks; i++)
        free(w->acks[i]);
    w->nacks = 0;
}

/* ---- jobs ------------------------------------------------------------- */

/* A send's point of no return (the sink before its rename, SMTP before the
 * end of DATA, an HTTP request before the last byte of its body): marked
 * before the message is complete, so a worker that dies right after is not
 * made to send it again (the sweeper turns such a lease into 'sent'). Many
 * at once: the uploads paused in one turn of the loop. A delivery whose
 * claim is no longer current (lease expired, claimed again) is not marked,
 * and its send must not complete. */
static const char *const handover_sql =
    /* Committed without waiting for the WAL flush (set for this transaction
     * only, in the same round trip): only a PostgreSQL crash can lose the
     * mark, and that costs at worst a second copy. */
    "WITH nosync AS (SELECT set_config('synchronous_commit', 'off', true))"
    " UPDATE deliveries d SET handed_over_at = now()"
    " FROM unnest($1::uuid[], $2::int[]) AS x(id, attempt), nosync"
    /* = ANY as well: index scans, and only the partitions named */
    " WHERE d.id = ANY($1::uuid[]) AND d.id = x.id AND " BY_ID_STATUS("d") " = 'sending'"
    " AND d.attempts = x.attempt"
    " RETURNING d.id::text";

typedef struct worker_handover {
    hr_worker_t *w;
    const hr_message_t *m;
} worker_handover_t;

/* Marks the handover of the n messages ms in a transaction; ok[i] says
 * whether ms[i]'s was. With commit, the transaction is committed; without,
 * it is left open for the caller to commit around the ends of the sends
 * (worker_handover_group). Returns 0, or -1 when nothing could be marked
 * (PostgreSQL away: every ok[i] false, no transaction left open). */
static int worker_record_handovers(hr_db_t *db, const hr_message_t *const *ms, size_t n,
                                   bool *ok, bool commit)
{
    hr_buf_t ids = HR_BUF_INIT, atts = HR_BUF_INIT;
    hr_buf_puts(&ids, "{");
    hr_buf_puts(&atts, "{");
    for (size_t i = 0; i < n; i++) {
        hr_buf_printf(&ids, "%s%s", i ? "," : "", ms[i]->delivery_id);
        hr_buf_printf(&atts, "%s%d", i ? "," : "", ms[i]->attempt);
        ok[i] = false;
    }
    hr_buf_puts(&ids, "}");
    hr_buf_puts(&atts, "}");
    const char *p[2] = {ids.data, atts.data};
    char err[256];
    int rc = -1;
    PGresult *res = NULL;
    res = hr_db_begin_exec_prepared(db, "worker_handover", handover_sql, 2, p, err, sizeof err);
    if (res == NULL)
        goto fail;
    for (int r = 0; r < PQntuples(res); r++)
        for (size_t i = 0; i < n; i++)
            if (!ok[i] && strcasecmp(PQgetvalue(res, r, 0), ms[i]->delivery_id) == 0)
                ok[i] = true;
    if (commit && hr_db_run(db, "COMMIT", 0, NULL, err, sizeof err) != 0)
        goto fail;
    rc = 0;
    goto done;
fail:
    hr_db_rollback(db);
    for (size_t i = 0; i < n; i++)
        ok[i] = false;
    hr_log_json(HR_LOG_WARN, n == 1 ? ms[0]->request_id : NULL, "handover not recorded",
                json_pack("{s:s, s:i, s:s}", "delivery_id", ms[0]->delivery_id, "count", (int)n,
                          "error", err));
done:
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!ok[i])
            hr_log_json(HR_LOG_WARN, ms[i]->request_id, "handover not recorded",
                        json_pack("{s:s, s:s}", "delivery_id", ms[i]->delivery_id, "error",
                                  "the claim is no longer current (lease expired, or deleted)"));
    PQclear(res);
    hr_buf_free(&ids);
    hr_buf_free(&atts);
    return rc;
}

/* hr_message_t.handover of a send that waits for it in place (the sink):
 * marked and committed before the message is completed. */
static int worker_handover(void *ctx)
{
    worker_handover_t *h = ctx;
    bool ok = false;
    const hr_message_t *ms[1] = {h->m};
    return worker_record_handovers(&h->w->db, ms, 1, &ok, true) == 0 && ok ? 0 : -1;
}

/* hr_lanes_mark_fn: the handover of a send run in a lane, on the lane's
 * connection, its transaction left open for the lane's COMMIT. */
static int worker_lane_mark(hr_db_t *db, const hr_message_t *m)
{
    bool ok = false;
    if (worker_record_handovers(db, &m, 1, &ok, false) != 0)
        return -1;
    if (!ok) {
        hr_db_rollback(db);
        return -1;
    }
    return 0;
}

#define JOB_FIELDS 16

typedef struct worker_job {
    hr_job_t job;                 /* first: a hr_job_t * is a worker_job_t * */
    char *own[JOB_FIELDS];
    json_t *data;
    worker_handover_t handover;
    hr_gate_t *gate;
    bool in_queue_count;
    hr_rendered_t rd;             /* what the message says (lib/render.h) */
    bool rendered;                /* false: reading the content failed, retry later */
} worker_job_t;

/* hr_job_t.handover_wait: the upload of j paused before its end (HTTP: the
 * last byte of the body; SMTP: the end of DATA); its handover is marked
 * with the others of this turn (worker_handovers). */
static void worker_handover_wait(hr_job_t *j)
{
    hr_worker_t *w = ((worker_job_t *)(void *)j)->handover.w;
    j->handover_next = w->handovers;
    w->handovers = j;
}

static worker_job_t *job_new(hr_worker_t *w, PGresult *res, int row, const char *stream_id)
{
    worker_job_t *wj = calloc(1, sizeof *wj);
    hr_assert(wj != NULL);
    for (int i = 0; i < JOB_FIELDS; i++) {
        wj->own[i] = strdup(PQgetvalue(res, row, i));
        hr_assert(wj->own[i] != NULL);
    }
    json_t *data = json_loads(wj->own[9], 0, NULL);
    wj->data = json_is_object(data) ? data : json_object();
    if (!json_is_object(data))
        json_decref(data);
    hr_job_t *j = &wj->job;
    j->msg = (hr_message_t){
        .delivery_id = wj->own[0],
        .attempt = atoi(wj->own[1]),
        .address = wj->own[2],
        .notification_id = wj->own[3],
        .environment_id = wj->own[4],
        .user_id = wj->own[5],
        .type = wj->own[6],
        .title = wj->own[7],
        .body = wj->own[8],
        .data = wj->data,
        .request_id = wj->own[10],
        .created_at = wj->own[11],
        .webhook_event = wj->own[12],
        .channel = w->channel,
    };
    /* The message's content on this channel: the environment's published
     * template for the user's locale, or the built-in branded layout. */
    char rerr[256];
    wj->rendered = hr_render_stored(&w->db, j->msg.environment_id, j->msg.notification_id,
                                    w->channel, j->msg.type, j->msg.title, j->msg.body,
                                    j->msg.data, wj->own[13], wj->own[14], atoll(wj->own[15]),
                                    &wj->rd, rerr, sizeof rerr) == 0;
    if (wj->rendered) {
        j->msg.rendered = &wj->rd;
        hr_rendered_title_body(&wj->rd, w->channel, &j->msg.title, &j->msg.body);
    } else {
        hr_log_warn("delivery %s: %s", j->msg.delivery_id, rerr);
    }
    wj->handover = (worker_handover_t){w, &j->msg};
    j->msg.handover = worker_handover;
    j->msg.handover_ctx = &wj->handover;
    j->handover_wait = worker_handover_wait;
    j->cfg = w->cfg;
    j->stream_id = strdup(stream_id);
    hr_assert(j->stream_id != NULL);
    j->retry_after_ms = -1;
    return wj;
}

static void job_free(worker_job_t *wj)
{
    hr_job_t *j = &wj->job;
    if (j->easy != NULL)
        curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->headers);
    curl_slist_free_all(j->rcpts);
    free(j->req_body);
    hr_buf_free(&j->resp);
    hr_integration_unref(j->integ);
    hr_webhook_endpoint_unref(j->endpoint);
    free((char *)j->stream_id);
    for (int i = 0; i < JOB_FIELDS; i++)
        free(wj->own[i]);
    json_decref(wj->data);
    hr_rendered_free(&wj->rd);
    free(wj);
}

static void worker_result_init(hr_send_result_t *r)
{
    memset(r, 0, sizeof *r);
    r->retry_after_ms = -1;
}

/* Which provider sends this job: a webhook endpoint, a chat webhook URL
 * given as the user's address, the environment's integration, the global
 * SMTP server for email, or the local sink (NULL here). */
static const hr_provider_ops_t *worker_route(hr_worker_t *w, hr_job_t *j, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        hr_channel_t ch;
        const hr_provider_ops_t *ops;
    } table[] = {
        {"smtp", HR_CHANNEL_EMAIL, &hr_provider_smtp},
        {"resend", HR_CHANNEL_EMAIL, &hr_provider_resend},
        {"twilio", HR_CHANNEL_SMS, &hr_provider_twilio},
        {"telegram", HR_CHANNEL_TELEGRAM, &hr_provider_telegram},
        {"discord", HR_CHANNEL_DISCORD, &hr_provider_discord},
        {"whatsapp", HR_CHANNEL_WHATSAPP, &hr_provider_whatsapp},
        {"slack", HR_CHANNEL_SLACK, &hr_provider_slack},
    };
    if (w->channel == HR_CHANNEL_WEBHOOK)
        return &hr_provider_webhook;
    j->integ = hr_integration_ref(hr_integration_cache_get(&w->integrations, j->msg.environment_id));
    bool url = strncmp(j->msg.address, "https://", 8) == 0 || strncmp(j->msg.address, "http://", 7) == 0;
    if (url && w->channel == HR_CHANNEL_DISCORD)
        return &hr_provider_discord;
    if (url && w->channel == HR_CHANNEL_SLACK)
        return &hr_provider_slack;
    if (j->integ != NULL) {
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
            if (table[i].ch == w->channel && strcmp(table[i].name, j->integ->provider) == 0)
                return table[i].ops;
        snprintf(err, errlen, "unknown provider '%s' for %s", j->integ->provider,
                 hr_channel_name(w->channel));
        return NULL;
    }
    if (w->channel == HR_CHANNEL_EMAIL && w->cfg->email_smtp_url[0] != '\0')
        return &hr_provider_smtp;
    return NULL;
}

/* Puts a claimed but untried delivery back as 'retrying' after delay_ms. */
static void worker_release(hr_worker_t *w, worker_job_t *wj, long delay_ms, const char *why)
{
    char err[256], attempt[16], delay[24];
    snprintf(attempt, sizeof attempt, "%d", wj->job.msg.attempt);
    snprintf(delay, sizeof delay, "%ld", delay_ms);
    const char *p[4] = {wj->job.msg.delivery_id, attempt, delay, why};
    if (hr_db_run(&w->db, release_sql, 4, p, err, sizeof err) != 0)
        hr_log_warn("release of %s failed (its lease runs out instead): %s",
                    wj->job.msg.delivery_id, err);
    hr_log_json(HR_LOG_INFO, wj->job.msg.request_id, "delivery postponed",
                json_pack("{s:s, s:s, s:I}", "delivery_id", wj->job.msg.delivery_id, "reason", why,
                          "delay_ms", (json_int_t)delay_ms));
    worker_ack_later(w, wj->job.stream_id);
}

static void worker_job_done(hr_worker_t *w, worker_job_t *wj)
{
    worker_ack_later(w, wj->job.stream_id);
    w->njobs--;
    job_free(wj);
}

/* Runs a synchronous send (sink, in-app) or a job that failed before it
 * could be sent, and records it. */
static void worker_sync(hr_worker_t *w, worker_job_t *wj, const hr_send_result_t *pre)
{

    hr_send_result_t r;
    worker_result_init(&r);
    long long started = wall_ms(), t0 = mono_ms();
    const char *name = "sink";
    if (pre != NULL) {
        r = *pre;
        name = wj->job.ops != NULL ? wj->job.ops->name : "none";
    } else if (w->channel == HR_CHANNEL_IN_APP) {
        name = "inbox";
        worker_inbox(w, &wj->job.msg, &r);
    } else if (w->provider != NULL) {
        w->provider->send(w->provider_state, &wj->job.msg, &r);
    } else {
        r.outcome = HR_SEND_TRANSIENT;
        snprintf(r.error, sizeof r.error, "no provider available for %s", hr_channel_name(w->channel));
    }
    worker_finish(w, &wj->job.msg, name, started, (long)(mono_ms() - t0), &r);
}

static void worker_enqueue(hr_worker_t *w, worker_job_t *wj)
{
    hr_job_t *j = &wj->job;
    wj->gate = hr_gate_get(&w->gates, j->gate_key[0] ? j->gate_key : j->ops->name);
    /* Bulkhead: an endpoint has at most provider_max_inflight sends in
     * flight (the gate), and at most three quarters of the worker's places
     * (max_inflight) in flight or waiting; the rest go back to the sweeper,
     * so one slow provider cannot fill the worker and starve the others. */
    if (wj->gate->state == HR_GATE_OPEN && mono_ms() < wj->gate->open_until_ms) {
        worker_release(w, wj, (long)(wj->gate->open_until_ms - mono_ms()), "circuit_open");
        w->njobs--;
        job_free(wj);
        return;
    }
    long waiting = 0;
    for (hr_job_t *q = w->queue; q != NULL; q = q->next)
        if (((worker_job_t *)(void *)q)->gate == wj->gate)
            waiting++;
    long share = w->cfg->worker_max_inflight - w->cfg->worker_max_inflight / 4;
    if (share < w->cfg->worker_provider_max_inflight)
        share = w->cfg->worker_provider_max_inflight;
    if (waiting + wj->gate->inflight >= share) {
        worker_release(w, wj, 500 + (long)hr_backoff_ms(1, 1000, 1, 1000), "bulkhead_full");
        w->njobs--;
        job_free(wj);
        return;
    }
    j->next = NULL;
    if (w->queue_tail != NULL)
        w->queue_tail->next = j;
    else
        w->queue = j;
    w->queue_tail = j;
}

/* Starts j's transfer: in a lane when libcurl blocks at its end, else in
 * the worker's multi handle. */
static void worker_start(hr_worker_t *w, hr_job_t *j)
{
    if (j->ops->blocking_end) {
        if (w->lanes == NULL) {
            w->lanes = hr_lanes_new((size_t)w->cfg->worker_smtp_lanes, w->db.conninfo,
                                    worker_lane_mark, w->multi);
            /* threads that cannot start: a machine out of resources; the
             * supervisor restarts the worker and the leases bring the
             * claimed deliveries back */
            hr_assert(w->lanes != NULL);
        }
        hr_lanes_submit(w->lanes, j);
        return;
    }
    CURLMcode mc = curl_multi_add_handle(w->multi, j->easy);
    hr_assert(mc == CURLM_OK);
}

/* Starts what the gates let through. Returns the shortest wait (ms) of the
 * jobs left queued, or -1 when none is. */
static long worker_dispatch(hr_worker_t *w)
{
    long shortest = -1;
    hr_job_t **pp = &w->queue, *prev = NULL;
    while (*pp != NULL) {
        hr_job_t *j = *pp;
        worker_job_t *wj = (worker_job_t *)(void *)j;
        long wait = 0;
        long long now = mono_ms();
        hr_gate_verdict_t v = hr_gate_admit(wj->gate, now, w->cfg->worker_provider_max_inflight,
                                            j->rate_per_s, &wait);
        if (v == HR_GATE_WAIT) {
            if (shortest < 0 || wait < shortest)
                shortest = wait;
            prev = j;
            pp = &j->next;
            continue;
        }
        *pp = j->next;
        if (w->queue_tail == j)
            w->queue_tail = prev;
        j->next = NULL;
        if (v == HR_GATE_REFUSE) {
            worker_release(w, wj, wait, "circuit_open");
            w->njobs--;
            job_free(wj);
            continue;
        }
        j->started_ms = wall_ms();
        clock_gettime(CLOCK_MONOTONIC, &j->t0);
        worker_start(w, j);
        w->inflight++;
    }
    return shortest;
}

/* Many finished attempts in one statement, so one commit (one WAL flush)
 * records a whole turn of the send loop. Same fencing as record_sql. */
static const char *const record_many_sql =
    "WITH x AS (SELECT * FROM json_to_recordset($1::json) AS x(id uuid, attempt int,"
    "   started bigint, duration int, code int, outcome text, error text, state text,"
    "   msgid text, delay double precision, excerpt text)),"
    " a AS (INSERT INTO attempts (delivery_id, attempt, started_at, duration_ms,"
    "   response_code, outcome, error, response_excerpt)"
    "   SELECT id, attempt, to_timestamp(started / 1000.0), duration, code, outcome, error, excerpt"
    "   FROM x WHERE EXISTS (SELECT 1 FROM deliveries WHERE id = x.id)"
    "   ON CONFLICT DO NOTHING)"
    " UPDATE deliveries d SET status = x.state, error = x.error, lease_until = NULL,"
    "  updated_at = now(), provider_message_id = COALESCE(x.msgid, d.provider_message_id),"
    "  sent_at = CASE WHEN x.state = 'sent' THEN now() ELSE d.sent_at END,"
    "  next_attempt_at = CASE WHEN x.state = 'retrying'"
    "    THEN now() + make_interval(secs => x.delay / 1000) END"
    " FROM x WHERE d.id = ANY($2::uuid[]) AND d.id = x.id"
    " AND " BY_ID_STATUS("d") " IN ('sending', 'retrying') AND d.attempts = x.attempt";

typedef struct worker_done {
    worker_job_t *wj;
    hr_send_result_t r;
    long dur;
    const char *state;
} worker_done_t;

/* The parameters of record_many_sql for the n results done: the rows as
 * JSON (*text, malloc'd) and the ids (ids). Sets each result's state. */
static void worker_record_build(hr_worker_t *w, worker_done_t *done, size_t n, char **text,
                                hr_buf_t *ids)
{
    json_t *rows = json_array();
    hr_buf_puts(ids, "{");
    for (size_t i = 0; i < n; i++) {
        const hr_message_t *m = &done[i].wj->job.msg;
        hr_buf_printf(ids, "%s%s", i ? "," : "", m->delivery_id);
        const hr_send_result_t *r = &done[i].r;
        long delay = 0;
        done[i].state = worker_next_state(w, m, r, &delay);
        json_t *row = json_pack("{s:s, s:i, s:I, s:I, s:s, s:s, s:I}", "id", m->delivery_id,
                                "attempt", m->attempt, "started",
                                (json_int_t)done[i].wj->job.started_ms, "duration",
                                (json_int_t)done[i].dur, "outcome", worker_outcome_name(r), "state",
                                done[i].state, "delay", (json_int_t)delay);
        hr_assert(row != NULL);
        json_object_set_new(row, "code", r->response_code ? json_integer(r->response_code) : json_null());
        json_object_set_new(row, "error", r->error[0] ? json_string(r->error) : json_null());
        json_object_set_new(row, "msgid", r->provider_message_id[0] ? json_string(r->provider_message_id)
                                                                   : json_null());
        json_object_set_new(row, "excerpt", r->excerpt[0] ? json_string(r->excerpt) : json_null());
        /* A provider's bytes that are not UTF-8 cannot be JSON strings. */
        if (json_object_get(row, "error") == NULL)
            json_object_set_new(row, "error", json_string("(error text not UTF-8)"));
        if (json_object_get(row, "excerpt") == NULL)
            json_object_set_new(row, "excerpt", json_string("(response not UTF-8)"));
        if (json_object_get(row, "msgid") == NULL)
            json_object_set_new(row, "msgid", json_null());
        json_array_append_new(rows, row);
    }
    hr_buf_puts(ids, "}");
    *text = hr_json_dump(rows);
    json_decref(rows);
}

/* Results wait up to this long (or until a batch's worth gathers) to be
 * recorded together: one statement and one commit for many sends. The
 * statement goes on a connection of its own (w->rec_db) without waiting
 * for its answer, so the loop goes on starting and finishing sends
 * meanwhile; one batch is recorded at a time. The sends have happened;
 * only their record, and then their acks, waits. */
#define RECORD_WAIT_MS 5

/* The batch being recorded is done with: what follows its record (with
 * recorded), its acks, its jobs freed. */
static void worker_record_end(hr_worker_t *w, bool recorded)
{
    size_t n = w->ninrec;
    if (recorded) {
        worker_outcome_t *os = calloc(n, sizeof *os);
        hr_assert(os != NULL);
        for (size_t i = 0; i < n; i++)
            os[i] = (worker_outcome_t){&w->inrec[i].wj->job.msg, w->inrec[i].wj->job.ops->name,
                                       w->inrec[i].dur, &w->inrec[i].r, w->inrec[i].state};
        worker_after_record(w, os, n);
        free(os);
    }
    for (size_t i = 0; i < n; i++)
        worker_job_done(w, w->inrec[i].wj);
    w->ninrec = 0;
    w->rec_sent = false;
    w->rec_pause_ms = 0;
    free(w->rec_text);
    w->rec_text = NULL;
    hr_buf_free(&w->rec_ids);
}

/* A record that failed: rows PostgreSQL refuses for good are recorded one
 * by one (one bad row must not keep the others unrecorded); anything else
 * is sent again after a pause, as the results must not be lost — unless
 * the worker is stopping (the leases run out and the sweeper settles
 * those deliveries). */
static void worker_record_failed(hr_worker_t *w, const char *err)
{
    w->rec_sent = false;
    hr_log_json(HR_LOG_ERROR, NULL, "recording attempts failed",
                json_pack("{s:i, s:s}", "count", (int)w->ninrec, "error", err));
    if (hr_db_err_lasting(err)) {
        for (size_t i = 0; i < w->ninrec; i++)
            worker_finish(w, &w->inrec[i].wj->job.msg, w->inrec[i].wj->job.ops->name,
                          w->inrec[i].wj->job.started_ms, w->inrec[i].dur, &w->inrec[i].r);
        worker_record_end(w, false);
        return;
    }
    if (hr_proc_stop) {
        worker_record_end(w, false);
        return;
    }
    w->rec_pause_ms = w->rec_pause_ms ? w->rec_pause_ms * 2 : 200;
    if (w->rec_pause_ms > 5000)
        w->rec_pause_ms = 5000;
    w->rec_retry_ms = mono_ms() + w->rec_pause_ms;
}

static void worker_record_send(hr_worker_t *w)
{
    char err[256];
    const char *p[2] = {w->rec_text, w->rec_ids.data};
    if (hr_db_send_prepared(&w->rec_db, "worker_record", record_many_sql, 2, p, err,
                            sizeof err) == 0)
        w->rec_sent = true;
    else
        worker_record_failed(w, err);
}

/* Takes the answer to a statement sent on db (*sent says one is awaited)
 * if it came (with wait: waits for it): true with *res (or NULL and err),
 * *sent cleared; false when nothing was taken. */
static bool worker_db_answer(hr_db_t *db, bool *sent, bool wait, PGresult **res, char *err,
                             size_t errlen)
{
    if (!*sent || hr_db_answer(db, wait, res, err, errlen) == 0)
        return false;
    *sent = false;
    return true;
}

/* Takes the answer to the batch being recorded, if it came (with wait:
 * waits for it). */
static void worker_record_answer(hr_worker_t *w, bool wait)
{
    PGresult *res;
    char err[256];
    if (!worker_db_answer(&w->rec_db, &w->rec_sent, wait, &res, err, sizeof err))
        return;
    if (res == NULL) {
        worker_record_failed(w, err);
        return;
    }
    PQclear(res);
    worker_record_end(w, true);
}

/* The waiting results become the batch being recorded, and it is sent. */
static void worker_record_start(hr_worker_t *w)
{
    worker_done_t *v = w->inrec;
    size_t cap = w->capinrec;
    w->inrec = w->pending;
    w->capinrec = w->cappending;
    w->ninrec = w->npending;
    w->pending = v;
    w->cappending = cap;
    w->npending = 0;
    worker_record_build(w, w->inrec, w->ninrec, &w->rec_text, &w->rec_ids);
    worker_record_send(w);
}

/* Moves the recording on: takes an answer that came, sends again a batch
 * whose pause is over, and starts the waiting results when they are a
 * batch, have waited RECORD_WAIT_MS, or nothing else is in flight or
 * waiting to start. Returns how long (ms) until it wants to run again, or
 * -1 (nothing to do, or waiting for the answer: w->rec_db's socket). */
static long worker_record_pending(hr_worker_t *w)
{
    worker_record_answer(w, false);
    if (w->ninrec > 0) {
        if (w->rec_sent)
            return -1;
        long wait = (long)(w->rec_retry_ms - mono_ms());
        if (wait > 0)
            return wait;
        worker_record_send(w);
        return -1;
    }
    if (w->npending == 0)
        return -1;
    long left = RECORD_WAIT_MS - (long)(mono_ms() - w->pending_since_ms);
    bool busy = w->inflight > 0 || w->queue != NULL;
    if (left > 0 && busy && w->npending < (size_t)w->cfg->worker_batch)
        return left;
    worker_record_start(w);
    return -1;
}

/* Records everything that waits, waiting for each answer (stopping). */
static void worker_record_all(hr_worker_t *w)
{
    while (w->ninrec > 0 || w->npending > 0) {
        if (w->rec_sent) {
            worker_record_answer(w, true);
        } else if (w->ninrec > 0) { /* failed earlier: once more, after its pause */
            long wait = (long)(w->rec_retry_ms - mono_ms());
            if (wait > 0)
                hr_proc_sleep_ms(wait);
            worker_record_send(w);
        } else {
            worker_record_start(w);
        }
    }
}

/* One finished transfer (rc, status): a follow-up goes out again, a
 * refused handover goes back for a retry, a result waits to be recorded. */
static void worker_transfer_done(hr_worker_t *w, hr_job_t *j, CURLcode rc, long status)
{
    worker_job_t *wj = (worker_job_t *)(void *)j;
    if (rc == CURLE_ABORTED_BY_CALLBACK && j->handover == HR_HANDOVER_REFUSED) {
        /* Stopped before the last byte: the provider never got a whole
         * request. Not an attempt: back to 'retrying' (if PostgreSQL is
         * away, its lease runs out and the sweeper retries it). */
        w->inflight--;
        hr_gate_done(wj->gate, mono_ms(), false, true, w->cfg->worker_breaker_threshold,
                     w->cfg->worker_breaker_cooldown_ms);
        worker_release(w, wj, 1000, "handover_not_recorded");
        w->njobs--;
        job_free(wj);
        return;
    }
    hr_send_result_t r;
    worker_result_init(&r);
    if (j->ops->finish(j, rc, status, &r) == 1) {
        worker_start(w, j);
        return;
    }
    w->inflight--;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long dur = (long)((t1.tv_sec - j->t0.tv_sec) * 1000 + (t1.tv_nsec - j->t0.tv_nsec) / 1000000);
    hr_gate_done(wj->gate, mono_ms(), r.outcome == HR_SEND_TRANSIENT,
                 r.breaker_neutral || r.outcome == HR_SEND_PERMANENT,
                 w->cfg->worker_breaker_threshold, w->cfg->worker_breaker_cooldown_ms);
    if (w->npending == w->cappending) {
        w->cappending = w->cappending ? w->cappending * 2 : 64;
        w->pending = realloc(w->pending, w->cappending * sizeof *w->pending);
        hr_assert(w->pending != NULL);
    }
    if (w->npending == 0)
        w->pending_since_ms = mono_ms();
    w->pending[w->npending++] = (worker_done_t){wj, r, dur, NULL};
}

/* Reads finished transfers, of the multi handle and of the lanes; their
 * results are recorded together (worker_record_pending). */
static void worker_collect(hr_worker_t *w)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        hr_job_t *j = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&j);
        hr_assert(j != NULL);
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(w->multi, easy);
        worker_transfer_done(w, j, rc, status);
    }
    for (hr_job_t *j = hr_lanes_take_done(w->lanes), *next; j != NULL; j = next) {
        next = j->next;
        j->next = NULL;
        worker_transfer_done(w, j, j->lane_rc, j->lane_status);
    }
}

/* Loads what the batch's jobs need in one query each: the environments'
 * integrations, or the webhook endpoints. Returns 0 or -1 with err. */
static int worker_prefetch(hr_worker_t *w, PGresult *res, hr_webhook_endpoint_t ***endpoints,
                           char *err, size_t errlen)
{
    int n = PQntuples(res);
    *endpoints = NULL;
    if (n == 0 || w->channel == HR_CHANNEL_IN_APP)
        return 0;
    if (w->channel == HR_CHANNEL_WEBHOOK) {
        hr_buf_t ids = HR_BUF_INIT;
        hr_buf_puts(&ids, "{");
        int k = 0;
        for (int i = 0; i < n; i++)
            if (hr_uuid_valid(PQgetvalue(res, i, 2)))
                hr_buf_printf(&ids, "%s%s", k++ ? "," : "", PQgetvalue(res, i, 2));
        hr_buf_puts(&ids, "}");
        *endpoints = hr_webhook_endpoints_load(&w->db, ids.data, err, errlen);
        hr_buf_free(&ids);
        return *endpoints != NULL ? 0 : -1;
    }
    const char **envs = calloc((size_t)n, sizeof *envs);
    hr_assert(envs != NULL);
    size_t ne = 0;
    for (int i = 0; i < n; i++) {
        const char *e = PQgetvalue(res, i, 4);
        bool seen = false;
        for (size_t k = 0; k < ne && !seen; k++)
            seen = strcmp(envs[k], e) == 0;
        if (!seen)
            envs[ne++] = e;
    }
    int rc = hr_integration_cache_load(&w->integrations, &w->db, envs, ne, err, errlen);
    free(envs);
    return rc;
}

/* The claim of a batch read from the stream is sent on its own connection
 * (w->claim_db) and its answer taken when it comes, so the sends in flight
 * go on meanwhile; the stream is not read again until it is in. */

/* Sends the claim of the deliveries the batch names, or, when it names none,
 * acks its entries and is done with it. Takes the batch. */
static void worker_claim_send(hr_worker_t *w, hr_stream_batch_t *batch)
{
    hr_buf_t arr = HR_BUF_INIT;
    hr_buf_puts(&arr, "{");
    size_t nd = 0;
    for (size_t i = 0; i < batch->n; i++) {
        const char *d = hr_stream_field(&batch->entries[i], "d");
        if (d == NULL || !hr_uuid_valid(d))
            continue;
        hr_buf_printf(&arr, "%s%s", nd++ ? "," : "", d);
    }
    hr_buf_puts(&arr, "}");
    char err[256];
    if (nd == 0) { /* nothing to claim: the entries are done with */
        for (size_t i = 0; i < batch->n; i++)
            worker_ack_later(w, batch->entries[i].id);
        hr_consumer_done(&w->consumer, true);
        hr_stream_batch_free(batch);
    } else {
        char lease[24];
        snprintf(lease, sizeof lease, "%ld", w->cfg->worker_lease_s);
        const char *p[3] = {arr.data, lease, hr_channel_name(w->channel)};
        if (hr_db_send_prepared(&w->claim_db, "worker_claim", claim_sql, 3, p, err,
                                sizeof err) == 0) {
            w->claiming = *batch;
            w->claim_sent = true;
        } else {
            hr_log_warn("batch not finished, will retry: %s", err);
            hr_consumer_done(&w->consumer, false);
            hr_stream_batch_free(batch);
        }
    }
    hr_buf_free(&arr);
}

/* Starts what was claimed of the batch (res: the claim's rows):
 * synchronous sends are done and recorded here, network sends are queued
 * for their gates. Entries whose delivery was not claimable are acked. */
static void worker_claim_take(hr_worker_t *w, hr_stream_batch_t *batch, PGresult *res)
{
    char err[256];
    hr_webhook_endpoint_t **eps = NULL;
    bool *used = calloc(batch->n + 1, sizeof *used);
    hr_assert(used != NULL);
    /* Without the integrations the claimed rows still go: their leases
     * would otherwise hold them; a send fails over to the sink only
     * when no integration exists, so wait for the database instead. */
    while (worker_prefetch(w, res, &eps, err, sizeof err) != 0) {
        if (hr_proc_stop)
            break;
        hr_log_warn("loading integrations: %s", err);
        hr_proc_sleep_ms(500);
    }
    for (int row = 0; row < PQntuples(res); row++) {
        /* The stream entry of this delivery (the first one naming it). */
        const char *sid = NULL;
        for (size_t i = 0; i < batch->n && sid == NULL; i++) {
            const char *d = hr_stream_field(&batch->entries[i], "d");
            if (!used[i] && d != NULL && strcasecmp(d, PQgetvalue(res, row, 0)) == 0) {
                sid = batch->entries[i].id;
                used[i] = true;
            }
        }
        hr_assert(sid != NULL);
        worker_job_t *wj = job_new(w, res, row, sid);
        hr_job_t *j = &wj->job;
        w->njobs++;
        if (!wj->rendered) { /* the content could not be read: later */
            worker_release(w, wj, 1000, "render_failed");
            w->njobs--;
            job_free(wj);
            continue;
        }
        if (w->channel == HR_CHANNEL_WEBHOOK)
            for (size_t k = 0; eps != NULL && eps[k] != NULL; k++)
                if (strcasecmp(eps[k]->id, j->msg.address) == 0)
                    j->endpoint = hr_webhook_endpoint_ref(eps[k]);
        char why[256] = "";
        j->ops = w->channel == HR_CHANNEL_IN_APP ? NULL : worker_route(w, j, why, sizeof why);
        if (j->ops != NULL && j->ops->blocking_end)
            j->handover_wait = hr_lanes_handover;
        if (j->ops == NULL && why[0] != '\0') {
            hr_send_result_t r;
            worker_result_init(&r);
            hr_provider_fail(&r, HR_SEND_PERMANENT, "not_configured: %s", why);
            worker_sync(w, wj, &r);
            worker_job_done(w, wj);
            continue;
        }
        if (j->ops == NULL) {
            worker_sync(w, wj, NULL);
            worker_job_done(w, wj);
            continue;
        }
        j->easy = curl_easy_init();
        hr_assert(j->easy != NULL);
        hr_send_result_t r;
        worker_result_init(&r);
        if (j->ops->prepare(j, &r) != 0) {
            worker_sync(w, wj, &r);
            worker_job_done(w, wj);
            continue;
        }
        worker_enqueue(w, wj);
    }
    for (size_t i = 0; i < batch->n; i++)
        if (!used[i])
            worker_ack_later(w, batch->entries[i].id);
    if (eps != NULL) {
        for (size_t k = 0; eps[k] != NULL; k++)
            hr_webhook_endpoint_unref(eps[k]);
        free(eps);
    }
    free(used);
}

/* Takes the claim's answer if it came (with wait: waits for it) and starts
 * the batch, or leaves its entries pending for a re-read when the claim
 * failed. */
static void worker_claim_answer(hr_worker_t *w, bool wait)
{
    PGresult *res;
    char err[256];
    if (!worker_db_answer(&w->claim_db, &w->claim_sent, wait, &res, err, sizeof err))
        return;
    if (res != NULL)
        worker_claim_take(w, &w->claiming, res);
    else
        hr_log_warn("batch not finished, will retry: %s", err);
    hr_consumer_done(&w->consumer, res != NULL);
    PQclear(res);
    hr_stream_batch_free(&w->claiming);
}

/* Marks the handovers of the paused uploads in list, in one transaction,
 * and resumes them: a marked one completes its send, the others abort
 * without their end (released for a retry in worker_collect). The COMMIT
 * follows the ends: a kill between leaves no mark and the sweeper sends
 * those messages again (a second copy, never a lost one); that window is
 * the rest of one pass of curl_multi_perform, so only for ends libcurl
 * writes without waiting (HTTP; SMTP runs in the lanes). */
static void worker_handover_group(hr_worker_t *w, hr_job_t *list)
{
    size_t n = 0;
    for (hr_job_t *j = list; j != NULL; j = j->handover_next)
        n++;
    if (n == 0)
        return;
    const hr_message_t **ms = calloc(n, sizeof *ms);
    bool *ok = calloc(n, sizeof *ok);
    hr_assert(ms != NULL && ok != NULL);
    size_t i = 0;
    for (hr_job_t *j = list; j != NULL; j = j->handover_next)
        ms[i++] = &j->msg;
    char err[256] = "";
    /* failures are in ok[] and the log; on success the transaction is open */
    bool open = worker_record_handovers(&w->db, ms, n, ok, false) == 0;
    i = 0;
    for (hr_job_t *j = list, *next; j != NULL; j = next, i++) {
        next = j->handover_next;
        j->handover_next = NULL;
        hr_assert(j->handover == HR_HANDOVER_WANTED);
        j->handover = ok[i] ? HR_HANDOVER_DONE : HR_HANDOVER_REFUSED;
        CURLcode rc = curl_easy_pause(j->easy, CURLPAUSE_CONT);
        if (rc != CURLE_OK)
            hr_log_warn("resuming the send of %s: %s", j->msg.delivery_id, curl_easy_strerror(rc));
    }
    int running = 0;
    curl_multi_perform(w->multi, &running); /* the ends go out */
    if (open && hr_db_run(&w->db, "COMMIT", 0, NULL, err, sizeof err) != 0) {
        /* The sends completed unmarked: their results are recorded when
         * they come; only a worker dying first would send them again. */
        hr_db_rollback(&w->db);
        hr_log_json(HR_LOG_ERROR, NULL, "handover marks lost after the sends",
                    json_pack("{s:s, s:i, s:s}", "delivery_id", ms[0]->delivery_id, "count", (int)n,
                              "error", err));
    }
    free(ms);
    free(ok);
}

/* The uploads that paused before their last byte get their handovers
 * marked together and are resumed. Leaves no job waiting. */
static void worker_handovers(hr_worker_t *w)
{
    /* Uploads that pause during a pass make the next round (each pauses
     * once: this ends). */
    while (w->handovers != NULL) {
        hr_job_t *list = w->handovers;
        w->handovers = NULL;
        worker_handover_group(w, list);
    }
}

/* Lets libcurl work on every transfer; uploads that paused for their
 * handover get it marked and are resumed at once. */
static void worker_perform(hr_worker_t *w)
{
    int running = 0;
    curl_multi_perform(w->multi, &running);
    worker_handovers(w);
}

/* One turn of the send engine: start what may start, let libcurl work for
 * at most wait_ms, collect what finished. */
static void worker_pump(hr_worker_t *w, long wait_ms)
{
    long shortest = worker_dispatch(w);
    if (w->inflight > 0) {
        worker_perform(w);
        worker_collect(w);
    }
    long record = worker_record_pending(w);
    long t = wait_ms;
    if (shortest >= 0 && shortest < t)
        t = shortest;
    if (record >= 0 && record < t)
        t = record;
    if (w->inflight > 0 || w->rec_sent || w->claim_sent || record >= 0 || shortest >= 0) {
        /* woken by a transfer, a lane (curl_multi_wakeup), or the answer
         * to a record or a claim */
        struct curl_waitfd fds[2];
        unsigned nfds = 0;
        if (w->rec_sent)
            fds[nfds++] = (struct curl_waitfd){.fd = PQsocket(w->rec_db.conn),
                                               .events = CURL_WAIT_POLLIN};
        if (w->claim_sent)
            fds[nfds++] = (struct curl_waitfd){.fd = PQsocket(w->claim_db.conn),
                                               .events = CURL_WAIT_POLLIN};
        curl_multi_poll(w->multi, nfds > 0 ? fds : NULL, nfds, (int)(t > 0 ? t : 1), NULL);
        if (w->inflight > 0) {
            worker_perform(w);
            worker_collect(w);
        }
        worker_record_pending(w);
    }
}

int hr_worker_run(hr_worker_t *w, const char *config_path)
{
    char stream[64], group[64];
    hr_channel_stream(w->channel, stream, sizeof stream);
    snprintf(group, sizeof group, "%s-workers", hr_channel_name(w->channel));
    hr_redis_init(&w->redis, w->cfg);
    snprintf(w->db.conninfo, sizeof w->db.conninfo, "%s", w->cfg->pg_conninfo);
    snprintf(w->rec_db.conninfo, sizeof w->rec_db.conninfo, "%s", w->cfg->pg_conninfo);
    snprintf(w->claim_db.conninfo, sizeof w->claim_db.conninfo, "%s", w->cfg->pg_conninfo);
    hr_consumer_init(&w->consumer, &w->redis, stream, group, NULL, w->cfg->worker_claim_idle_ms);
    hr_integration_cache_init(&w->integrations, w->channel);
    w->multi = curl_multi_init();
    hr_assert(w->multi != NULL);
    hr_log_json(HR_LOG_INFO, NULL, "worker started",
                json_pack("{s:s, s:s}", "channel", hr_channel_name(w->channel), "consumer",
                          w->consumer.name));
    while (!hr_proc_stop) {
        hr_proc_check_reload(w->cfg, config_path);
        w->consumer.claim_idle_ms = w->cfg->worker_claim_idle_ms;
        curl_multi_setopt(w->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, w->cfg->worker_max_inflight);
        worker_pick_provider(w);
        worker_claim_answer(w, false);
        long room = w->cfg->worker_max_inflight - (long)w->njobs;
        /* Read more while less than a batch waits for its gates; when more
         * waits (a saturated provider), still read twice a second, so other
         * providers' work is found and not starved. */
        long waiting = 0;
        for (hr_job_t *q = w->queue; q != NULL; q = q->next)
            waiting++;
        /* At most a quarter of max_inflight: with more, one endpoint's
         * batches would overflow its three quarters (worker_enqueue) and be
         * released at once as bulkhead_full. */
        long quarter = w->cfg->worker_max_inflight / 4 > 0 ? w->cfg->worker_max_inflight / 4 : 1;
        long per_read = w->cfg->worker_batch < quarter ? w->cfg->worker_batch : quarter;
        if (!w->claim_sent && room > 0 &&
            (waiting < per_read || mono_ms() - w->last_read_ms >= 500)) {
            w->last_read_ms = mono_ms();
            long count = room < per_read ? room : per_read;
            /* Busy: only look for more work, do not block on the stream. */
            long block = w->njobs > 0 ? 0 : w->cfg->worker_block_ms;
            hr_stream_batch_t batch;
            if (hr_consumer_next(&w->consumer, count, block, &batch))
                worker_claim_send(w, &batch);
        }
        worker_pump(w, w->njobs >= (size_t)w->cfg->worker_max_inflight ? 100 : 20);
        worker_flush_acks(w, false);
    }
    /* Stopping: a claim on its way is taken (its deliveries join the
     * queue); what waits for a gate goes back untried; what is in flight
     * finishes (bounded by the request timeouts) and is recorded. */
    worker_claim_answer(w, true);
    while (w->queue != NULL) {
        hr_job_t *j = w->queue;
        w->queue = j->next;
        worker_release(w, (worker_job_t *)(void *)j, 0, "worker_stopping");
        w->njobs--;
        job_free((worker_job_t *)(void *)j);
    }
    w->queue_tail = NULL;
    while (w->inflight > 0)
        worker_pump(w, 100);
    worker_record_all(w);
    worker_flush_acks(w, true);
    hr_log_info("worker stopped");
    if (w->provider != NULL)
        w->provider->close(w->provider_state);
    hr_lanes_free(w->lanes);
    curl_multi_cleanup(w->multi);
    hr_gates_free(&w->gates);
    hr_integration_cache_free(&w->integrations);
    free(w->acks);
    free(w->pending);
    free(w->inrec);
    hr_db_close(&w->claim_db);
    hr_db_close(&w->rec_db);
    hr_db_close(&w->db);
    hr_redis_close(&w->redis);
    return 0;
}
