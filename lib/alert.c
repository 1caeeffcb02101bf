/* alert: email to a tenant's members through Herald's own pipeline. */
#include "alert.h"

#include <stdio.h>
#include <stdlib.h>

#include "channel.h"
#include "ids.h"
#include "jsonutil.h"
#include "log.h"
#include "stream.h"

/* One statement: the notification only when the tenant has members, and an
 * email delivery per member, its id derived from the notification's and the
 * member's (same monthly partition). */
static const char *const alert_sql =
    "WITH m AS (SELECT m.id, m.email FROM members m JOIN environments e ON e.tenant_id = m.tenant_id"
    "   WHERE e.id = $2::uuid),"
    " n AS (INSERT INTO notifications (id, environment_id, user_id, type, title, body, data,"
    "   accepted_at) SELECT $1::uuid, $2::uuid, '', $3, $4, $5, $6::jsonb, now()"
    "   WHERE EXISTS (SELECT 1 FROM m) RETURNING id)"
    " INSERT INTO deliveries (id, notification_id, environment_id, channel, status, address)"
    " SELECT (left(replace($1::text, '-', ''), 12)"
    "   || substr(md5($1::text || 'alert:' || m.id::text), 13, 20))::uuid,"
    "   n.id, $2::uuid, 'email', 'queued', m.email FROM n CROSS JOIN m"
    " RETURNING id, notification_id";

int hr_alert_members(hr_db_t *db, hr_redis_t *redis, const char *environment_id, const char *type,
                     const char *title, const char *body, const json_t *data, char *err,
                     size_t errlen)
{
    char nid[HR_UUID_STRLEN];
    hr_uuid7(nid);
    char *dtext = data != NULL ? hr_json_dump(data) : NULL;
    const char *p[6] = {nid, environment_id, type, title, body, dtext ? dtext : "{}"};
    PGresult *res = hr_db_exec(db, alert_sql, 6, p, err, errlen);
    free(dtext);
    if (res == NULL)
        return -1;
    int n = PQntuples(res);
    char stream[64], qerr[256];
    hr_channel_stream(HR_CHANNEL_EMAIL, stream, sizeof stream);
    if (hr_stream_put_deliveries(redis, stream, res, 0, 1, qerr, sizeof qerr) < n)
        hr_log_warn("alert %s: not queued now, the sweeper will: %s", nid, qerr);
    PQclear(res);
    return n;
}
