/* router: ingest log → PostgreSQL → channel streams. */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "ids.h"
#include "jsonutil.h"
#include "log.h"
#include "proc.h"
#include "events.h"
#include "prefs.h"
#include "resolve.h"

/* One statement, so one round trip and atomic: notifications of existing
 * environments, then their deliveries. Replays conflict and insert nothing. */
static const char *const store_sql =
    "WITH nx AS ("
    "  SELECT x.* FROM json_to_recordset($1::json) AS x(id uuid, environment_id uuid,"
    "    user_id text, type text, title text, body text, data jsonb, recipient jsonb,"
    "    request_id text, accepted_at bigint, event jsonb)"
    "  WHERE EXISTS (SELECT 1 FROM environments e WHERE e.id = x.environment_id)),"
    " ins AS ("
    "  INSERT INTO notifications (id, environment_id, user_id, type, title, body, data,"
    "    recipient, request_id, accepted_at, event)"
    "  SELECT id, environment_id, user_id, type, title, body, data, recipient, request_id,"
    "    to_timestamp(accepted_at / 1000.0), event FROM nx"
    "  ON CONFLICT (id) DO NOTHING)"
    "INSERT INTO deliveries (id, notification_id, environment_id, channel, status, address, error)"
    " SELECT y.id, y.notification_id, y.environment_id, y.channel, y.status, y.address, y.error"
    " FROM json_to_recordset($2::json) AS y(id uuid, notification_id uuid, environment_id uuid,"
    "   channel text, status text, address text, error text)"
    " WHERE y.notification_id IN (SELECT id FROM nx)"
    " ON CONFLICT (id) DO NOTHING";

static void plan_one(const char *nid, const char *env, hr_channel_t ch, const char *address,
                     const char *skip_reason, json_t *delivs)
{
    char did[HR_UUID_STRLEN];
    const char *name = hr_channel_name(ch);
    hr_uuid_derive(nid, name, did);
    bool skip = address == NULL;
    json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", did, "notification_id", nid,
                          "environment_id", env, "channel", name, "status",
                          skip ? "skipped" : "queued");
    hr_assert(d != NULL);
    json_object_set_new(d, "address", address ? json_string(address) : json_null());
    json_object_set_new(d, "error", skip ? json_string(skip_reason) : json_null());
    json_array_append_new(delivs, d);
}

void hr_router_plan(const char *nid, const char *env, const json_t *n, json_t *delivs)
{
    const json_t *user = json_object_get(n, "user");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(n, "channels"), i, c) {
        hr_channel_t ch;
        if (!json_is_string(c) || hr_channel_parse(json_string_value(c), &ch) != 0)
            continue;
        switch (ch) {
        case HR_CHANNEL_EMAIL:
            plan_one(nid, env, ch, hr_json_str(user, "email"), "no_address", delivs);
            break;
        case HR_CHANNEL_SMS:
            plan_one(nid, env, ch, hr_json_str(user, "phone"), "no_address", delivs);
            break;
        case HR_CHANNEL_IN_APP:
            plan_one(nid, env, ch, hr_json_str(user, "id"), "no_address", delivs);
            break;
        case HR_CHANNEL_WEBHOOK:
            /* Webhook endpoints are per environment; none can be configured yet. */
            plan_one(nid, env, ch, NULL, "not_configured", delivs);
            break;
        case HR_CHANNEL_TELEGRAM:
        case HR_CHANNEL_DISCORD:
        case HR_CHANNEL_WHATSAPP:
        case HR_CHANNEL_SLACK:
        case HR_CHANNEL_COUNT:
            /* Chat addresses come from the user's stored profile (not kept yet). */
            plan_one(nid, env, ch, NULL, "no_address", delivs);
            break;
        }
    }
}

/* Builds the notification row for one entry; NULL when the entry is unusable. */
static json_t *router_row(const hr_stream_entry_t *e, json_t **n_out)
{
    const char *p = hr_stream_field(e, "p");
    if (p == NULL)
        return NULL;
    json_t *payload = json_loads(p, 0, NULL);
    json_t *n = json_object_get(payload, "n");
    const char *id = hr_json_str(payload, "id"), *env = hr_json_str(payload, "env");
    if (!json_is_object(n) || !hr_uuid_valid(id) || !hr_uuid_valid(env)) {
        json_decref(payload);
        return NULL;
    }
    const json_t *user = json_object_get(n, "user");
    json_t *recipient = json_deep_copy(user);
    json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:o, s:O?, s:O}", "id", id,
                            "environment_id", env, "user_id", hr_json_str(user, "id"), "type",
                            hr_json_str(n, "type"), "title", hr_json_str(n, "title"), "body",
                            hr_json_str(n, "body"), "data", json_object_get(n, "data"),
                            "recipient", recipient, "request_id", json_object_get(payload, "req"),
                            "accepted_at", json_object_get(payload, "accepted_at"));
    if (row != NULL && json_object_get(n, "event") != NULL)
        json_object_set(row, "event", json_object_get(n, "event"));
    if (row != NULL)
        *n_out = json_incref(n);
    json_decref(payload);
    return row;
}

static int router_dead(hr_router_t *rt, const hr_stream_entry_t *e, char *err, size_t errlen)
{
    const char *p = hr_stream_field(e, "p");
    redisReply *rep = hr_redis_cmd(&rt->redis, err, errlen, "XADD " HR_STREAM_DEAD " * src %s entry %s p %s",
                                   HR_STREAM_INGEST, e->id, p ? p : "");
    if (rep == NULL)
        return -1;
    freeReplyObject(rep);
    hr_log_json(HR_LOG_ERROR, NULL, "malformed ingest entry moved to the dead-letter stream",
                json_pack("{s:s}", "entry", e->id));
    return 0;
}

int hr_router_process(hr_router_t *rt, hr_stream_batch_t *batch, char *err, size_t errlen)
{
    int rc = -1;
    json_t *notifs = json_array(), *delivs = json_array(), *ns = json_array();
    char *ntext = NULL, *dtext = NULL;
    const char **ids = calloc(batch->n + 1, sizeof *ids);
    hr_assert(notifs != NULL && delivs != NULL && ids != NULL);
    size_t nids = 0;
    for (size_t i = 0; i < batch->n; i++) {
        const hr_stream_entry_t *e = &batch->entries[i];
        ids[nids++] = e->id;
        if (e->nfields == 0)
            continue; /* deleted from the stream: nothing left to store */
        json_t *n = NULL;
        json_t *row = router_row(e, &n);
        if (row == NULL) {
            if (router_dead(rt, e, err, errlen) != 0)
                goto done;
            continue;
        }
        json_array_append_new(notifs, row);
        json_array_append_new(ns, n);
    }
    /* Event types decide events' channels (workers/events.c); then the
     * recipients' preferences turn deliveries off (workers/prefs.c). One
     * query each per batch. */
    if (hr_events_resolve(&rt->db, notifs, ns, err, errlen) != 0)
        goto done;
    size_t k;
    json_t *nrow;
    json_array_foreach(notifs, k, nrow) {
        const char *nid = hr_json_str(nrow, "id"), *env = hr_json_str(nrow, "environment_id");
        const json_t *n = json_array_get(ns, k);
        if (!hr_events_plan_team(nid, env, n, delivs))
            hr_router_plan(nid, env, n, delivs);
    }
    /* Stored addresses and webhook endpoints (workers/resolve.c). */
    if (hr_resolve_addresses(&rt->db, notifs, delivs, err, errlen) != 0)
        goto done;
    if (hr_prefs_apply(&rt->db, notifs, delivs, err, errlen) != 0)
        goto done;
    if (json_array_size(notifs) > 0) {
        ntext = hr_json_dump(notifs);
        dtext = hr_json_dump(delivs);
        const char *params[2] = {ntext, dtext};
        if (hr_db_run(&rt->db, store_sql, 2, params, err, errlen) != 0)
            goto done;
    }
    /* Stored: now queue each delivery, then drop the ingest entries and the
     * pending markers, in one pipelined round trip. A crash in between only
     * replays the batch, which stores nothing new and queues duplicates the
     * workers skip. */
    int queued = 0;
    size_t i;
    json_t *d;
    json_array_foreach(delivs, i, d) {
        if (strcmp(hr_json_str(d, "status"), "queued") != 0)
            continue;
        hr_channel_t ch;
        if (hr_channel_parse(hr_json_str(d, "channel"), &ch) != 0)
            continue;
        char stream[64];
        hr_channel_stream(ch, stream, sizeof stream);
        const char *argv[7] = {"XADD", stream, "*", "d", hr_json_str(d, "id"), "n",
                               hr_json_str(d, "notification_id")};
        if (hr_redis_append(&rt->redis, 7, argv, NULL, err, errlen) != 0)
            goto done;
        queued++;
    }
    json_array_foreach(notifs, i, d) {
        char key[64];
        snprintf(key, sizeof key, HR_PENDING_PREFIX "%s", hr_json_str(d, "id"));
        const char *argv[2] = {"DEL", key};
        if (hr_redis_append(&rt->redis, 2, argv, NULL, err, errlen) != 0)
            goto done;
        queued++;
    }
    if (hr_redis_flush(&rt->redis, queued, err, errlen) != 0)
        goto done;
    if (hr_consumer_ack(&rt->consumer, ids, nids, true, err, errlen) != 0)
        goto done;
    json_array_foreach(notifs, i, d)
        hr_log_json(HR_LOG_INFO, hr_json_str(d, "request_id"), "stored",
                    json_pack("{s:s}", "notification_id", hr_json_str(d, "id")));
    rc = 0;
done:
    free(ids);
    free(ntext);
    free(dtext);
    json_decref(notifs);
    json_decref(ns);
    json_decref(delivs);
    return rc;
}

int hr_router_run(hr_router_t *rt, const char *config_path)
{
    char err[512];
    hr_redis_init(&rt->redis, rt->cfg);
    snprintf(rt->db.conninfo, sizeof rt->db.conninfo, "%s", rt->cfg->pg_conninfo);
    hr_consumer_init(&rt->consumer, &rt->redis, HR_STREAM_INGEST, HR_GROUP_INGEST, NULL,
                     rt->cfg->router_claim_idle_ms);
    hr_log_json(HR_LOG_INFO, NULL, "router started",
                json_pack("{s:s}", "consumer", rt->consumer.name));
    while (!hr_proc_stop) {
        hr_proc_check_reload(rt->cfg, config_path);
        rt->consumer.claim_idle_ms = rt->cfg->router_claim_idle_ms;
        hr_stream_batch_t batch;
        if (!hr_consumer_next(&rt->consumer, rt->cfg->router_batch, rt->cfg->router_block_ms,
                              &batch))
            continue;
        bool ok = hr_router_process(rt, &batch, err, sizeof err) == 0;
        if (!ok)
            hr_log_json(HR_LOG_WARN, NULL, "batch not stored, will retry",
                        json_pack("{s:s, s:i}", "error", err, "entries", (int)batch.n));
        hr_consumer_done(&rt->consumer, ok);
        hr_stream_batch_free(&batch);
    }
    hr_log_info("router stopped");
    hr_db_close(&rt->db);
    hr_redis_close(&rt->redis);
    return 0;
}
