/* preferences: GET|PUT /v1/users/{id}/preferences (API key) and
 * GET|PUT /v1/me/preferences (the user's own token, for a preference
 * centre). Per user x (event type or category) x channel, on or off; all
 * on by default, rows created on first read. The router applies them
 * (workers/prefs.c); critical event types ignore them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "channel.h"
#include "content.h"
#include "handlers.h"
#include "jsonutil.h"
#include "log.h"
#include "usertoken.h"

/* Creates the missing rows (every event type x its channels, every category
 * x its types' channels), then answers the whole set. */
static const char *const get_sql =
    "WITH want AS ("
    "  SELECT 'type' AS scope, et.key, ch AS channel FROM event_types et, unnest(et.channels) ch"
    "   WHERE et.environment_id = $1"
    "  UNION"
    "  SELECT 'category', c.key, ch FROM categories c, unnest(COALESCE(NULLIF(ARRAY("
    "    SELECT DISTINCT unnest(et.channels) FROM event_types et WHERE et.category_id = c.id),"
    "    '{}'), herald_default_channels($1))) ch WHERE c.environment_id = $1),"
    " ins AS (INSERT INTO preferences (environment_id, user_id, scope, key, channel)"
    "  SELECT $1, $2, scope, key, channel FROM want"
    "  ON CONFLICT DO NOTHING RETURNING scope, key, channel, enabled),"
    " allp AS (SELECT scope, key, channel, enabled FROM preferences"
    "   WHERE environment_id = $1 AND user_id = $2"
    "  UNION ALL SELECT scope, key, channel, enabled FROM ins),"
    " grp AS (SELECT scope, key, json_object_agg(channel, enabled ORDER BY channel) AS channels"
    "  FROM allp GROUP BY scope, key)"
    "SELECT json_build_object('user', $2::text, 'preferences', COALESCE(json_agg("
    "  CASE WHEN g.scope = 'type' THEN json_build_object('type', g.key, 'name', et.name,"
    "    'category', c.key, 'critical', COALESCE(et.critical, false), 'channels', g.channels)"
    "  ELSE json_build_object('category', g.key, 'name', cc.name, 'channels', g.channels) END"
    "  ORDER BY g.scope DESC, g.key), '[]'))::text"
    " FROM grp g"
    " LEFT JOIN event_types et ON g.scope = 'type' AND et.environment_id = $1 AND et.key = g.key"
    " LEFT JOIN categories c ON c.id = et.category_id"
    " LEFT JOIN categories cc ON g.scope = 'category' AND cc.environment_id = $1"
    "  AND cc.key = g.key";

static const char *const put_sql =
    "INSERT INTO preferences (environment_id, user_id, scope, key, channel, enabled)"
    " SELECT $1, $2, x.scope, x.key, x.channel, x.enabled"
    " FROM json_to_recordset($3::json) AS x(scope text, key text, channel text, enabled boolean)"
    " ON CONFLICT (environment_id, user_id, scope, key, channel)"
    " DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = now() RETURNING 1";

/* Who the request is about: an API key and the {id} path segment, or a
 * user token for /v1/me. Returns 0, or -1 after replying. */
static int prefs_subject(hr_req_t *r, bool me, const char **env, const char **user)
{
    if (!me) {
        if (hr_req_authenticate(r) != 0)
            return -1;
        *env = r->auth.environment_id;
        *user = r->params[0];
        if (strlen(*user) > 255) {
            hr_req_error(r, 404, "not_found", "no such user", NULL);
            return -1;
        }
        return 0;
    }
    const char *h = hr_req_param(r, "HTTP_AUTHORIZATION");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        hr_req_error(r, 401, "unauthorized", "send the user token as Authorization: Bearer <token>",
                     NULL);
        return -1;
    }
    hr_usertoken_t ut;
    char err[256];
    int rc = hr_usertoken_verify(&r->app->db, h + 7, NULL, &ut, err, sizeof err);
    if (rc == -2) {
        hr_log(HR_LOG_ERROR, r->request_id, "user token check failed: %s", err);
        hr_req_error(r, 503, "not_ready", "the database is unreachable; try again", NULL);
        return -1;
    }
    if (rc != 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "the user token is not valid: %s", err);
        hr_req_error(r, 401, "unauthorized", msg, NULL);
        return -1;
    }
    *env = hr_arena_strndup(r->arena, ut.environment_id, strlen(ut.environment_id));
    *user = hr_arena_strndup(r->arena, ut.user_id, strlen(ut.user_id));
    return 0;
}

static void prefs_reply(hr_req_t *r, const char *env, const char *user)
{
    const char *p[2] = {env, user};
    json_t *doc = NULL;
    if (hr_content_query(r, "preferences read", get_sql, 2, p, &doc) > 0)
        hr_req_reply(r, 200, doc, NULL);
}

static void prefs_get_impl(hr_req_t *r, bool me)
{
    const char *env, *user;
    if (prefs_subject(r, me, &env, &user) == 0)
        prefs_reply(r, env, user);
}

/* The rows of a PUT body, as a JSON array for put_sql; NULL after a 422. */
static json_t *prefs_rows(hr_req_t *r, const json_t *body)
{
    json_t *list = json_object_get(body, "preferences");
    if (!json_is_array(list) || json_object_size(body) != 1) {
        hr_content_invalid(r, "preferences",
                           "the body must be {\"preferences\": [{\"type\" or \"category\", "
                           "\"channels\": {\"email\": false, ...}}, ...]}");
        return NULL;
    }
    json_t *rows = json_array(), *seen = json_object();
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        char f[64];
        snprintf(f, sizeof f, "preferences[%zu]", i);
        const char *type = hr_json_str(item, "type"), *cat = hr_json_str(item, "category");
        json_t *chans = json_object_get(item, "channels");
        const char *key = type ? type : cat;
        bool extra = false;
        const char *k;
        json_t *v;
        json_object_foreach(item, k, v) extra |= strcmp(k, "type") && strcmp(k, "category") &&
                                                 strcmp(k, "channels") && strcmp(k, "name") &&
                                                 strcmp(k, "critical");
        if (!json_is_object(item) || (type == NULL) == (cat == NULL) || extra ||
            !hr_content_key_valid(key, type ? 128 : 64) || !json_is_object(chans)) {
            hr_content_invalid(r, f,
                               "%s must be {\"type\" or \"category\": KEY, \"channels\": "
                               "{CHANNEL: true|false}}",
                               f);
            goto fail;
        }
        json_object_foreach(chans, k, v)
        {
            hr_channel_t ch;
            char cf[128];
            snprintf(cf, sizeof cf, "%s.channels.%.40s", f, k);
            if (hr_channel_parse(k, &ch) != 0 || !json_is_boolean(v)) {
                hr_content_invalid(r, cf, "%s must be a channel name set to true or false", cf);
                goto fail;
            }
            char id[300];
            snprintf(id, sizeof id, "%s\x1f%s\x1f%s", type ? "type" : "category", key, k);
            if (json_object_get(seen, id) != NULL) {
                hr_content_invalid(r, cf, "%s is given twice", cf);
                goto fail;
            }
            json_object_set_new(seen, id, json_true());
            json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:O}", "scope",
                                                  type ? "type" : "category", "key", key, "channel",
                                                  k, "enabled", v));
        }
    }
    json_decref(seen);
    return rows;
fail:
    json_decref(seen);
    json_decref(rows);
    return NULL;
}

static void prefs_put_impl(hr_req_t *r, bool me)
{
    const char *env, *user;
    json_t *body = NULL, *rows = NULL, *doc = NULL;
    if (prefs_subject(r, me, &env, &user) != 0 || hr_content_body(r, &body) != 0)
        return;
    if ((rows = prefs_rows(r, body)) == NULL)
        goto done;
    char *text = json_dumps(rows, JSON_COMPACT);
    const char *p[3] = {env, user, text};
    int rc = json_array_size(rows) == 0
                 ? 1
                 : hr_content_query(r, "preferences update", put_sql, 3, p, &doc);
    free(text);
    if (rc >= 0 && r->status == 0)
        prefs_reply(r, env, user);
done:
    json_decref(doc);
    json_decref(rows);
    json_decref(body);
}

static void prefs_get(hr_req_t *r)
{
    prefs_get_impl(r, false);
}
static void prefs_put(hr_req_t *r)
{
    prefs_put_impl(r, false);
}
static void prefs_me_get(hr_req_t *r)
{
    prefs_get_impl(r, true);
}
static void prefs_me_put(hr_req_t *r)
{
    prefs_put_impl(r, true);
}

const hr_route_t hr_routes_preferences[] = {
    {"GET", "/v1/users/{id}/preferences", prefs_get},
    {"PUT", "/v1/users/{id}/preferences", prefs_put},
    {"GET", "/v1/me/preferences", prefs_me_get},
    {"PUT", "/v1/me/preferences", prefs_me_put},
    {NULL, NULL, NULL},
};
