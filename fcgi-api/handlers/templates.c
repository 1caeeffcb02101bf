/* templates: /v1/templates — Mustache templates keyed by event type, with a
 * variant per channel and per locale. Every save is a new immutable
 * version; one version is published (publishing an older one rolls back).
 * Preview renders a channel exactly as the worker would; test sends it to
 * an address through the normal pipeline. A template that does not parse is
 * refused with 422 and the line and column of the error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "content.h"
#include "enqueue.h"
#include "handlers.h"
#include "jsonutil.h"
#include "log.h"
#include "notification.h"
#include "render.h"

#define TEMPLATE_KEY_MAX 128

#define TEMPLATE_JSON                                                                              \
    "json_build_object('key', t.key, 'published_version', t.published_version,"                    \
    " 'latest_version', t.latest_version, 'created_at', herald_ts(t.created_at),"                  \
    " 'updated_at', herald_ts(t.updated_at))"

static const char *const list_sql =
    "SELECT COALESCE(json_agg(" TEMPLATE_JSON " ORDER BY t.key), '[]')::text"
    " FROM templates t WHERE t.environment_id = $1";

/* The template with one version's content: the published one, or $3. */
static const char *const get_sql =
    "SELECT (" TEMPLATE_JSON "::jsonb || jsonb_build_object('version', v.version,"
    " 'published', v.version IS NOT DISTINCT FROM t.published_version,"
    " 'content', v.content, 'created_by', v.created_by,"
    " 'created_at', herald_ts(v.created_at)))::text"
    " FROM templates t LEFT JOIN template_versions v ON v.environment_id = t.environment_id"
    "  AND v.key = t.key AND v.version = COALESCE($3::int, t.published_version)"
    " WHERE t.environment_id = $1 AND t.key = $2";

static const char *const versions_sql =
    "SELECT json_build_object('key', t.key, 'published_version', t.published_version,"
    " 'data', (SELECT COALESCE(json_agg(json_build_object('version', v.version,"
    "   'published', v.version = t.published_version, 'created_by', v.created_by,"
    "   'created_at', herald_ts(v.created_at)) ORDER BY v.version DESC), '[]')"
    "   FROM template_versions v"
    "   WHERE v.environment_id = t.environment_id AND v.key = t.key))::text"
    " FROM templates t WHERE t.environment_id = $1 AND t.key = $2";

/* One statement: bump latest_version (creating the template on first save),
 * publish it when $5, and store the version. */
static const char *const save_sql =
    "WITH t AS (INSERT INTO templates AS t (environment_id, key, latest_version, published_version)"
    "  VALUES ($1, $2, 1, CASE WHEN $5::boolean THEN 1 END)"
    "  ON CONFLICT (environment_id, key) DO UPDATE SET latest_version = t.latest_version + 1,"
    "   published_version = CASE WHEN $5::boolean THEN t.latest_version + 1"
    "     ELSE t.published_version END, updated_at = now()"
    "  RETURNING *),"
    " v AS (INSERT INTO template_versions (environment_id, key, version, content, created_by)"
    "  SELECT $1, $2, t.latest_version, $3::jsonb, $4 FROM t RETURNING *)"
    "SELECT json_build_object('key', t.key, 'version', v.version,"
    " 'published_version', t.published_version, 'latest_version', t.latest_version,"
    " 'created_by', v.created_by, 'created_at', herald_ts(v.created_at))::text FROM t, v";

static const char *const publish_sql =
    "WITH p AS (UPDATE templates t SET published_version = $3::int, updated_at = now()"
    "  WHERE t.environment_id = $1 AND t.key = $2 AND EXISTS (SELECT 1 FROM template_versions v"
    "   WHERE v.environment_id = $1 AND v.key = $2 AND v.version = $3::int)"
    "  RETURNING t.*)"
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM p) THEN (SELECT " TEMPLATE_JSON " FROM p t)"
    " WHEN EXISTS (SELECT 1 FROM templates WHERE environment_id = $1 AND key = $2)"
    "  THEN json_build_object('no_version', true) END::text";

static const char *const delete_sql =
    "DELETE FROM templates WHERE environment_id = $1 AND key = $2 RETURNING 1";

static const char *const type_name_sql =
    "SELECT to_json(name)::text FROM event_types WHERE environment_id = $1 AND key = $2";

/* The key path parameter; -1 after a 404 when it cannot be a key. */
static int template_key(hr_req_t *r, const char **key)
{
    *key = r->params[0];
    if (!hr_content_key_valid(*key, TEMPLATE_KEY_MAX)) {
        hr_req_error(r, 404, "not_found", "no such template", NULL);
        return -1;
    }
    return 0;
}

/* 422 for content that does not check, with the template's line and column. */
static void template_refuse(hr_req_t *r, const char *prefix, const hr_render_error_t *e)
{
    json_t *err = json_pack("{s:s, s:s}", "code", "validation_failed", "message", e->msg);
    if (e->part[0] != '\0')
        json_object_set_new(err, "field", json_sprintf("%s%s", prefix, e->part));
    if (e->tpl.line > 0) {
        json_object_set_new(err, "line", json_integer(e->tpl.line));
        json_object_set_new(err, "column", json_integer(e->tpl.col));
    }
    hr_req_reply(r, 422, json_pack("{s:o}", "error", err), NULL);
}

static void template_list(hr_req_t *r)
{
    if (hr_req_authenticate(r) != 0)
        return;
    const char *p[1] = {r->auth.environment_id};
    json_t *doc = NULL;
    if (hr_content_query(r, "template list", list_sql, 1, p, &doc) > 0)
        hr_req_reply(r, 200, json_pack("{s:o}", "data", doc), NULL);
}

/* GET /v1/templates/{key} (published) and /v1/templates/{key}/versions/{n}. */
static void template_get(hr_req_t *r)
{
    const char *key;
    if (hr_req_authenticate(r) != 0 || template_key(r, &key) != 0)
        return;
    const char *version = r->params[1];
    if (version != NULL &&
        (strspn(version, "0123456789") != strlen(version) || strlen(version) > 9)) {
        hr_req_error(r, 404, "not_found", "no such template version", NULL);
        return;
    }
    const char *p[3] = {r->auth.environment_id, key, version};
    json_t *doc = NULL;
    int rc = hr_content_query(r, "template read", get_sql, 3, p, &doc);
    if (rc == 0)
        hr_req_error(r, 404, "not_found", "no such template", NULL);
    else if (rc > 0 && version != NULL && json_is_null(json_object_get(doc, "version"))) {
        json_decref(doc);
        hr_req_error(r, 404, "not_found", "no such template version", NULL);
    } else if (rc > 0)
        hr_req_reply(r, 200, doc, NULL);
}

static void template_versions(hr_req_t *r)
{
    const char *key;
    if (hr_req_authenticate(r) != 0 || template_key(r, &key) != 0)
        return;
    const char *p[2] = {r->auth.environment_id, key};
    json_t *doc = NULL;
    int rc = hr_content_query(r, "template versions", versions_sql, 2, p, &doc);
    if (rc == 0)
        hr_req_error(r, 404, "not_found", "no such template", NULL);
    else if (rc > 0)
        hr_req_reply(r, 200, doc, NULL);
}

/* PUT /v1/templates/{key}: {"channels", "locales", "sample", "publish"?, "author"?} */
static void template_save(hr_req_t *r)
{
    const char *key;
    json_t *body = NULL, *doc = NULL;
    if (hr_req_authenticate(r) != 0 || hr_content_body(r, &body) != 0)
        return;
    if (!hr_content_key_valid(r->params[0], TEMPLATE_KEY_MAX)) {
        hr_content_invalid(r, "key",
                           "the template key is an event type: 1 to %d characters of "
                           "a-z 0-9 . _ - :, starting with a letter or digit",
                           TEMPLATE_KEY_MAX);
        goto done;
    }
    key = r->params[0];
    json_t *publish = json_object_get(body, "publish");
    if (publish != NULL && !json_is_boolean(publish)) {
        hr_content_invalid(r, "publish", "publish must be true or false");
        goto done;
    }
    const char *author = NULL;
    if (hr_content_string(r, body, "author", 200, &author) < 0)
        goto done;
    json_t *content = json_deep_copy(body);
    json_object_del(content, "publish");
    json_object_del(content, "author");
    hr_render_error_t e;
    if (hr_render_check_content(content, &e) != 0) {
        json_decref(content);
        template_refuse(r, "", &e);
        goto done;
    }
    char *text = json_dumps(content, JSON_COMPACT);
    json_decref(content);
    hr_assert(text != NULL);
    const char *who = author != NULL
                          ? hr_arena_printf(r->arena, "%s (%s)", author, hr_content_actor(r))
                          : hr_content_actor(r);
    const char *p[5] = {r->auth.environment_id, key, text, who,
                        publish == NULL || json_is_true(publish) ? "true" : "false"};
    int rc = hr_content_query_row(r, "template save", save_sql, 5, p, &doc);
    free(text);
    if (rc > 0) {
        hr_req_reply(r, 201, doc, NULL);
        doc = NULL;
    }
done:
    json_decref(doc);
    json_decref(body);
}

/* POST /v1/templates/{key}/publish {"version": n} — also how to roll back. */
static void template_publish(hr_req_t *r)
{
    const char *key;
    json_t *body = NULL, *doc = NULL;
    if (hr_req_authenticate(r) != 0 || template_key(r, &key) != 0 || hr_content_body(r, &body) != 0)
        return;
    json_t *v = json_object_get(body, "version");
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000000) {
        hr_content_invalid(r, "version", "version must be a version number of this template");
        goto done;
    }
    char ver[24];
    snprintf(ver, sizeof ver, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    const char *p[3] = {r->auth.environment_id, key, ver};
    int rc = hr_content_query(r, "template publish", publish_sql, 3, p, &doc);
    if (rc == 0)
        hr_req_error(r, 404, "not_found", "no such template", NULL);
    else if (rc > 0 && json_object_get(doc, "no_version") != NULL)
        hr_content_invalid(r, "version", "template %s has no version %s", key, ver);
    else if (rc > 0) {
        hr_req_reply(r, 200, doc, NULL);
        doc = NULL;
    }
done:
    json_decref(doc);
    json_decref(body);
}

static void template_delete(hr_req_t *r)
{
    const char *key;
    if (hr_req_authenticate(r) != 0 || template_key(r, &key) != 0)
        return;
    const char *p[2] = {r->auth.environment_id, key};
    json_t *doc = NULL;
    int rc = hr_content_query(r, "template delete", delete_sql, 2, p, &doc);
    json_decref(doc);
    if (rc == 0)
        hr_req_error(r, 404, "not_found", "no such template", NULL);
    else if (rc > 0)
        hr_req_reply(r, 200, json_pack("{s:s, s:b}", "key", key, "deleted", 1), NULL);
}

/* ---- preview and test ------------------------------------------------------ */

/* What a preview or test renders with: the request's values over the
 * template's "sample". */
typedef struct sample {
    json_t *content; /* template content (draft, a version, or the published one), or NULL */
    int version;
    hr_channel_t channel;
    const char *title, *body;
    json_t *data, *user, *event;
} sample_t;

static void sample_free(sample_t *s)
{
    json_decref(s->content);
    json_decref(s->data);
    json_decref(s->user);
    json_decref(s->event);
}

/* The request member key, else the sample's. */
static const json_t *pick(const json_t *body, const json_t *sample, const char *key)
{
    const json_t *v = json_object_get(body, key);
    return v != NULL && !json_is_null(v) ? v : json_object_get(sample, key);
}

/* Reads a preview/test body into s. Returns 0, or -1 after replying. */
static int sample_read(hr_req_t *r, const char *key, const json_t *body, bool test, sample_t *s)
{
    static const char *const preview_fields[] = {"channel", "version",     "template", "locale",
                                                 "user",    "title",       "body",     "data",
                                                 "fields",  "description", NULL};
    static const char *const test_fields[] = {"channel", "to",   "locale", "user",        "title",
                                              "body",    "data", "fields", "description", NULL};
    memset(s, 0, sizeof *s);
    if (hr_content_known(r, body, test ? test_fields : preview_fields) != 0)
        return -1;
    const char *ch = hr_json_str(body, "channel");
    if (ch == NULL || hr_channel_parse(ch, &s->channel) != 0) {
        hr_content_invalid(r, "channel",
                           "channel is required: email, sms, telegram, discord, "
                           "whatsapp, slack, webhook or in_app");
        return -1;
    }
    json_t *draft = json_object_get(body, "template");
    json_t *version = json_object_get(body, "version");
    if (draft != NULL) {
        hr_render_error_t e;
        if (hr_render_check_content(draft, &e) != 0) {
            template_refuse(r, "template.", &e);
            return -1;
        }
        s->content = json_incref(draft);
    } else {
        if (version != NULL && (!json_is_integer(version) || json_integer_value(version) < 1 ||
                                json_integer_value(version) > 1000000000)) {
            hr_content_invalid(r, "version", "version must be a version number of this template");
            return -1;
        }
        char ver[24];
        if (version != NULL)
            snprintf(ver, sizeof ver, "%" JSON_INTEGER_FORMAT, json_integer_value(version));
        const char *p[3] = {r->auth.environment_id, key, version != NULL ? ver : NULL};
        json_t *doc = NULL;
        int rc = hr_content_query(r, "template read", get_sql, 3, p, &doc);
        if (rc < 0)
            return -1;
        if (version != NULL && (rc == 0 || json_is_null(json_object_get(doc, "version")))) {
            json_decref(doc);
            hr_req_error(r, 404, "not_found", "no such template version", NULL);
            return -1;
        }
        json_t *content = json_object_get(doc, "content");
        if (json_is_object(content)) {
            s->content = json_incref(content);
            s->version = (int)json_integer_value(json_object_get(doc, "version"));
        }
        json_decref(doc);
    }
    const json_t *sample = json_object_get(s->content, "sample");
    const json_t *t = pick(body, sample, "title");
    const json_t *b = pick(body, sample, "body");
    const json_t *d = pick(body, sample, "data");
    const json_t *u = pick(body, sample, "user");
    const json_t *f = pick(body, sample, "fields");
    const json_t *desc = pick(body, sample, "description");
    if ((t && !json_is_string(t)) || (b && !json_is_string(b)) || (desc && !json_is_string(desc))) {
        hr_content_invalid(r,
                           t && !json_is_string(t)   ? "title"
                           : b && !json_is_string(b) ? "body"
                                                     : "description",
                           "title, body and description must be strings");
        return -1;
    }
    if ((d && !json_is_object(d)) || (u && !json_is_object(u)) || (f && !json_is_object(f))) {
        hr_content_invalid(r,
                           d && !json_is_object(d)   ? "data"
                           : u && !json_is_object(u) ? "user"
                                                     : "fields",
                           "data, user and fields must be objects");
        return -1;
    }
    s->title = t ? json_string_value(t) : NULL;
    s->body = b ? json_string_value(b) : "";
    s->data = d ? json_deep_copy(d) : json_object();
    s->user = u ? json_deep_copy(u) : json_object();
    const char *locale = hr_json_str(body, "locale");
    if (json_object_get(body, "locale") != NULL &&
        (locale == NULL || !hr_render_locale_valid(locale))) {
        hr_content_invalid(r, "locale", "locale must be a locale tag such as en, fr or pt-BR");
        return -1;
    }
    if (locale != NULL)
        json_object_set_new(s->user, "locale", json_string(locale));
    const char *ul = hr_json_str(s->user, "locale");
    if (json_object_get(s->user, "locale") != NULL && (ul == NULL || !hr_render_locale_valid(ul))) {
        hr_content_invalid(r, "user.locale", "user.locale must be a locale tag such as en or fr");
        return -1;
    }
    s->event = json_object();
    if (f)
        json_object_set_new(s->event, "fields", json_deep_copy(f));
    if (desc)
        json_object_set_new(s->event, "description", json_incref((json_t *)desc));
    if (s->title == NULL) {
        /* The event type's name, else the key itself. */
        const char *p[2] = {r->auth.environment_id, key};
        json_t *name = NULL;
        if (hr_content_query(r, "event type read", type_name_sql, 2, p, &name) < 0)
            return -1;
        const char *nm = json_is_string(name) ? json_string_value(name) : key;
        s->title = hr_arena_strndup(r->arena, nm, strlen(nm));
        json_decref(name);
    }
    return 0;
}

/* The rendered parts a channel sends, as JSON. */
static json_t *rendered_json(hr_channel_t ch, const hr_rendered_t *rd)
{
    json_t *o = json_pack("{s:s, s:s?, s:i}", "channel", hr_channel_name(ch), "locale",
                          rd->locale[0] ? rd->locale : NULL, "version", rd->version);
    switch (ch) {
    case HR_CHANNEL_EMAIL:
        json_object_set_new(o, "subject", json_string(rd->subject));
        json_object_set_new(o, "html", json_string(rd->html));
        json_object_set_new(o, "text", json_string(rd->text));
        break;
    case HR_CHANNEL_SMS:
    case HR_CHANNEL_WHATSAPP:
        json_object_set_new(o, "text", json_string(rd->text));
        break;
    case HR_CHANNEL_TELEGRAM:
    case HR_CHANNEL_DISCORD:
    case HR_CHANNEL_SLACK:
        json_object_set_new(o, "text", json_string(rd->text));
        json_object_set_new(o, "title", json_string(rd->title));
        json_object_set_new(o, "body", json_string(rd->body));
        json_object_set_new(o, "fields", json_incref(rd->fields));
        json_object_set_new(o, "emoji", json_string(rd->emoji));
        json_object_set_new(o, "color", json_string(rd->color));
        break;
    case HR_CHANNEL_IN_APP:
        json_object_set_new(o, "title", json_string(rd->title));
        json_object_set_new(o, "body", json_string(rd->body));
        json_object_set_new(o, "action_url", json_string(rd->action_url));
        break;
    default:
        json_object_set_new(o, "title", json_string(rd->title));
        json_object_set_new(o, "body", json_string(rd->body));
        break;
    }
    return o;
}

static void template_preview(hr_req_t *r)
{
    const char *key;
    json_t *body = NULL;
    sample_t s;
    memset(&s, 0, sizeof s);
    if (hr_req_authenticate(r) != 0 || template_key(r, &key) != 0 || hr_content_body(r, &body) != 0)
        return;
    if (sample_read(r, key, body, false, &s) != 0)
        goto done;
    hr_render_in_t in = {
        .environment_id = r->auth.environment_id,
        .channel = s.channel,
        .type = key,
        .title = s.title,
        .body = s.body,
        .data = s.data,
        .user = s.user,
        .event = s.event,
        .draft = s.content,
        .draft_version = s.version,
        .content_version = -1,
    };
    json_t *empty = NULL;
    if (in.draft == NULL) /* no template: the built-in layout, as the worker would send */
        in.draft = empty = json_object();
    hr_rendered_t rd;
    hr_render_error_t e;
    int rc = hr_render(&r->app->db, &in, &rd, &e);
    json_decref(empty);
    if (rc != 0 && e.template_error)
        template_refuse(r, "", &e);
    else if (rc != 0)
        hr_req_db_failed(r, "preview", e.msg);
    else
        hr_req_reply(r, 200, rendered_json(s.channel, &rd), NULL);
    hr_rendered_free(&rd);
done:
    sample_free(&s);
    json_decref(body);
}

/* POST /v1/templates/{key}/test {"channel", "to", ...}: sends the published
 * template to one address through the normal pipeline (as an event with an
 * explicit destination), so it is exactly what a real send looks like. */
static void template_test(hr_req_t *r)
{
    const char *key;
    json_t *body = NULL, *n = NULL;
    sample_t s;
    memset(&s, 0, sizeof s);
    if (hr_req_authenticate(r) != 0 || template_key(r, &key) != 0 || hr_content_body(r, &body) != 0)
        return;
    if (sample_read(r, key, body, true, &s) != 0)
        goto done;
    const char *to = NULL;
    if (hr_content_string(r, body, "to", 2000, &to) < 0)
        goto done;
    if (to == NULL || to[0] == '\0') {
        hr_content_invalid(r, "to", "to is required: the address to send the test to");
        goto done;
    }
    if ((s.channel == HR_CHANNEL_EMAIL && !hr_valid_email(to)) ||
        ((s.channel == HR_CHANNEL_SMS || s.channel == HR_CHANNEL_WHATSAPP) && !hr_valid_e164(to))) {
        hr_content_invalid(r, "to", "to is not a valid %s address", hr_channel_name(s.channel));
        goto done;
    }
    json_t *user = json_pack("{s:s}", "id", "");
    if (json_object_get(s.user, "locale") != NULL)
        json_object_set(user, "locale", json_object_get(s.user, "locale"));
    json_object_set_new(s.event, "team", json_true());
    json_object_set_new(s.event, "test", json_true());
    json_object_set_new(s.event, "destinations",
                        json_pack("{s:s}", hr_channel_name(s.channel), to));
    /* channels only feeds the usage count: the destination decides the
     * one delivery (workers/events.c), and a team send has none in_app. */
    json_t *chs = json_array();
    if (s.channel != HR_CHANNEL_IN_APP)
        json_array_append_new(chs, json_string(hr_channel_name(s.channel)));
    n = json_pack("{s:o, s:s, s:s, s:s, s:O, s:o, s:O}", "user", user, "type", key, "title",
                  s.title, "body", s.body ? s.body : "", "data", s.data, "channels", chs,
                  "event", s.event);
    hr_assert(n != NULL);
    hr_enqueue_item_t item = {.n = n, .idem = NULL};
    hr_enqueue_limits_t lim;
    char err[256];
    hr_enqueue_status_t st = hr_enqueue(r, &item, 1, &lim, err, sizeof err);
    if (st != HR_ENQ_OK)
        hr_enqueue_reply_refused(r, st, &lim, err);
    else
        hr_req_reply(r, 202, json_pack("{s:s, s:s}", "id", item.id, "status", "accepted"), NULL);
done:
    json_decref(n);
    sample_free(&s);
    json_decref(body);
}

const hr_route_t hr_routes_templates[] = {
    {"GET", "/v1/templates", template_list},
    {"GET", "/v1/templates/{key}", template_get},
    {"PUT", "/v1/templates/{key}", template_save},
    {"DELETE", "/v1/templates/{key}", template_delete},
    {"GET", "/v1/templates/{key}/versions", template_versions},
    {"GET", "/v1/templates/{key}/versions/{version}", template_get},
    {"POST", "/v1/templates/{key}/publish", template_publish},
    {"POST", "/v1/templates/{key}/rollback", template_publish},
    {"POST", "/v1/templates/{key}/preview", template_preview},
    {"POST", "/v1/templates/{key}/test", template_test},
    {NULL, NULL, NULL},
};
