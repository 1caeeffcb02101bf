/* notifications: POST /v1/notifications (validate, then one Redis round trip
 * that checks the idempotency key and appends to the ingest log) and
 * POST /v1/notifications/batch (up to 1,000 in the same single round trip),
 * GET /v1/notifications/{id} (the stored notification with its deliveries,
 * or "accepted" while it is only in the ingest log) and GET /v1/notifications
 * (filtered, newest first, cursor pagination). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "channel.h"
#include "enqueue.h"
#include "handlers.h"
#include "ids.h"
#include "jsonutil.h"
#include "log.h"
#include "notification.h"
#include "query.h"

/* The Idempotency-Key header, or NULL; -1 after replying 422 if malformed. */
static int notif_idem_header(hr_req_t *r, const char **out)
{
    const char *idem = hr_req_param(r, "HTTP_IDEMPOTENCY_KEY");
    *out = NULL;
    if (idem == NULL)
        return 0;
    size_t il = strlen(idem);
    if (il == 0 || il > 255) {
        hr_req_error(r, 422, "validation_failed", "Idempotency-Key must be 1 to 255 characters",
                     "Idempotency-Key");
        return -1;
    }
    *out = idem;
    return 0;
}

/* Moves the body's idempotencyKey out of n into the arena; the header wins. */
static const char *notif_take_idem(hr_req_t *r, json_t *n, const char *header)
{
    const char *body_key = hr_json_str(n, "idempotencyKey");
    const char *key = header != NULL ? header : body_key;
    char *copy = key != NULL ? hr_arena_strndup(r->arena, key, strlen(key)) : NULL;
    json_object_del(n, "idempotencyKey");
    return copy;
}

static void notification_create(hr_req_t *r)
{
    char *body = NULL;
    size_t len = 0;
    const char *header_idem = NULL;
    if (hr_req_authenticate(r) != 0 || hr_req_read_body(r, &body, &len) != 0 ||
        notif_idem_header(r, &header_idem) != 0)
        return;
    hr_reject_t rej;
    json_t *n = hr_notification_parse(body, len, &rej);
    if (n == NULL) {
        hr_req_error(r, rej.status, rej.code, rej.message, rej.field);
        return;
    }
    hr_enqueue_item_t item = {.n = n, .idem = notif_take_idem(r, n, header_idem)};
    hr_enqueue_limits_t lim;
    char err[256];
    hr_enqueue_status_t st = hr_enqueue(r, &item, 1, &lim, err, sizeof err);
    if (st != HR_ENQ_OK) {
        hr_enqueue_reply_refused(r, st, &lim, err);
    } else if (item.outcome == HR_ENQ_CONFLICT) {
        hr_req_error(r, 409, "idempotency_conflict",
                     "this Idempotency-Key was used with a different request", "Idempotency-Key");
    } else {
        if (r->log_fields == NULL)
            r->log_fields = json_object();
        json_object_set_new(r->log_fields, "notification_id", json_string(item.id));
        hr_req_reply(r, item.outcome == HR_ENQ_REPLAY ? 200 : 202,
                     json_pack("{s:s, s:s}", "id", item.id, "status", "accepted"), NULL);
    }
    json_decref(n);
}

/* POST /v1/notifications/batch {"notifications": [...]}: every valid item is
 * enqueued in the same single round trip; the answer has one result per item,
 * in order. Items with their own errors do not stop the others. */
static void notification_batch(hr_req_t *r)
{
    char *body = NULL;
    size_t len = 0;
    json_t *root = NULL, *results = NULL;
    json_t **norm = NULL;
    hr_enqueue_item_t *items = NULL;
    if (hr_req_authenticate(r) != 0 || hr_req_read_body(r, &body, &len) != 0)
        return;
    json_error_t jerr;
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        char msg[256];
        snprintf(msg, sizeof msg, "malformed JSON at line %d, column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        hr_req_error(r, 400, "invalid_json", msg, NULL);
        return;
    }
    json_t *list = json_object_get(root, "notifications");
    if (!json_is_object(root) || json_object_size(root) != 1 || !json_is_array(list)) {
        hr_req_error(r, 422, "validation_failed",
                     "the body must be {\"notifications\": [ ... ]}", "notifications");
        goto done;
    }
    size_t count = json_array_size(list);
    if (count == 0 || count > HR_ENQUEUE_MAX) {
        hr_req_error(r, 422, "validation_failed",
                     "notifications must hold 1 to 1000 items", "notifications");
        goto done;
    }
    norm = calloc(count, sizeof *norm);
    items = calloc(count, sizeof *items);
    size_t *map = hr_arena_alloc(r->arena, count * sizeof *map);
    hr_assert(norm != NULL && items != NULL);
    results = json_array();
    size_t nvalid = 0;
    for (size_t i = 0; i < count; i++) {
        hr_reject_t rej;
        char prefix[40];
        snprintf(prefix, sizeof prefix, "notifications[%zu].", i);
        norm[i] = hr_notification_validate(json_array_get(list, i), prefix, &rej);
        if (norm[i] == NULL) {
            json_t *e = json_pack("{s:s, s:s}", "code", rej.code, "message", rej.message);
            if (rej.field[0])
                json_object_set_new(e, "field", json_string(rej.field));
            json_array_append_new(results, json_pack("{s:i, s:i, s:o}", "index", (int)i,
                                                     "status", rej.status, "error", e));
            continue;
        }
        json_array_append_new(results, json_null());
        items[nvalid].n = norm[i];
        items[nvalid].idem = notif_take_idem(r, norm[i], NULL);
        map[nvalid++] = i;
    }
    if (nvalid > 0) {
        hr_enqueue_limits_t lim;
        char err[256];
        hr_enqueue_status_t st = hr_enqueue(r, items, nvalid, &lim, err, sizeof err);
        if (st != HR_ENQ_OK) {
            hr_enqueue_reply_refused(r, st, &lim, err);
            goto done;
        }
        for (size_t k = 0; k < nvalid; k++) {
            const hr_enqueue_item_t *it = &items[k];
            json_t *res;
            if (it->outcome == HR_ENQ_CONFLICT)
                res = json_pack("{s:i, s:i, s:{s:s, s:s, s:s}}", "index", (int)map[k], "status",
                                409, "error", "code", "idempotency_conflict", "message",
                                "this idempotencyKey was used with a different request",
                                "field", "idempotencyKey");
            else
                res = json_pack("{s:i, s:i, s:s}", "index", (int)map[k], "status",
                                it->outcome == HR_ENQ_REPLAY ? 200 : 202, "id", it->id);
            json_array_set_new(results, map[k], res);
        }
    }
    if (r->log_fields == NULL)
        r->log_fields = json_object();
    json_object_set_new(r->log_fields, "items", json_integer((json_int_t)count));
    json_object_set_new(r->log_fields, "accepted", json_integer((json_int_t)nvalid));
    hr_req_reply(r, 200, json_pack("{s:o}", "results", results), NULL);
    results = NULL;
done:
    if (norm != NULL)
        for (size_t i = 0; i < json_array_size(list); i++)
            json_decref(norm[i]);
    free(norm);
    free(items);
    json_decref(results);
    json_decref(root);
}

static const char *const get_sql =
    "SELECT json_build_object("
    " 'id', n.id, 'type', n.type, 'user', json_build_object('id', n.user_id),"
    " 'title', n.title, 'body', n.body, 'data', n.data,"
    " 'accepted_at', herald_ts(n.accepted_at), 'created_at', herald_ts(n.created_at),"
    " 'request_id', n.request_id,"
    " 'status', CASE"
    "   WHEN bool_or(d.status IN ('queued','sending','retrying')) THEN 'processing'"
    "   WHEN bool_or(d.status = 'failed') AND bool_or(d.status IN ('sent','delivered'))"
    "     THEN 'partially_failed'"
    "   WHEN bool_or(d.status = 'failed') THEN 'failed'"
    "   ELSE 'completed' END,"
    " 'deliveries', COALESCE(json_agg(json_build_object("
    "   'id', d.id, 'channel', d.channel, 'status', d.status, 'address', d.address,"
    "   'attempts', d.attempts, 'provider_message_id', d.provider_message_id,"
    "   'error', d.error, 'created_at', herald_ts(d.created_at),"
    "   'updated_at', herald_ts(d.updated_at), 'sent_at', herald_ts(d.sent_at),"
    "   'delivered_at', herald_ts(d.delivered_at),"
    "   'next_attempt_at', herald_ts(d.next_attempt_at),"
    "   'attempt_log', (SELECT COALESCE(json_agg(json_build_object("
    "       'attempt', a.attempt, 'started_at', herald_ts(a.started_at),"
    "       'duration_ms', a.duration_ms, 'response_code', a.response_code,"
    "       'outcome', a.outcome, 'error', a.error) ORDER BY a.attempt), '[]')"
    "     FROM attempts a WHERE a.delivery_id = d.id)"
    "   ) ORDER BY d.channel) FILTER (WHERE d.id IS NOT NULL), '[]'))::text "
    "FROM notifications n LEFT JOIN deliveries d ON d.notification_id = n.id "
    "WHERE n.id = $1 AND n.environment_id = $2 "
    "GROUP BY n.id";

static void notification_get(hr_req_t *r)
{
    if (hr_req_authenticate(r) != 0)
        return;
    if (!hr_uuid_valid(r->params[0])) {
        hr_req_error(r, 404, "not_found", "no such notification", NULL);
        return;
    }
    /* UUIDs are case-insensitive; keys and rows use the lower-case form. */
    char *id = hr_arena_strndup(r->arena, r->params[0], strlen(r->params[0]));
    for (char *c = id; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    /* The row (the common case: one round trip); if not stored yet, the
     * pending marker. The router stores the row before it drops the marker,
     * so a notification stored between the two reads has no marker left but
     * is found by reading the row once more. */
    for (int pass = 0; pass < 2; pass++) {
        char err[256];
        const char *params[2] = {id, r->auth.environment_id};
        PGresult *res = hr_db_exec(&r->app->db, get_sql, 2, params, err, sizeof err);
        if (res == NULL) {
            hr_req_db_failed(r, "notification read", err);
            return;
        }
        if (PQntuples(res) == 1) {
            json_error_t jerr;
            json_t *doc = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
            PQclear(res);
            hr_assert(doc != NULL);
            hr_req_reply(r, 200, doc, NULL);
            return;
        }
        PQclear(res);
        if (pass == 1)
            break;
        redisReply *rep =
            hr_redis_cmd(&r->app->redis, err, sizeof err, "GET " HR_PENDING_PREFIX "%s", id);
        bool pending = rep != NULL && rep->type == REDIS_REPLY_STRING &&
                       strcmp(rep->str, r->auth.environment_id) == 0;
        if (rep != NULL)
            freeReplyObject(rep);
        if (pending) {
            hr_req_reply(r, 200,
                         json_pack("{s:s, s:s, s:[]}", "id", id, "status", "accepted",
                                   "deliveries"),
                         NULL);
            return;
        }
    }
    hr_req_error(r, 404, "not_found", "no such notification", NULL);
}

/* Notification statuses (derived from the deliveries) and delivery statuses
 * accepted by the list filter. */
static const char *const list_statuses[] = {
    "processing", "completed", "failed", "partially_failed", "queued", "sending",
    "sent", "delivered", "retrying", "skipped", NULL,
};

static const char *const list_sql =
    "SELECT COALESCE(json_agg(x ORDER BY x.id DESC), '[]')::text FROM ("
    " SELECT n.id, n.type, json_build_object('id', n.user_id) AS user, n.title,"
    "  herald_ts(n.accepted_at) AS accepted_at, herald_ts(n.created_at) AS created_at,"
    "  s.status, s.deliveries"
    " FROM notifications n"
    " CROSS JOIN LATERAL ("
    "  SELECT CASE"
    "    WHEN bool_or(d.status IN ('queued','sending','retrying')) THEN 'processing'"
    "    WHEN bool_or(d.status = 'failed') AND bool_or(d.status IN ('sent','delivered'))"
    "      THEN 'partially_failed'"
    "    WHEN bool_or(d.status = 'failed') THEN 'failed'"
    "    ELSE 'completed' END AS status,"
    "   COALESCE(json_agg(json_build_object('channel', d.channel, 'status', d.status)"
    "     ORDER BY d.channel) FILTER (WHERE d.id IS NOT NULL), '[]') AS deliveries,"
    "   array_agg(d.status) FILTER (WHERE d.id IS NOT NULL) AS dstatuses,"
    "   array_agg(d.channel) FILTER (WHERE d.id IS NOT NULL) AS dchannels"
    "  FROM deliveries d WHERE d.notification_id = n.id) s"
    " WHERE n.environment_id = $1"
    "  AND ($2::uuid IS NULL OR n.id < $2::uuid)"
    "  AND ($3::text IS NULL OR n.type = $3)"
    "  AND ($4::text IS NULL OR n.user_id = $4)"
    "  AND ($5::text IS NULL OR $5 = ANY(s.dchannels))"
    "  AND ($6::text IS NULL OR s.status = $6 OR $6 = ANY(s.dstatuses))"
    " ORDER BY n.id DESC LIMIT $7::int) x";

/* GET /v1/notifications?status=&channel=&type=&user=&cursor=&limit= — newest
 * first; next_cursor continues the listing. */
static void notification_list(hr_req_t *r)
{
    long limit = 0;
    if (hr_req_authenticate(r) != 0 || hr_query_int(r, "limit", 20, 1, 100, &limit) != 0)
        return;
    const char *cursor = hr_query_get(r, "cursor");
    const char *type = hr_query_get(r, "type");
    const char *user = hr_query_get(r, "user");
    const char *channel = hr_query_get(r, "channel");
    const char *status = hr_query_get(r, "status");
    hr_channel_t ch;
    if (cursor != NULL && !hr_uuid_valid(cursor)) {
        hr_req_error(r, 422, "validation_failed", "cursor is not a cursor this API gave out",
                     "cursor");
        return;
    }
    if (channel != NULL && hr_channel_parse(channel, &ch) != 0) {
        hr_req_error(r, 422, "validation_failed", "channel is not a channel", "channel");
        return;
    }
    bool status_ok = status == NULL;
    for (const char *const *st = list_statuses; *st && !status_ok; st++)
        status_ok = strcmp(*st, status) == 0;
    if (!status_ok) {
        hr_req_error(r, 422, "validation_failed", "status is not a notification or delivery status",
                     "status");
        return;
    }
    /* One more than asked tells whether a next page exists. */
    char lim[24], err[256];
    snprintf(lim, sizeof lim, "%ld", limit + 1);
    const char *params[7] = {r->auth.environment_id, cursor, type, user, channel, status, lim};
    PGresult *res = hr_db_exec(&r->app->db, list_sql, 7, params, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "notification list", err);
        return;
    }
    json_t *rows = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    hr_assert(json_is_array(rows));
    json_t *next = json_null();
    if (json_array_size(rows) > (size_t)limit) {
        json_array_remove(rows, (size_t)limit);
        next = json_incref(json_object_get(json_array_get(rows, (size_t)limit - 1), "id"));
    }
    hr_req_reply(r, 200, json_pack("{s:o, s:o}", "data", rows, "next_cursor", next), NULL);
}

const hr_route_t hr_routes_notifications[] = {
    {"POST", "/v1/notifications", notification_create},
    {"POST", "/v1/notifications/batch", notification_batch},
    {"GET", "/v1/notifications", notification_list},
    {"GET", "/v1/notifications/{id}", notification_get},
    {NULL, NULL, NULL},
};
