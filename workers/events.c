/* events: event types and team destinations for the router, per batch. */
#include "events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "ids.h"
#include "jsonutil.h"
#include "log.h"

/* New types get the environment's default channels and, when the event
 * named one, its category. Rows inserted here are not visible to the outer
 * SELECT (same snapshot), hence the join with ins; a type another router
 * created at the same moment falls back to the defaults. */
static const char *const resolve_sql =
    "WITH x AS (SELECT * FROM json_to_recordset($1::json)"
    "  AS x(i int, env uuid, type text, category text, team boolean)),"
    " ins AS (INSERT INTO event_types (environment_id, key, name, category_id, channels)"
    "  SELECT DISTINCT ON (x.env, x.type) x.env, x.type, x.type,"
    "   (SELECT c.id FROM categories c WHERE c.environment_id = x.env AND c.key = x.category),"
    "   herald_default_channels(x.env)"
    "  FROM x WHERE EXISTS (SELECT 1 FROM environments e WHERE e.id = x.env)"
    "  ORDER BY x.env, x.type, x.category NULLS LAST"
    "  ON CONFLICT (environment_id, key) DO NOTHING RETURNING environment_id, key, channels)"
    "SELECT COALESCE(json_agg(json_build_object('i', x.i,"
    " 'channels', to_json(COALESCE(et.channels, ins.channels, herald_default_channels(x.env))),"
    " 'destinations', CASE WHEN x.team THEN (SELECT COALESCE(json_object_agg(td.channel,"
    "   td.address), '{}') FROM team_destinations td WHERE td.environment_id = x.env) END)),"
    " '[]')::text"
    " FROM x LEFT JOIN event_types et ON et.environment_id = x.env AND et.key = x.type"
    " LEFT JOIN ins ON ins.environment_id = x.env AND ins.key = x.type";

int hr_events_resolve(hr_db_t *db, const json_t *notifs, json_t *ns, char *err, size_t errlen)
{
    if (json_array_size(notifs) == 0)
        return 0;
    json_t *args = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(notifs, i, row)
    {
        const json_t *n = json_array_get(ns, i);
        const json_t *ev = json_object_get(n, "event");
        json_array_append_new(args, json_pack("{s:i, s:s, s:s, s:s?, s:b}", "i", (int)i, "env",
                                              hr_json_str(row, "environment_id"), "type",
                                              hr_json_str(row, "type"), "category",
                                              hr_json_str(ev, "category"), "team",
                                              json_is_true(json_object_get(ev, "team"))));
    }
    PGresult *res = hr_db_exec_json(db, resolve_sql, args, err, errlen);
    json_decref(args);
    if (res == NULL)
        return -1;
    json_t *out = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    hr_assert(json_is_array(out));
    json_t *r;
    json_array_foreach(out, i, r)
    {
        json_t *n = json_array_get(ns, (size_t)json_integer_value(json_object_get(r, "i")));
        json_t *ev = json_object_get(n, "event");
        if (!json_is_object(ev))
            continue; /* a plain notification: its request chose the channels */
        json_t *channels = json_object_get(r, "channels");
        if (json_is_true(json_object_get(ev, "team"))) {
            json_object_set(ev, "channels", channels);
            /* A test send names its destination; a real event uses the team's. */
            if (json_object_get(ev, "destinations") == NULL)
                json_object_set(ev, "destinations", json_object_get(r, "destinations"));
        } else {
            json_object_set(n, "channels", channels);
        }
    }
    json_decref(out);
    return 0;
}

static void team_one(const char *nid, const char *env, hr_channel_t ch, const char *address,
                     json_t *delivs)
{
    char did[HR_UUID_STRLEN];
    const char *name = hr_channel_name(ch);
    hr_uuid_derive(nid, name, did);
    json_t *d =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", did, "notification_id", nid, "environment_id",
                  env, "channel", name, "status", address ? "queued" : "skipped");
    hr_assert(d != NULL);
    json_object_set_new(d, "address", address ? json_string(address) : json_null());
    json_object_set_new(d, "error", address ? json_null() : json_string("not_configured"));
    json_array_append_new(delivs, d);
}

bool hr_events_plan_team(const char *nid, const char *env, const json_t *n, json_t *delivs)
{
    const json_t *ev = json_object_get(n, "event");
    if (!json_is_true(json_object_get(ev, "team")))
        return false;
    const json_t *dest = json_object_get(ev, "destinations");
    bool seen[HR_CHANNEL_COUNT] = {false};
    /* A test send goes to its destination only; an event to its type's channels. */
    const json_t *channels =
        json_is_true(json_object_get(ev, "test")) ? NULL : json_object_get(ev, "channels");
    const char *key;
    json_t *v;
    hr_channel_t ch;
    if (channels == NULL) {
        json_object_foreach((json_t *)dest, key, v) if (hr_channel_parse(key, &ch) == 0 &&
                                                        ch != HR_CHANNEL_IN_APP && !seen[ch] &&
                                                        json_is_string(v))
        {
            seen[ch] = true;
            team_one(nid, env, ch, json_string_value(v), delivs);
        }
        return true;
    }
    size_t i;
    json_array_foreach(channels, i, v)
    {
        if (!json_is_string(v) || hr_channel_parse(json_string_value(v), &ch) != 0 ||
            ch == HR_CHANNEL_IN_APP || seen[ch])
            continue;
        seen[ch] = true;
        team_one(nid, env, ch, hr_json_str(dest, hr_channel_name(ch)), delivs);
    }
    return true;
}
