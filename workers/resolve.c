/* resolve: stored addresses and webhook endpoints for the router's plan. */
#include "resolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "jsonutil.h"
#include "log.h"

static const char *const lookup_sql =
    "WITH x AS (SELECT DISTINCT * FROM json_to_recordset($1::json)"
    "   AS x(environment_id uuid, user_id text))"
    " SELECT COALESCE((SELECT json_agg(json_build_object('environment_id', u.environment_id,"
    "   'user_id', u.user_id, 'email', u.email, 'sms', u.phone,"
    "   'telegram', u.telegram_chat_id, 'discord', COALESCE(u.discord_webhook, u.discord_user_id),"
    "   'whatsapp', COALESCE(u.whatsapp, u.phone),"
    "   'slack', COALESCE(u.slack_webhook, u.slack_channel)))"
    "   FROM end_users u JOIN x ON u.environment_id = x.environment_id AND u.user_id = x.user_id),"
    "   '[]')::text,"
    " COALESCE((SELECT json_agg(json_build_object('id', e.id, 'environment_id', e.environment_id,"
    "   'event_types', e.event_types) ORDER BY e.created_at, e.id)"
    "   FROM webhook_endpoints e WHERE e.disabled_at IS NULL"
    "   AND e.environment_id IN (SELECT environment_id FROM x)), '[]')::text";

static const json_t *find_notif(const json_t *notifs, const char *nid)
{
    size_t i;
    json_t *n;
    json_array_foreach(notifs, i, n)
        if (strcmp(hr_json_str(n, "id"), nid) == 0)
            return n;
    return NULL;
}

static const json_t *find_user(const json_t *users, const char *env, const char *user)
{
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u) {
        const char *e = hr_json_str(u, "environment_id"), *id = hr_json_str(u, "user_id");
        if (e != NULL && id != NULL && strcmp(e, env) == 0 && strcmp(id, user) == 0)
            return u;
    }
    return NULL;
}

static bool subscribed(const json_t *endpoint, const char *type)
{
    const json_t *types = json_object_get(endpoint, "event_types");
    if (json_array_size(types) == 0)
        return true;
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t)
        if (json_is_string(t) && (strcmp(json_string_value(t), type) == 0 ||
                                  strcmp(json_string_value(t), "*") == 0))
            return true;
    return false;
}

void hr_resolve_apply(const json_t *notifs, json_t *delivs, const json_t *users,
                      const json_t *endpoints)
{
    json_t *extra = json_array();
    size_t i = 0;
    while (i < json_array_size(delivs)) {
        json_t *d = json_array_get(delivs, i);
        const char *ch = hr_json_str(d, "channel"), *nid = hr_json_str(d, "notification_id");
        const char *env = hr_json_str(d, "environment_id"), *err = hr_json_str(d, "error");
        const json_t *n = find_notif(notifs, nid);
        if (n == NULL || ch == NULL || env == NULL) {
            i++;
            continue;
        }
        if (strcmp(ch, "webhook") == 0 && strcmp(hr_json_str(d, "status"), "skipped") == 0 &&
            err != NULL && strcmp(err, "not_configured") == 0) {
            /* One delivery per subscribed endpoint, with ids stable on replay. */
            int made = 0;
            size_t k;
            json_t *e;
            json_array_foreach(endpoints, k, e) {
                const char *eid = hr_json_str(e, "id");
                if (eid == NULL || strcmp(hr_json_str(e, "environment_id"), env) != 0 ||
                    !subscribed(e, hr_json_str(n, "type") ? hr_json_str(n, "type") : ""))
                    continue;
                char label[64], did[HR_UUID_STRLEN];
                snprintf(label, sizeof label, "webhook:%s", eid);
                hr_uuid_derive(nid, label, did);
                json_t *nd = json_deep_copy(d);
                json_object_set_new(nd, "id", json_string(did));
                json_object_set_new(nd, "status", json_string("queued"));
                json_object_set_new(nd, "address", json_string(eid));
                json_object_set_new(nd, "error", json_null());
                json_array_append_new(extra, nd);
                made++;
            }
            if (made > 0) {
                json_array_remove(delivs, i);
                continue;
            }
            i++;
            continue;
        }
        if (strcmp(hr_json_str(d, "status"), "skipped") == 0 && err != NULL &&
            strcmp(err, "no_address") == 0 && hr_json_str(n, "user_id") != NULL) {
            const json_t *u = find_user(users, env, hr_json_str(n, "user_id"));
            const char *addr = hr_json_str(u, ch);
            if (addr != NULL && addr[0] != '\0') {
                json_object_set_new(d, "status", json_string("queued"));
                json_object_set_new(d, "address", json_string(addr));
                json_object_set_new(d, "error", json_null());
            }
        }
        i++;
    }
    json_array_extend(delivs, extra);
    json_decref(extra);
}

int hr_resolve_addresses(hr_db_t *db, const json_t *notifs, json_t *delivs, char *err,
                         size_t errlen)
{
    /* Only when something can change: a delivery without an address, or a
     * webhook delivery waiting for endpoints. */
    json_t *keys = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(delivs, i, d) {
        const char *e = hr_json_str(d, "error");
        if (e == NULL || (strcmp(e, "no_address") != 0 && strcmp(e, "not_configured") != 0))
            continue;
        const json_t *n = find_notif(notifs, hr_json_str(d, "notification_id"));
        if (n != NULL && hr_json_str(n, "user_id") != NULL)
            json_array_append_new(keys, json_pack("{s:s, s:s}", "environment_id",
                                                  hr_json_str(n, "environment_id"), "user_id",
                                                  hr_json_str(n, "user_id")));
    }
    if (json_array_size(keys) == 0) {
        json_decref(keys);
        return 0;
    }
    PGresult *res = hr_db_exec_json(db, lookup_sql, keys, err, errlen);
    json_decref(keys);
    if (res == NULL)
        return -1;
    json_t *users = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    json_t *endpoints = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
    PQclear(res);
    hr_resolve_apply(notifs, delivs, users, endpoints);
    json_decref(users);
    json_decref(endpoints);
    return 0;
}
