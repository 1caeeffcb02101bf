/* keys: API keys of an environment — GET|POST /v1/keys,
 * POST /v1/keys/{id}/rotate, DELETE /v1/keys/{id}. A member manages the keys
 * of every environment of the tenant (environment_id names one); an API key
 * those of its own environment. The secret is shown only when made; the
 * database keeps its hash, prefix and last four characters. */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "content.h"
#include "apikey.h"
#include "handlers.h"
#include "keyrevoke.h"
#include "log.h"
#include "query.h"
#include "member_auth.h"

#define KEY_NAME_MAX 100

#define KEY_JSON                                                                              \
    "json_build_object('id', k.id, 'environment_id', k.environment_id, 'name', k.name,"      \
    " 'prefix', k.prefix, 'last4', k.last4, 'created_at', herald_ts(k.created_at),"            \
    " 'expires_at', herald_ts(k.expires_at), 'revoked_at', herald_ts(k.revoked_at),"           \
    " 'last_used_at', herald_ts(k.last_used_at))::text"

/* Lower-cased copy of a UUID, or NULL when s is not one. */
static const char *keys_uuid(hr_req_t *r, const char *s)
{
    if (s == NULL || !hr_uuid_valid(s))
        return NULL;
    char *id = hr_arena_strndup(r->arena, s, strlen(s));
    for (char *c = id; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return id;
}

/* Resolves which environment a list/create acts on: given (member: any of
 * the tenant's; API key: its own) or the key's own. Returns the id, or NULL
 * after replying. *live tells a production environment. */
static const char *keys_environment(hr_req_t *r, const hr_scope_t *sc, const char *given,
                                    bool *live)
{
    char err[256];
    if (given == NULL && !sc->member) {
        given = sc->environment_id;
    } else if (given == NULL) {
        hr_req_error(r, 422, "validation_failed", "environment_id is required", "environment_id");
        return NULL;
    }
    const char *env = keys_uuid(r, given);
    if (env == NULL || (!sc->member && strcmp(env, sc->environment_id) != 0)) {
        hr_req_error(r, 404, "not_found", "no such environment", "environment_id");
        return NULL;
    }
    const char *p[2] = {env, sc->tenant_id};
    PGresult *res = hr_db_exec(&r->app->db,
                               "SELECT kind = 'production' FROM environments"
                               " WHERE id = $1 AND tenant_id = $2",
                               2, p, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "environment read", err);
        return NULL;
    }
    bool found = PQntuples(res) == 1;
    *live = found && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!found) {
        hr_req_error(r, 404, "not_found", "no such environment", "environment_id");
        return NULL;
    }
    return env;
}

static void keys_list(hr_req_t *r)
{
    hr_scope_t sc;
    bool live;
    if (hr_req_scope(r, &sc) != 0)
        return;
    const char *env = keys_environment(r, &sc, hr_query_get(r, "environment_id"), &live);
    if (env == NULL)
        return;
    const char *p[1] = {env};
    hr_content_reply_list(r, "key list",
                          "SELECT " KEY_JSON " FROM api_keys k WHERE k.environment_id = $1"
                          " ORDER BY k.created_at, k.id",
                          1, p);
}

/* Inserts a new key for env; *out is its row with the secret in "key" (the
 * only copy; caller decrefs). Returns 0 or -1 with err. */
static int keys_insert(hr_req_t *r, const char *env, bool live, const char *name, char *err,
                       size_t errlen, json_t **out)
{
    hr_apikey_t key;
    char id[HR_UUID_STRLEN];
    hr_uuid7(id);
    hr_apikey_generate(live, &key);
    const char *p[6] = {id, env, key.hash, key.prefix, key.last4, name};
    PGresult *res = hr_db_exec(&r->app->db,
                               "INSERT INTO api_keys AS k (id, environment_id, key_hash, prefix, last4,"
                               " name) VALUES ($1, $2, $3, $4, $5, $6) RETURNING " KEY_JSON,
                               6, p, err, errlen);
    if (res == NULL) {
        hr_apikey_wipe(&key);
        return -1;
    }
    *out = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    hr_assert(*out != NULL);
    json_object_set_new(*out, "key", json_string(key.key));
    hr_apikey_wipe(&key);
    return 0;
}

/* POST /v1/keys {"environment_id"?, "name"?} */
static void keys_create(hr_req_t *r)
{
    static const char *const fields[] = {"environment_id", "name", NULL};
    hr_scope_t sc;
    bool live;
    const char *given = NULL, *name = NULL;
    char err[256];
    json_t *out = NULL;
    if (hr_req_scope(r, &sc) != 0)
        return;
    json_t *body = hr_req_json_object(r, true);
    if (body == NULL || hr_req_only_fields(r, body, fields) != 0 ||
        hr_req_string_field(r, body, "environment_id", false, 64, &given) != 0 ||
        hr_req_string_field(r, body, "name", false, KEY_NAME_MAX, &name) != 0)
        goto done;
    const char *env = keys_environment(r, &sc, given, &live);
    if (env == NULL)
        goto done;
    if (keys_insert(r, env, live, name ? name : "default", err, sizeof err, &out) != 0) {
        hr_req_db_failed(r, "key create", err);
        goto done;
    }
    hr_req_reply(r, 201, out, NULL);
done:
    json_decref(body);
}

/* The key {id} within the scope: its environment, hash and kind. Returns 1
 * found, 0 not (404 answered), -1 after a 5xx. */
static int keys_find(hr_req_t *r, const hr_scope_t *sc, const char *id, char env[HR_UUID_STRLEN],
                     char hash[HR_APIKEY_HASHLEN], char name[4 * KEY_NAME_MAX + 1], bool *live)
{
    char err[256];
    const char *p[3] = {id, sc->tenant_id, sc->member ? NULL : sc->environment_id};
    PGresult *res = id == NULL ? NULL
                               : hr_db_exec(&r->app->db,
                                            "SELECT k.environment_id, k.key_hash, k.name,"
                                            " e.kind = 'production' FROM api_keys k"
                                            " JOIN environments e ON e.id = k.environment_id"
                                            " WHERE k.id = $1 AND e.tenant_id = $2"
                                            " AND ($3::uuid IS NULL OR k.environment_id = $3::uuid)"
                                            " AND k.revoked_at IS NULL"
                                            " AND (k.expires_at IS NULL OR k.expires_at > now())"
                                            " FOR UPDATE OF k",
                                            3, p, err, sizeof err);
    if (id != NULL && res == NULL) {
        hr_req_db_failed(r, "key read", err);
        return -1;
    }
    if (res == NULL || PQntuples(res) != 1) {
        PQclear(res);
        hr_req_error(r, 404, "not_found", "no such key", NULL);
        return 0;
    }
    snprintf(env, HR_UUID_STRLEN, "%s", PQgetvalue(res, 0, 0));
    snprintf(hash, HR_APIKEY_HASHLEN, "%s", PQgetvalue(res, 0, 1));
    snprintf(name, 4 * KEY_NAME_MAX + 1, "%s", PQgetvalue(res, 0, 2));
    *live = PQgetvalue(res, 0, 3)[0] == 't';
    PQclear(res);
    return 1;
}

/* Revokes key id now: in PostgreSQL, in Redis for every process's send path,
 * and in this process's cache. */
static int keys_revoke_now(hr_req_t *r, const char *id, const char *hash, char *err,
                           size_t errlen)
{
    const char *p[1] = {id};
    PGresult *res = hr_db_exec(&r->app->db,
                               "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())"
                               " WHERE id = $1 RETURNING id",
                               1, p, err, errlen);
    if (res == NULL)
        return -1;
    int rc = hr_keys_mark_revoked(r, res, 0, 0, err, errlen);
    PQclear(res);
    hr_auth_forget(&r->app->keys, hash);
    return rc;
}

/* POST /v1/keys/{id}/rotate {"grace_seconds"?}: a new key for the same
 * environment; the old one keeps working grace_seconds (default [accounts]
 * key_grace_s; 0 ends it now). */
static void keys_rotate(hr_req_t *r)
{
    static const char *const fields[] = {"grace_seconds", NULL};
    hr_scope_t sc;
    bool live = false;
    char err[256], env[HR_UUID_STRLEN], hash[HR_APIKEY_HASHLEN], name[4 * KEY_NAME_MAX + 1];
    json_t *out = NULL;
    bool in_tx = false;
    if (hr_req_scope(r, &sc) != 0)
        return;
    json_t *body = hr_req_json_object(r, true);
    if (body == NULL || hr_req_only_fields(r, body, fields) != 0)
        goto done;
    long grace;
    if (hr_req_grace_seconds(r, body, &grace) != 0)
        goto done;
    const char *id = keys_uuid(r, r->params[0]);
    if (hr_db_run(&r->app->db, "BEGIN", 0, NULL, err, sizeof err) != 0)
        goto db_failed;
    in_tx = true;
    if (keys_find(r, &sc, id, env, hash, name, &live) != 1)
        goto done;
    if (keys_insert(r, env, live, name, err, sizeof err, &out) != 0)
        goto db_failed;
    if (grace == 0) {
        if (keys_revoke_now(r, id, hash, err, sizeof err) != 0)
            goto db_failed;
    } else {
        char gs[24];
        snprintf(gs, sizeof gs, "%ld", grace);
        const char *p[2] = {id, gs};
        PGresult *res = hr_db_exec(&r->app->db,
                                   "UPDATE api_keys SET expires_at = LEAST(COALESCE(expires_at,"
                                   " 'infinity'), now() + make_interval(secs => $2::int))"
                                   " WHERE id = $1 RETURNING id, herald_ts(expires_at)",
                                   2, p, err, sizeof err);
        if (res == NULL)
            goto db_failed;
        json_object_set_new(out, "replaces",
                            json_pack("{s:s, s:s}", "id", id, "expires_at", PQgetvalue(res, 0, 1)));
        int rc = hr_keys_mark_revoked(r, res, 0, grace, err, sizeof err);
        PQclear(res);
        if (rc != 0)
            goto db_failed;
        hr_auth_forget(&r->app->keys, hash);
    }
    if (hr_db_run(&r->app->db, "COMMIT", 0, NULL, err, sizeof err) != 0)
        goto db_failed;
    in_tx = false;
    if (json_object_get(out, "replaces") == NULL)
        json_object_set_new(out, "replaces", json_pack("{s:s, s:n}", "id", id, "expires_at"));
    hr_req_reply(r, 201, out, NULL);
    out = NULL;
    goto done;
db_failed:
    hr_req_db_failed(r, "key rotation", err);
done:
    if (in_tx)
        hr_db_rollback(&r->app->db);
    json_decref(out);
    json_decref(body);
}

/* DELETE /v1/keys/{id}: revoked at once, everywhere. */
static void keys_delete(hr_req_t *r)
{
    hr_scope_t sc;
    bool live;
    char err[256], env[HR_UUID_STRLEN], hash[HR_APIKEY_HASHLEN], name[4 * KEY_NAME_MAX + 1];
    if (hr_req_scope(r, &sc) != 0)
        return;
    const char *id = keys_uuid(r, r->params[0]);
    if (hr_db_run(&r->app->db, "BEGIN", 0, NULL, err, sizeof err) != 0) {
        hr_req_db_failed(r, "key revoke", err);
        return;
    }
    int found = keys_find(r, &sc, id, env, hash, name, &live);
    if (found != 1) {
        hr_db_rollback(&r->app->db);
        return;
    }
    if (keys_revoke_now(r, id, hash, err, sizeof err) != 0 ||
        hr_db_run(&r->app->db, "COMMIT", 0, NULL, err, sizeof err) != 0) {
        hr_db_rollback(&r->app->db);
        hr_req_db_failed(r, "key revoke", err);
        return;
    }
    hr_req_reply(r, 204, NULL, NULL);
}

const hr_route_t hr_routes_keys[] = {
    {"GET", "/v1/keys", keys_list},
    {"POST", "/v1/keys", keys_create},
    {"POST", "/v1/keys/{id}/rotate", keys_rotate},
    {"DELETE", "/v1/keys/{id}", keys_delete},
    {NULL, NULL, NULL},
};
