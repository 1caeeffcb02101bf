/* event_types: /v1/event-types (?category=KEY filters) — what an event's type decides: its
 * channels, its category, whether it is critical (critical types ignore
 * user preferences). Types are created on first use (POST /v1/events or a
 * notification's type) with every channel the environment has configured,
 * and can be edited here. */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "channel.h"
#include "content.h"
#include "handlers.h"
#include "log.h"
#include "query.h"

#define TYPE_KEY_MAX 128

#define EVENT_TYPE_JSON                                                                            \
    "json_build_object('key', et.key, 'name', et.name, 'description', et.description,"             \
    " 'category', c.key, 'channels', to_json(et.channels), 'critical', et.critical,"               \
    " 'template', (SELECT json_build_object('published_version', t.published_version,"             \
    "   'latest_version', t.latest_version) FROM templates t"                                      \
    "   WHERE t.environment_id = et.environment_id AND t.key = et.key),"                           \
    " 'created_at', herald_ts(et.created_at), 'updated_at', herald_ts(et.updated_at))"

static const char *const list_sql =
    "SELECT COALESCE(json_agg(" EVENT_TYPE_JSON " ORDER BY et.key), '[]')::text"
    " FROM event_types et LEFT JOIN categories c ON c.id = et.category_id"
    " WHERE et.environment_id = $1 AND ($2::text IS NULL OR c.key = $2)";

static const char *const get_sql =
    "SELECT " EVENT_TYPE_JSON "::text"
    " FROM event_types et LEFT JOIN categories c ON c.id = et.category_id"
    " WHERE et.environment_id = $1 AND et.key = $2";

static const char *const category_sql =
    "SELECT to_json(id)::text FROM categories WHERE environment_id = $1 AND key = $2";

/* $8: whether the request set category (null removes it). */
static const char *const put_sql =
    "INSERT INTO event_types AS et (environment_id, key, name, description, category_id,"
    "  channels, critical)"
    " VALUES ($1, $2, COALESCE($3, $2), COALESCE($4, ''), $5::uuid,"
    "  COALESCE($6::text[], herald_default_channels($1)), COALESCE($7::boolean, false))"
    " ON CONFLICT (environment_id, key) DO UPDATE SET name = COALESCE($3, et.name),"
    "  description = COALESCE($4, et.description),"
    "  category_id = CASE WHEN $8::boolean THEN $5::uuid ELSE et.category_id END,"
    "  channels = COALESCE($6::text[], et.channels),"
    "  critical = COALESCE($7::boolean, et.critical), updated_at = now()"
    " RETURNING 1";

static const char *const delete_sql =
    "DELETE FROM event_types WHERE environment_id = $1 AND key = $2 RETURNING 1";

static void event_type_list(hr_req_t *r)
{
    if (hr_req_authenticate(r) != 0)
        return;
    const char *p[2] = {r->auth.environment_id, hr_query_get(r, "category")};
    json_t *doc = NULL;
    if (hr_content_query(r, "event type list", list_sql, 2, p, &doc) > 0)
        hr_req_reply(r, 200, json_pack("{s:o}", "data", doc), NULL);
}

static void event_type_get(hr_req_t *r)
{
    if (hr_req_authenticate(r) != 0)
        return;
    const char *p[2] = {r->auth.environment_id, r->params[0]};
    json_t *doc = NULL;
    int rc = hr_content_query(r, "event type read", get_sql, 2, p, &doc);
    if (rc == 0)
        hr_req_error(r, 404, "not_found", "no such event type", NULL);
    else if (rc > 0)
        hr_req_reply(r, 200, doc, NULL);
}

/* "{email,in_app}" from a channels array; NULL after a 422. */
static char *channels_literal(hr_req_t *r, const json_t *v)
{
    if (!json_is_array(v)) {
        hr_content_invalid(r, "channels", "channels must be an array of channel names");
        return NULL;
    }
    bool seen[HR_CHANNEL_COUNT] = {false};
    hr_buf_t b = HR_BUF_INIT;
    hr_buf_puts(&b, "{");
    size_t i;
    json_t *c;
    json_array_foreach(v, i, c)
    {
        hr_channel_t ch;
        char f[32];
        snprintf(f, sizeof f, "channels[%zu]", i);
        if (!json_is_string(c) || hr_channel_parse(json_string_value(c), &ch) != 0) {
            hr_buf_free(&b);
            hr_content_invalid(r, f,
                               "%s is not a channel (email, sms, telegram, discord, "
                               "whatsapp, slack, webhook, in_app)",
                               f);
            return NULL;
        }
        if (seen[ch]) {
            hr_buf_free(&b);
            hr_content_invalid(r, f, "%s repeats a channel", f);
            return NULL;
        }
        seen[ch] = true;
        hr_buf_printf(&b, "%s%s", i ? "," : "", hr_channel_name(ch));
    }
    hr_buf_puts(&b, "}");
    char *out = hr_arena_strndup(r->arena, b.data, b.len);
    hr_buf_free(&b);
    return out;
}

static void event_type_put(hr_req_t *r)
{
    static const char *const fields[] = {"name",     "description", "category",
                                         "channels", "critical",    NULL};
    json_t *body = NULL, *doc = NULL;
    if (hr_req_authenticate(r) != 0 || hr_content_body(r, &body) != 0)
        return;
    const char *key = r->params[0];
    const char *name = NULL, *desc = NULL, *category = NULL, *channels = NULL, *critical = NULL;
    const char *category_id = NULL;
    if (!hr_content_key_valid(key, TYPE_KEY_MAX)) {
        hr_content_invalid(r, "key",
                           "the event type key must be 1 to %d characters of "
                           "a-z 0-9 . _ - :, starting with a letter or digit",
                           TYPE_KEY_MAX);
        goto done;
    }
    if (hr_content_known(r, body, fields) != 0 ||
        hr_content_string(r, body, "name", 200, &name) < 0 ||
        hr_content_string(r, body, "description", 2000, &desc) < 0 ||
        hr_content_string(r, body, "category", 64, &category) < 0)
        goto done;
    json_t *ch = json_object_get(body, "channels");
    if (ch != NULL && (channels = channels_literal(r, ch)) == NULL)
        goto done;
    json_t *crit = json_object_get(body, "critical");
    if (crit != NULL && !json_is_boolean(crit)) {
        hr_content_invalid(r, "critical", "critical must be true or false");
        goto done;
    }
    if (crit != NULL)
        critical = json_is_true(crit) ? "true" : "false";
    if (category != NULL) {
        const char *p[2] = {r->auth.environment_id, category};
        int rc = hr_content_query(r, "category lookup", category_sql, 2, p, &doc);
        if (rc < 0)
            goto done;
        if (rc == 0) {
            hr_content_invalid(r, "category", "category '%.64s' does not exist", category);
            goto done;
        }
        category_id =
            hr_arena_strndup(r->arena, json_string_value(doc), strlen(json_string_value(doc)));
        json_decref(doc);
        doc = NULL;
    }
    const char *has_cat = json_object_get(body, "category") != NULL ? "true" : "false";
    const char *p[8] = {
        r->auth.environment_id, key, name, desc, category_id, channels, critical, has_cat};
    if (hr_content_query_row(r, "event type update", put_sql, 8, p, &doc) > 0)
        event_type_get(r);
done:
    json_decref(doc);
    json_decref(body);
}

static void event_type_delete(hr_req_t *r)
{
    if (hr_req_authenticate(r) != 0)
        return;
    const char *p[2] = {r->auth.environment_id, r->params[0]};
    json_t *doc = NULL;
    int rc = hr_content_query(r, "event type delete", delete_sql, 2, p, &doc);
    json_decref(doc);
    if (rc == 0)
        hr_req_error(r, 404, "not_found", "no such event type", NULL);
    else if (rc > 0)
        hr_req_reply(r, 200, json_pack("{s:s, s:b}", "key", r->params[0], "deleted", 1), NULL);
}

const hr_route_t hr_routes_event_types[] = {
    {"GET", "/v1/event-types", event_type_list},
    {"GET", "/v1/event-types/{key}", event_type_get},
    {"PUT", "/v1/event-types/{key}", event_type_put},
    {"DELETE", "/v1/event-types/{key}", event_type_delete},
    {NULL, NULL, NULL},
};
