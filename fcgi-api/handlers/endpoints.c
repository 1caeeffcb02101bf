/* endpoints: the tenant's webhook endpoints — GET|POST /v1/webhook-endpoints,
 * GET|PUT|DELETE /v1/webhook-endpoints/{id}, POST .../{id}/rotate-secret,
 * GET .../{id}/attempts. The signing secret ("whsec_…") is shown when the
 * endpoint is made and when it is rotated; it is sealed at rest. API key
 * only; scoped to the key's environment. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "content.h"
#include "buf.h"
#include "crypto.h"
#include "handlers.h"
#include "ids.h"
#include "jsonutil.h"
#include "log.h"
#include "member_auth.h"
#include "query.h"
#include "ssrf.h"
#include "webhook.h"

#define EP_JSON                                                                               \
    "json_build_object('id', id, 'url', url, 'description', description,"                   \
    " 'event_types', event_types, 'private_targets', private_targets,"                       \
    " 'enabled', disabled_at IS NULL, 'disabled_at', herald_ts(disabled_at),"                \
    " 'disabled_reason', disabled_reason, 'failing_since', herald_ts(failing_since),"        \
    " 'previous_secret_until', herald_ts(CASE WHEN previous_until > now() THEN previous_until END),"\
    " 'created_at', herald_ts(created_at), 'updated_at', herald_ts(updated_at))::text"

#define EP_TYPES_MAX 100

/* The {id} parameter as a lower-case UUID, or NULL after a 404. */
static const char *ep_id(hr_req_t *r)
{
    const char *s = r->params[0];
    if (!hr_uuid_valid(s)) {
        hr_req_error(r, 404, "not_found", "no such webhook endpoint", NULL);
        return NULL;
    }
    char *id = hr_arena_strndup(r->arena, s, strlen(s));
    for (char *c = id; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return id;
}

/* Checks url, description, event_types, private_targets and enabled of a
 * create or update (all optional on update). event_types comes back as a
 * PostgreSQL text[] literal. Returns 0, or -1 after a 422. */
static int ep_fields(hr_req_t *r, const json_t *body, bool create, const char **url,
                     const char **desc, char **types, const char **strict, int *enabled)
{
    static const char *const fields[] = {"url", "description", "event_types", "private_targets",
                                         "enabled", NULL};
    char msg[256];
    *types = NULL;
    *enabled = -1;
    if (hr_req_only_fields(r, body, fields) != 0 ||
        hr_req_string_field(r, body, "url", create, 2048, url) != 0 ||
        hr_req_string_field(r, body, "description", false, 500, desc) != 0 ||
        hr_req_string_field(r, body, "private_targets", false, 16, strict) != 0)
        return -1;
    if (*strict != NULL && strcmp(*strict, "deny") != 0 && strcmp(*strict, "default") != 0) {
        hr_req_error(r, 422, "validation_failed", "private_targets must be deny or default",
                     "private_targets");
        return -1;
    }
    const json_t *en = json_object_get(body, "enabled");
    if (en != NULL) {
        if (!json_is_boolean(en)) {
            hr_req_error(r, 422, "validation_failed", "enabled must be true or false", "enabled");
            return -1;
        }
        *enabled = json_is_true(en);
    }
    if (*url != NULL) {
        hr_ssrf_policy_t pol = *strict != NULL && strcmp(*strict, "deny") == 0
                                   ? HR_SSRF_DENY
                                   : hr_ssrf_policy_parse(r->app->cfg.providers_private_targets);
        char why[160];
        if (hr_ssrf_check_url(*url, pol, why, sizeof why) != 0) {
            snprintf(msg, sizeof msg, "url: %s", why);
            hr_req_error(r, 422, "validation_failed", msg, "url");
            return -1;
        }
    }
    const json_t *t = json_object_get(body, "event_types");
    if (t == NULL)
        return 0;
    if (!json_is_array(t) || json_array_size(t) > EP_TYPES_MAX) {
        hr_req_error(r, 422, "validation_failed",
                     "event_types must be an array of at most 100 event types", "event_types");
        return -1;
    }
    hr_buf_t lit = HR_BUF_INIT;
    hr_buf_puts(&lit, "{");
    size_t i;
    json_t *v;
    json_array_foreach(t, i, v) {
        const char *s = json_is_string(v) ? json_string_value(v) : "";
        bool ok = s[0] != '\0' && strlen(s) <= 128;
        for (const char *c = s; *c && ok; c++)
            ok = isalnum((unsigned char)*c) || strchr("._-:*", *c) != NULL;
        if (!ok) {
            char field[48];
            snprintf(field, sizeof field, "event_types[%zu]", i);
            hr_req_error(r, 422, "validation_failed",
                         "an event type is 1 to 128 characters of a-z 0-9 . _ - : (or *)", field);
            hr_buf_free(&lit);
            return -1;
        }
        hr_buf_printf(&lit, "%s\"%s\"", i ? "," : "", s);
    }
    hr_buf_puts(&lit, "}");
    *types = hr_arena_strndup(r->arena, lit.data, lit.len);
    hr_buf_free(&lit);
    return 0;
}

static void ep_create(hr_req_t *r)
{
    char err[256];
    if (hr_req_authenticate(r) != 0)
        return;
    json_t *body = hr_req_json_object(r, false);
    const char *url = NULL, *desc = NULL, *strict = NULL;
    char *types = NULL;
    int enabled;
    if (body == NULL || ep_fields(r, body, true, &url, &desc, &types, &strict, &enabled) != 0)
        goto done;
    if (!hr_crypto_ready()) {
        hr_req_error(r, 503, "not_ready", "no master key is configured", NULL);
        goto done;
    }
    char id[HR_UUID_STRLEN], secret[HR_WEBHOOK_SECRET_LEN];
    hr_uuid7(id);
    hr_webhook_secret_new(secret);
    char *sealed = hr_crypto_seal((const unsigned char *)secret, strlen(secret));
    const char *p[7] = {id, r->auth.environment_id, url, desc ? desc : "", types ? types : "{}",
                        sealed, strict ? strict : "default"};
    PGresult *res = hr_db_exec(&r->app->db,
                               "INSERT INTO webhook_endpoints (id, environment_id, url, description,"
                               " event_types, secret, private_targets)"
                               " VALUES ($1, $2, $3, $4, $5::text[], $6, $7) RETURNING " EP_JSON,
                               7, p, err, sizeof err);
    free(sealed);
    if (res == NULL) {
        hr_req_db_failed(r, "endpoint create", err);
        goto done;
    }
    json_t *doc = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    json_object_set_new(doc, "secret", json_string(secret));
    hr_req_reply(r, 201, doc, NULL);
done:
    json_decref(body);
}

static void ep_list(hr_req_t *r)
{
    if (hr_req_authenticate(r) != 0)
        return;
    const char *p[1] = {r->auth.environment_id};
    hr_content_reply_list(r, "endpoint list",
                          "SELECT " EP_JSON " FROM webhook_endpoints WHERE environment_id = $1"
                          " ORDER BY created_at, id",
                          1, p);
}

/* Runs a statement returning EP_JSON for one endpoint of the key's
 * environment and answers it (404 when no row). */
static void ep_answer(hr_req_t *r, const char *sql, int n, const char *const *p, int status,
                      const char *secret)
{
    char err[256];
    PGresult *res = hr_db_exec(&r->app->db, sql, n, p, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "endpoint", err);
        return;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        hr_req_error(r, 404, "not_found", "no such webhook endpoint", NULL);
        return;
    }
    json_t *doc = status == 204 ? NULL : json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    if (secret != NULL)
        json_object_set_new(doc, "secret", json_string(secret));
    hr_req_reply(r, status, doc, NULL);
}

static void ep_get(hr_req_t *r)
{
    const char *id;
    if (hr_req_authenticate(r) != 0 || (id = ep_id(r)) == NULL)
        return;
    const char *p[2] = {id, r->auth.environment_id};
    ep_answer(r, "SELECT " EP_JSON " FROM webhook_endpoints WHERE id = $1 AND environment_id = $2",
              2, p, 200, NULL);
}

static void ep_update(hr_req_t *r)
{
    const char *id;
    if (hr_req_authenticate(r) != 0 || (id = ep_id(r)) == NULL)
        return;
    json_t *body = hr_req_json_object(r, false);
    const char *url = NULL, *desc = NULL, *strict = NULL;
    char *types = NULL;
    int enabled;
    if (body == NULL || ep_fields(r, body, false, &url, &desc, &types, &strict, &enabled) != 0)
        goto done;
    const char *p[7] = {id, r->auth.environment_id, url, desc, types, strict,
                        enabled < 0 ? NULL : enabled ? "t" : "f"};
    /* Enabling again clears the failure streak. */
    ep_answer(r,
              "UPDATE webhook_endpoints SET url = COALESCE($3, url),"
              " description = COALESCE($4, description),"
              " event_types = COALESCE($5::text[], event_types),"
              " private_targets = COALESCE($6, private_targets),"
              " disabled_at = CASE WHEN $7::boolean THEN NULL WHEN NOT $7::boolean"
              "   THEN COALESCE(disabled_at, now()) ELSE disabled_at END,"
              " disabled_reason = CASE WHEN $7::boolean THEN NULL WHEN NOT $7::boolean"
              "   THEN COALESCE(disabled_reason, 'disabled by the API') ELSE disabled_reason END,"
              " failing_since = CASE WHEN $7::boolean THEN NULL ELSE failing_since END,"
              " updated_at = now() WHERE id = $1 AND environment_id = $2 RETURNING " EP_JSON,
              7, p, 200, NULL);
done:
    json_decref(body);
}

static void ep_delete(hr_req_t *r)
{
    const char *id;
    if (hr_req_authenticate(r) != 0 || (id = ep_id(r)) == NULL)
        return;
    const char *p[2] = {id, r->auth.environment_id};
    ep_answer(r, "DELETE FROM webhook_endpoints WHERE id = $1 AND environment_id = $2 RETURNING 1",
              2, p, 204, NULL);
}

/* POST /v1/webhook-endpoints/{id}/rotate-secret {"overlap_s"?}: a new secret;
 * the current one keeps signing too (a second signature) for overlap_s
 * (default [webhooks] secret_overlap_s), so receivers can switch without
 * dropping events. */
static void ep_rotate(hr_req_t *r)
{
    static const char *const fields[] = {"overlap_s", NULL};
    const char *id;
    if (hr_req_authenticate(r) != 0 || (id = ep_id(r)) == NULL)
        return;
    json_t *body = hr_req_json_object(r, true);
    if (body == NULL || hr_req_only_fields(r, body, fields) != 0)
        goto done;
    long overlap = r->app->cfg.webhooks_secret_overlap_s;
    const json_t *o = json_object_get(body, "overlap_s");
    if (o != NULL) {
        if (!json_is_integer(o) || json_integer_value(o) < 0 || json_integer_value(o) > 2592000) {
            hr_req_error(r, 422, "validation_failed", "overlap_s must be 0 to 2592000 seconds",
                         "overlap_s");
            goto done;
        }
        overlap = (long)json_integer_value(o);
    }
    if (!hr_crypto_ready()) {
        hr_req_error(r, 503, "not_ready", "no master key is configured", NULL);
        goto done;
    }
    char secret[HR_WEBHOOK_SECRET_LEN], ov[24];
    hr_webhook_secret_new(secret);
    snprintf(ov, sizeof ov, "%ld", overlap);
    char *sealed = hr_crypto_seal((const unsigned char *)secret, strlen(secret));
    const char *p[4] = {id, r->auth.environment_id, sealed, ov};
    ep_answer(r,
              "UPDATE webhook_endpoints SET previous_secret = secret, secret = $3,"
              " previous_until = now() + make_interval(secs => $4::int), updated_at = now()"
              " WHERE id = $1 AND environment_id = $2 RETURNING " EP_JSON,
              4, p, 200, secret);
    free(sealed);
done:
    json_decref(body);
}

/* GET /v1/webhook-endpoints/{id}/attempts?limit=: the latest attempts, newest first. */
static void ep_attempts(hr_req_t *r)
{
    const char *id;
    long limit;
    if (hr_req_authenticate(r) != 0 || (id = ep_id(r)) == NULL ||
        hr_query_int(r, "limit", 50, 1, 500, &limit) != 0)
        return;
    /* another environment's endpoint is 404, like every resource of theirs */
    const char *pe[2] = {id, r->auth.environment_id};
    json_t *found = NULL;
    int rc = hr_content_query(r, "endpoint lookup",
                              "SELECT 'true' FROM webhook_endpoints WHERE id = $1::uuid"
                              " AND environment_id = $2",
                              2, pe, &found);
    json_decref(found);
    if (rc < 0)
        return;
    if (rc == 0) {
        hr_req_error(r, 404, "not_found", "no such webhook endpoint", NULL);
        return;
    }
    char lim[24];
    snprintf(lim, sizeof lim, "%ld", limit);
    const char *p[3] = {id, r->auth.environment_id, lim};
    hr_content_reply_list(
        r, "endpoint attempts",
        "SELECT json_build_object('delivery_id', d.id, 'notification_id', d.notification_id,"
        " 'attempt', a.attempt, 'started_at', herald_ts(a.started_at),"
        " 'duration_ms', a.duration_ms, 'response_code', a.response_code, 'outcome', a.outcome,"
        " 'error', a.error, 'response', left(a.response_excerpt, 256),"
        " 'delivery_status', d.status)::text"
        " FROM webhook_endpoints e"
        " JOIN deliveries d ON d.environment_id = e.environment_id AND d.channel = 'webhook'"
        "  AND d.address = e.id::text"
        " JOIN attempts a ON a.delivery_id = d.id"
        " WHERE e.id = $1 AND e.environment_id = $2"
        " ORDER BY a.started_at DESC, a.attempt DESC LIMIT $3::int",
        3, p);
}

const hr_route_t hr_routes_endpoints[] = {
    {"GET", "/v1/webhook-endpoints", ep_list},
    {"POST", "/v1/webhook-endpoints", ep_create},
    {"GET", "/v1/webhook-endpoints/{id}", ep_get},
    {"PUT", "/v1/webhook-endpoints/{id}", ep_update},
    {"DELETE", "/v1/webhook-endpoints/{id}", ep_delete},
    {"POST", "/v1/webhook-endpoints/{id}/rotate-secret", ep_rotate},
    {"GET", "/v1/webhook-endpoints/{id}/attempts", ep_attempts},
    {NULL, NULL, NULL},
};
