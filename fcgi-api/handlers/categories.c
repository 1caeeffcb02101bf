/* categories: /v1/categories — named groups of event types with an emoji
 * and a colour (shown in chat messages: the message prefix and the Discord
 * embed colour). How many an environment may have depends on the tenant's
 * plan ([content] categories_free/pro/custom). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "content.h"
#include "handlers.h"
#include "ids.h"
#include "log.h"

#define CATEGORY_KEY_MAX 64

#define CATEGORY_JSON                                                                              \
    "json_build_object('key', c.key, 'name', c.name, 'emoji', c.emoji, 'color', c.color,"          \
    " 'event_types', (SELECT COALESCE(json_agg(et.key ORDER BY et.key), '[]') FROM event_types et" \
    "   WHERE et.category_id = c.id),"                                                             \
    " 'created_at', herald_ts(c.created_at), 'updated_at', herald_ts(c.updated_at))"

static const char *const list_sql =
    "SELECT COALESCE(json_agg(" CATEGORY_JSON " ORDER BY c.key), '[]')::text"
    " FROM categories c WHERE c.environment_id = $1";

static const char *const get_sql =
    "SELECT " CATEGORY_JSON "::text FROM categories c WHERE c.environment_id = $1 AND c.key = $2";

/* The count check and the insert, run in a transaction that first takes a
 * per-environment lock (lock_sql), so two concurrent creations cannot pass
 * the limit together (the lock comes before this statement's snapshot).
 * Answers {"limit": n} when full, {"exists": true} on a duplicate key. */
static const char *const create_sql =
    "WITH n AS (SELECT count(*) AS n FROM categories WHERE environment_id = $1::uuid),"
    " ins AS (INSERT INTO categories (id, environment_id, key, name, emoji, color)"
    "  SELECT $2::uuid, $1::uuid, $3, $4, COALESCE($5, ''), COALESCE($6, '')"
    "  FROM n WHERE n.n < $7::int"
    "  ON CONFLICT (environment_id, key) DO NOTHING RETURNING *)"
    "SELECT CASE"
    " WHEN EXISTS (SELECT 1 FROM ins) THEN (SELECT json_build_object('key', c.key, 'name', c.name,"
    "   'emoji', c.emoji, 'color', c.color, 'event_types', '[]'::json,"
    "   'created_at', herald_ts(c.created_at), 'updated_at', herald_ts(c.updated_at)) FROM ins c)"
    " WHEN EXISTS (SELECT 1 FROM categories WHERE environment_id = $1::uuid AND key = $3)"
    "  THEN json_build_object('exists', true)"
    " ELSE json_build_object('limit', $7::int) END::text";

static const char *const lock_sql =
    "SELECT pg_advisory_xact_lock(hashtext('herald:categories:' || $1))";

static const char *const update_sql =
    "UPDATE categories SET name = COALESCE($3, name), emoji = COALESCE($4, emoji),"
    " color = COALESCE($5, color), updated_at = now()"
    " WHERE environment_id = $1 AND key = $2 RETURNING 1";

static const char *const delete_sql =
    "DELETE FROM categories WHERE environment_id = $1 AND key = $2 RETURNING 1";

static long category_limit(hr_req_t *r)
{
    const hr_config_t *c = &r->app->cfg;
    if (strcmp(r->auth.plan, "pro") == 0)
        return c->content_categories_pro;
    if (strcmp(r->auth.plan, "custom") == 0)
        return c->content_categories_custom;
    return c->content_categories_free;
}

static bool color_valid(const char *s)
{
    if (s[0] == '\0')
        return true;
    if (strlen(s) != 7 || s[0] != '#')
        return false;
    for (int i = 1; i < 7; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* name, emoji and color of a body; -1 after a 422. */
static int category_fields(hr_req_t *r, const json_t *body, const char **name, const char **emoji,
                           const char **color)
{
    if (hr_content_string(r, body, "name", 100, name) < 0 ||
        hr_content_string(r, body, "emoji", 16, emoji) < 0 ||
        hr_content_string(r, body, "color", 7, color) < 0)
        return -1;
    if (*name != NULL && (*name)[0] == '\0') {
        hr_content_invalid(r, "name", "name must not be empty");
        return -1;
    }
    if (*color != NULL && !color_valid(*color)) {
        hr_content_invalid(r, "color", "color must be a colour like #e11d48");
        return -1;
    }
    return 0;
}

static void category_list(hr_req_t *r)
{
    if (hr_req_authenticate(r) != 0)
        return;
    const char *p[1] = {r->auth.environment_id};
    json_t *doc = NULL;
    if (hr_content_query(r, "category list", list_sql, 1, p, &doc) > 0)
        hr_req_reply(r, 200,
                     json_pack("{s:o, s:I}", "data", doc, "limit", (json_int_t)category_limit(r)),
                     NULL);
}

static void category_get(hr_req_t *r)
{
    if (hr_req_authenticate(r) != 0)
        return;
    const char *p[2] = {r->auth.environment_id, r->params[0]};
    json_t *doc = NULL;
    int rc = hr_content_query(r, "category read", get_sql, 2, p, &doc);
    if (rc == 0)
        hr_req_error(r, 404, "not_found", "no such category", NULL);
    else if (rc > 0)
        hr_req_reply(r, 200, doc, NULL);
}

static void category_create(hr_req_t *r)
{
    static const char *const fields[] = {"key", "name", "emoji", "color", NULL};
    json_t *body = NULL, *doc = NULL;
    if (hr_req_authenticate(r) != 0 || hr_content_body(r, &body) != 0)
        return;
    const char *key = NULL, *name = NULL, *emoji = NULL, *color = NULL;
    if (hr_content_known(r, body, fields) != 0 ||
        hr_content_string(r, body, "key", CATEGORY_KEY_MAX, &key) < 0 ||
        category_fields(r, body, &name, &emoji, &color) != 0)
        goto done;
    if (key == NULL || !hr_content_key_valid(key, CATEGORY_KEY_MAX)) {
        hr_content_invalid(
            r, "key", "key is required: 1 to %d characters of a-z 0-9 . _ - :", CATEGORY_KEY_MAX);
        goto done;
    }
    if (name == NULL)
        name = key;
    char id[HR_UUID_STRLEN], lim[24];
    hr_uuid7(id);
    snprintf(lim, sizeof lim, "%ld", category_limit(r));
    const char *p[7] = {r->auth.environment_id, id, key, name, emoji, color, lim};
    char err[256];
    const char *lp[1] = {r->auth.environment_id};
    if (hr_db_run(&r->app->db, "BEGIN", 0, NULL, err, sizeof err) != 0 ||
        hr_db_run(&r->app->db, lock_sql, 1, lp, err, sizeof err) != 0) {
        hr_db_rollback(&r->app->db);
        hr_req_db_failed(r, "category create", err);
        goto done;
    }
    if (hr_content_query_row(r, "category create", create_sql, 7, p, &doc) <= 0) {
        hr_db_rollback(&r->app->db);
        goto done;
    }
    if (hr_db_run(&r->app->db, "COMMIT", 0, NULL, err, sizeof err) != 0) {
        hr_db_rollback(&r->app->db);
        hr_req_db_failed(r, "category create", err);
        goto done;
    }
    if (json_object_get(doc, "exists") != NULL) {
        hr_req_error(r, 409, "conflict", "a category with this key exists", "key");
    } else if (json_object_get(doc, "limit") != NULL) {
        char msg[160];
        snprintf(msg, sizeof msg, "the %s plan allows %ld categories per environment",
                 r->auth.plan[0] ? r->auth.plan : "free", category_limit(r));
        hr_req_error(r, 403, "plan_limit", msg, NULL);
    } else {
        hr_req_reply(r, 201, doc, NULL);
        doc = NULL;
    }
done:
    json_decref(doc);
    json_decref(body);
}

static void category_update(hr_req_t *r)
{
    static const char *const fields[] = {"name", "emoji", "color", NULL};
    json_t *body = NULL;
    if (hr_req_authenticate(r) != 0 || hr_content_body(r, &body) != 0)
        return;
    const char *name = NULL, *emoji = NULL, *color = NULL;
    if (hr_content_known(r, body, fields) != 0 ||
        category_fields(r, body, &name, &emoji, &color) != 0)
        goto done;
    const char *p[5] = {r->auth.environment_id, r->params[0], name, emoji, color};
    json_t *doc = NULL;
    int rc = hr_content_query(r, "category update", update_sql, 5, p, &doc);
    json_decref(doc);
    if (rc == 0)
        hr_req_error(r, 404, "not_found", "no such category", NULL);
    else if (rc > 0)
        category_get(r);
done:
    json_decref(body);
}

static void category_delete(hr_req_t *r)
{
    if (hr_req_authenticate(r) != 0)
        return;
    const char *p[2] = {r->auth.environment_id, r->params[0]};
    json_t *doc = NULL;
    int rc = hr_content_query(r, "category delete", delete_sql, 2, p, &doc);
    json_decref(doc);
    if (rc == 0)
        hr_req_error(r, 404, "not_found", "no such category", NULL);
    else if (rc > 0)
        hr_req_reply(r, 200, json_pack("{s:s, s:b}", "key", r->params[0], "deleted", 1), NULL);
}

const hr_route_t hr_routes_categories[] = {
    {"GET", "/v1/categories", category_list},
    {"POST", "/v1/categories", category_create},
    {"GET", "/v1/categories/{key}", category_get},
    {"PATCH", "/v1/categories/{key}", category_update},
    {"PUT", "/v1/categories/{key}", category_update},
    {"DELETE", "/v1/categories/{key}", category_delete},
    {NULL, NULL, NULL},
};
