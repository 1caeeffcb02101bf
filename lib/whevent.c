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
 * is a digest of the delivery, the endpoint and the event type. */
static const char *const whevent_sql =
    "WITH e AS (SELECT id FROM webhook_endpoints WHERE environment_id = $1"
    "   AND disabled_at IS NULL AND $2 = ANY(event_types))"
    " INSERT INTO deliveries (id, notification_id, environment_id, channel, status, address,"
    "   webhook_event)"
    " SELECT (left(replace($3, '-', ''), 12) || substr(md5($4 || e.id::text || $2), 13, 20))::uuid,"
    "   $3::uuid, $1::uuid, 'webhook', 'queued', e.id::text, $5::jsonb FROM e"
    " ON CONFLICT (id) DO NOTHING RETURNING id, notification_id";

int hr_whevent_emit(hr_db_t *db, hr_redis_t *redis, const hr_whevent_t *ev, int *stored,
                    char *err, size_t errlen)
{
    if (stored != NULL)
        *stored = 0;
    if (strcmp(ev->channel, "webhook") == 0)
        return 0; /* events about events would never end */
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
    char *text = hr_json_dump(doc);
    json_decref(doc);
    const char *p[5] = {ev->environment_id, type, ev->notification_id, ev->delivery_id, text};
    PGresult *res = hr_db_exec(db, whevent_sql, 5, p, err, errlen);
    free(text);
    if (res == NULL)
        return -1;
    int n = PQntuples(res);
    if (stored != NULL)
        *stored = n;
    char stream[64];
    hr_channel_stream(HR_CHANNEL_WEBHOOK, stream, sizeof stream);
    int rc = hr_stream_put_deliveries(redis, stream, res, 0, 1, err, errlen) == n ? 0 : 1;
    PQclear(res);
    return rc;
}
