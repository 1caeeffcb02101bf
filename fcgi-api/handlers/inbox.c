/* inbox: the end user's in-app inbox. GET /v1/inbox (newest first, cursor
 * pagination, unread/archived filters), GET /v1/inbox/unread-count,
 * POST /v1/inbox/{id}/read|unread|archive and POST /v1/inbox/read-all.
 * Callers are the end user (a user token from the tenant's backend) or the
 * tenant's backend itself (an API key naming the user: ?user= on GET,
 * {"user": …} on POST). Every change is published, with the user's new
 * unread count, to all the user's tabs (lib/rtpub). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handlers.h"
#include "ids.h"
#include "jsonutil.h"
#include "log.h"
#include "query.h"
#include "rtpub.h"
#include "usertoken.h"

typedef struct inbox_who {
    char env[HR_UUID_STRLEN];
    char user[256];
} inbox_who_t;

/* A user id as the send API accepts it: 1-255 characters, no control ones. */
static int inbox_user_ok(const char *u)
{
    size_t n = u != NULL ? strlen(u) : 0;
    if (n == 0 || n > 255)
        return 0;
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* The user of an API-key call on POST: the body {"user": "<id>"}. */
static int inbox_body_user(hr_req_t *r, inbox_who_t *w)
{
    char *body = NULL;
    size_t len = 0;
    if (hr_req_read_body(r, &body, &len) != 0)
        return -1;
    json_error_t jerr;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        hr_req_error(r, 400, "invalid_json", "the body is not well-formed JSON", NULL);
        return -1;
    }
    int rc = -1;
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "user") != 0) {
            hr_req_error(r, 422, "validation_failed", "unknown field", key);
            goto done;
        }
    }
    const char *u = hr_json_str(j, "user");
    if (!json_is_object(j) || !inbox_user_ok(u)) {
        hr_req_error(r, 422, "validation_failed",
                     "with an API key, give the user as {\"user\": \"<id>\"} (1-255 characters)",
                     "user");
        goto done;
    }
    snprintf(w->user, sizeof w->user, "%s", u);
    rc = 0;
done:
    json_decref(j);
    return rc;
}

/* Who the inbox belongs to: a user token, or an API key plus the user.
 * Returns 0, or -1 after replying (401, 422, 503). */
static int inbox_auth(hr_req_t *r, int post, inbox_who_t *w)
{
    const char *h = hr_req_param(r, "HTTP_AUTHORIZATION");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        hr_req_error(r, 401, "unauthorized",
                     "send a user token (or an API key) as Authorization: Bearer <token>", NULL);
        return -1;
    }
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    memset(w, 0, sizeof *w);
    if (strncmp(tok, "hk_", 3) == 0) {
        if (hr_req_authenticate(r) != 0)
            return -1;
        snprintf(w->env, sizeof w->env, "%s", r->auth.environment_id);
        if (post)
            return inbox_body_user(r, w);
        const char *u = hr_query_get(r, "user");
        if (!inbox_user_ok(u)) {
            hr_req_error(r, 422, "validation_failed",
                         "with an API key, give the user as ?user=<id> (1-255 characters)",
                         "user");
            return -1;
        }
        snprintf(w->user, sizeof w->user, "%s", u);
        return 0;
    }
    hr_usertoken_t ut;
    char err[256];
    int rc = hr_usertoken_verify(&r->app->db, tok, NULL, &ut, err, sizeof err);
    if (rc == -2) {
        hr_req_db_failed(r, "user token check", err);
        return -1;
    }
    if (rc != 0) {
        char msg[320];
        snprintf(msg, sizeof msg, "the user token is not valid: %s", err);
        hr_req_error(r, 401, "unauthorized", msg, NULL);
        return -1;
    }
    snprintf(w->env, sizeof w->env, "%s", ut.environment_id);
    snprintf(w->user, sizeof w->user, "%s", ut.user_id);
    if (r->log_fields == NULL)
        r->log_fields = json_object();
    json_object_set_new(r->log_fields, "env", json_string(w->env));
    return 0;
}

/* GET /v1/inbox?cursor=<item id>&limit=1..100&unread=true|false&archived=true|false */
static void inbox_list(hr_req_t *r)
{
    inbox_who_t w;
    long limit = 0;
    int unread = -1, archived = -1;
    if (inbox_auth(r, 0, &w) != 0 || hr_query_int(r, "limit", 20, 1, 100, &limit) != 0 ||
        hr_query_bool(r, "unread", &unread) != 0 || hr_query_bool(r, "archived", &archived) != 0)
        return;
    const char *cursor = hr_query_get(r, "cursor");
    if (cursor != NULL && cursor[0] == '\0')
        cursor = NULL;
    if (cursor != NULL && !hr_uuid_valid(cursor)) {
        hr_req_error(r, 422, "validation_failed", "cursor must be the next_cursor of a page",
                     "cursor");
        return;
    }
    char lim[16];
    snprintf(lim, sizeof lim, "%ld", limit);
    const char *p[6] = {w.env,
                        w.user,
                        cursor,
                        unread < 0 ? NULL : unread ? "true" : "false",
                        archived == 1 ? "true" : "false",
                        lim};
    char err[256];
    PGresult *res = hr_db_exec(
        &r->app->db,
        "SELECT " HR_RTPUB_ITEM_COLS " FROM inbox_items i"
        " WHERE i.environment_id = $1 AND i.user_id = $2"
        " AND ($3::uuid IS NULL OR i.id < $3::uuid)"
        " AND ($4::boolean IS NULL OR (i.read_at IS NULL) = $4::boolean)"
        " AND ((i.archived_at IS NOT NULL) = $5::boolean)"
        " ORDER BY i.id DESC LIMIT $6::int",
        6, p, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "inbox list", err);
        return;
    }
    long count = 0;
    if (hr_rtpub_unread(&r->app->db, w.env, w.user, &count, err, sizeof err) != 0) {
        PQclear(res);
        hr_req_db_failed(r, "unread count", err);
        return;
    }
    json_t *items = json_array();
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        json_array_append_new(items, hr_rtpub_item_json(res, i, 0));
    json_t *next = n == limit && n > 0 ? json_string(PQgetvalue(res, n - 1, 0)) : json_null();
    PQclear(res);
    hr_req_reply(r, 200,
                 json_pack("{s:o, s:o, s:I}", "items", items, "next_cursor", next, "unread_count",
                           (json_int_t)count),
                 NULL);
}

/* GET /v1/inbox/unread-count */
static void inbox_unread_count(hr_req_t *r)
{
    inbox_who_t w;
    long count = 0;
    char err[256];
    if (inbox_auth(r, 0, &w) != 0)
        return;
    if (hr_rtpub_unread(&r->app->db, w.env, w.user, &count, err, sizeof err) != 0) {
        hr_req_db_failed(r, "unread count", err);
        return;
    }
    hr_req_reply(r, 200, json_pack("{s:I}", "unread_count", (json_int_t)count), NULL);
}

/* Publishes ev for the user; a failure is logged (the change stands: the
 * database is the truth, tabs catch up when they refetch). */
static void inbox_publish(hr_req_t *r, const inbox_who_t *w, const json_t *ev)
{
    hr_rtpub_opts_t o;
    char err[256];
    hr_rtpub_opts(&r->app->cfg, &o);
    if (hr_rtpub_publish(&r->app->redis, &o, w->env, w->user, ev, NULL, err, sizeof err) != 0)
        hr_log(HR_LOG_WARN, r->request_id, "realtime publish failed: %s", err);
}

/* POST /v1/inbox/{id}/read|unread|archive: one statement under the user's
 * inbox lock, then the new state and count go to every tab. */
static void inbox_change(hr_req_t *r, const char *set, const char *event)
{
    inbox_who_t w;
    char err[256];
    if (inbox_auth(r, 1, &w) != 0)
        return;
    const char *id = r->params[0];
    if (id == NULL || !hr_uuid_valid(id)) {
        hr_req_error(r, 404, "not_found", "no such inbox item", NULL);
        return;
    }
    if (hr_rtpub_begin(&r->app->db, w.env, w.user, err, sizeof err) != 0) {
        hr_req_db_failed(r, "inbox lock", err);
        return;
    }
    char *sql = hr_arena_printf(r->arena,
                                "UPDATE inbox_items i SET %s WHERE i.id = $1 AND"
                                " i.environment_id = $2 AND i.user_id = $3 RETURNING " HR_RTPUB_ITEM_COLS,
                                set);
    const char *p[3] = {id, w.env, w.user};
    long unread = 0;
    PGresult *res = hr_db_exec(&r->app->db, sql, 3, p, err, sizeof err);
    if (res == NULL || hr_rtpub_unread(&r->app->db, w.env, w.user, &unread, err, sizeof err) != 0) {
        PQclear(res);
        hr_db_rollback(&r->app->db);
        hr_req_db_failed(r, "inbox update", err);
        return;
    }
    if (PQntuples(res) != 1) {
        /* Another user's item, another environment's, or none: the same 404. */
        PQclear(res);
        hr_db_rollback(&r->app->db);
        hr_req_error(r, 404, "not_found", "no such inbox item", NULL);
        return;
    }
    json_t *item = hr_rtpub_item_json(res, 0, 0);
    PQclear(res);
    json_t *ev = json_pack("{s:s, s:I, s:O}", "type", event, "unread_count", (json_int_t)unread,
                           "item", item);
    inbox_publish(r, &w, ev);
    json_decref(ev);
    if (hr_rtpub_commit(&r->app->db, err, sizeof err) != 0) {
        json_decref(item);
        hr_req_db_failed(r, "inbox commit", err);
        return;
    }
    hr_req_reply(r, 200, json_pack("{s:o, s:I}", "item", item, "unread_count", (json_int_t)unread),
                 NULL);
}

static void inbox_read(hr_req_t *r)
{
    inbox_change(r, "read_at = COALESCE(i.read_at, now())", "notification.read");
}

static void inbox_unread(hr_req_t *r)
{
    inbox_change(r, "read_at = NULL", "notification.unread");
}

static void inbox_archive(hr_req_t *r)
{
    inbox_change(r, "archived_at = COALESCE(i.archived_at, now())", "notification.archived");
}

/* POST /v1/inbox/read-all */
static void inbox_read_all(hr_req_t *r)
{
    inbox_who_t w;
    char err[256];
    if (inbox_auth(r, 1, &w) != 0)
        return;
    if (hr_rtpub_begin(&r->app->db, w.env, w.user, err, sizeof err) != 0) {
        hr_req_db_failed(r, "inbox lock", err);
        return;
    }
    const char *p[2] = {w.env, w.user};
    long unread = 0;
    PGresult *res = hr_db_exec(&r->app->db,
                               "UPDATE inbox_items SET read_at = now() WHERE environment_id = $1"
                               " AND user_id = $2 AND read_at IS NULL AND archived_at IS NULL",
                               2, p, err, sizeof err);
    if (res == NULL || hr_rtpub_unread(&r->app->db, w.env, w.user, &unread, err, sizeof err) != 0) {
        PQclear(res);
        hr_db_rollback(&r->app->db);
        hr_req_db_failed(r, "inbox read-all", err);
        return;
    }
    long updated = strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    json_t *ev = json_pack("{s:s, s:I, s:I}", "type", "notifications.read_all", "unread_count",
                           (json_int_t)unread, "updated", (json_int_t)updated);
    inbox_publish(r, &w, ev);
    json_decref(ev);
    if (hr_rtpub_commit(&r->app->db, err, sizeof err) != 0) {
        hr_req_db_failed(r, "inbox commit", err);
        return;
    }
    hr_req_reply(r, 200,
                 json_pack("{s:I, s:I}", "updated", (json_int_t)updated, "unread_count",
                           (json_int_t)unread),
                 NULL);
}

const hr_route_t hr_routes_inbox[] = {
    {"GET", "/v1/inbox", inbox_list},
    {"GET", "/v1/inbox/unread-count", inbox_unread_count},
    {"POST", "/v1/inbox/read-all", inbox_read_all},
    {"POST", "/v1/inbox/{id}/read", inbox_read},
    {"POST", "/v1/inbox/{id}/unread", inbox_unread},
    {"POST", "/v1/inbox/{id}/archive", inbox_archive},
    {NULL, NULL, NULL},
};
