/* prefs: which planned deliveries the recipients' preferences turn off. */
#include "prefs.h"

#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "log.h"

/* The indexes (into the argument) of deliveries to skip. */
static const char *const prefs_sql =
    "SELECT COALESCE(json_agg(x.i), '[]')::text"
    " FROM json_to_recordset($1::json) AS x(i int, env uuid, user_id text, type text, channel text)"
    " LEFT JOIN event_types et ON et.environment_id = x.env AND et.key = x.type"
    " LEFT JOIN categories c ON c.id = et.category_id"
    " WHERE NOT COALESCE(et.critical, false) AND EXISTS (SELECT 1 FROM preferences p"
    "  WHERE p.environment_id = x.env AND p.user_id = x.user_id AND p.channel = x.channel"
    "  AND NOT p.enabled AND ((p.scope = 'type' AND p.key = x.type)"
    "   OR (p.scope = 'category' AND p.key = c.key)))";

int hr_prefs_apply(hr_db_t *db, const json_t *notifs, json_t *delivs, char *err, size_t errlen)
{
    json_t *byid = json_object(), *args = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(notifs, i, v) json_object_set(byid, hr_json_str(v, "id"), v);
    json_array_foreach(delivs, i, v)
    {
        const char *status = hr_json_str(v, "status");
        const json_t *n = json_object_get(byid, hr_json_str(v, "notification_id"));
        const char *user = hr_json_str(n, "user_id");
        if (status == NULL || strcmp(status, "queued") != 0 || user == NULL || user[0] == '\0')
            continue; /* events without a user have no preferences */
        json_array_append_new(args, json_pack("{s:i, s:s, s:s, s:s, s:s}", "i", (int)i, "env",
                                              hr_json_str(n, "environment_id"), "user_id", user,
                                              "type", hr_json_str(n, "type"), "channel",
                                              hr_json_str(v, "channel")));
    }
    json_decref(byid);
    int rc = 0;
    if (json_array_size(args) > 0) {
        PGresult *res = hr_db_exec_json(db, prefs_sql, args, err, errlen);
        if (res == NULL) {
            rc = -1;
        } else {
            json_t *skip = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
            PQclear(res);
            hr_assert(json_is_array(skip));
            json_array_foreach(skip, i, v)
            {
                json_t *d = json_array_get(delivs, (size_t)json_integer_value(v));
                json_object_set_new(d, "status", json_string("skipped"));
                json_object_set_new(d, "error", json_string("preference"));
            }
            json_decref(skip);
        }
    }
    json_decref(args);
    return rc;
}
