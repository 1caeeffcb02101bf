/* whevent: outcome events of deliveries as webhook deliveries — one row per
 * subscribed endpoint with an id derived from (delivery, endpoint, event),
 * then XADD to the webhook stream. Shared by whatever learns an outcome:
 * the worker (sent/failed) and provider receipts (delivered/failed). */
#include "whevent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "channel.h"
#include "jsonutil.h"
#include "log.h"
#include "stream.h"

/* Ids keep the notification's time prefix (its monthly partition); the rest
 * is a digest of the delivery, the endpoint and the event type. Many events
 * in one statement: $1 is a JSON array of {env, nid, did, type, doc}. */
static const char *const whevent_sql =
    "WITH x AS (SELECT * FROM json_to_recordset($1::json)"
    "   AS x(env uuid, nid text, did text, type text, doc jsonb)),"
    " e AS (SELECT x.*, w.id AS eid FROM x JOIN webhook_endpoints w"
    "   ON w.environment_id = x.env AND w.disabled_at IS NULL AND x.type = ANY(w.event_types))"
    " INSERT INTO deliveries (id, notification_id, environment_id, channel, status, address,"
    "   webhook_event)"
    " SELECT (left(replace(e.nid, '-', ''), 12) || substr(md5(e.did || e.eid::text || e.type), 13, 20))::uuid,"
    "   e.nid::uuid, e.env, 'webhook', 'queued', e.eid::text, e.doc FROM e"
    " ON CONFLICT (id) DO NOTHING RETURNING id, notification_id";

/* The row of ev for whevent_sql, or NULL for an event never made. */
static json_t *whevent_row(const hr_whevent_t *ev)
{
    if (strcmp(ev->channel, "webhook") == 0)
        return NULL; /* events about events would never end */
    char type[48];
    snprintf(type, sizeof type, "notification.%s", ev->status);
    json_t *doc = json_pack("{s:s, s:{s:s, s:s, s:s, s:s?, s:i, s:s?, s:s?}}", "type", type,
                            "delivery", "id", ev->delivery_id, "channel", ev->channel, "status",
                            ev->status, "address", ev->address, "attempts", ev->attempts,
                            "provider_message_id",
                            ev->provider_message_id && ev->provider_message_id[0]
                                ? ev->provider_message_id
                                : NULL,
                            "error", ev->error && ev->error[0] ? ev->error : NULL);
    hr_assert(doc != NULL);
    json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:o}", "env", ev->environment_id, "nid",
                            ev->notification_id, "did", ev->delivery_id, "type", type, "doc", doc);
    hr_assert(row != NULL);
    return row;
}

int hr_whevent_emit_many(hr_db_t *db, hr_redis_t *redis, const hr_whevent_t *evs, size_t n,
                         int *stored, char *err, size_t errlen)
{
    if (stored != NULL)
        *stored = 0;
    json_t *rows = json_array();
    hr_assert(rows != NULL);
    for (size_t i = 0; i < n; i++) {
        json_t *row = whevent_row(&evs[i]);
        if (row != NULL)
            json_array_append_new(rows, row);
    }
    if (json_array_size(rows) == 0) {
        json_decref(rows);
        return 0;
    }
    PGresult *res = hr_db_exec_json(db, whevent_sql, rows, err, errlen);
    json_decref(rows);
    if (res == NULL)
        return -1;
    int stored_n = PQntuples(res);
    if (stored != NULL)
        *stored = stored_n;
    int rc = 0;
    if (stored_n > 0) {
        char stream[64];
        hr_channel_stream(HR_CHANNEL_WEBHOOK, stream, sizeof stream);
        rc = hr_stream_put_deliveries(redis, stream, res, 0, 1, err, errlen) == stored_n ? 0 : 1;
    }
    PQclear(res);
    return rc;
}

int hr_whevent_emit(hr_db_t *db, hr_redis_t *redis, const hr_whevent_t *ev, int *stored,
                    char *err, size_t errlen)
{
    return hr_whevent_emit_many(db, redis, ev, 1, stored, err, errlen);
}
