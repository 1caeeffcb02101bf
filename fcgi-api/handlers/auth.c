/* auth: dashboard members' accounts and rolling sessions —
 * POST /v1/auth/signup, /login, /refresh, /logout and GET /v1/auth/me.
 * Passwords are Argon2id; login is throttled per email and per client
 * address in Redis; an unknown email and a wrong password answer the same,
 * in about the same time. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "handlers.h"
#include "log.h"
#include "member.h"
#include "password.h"
#include "member_auth.h"

/* KEYS: the email's and the address's failure counters. ARGV: window.
 * Counts one failed login against both. */
static hr_redis_script_t auth_fail_script = {
    .source = "for _, k in ipairs(KEYS) do\n"
              "  if redis.call('INCR', k) == 1 then redis.call('EXPIRE', k, ARGV[1]) end\n"
              "end\n"
              "return 1\n",
};

/* The member's tokens as an answer body (the tokens are shown only here). */
static json_t *auth_tokens_json(const hr_session_tokens_t *t, const hr_member_t *m)
{
    json_t *out = json_pack("{s:s, s:s, s:s, s:I}", "access_token", t->access, "refresh_token",
                            t->refresh, "token_type", "Bearer", "expires_in",
                            (json_int_t)t->access_ttl_s);
    hr_assert(out != NULL);
    if (m != NULL)
        json_object_set_new(out, "member",
                            json_pack("{s:s, s:s, s:s, s:s}", "id", m->id, "tenant_id",
                                      m->tenant_id, "email", m->email, "name", m->name));
    return out;
}

static void auth_session_failed(hr_req_t *r, const char *err)
{
    hr_req_db_failed(r, "session", err);
}

/* Validates and normalises the email member of body into out. */
static int auth_email(hr_req_t *r, const json_t *body, char *out, size_t outlen)
{
    const char *email = NULL;
    if (hr_req_string_field(r, body, "email", true, HR_MEMBER_EMAIL_MAX, &email) != 0)
        return -1;
    if (hr_member_email_normalise(email, out, outlen) != 0) {
        hr_req_error(r, 422, "validation_failed", "email is not a valid email address", "email");
        return -1;
    }
    return 0;
}

/* A password member: a string of at most HR_PASSWORD_MAX bytes. */
static int auth_password(hr_req_t *r, const json_t *body, const char **out)
{
    const json_t *v = json_object_get(body, "password");
    if (v == NULL || json_is_null(v)) {
        hr_req_error(r, 422, "validation_failed", "password is required", "password");
        return -1;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        hr_req_error(r, 422, "validation_failed", "password must be a string", "password");
        return -1;
    }
    if (json_string_length(v) > HR_PASSWORD_MAX) {
        hr_req_error(r, 422, "validation_failed", "password is too long (at most 1024 bytes)",
                     "password");
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static void auth_signup(hr_req_t *r)
{
    static const char *const fields[] = {"name", "email", "password", NULL};
    json_t *body = hr_req_json_object(r, false), *tenant = NULL;
    hr_session_tokens_t tok = {0};
    const char *name = NULL, *password = NULL;
    char email[HR_MEMBER_EMAIL_MAX + 1], hash[HR_PASSWORD_HASHLEN], err[256];
    if (body == NULL || hr_req_only_fields(r, body, fields) != 0 ||
        hr_req_string_field(r, body, "name", true, HR_MEMBER_NAME_MAX, &name) != 0 ||
        auth_email(r, body, email, sizeof email) != 0 || auth_password(r, body, &password) != 0)
        goto done;
    const char *weak = hr_password_check(password, r->app->cfg.accounts_password_min);
    if (weak != NULL) {
        char msg[128];
        snprintf(msg, sizeof msg, "password %s (at least %ld characters)", weak,
                 r->app->cfg.accounts_password_min);
        hr_req_error(r, 422, "validation_failed", msg, "password");
        goto done;
    }
    if (!hr_crypto_ready()) {
        hr_req_error(r, 503, "not_ready", "no master key is configured", NULL);
        goto done;
    }
    if (hr_password_hash(password, hash) != 0) {
        hr_req_error(r, 503, "not_ready", "the password could not be hashed; try again", NULL);
        goto done;
    }
    hr_member_t m;
    switch (hr_member_signup(&r->app->db, name, email, hash, &m, &tenant, err, sizeof err)) {
    case HR_MEMBER_OK:
        break;
    case HR_MEMBER_TAKEN:
        hr_req_error(r, 409, "email_taken", "an account with this email exists; log in",
                     "email");
        goto done;
    case HR_MEMBER_NOTFOUND:
    case HR_MEMBER_ERROR:
        hr_req_db_failed(r, "signup", err);
        goto done;
    }
    hr_session_t s = {0};
    snprintf(s.member_id, sizeof s.member_id, "%s", m.id);
    snprintf(s.tenant_id, sizeof s.tenant_id, "%s", m.tenant_id);
    if (hr_session_start(&r->app->db, &s, r->app->cfg.accounts_access_ttl_s,
                         r->app->cfg.accounts_refresh_ttl_s, &tok, err, sizeof err) != HR_SESSION_OK) {
        auth_session_failed(r, err);
        goto done;
    }
    json_t *out = auth_tokens_json(&tok, &m);
    json_object_set(out, "tenant_id", json_object_get(tenant, "tenant_id"));
    json_object_set(out, "project_id", json_object_get(tenant, "project_id"));
    json_object_set(out, "environments", json_object_get(tenant, "environments"));
    if (r->log_fields == NULL)
        r->log_fields = json_object();
    json_object_set_new(r->log_fields, "member", json_string(m.id));
    hr_req_reply(r, 201, out, NULL);
done:
    sodium_memzero(hash, sizeof hash);
    hr_session_tokens_free(&tok);
    json_decref(tenant);
    json_decref(body);
}

/* Failed-login counters of an email (hashed: no address in Redis keys) and a
 * client address. */
static void auth_throttle_keys(hr_req_t *r, const char *email, char *ekey, size_t elen,
                               char *ikey, size_t ilen)
{
    unsigned char h[16];
    char hex[33];
    crypto_generichash(h, sizeof h, (const unsigned char *)email, strlen(email), NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(ekey, elen, "herald:login:email:%s", hex);
    snprintf(ikey, ilen, "herald:login:ip:%.64s", hr_req_client_ip(r));
}

/* Answers 429 when either counter is at its limit. Returns 1 when refused,
 * 0 when the login may go on, -1 after a 503. */
static int auth_throttled(hr_req_t *r, const char *ekey, const char *ikey)
{
    char err[256];
    const char *argv[] = {"MGET", ekey, ikey};
    redisReply *rep = hr_redis_argv(&r->app->redis, 3, argv, NULL, err, sizeof err);
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
        hr_log(HR_LOG_ERROR, r->request_id, "login throttle: %s", rep ? "unexpected reply" : err);
        if (rep != NULL)
            freeReplyObject(rep);
        hr_req_error(r, 503, "not_ready", "the service is unavailable; try again", NULL);
        return -1;
    }
    long e = rep->element[0]->type == REDIS_REPLY_STRING ? strtol(rep->element[0]->str, NULL, 10) : 0;
    long i = rep->element[1]->type == REDIS_REPLY_STRING ? strtol(rep->element[1]->str, NULL, 10) : 0;
    freeReplyObject(rep);
    const char *which = NULL;
    if (e >= r->app->cfg.accounts_login_max_per_email)
        which = ekey;
    else if (i >= r->app->cfg.accounts_login_max_per_ip)
        which = ikey;
    if (which == NULL)
        return 0;
    long ttl = r->app->cfg.accounts_login_window_s;
    rep = hr_redis_cmd(&r->app->redis, err, sizeof err, "TTL %s", which);
    if (rep != NULL && rep->type == REDIS_REPLY_INTEGER && rep->integer > 0)
        ttl = (long)rep->integer;
    if (rep != NULL)
        freeReplyObject(rep);
    char *headers = hr_arena_printf(r->arena, "Retry-After: %ld\r\n", ttl);
    json_t *err_body = json_pack("{s:{s:s, s:s}}", "error", "code", "rate_limited", "message",
                                 "too many failed logins; try again later");
    hr_req_reply(r, 429, err_body, headers);
    return 1;
}

static void auth_login(hr_req_t *r)
{
    static const char *const fields[] = {"email", "password", NULL};
    json_t *body = hr_req_json_object(r, false);
    hr_session_tokens_t tok = {0};
    const char *password = NULL;
    char email[HR_MEMBER_EMAIL_MAX + 1], err[256], ekey[64], ikey[96];
    if (body == NULL || hr_req_only_fields(r, body, fields) != 0 ||
        auth_email(r, body, email, sizeof email) != 0 || auth_password(r, body, &password) != 0)
        goto done;
    auth_throttle_keys(r, email, ekey, sizeof ekey, ikey, sizeof ikey);
    if (auth_throttled(r, ekey, ikey) != 0)
        goto done;
    hr_member_t m;
    memset(&m, 0, sizeof m);
    hr_member_result_t found = hr_member_by_email(&r->app->db, email, &m, err, sizeof err);
    if (found == HR_MEMBER_ERROR) {
        hr_req_db_failed(r, "login", err);
        goto done;
    }
    /* Unknown email: verified against a dummy hash, same answer, same time. */
    bool ok = hr_password_verify(found == HR_MEMBER_OK ? m.password_hash : NULL, password);
    sodium_memzero(m.password_hash, sizeof m.password_hash);
    if (!ok) {
        const char *args[3] = {ekey, ikey, NULL};
        char window[24];
        snprintf(window, sizeof window, "%ld", r->app->cfg.accounts_login_window_s);
        args[2] = window;
        redisReply *rep =
            hr_redis_eval(&r->app->redis, &auth_fail_script, 2, 3, args, NULL, err, sizeof err);
        if (rep == NULL)
            hr_log(HR_LOG_WARN, r->request_id, "login failure not counted: %s", err);
        else
            freeReplyObject(rep);
        hr_req_error(r, 401, "invalid_credentials", "the email or the password is wrong", NULL);
        goto done;
    }
    redisReply *rep = hr_redis_cmd(&r->app->redis, err, sizeof err, "DEL %s", ekey);
    if (rep != NULL)
        freeReplyObject(rep);
    hr_session_t s = {0};
    snprintf(s.member_id, sizeof s.member_id, "%s", m.id);
    snprintf(s.tenant_id, sizeof s.tenant_id, "%s", m.tenant_id);
    if (hr_session_start(&r->app->db, &s, r->app->cfg.accounts_access_ttl_s,
                         r->app->cfg.accounts_refresh_ttl_s, &tok, err, sizeof err) != HR_SESSION_OK) {
        auth_session_failed(r, err);
        goto done;
    }
    if (r->log_fields == NULL)
        r->log_fields = json_object();
    json_object_set_new(r->log_fields, "member", json_string(m.id));
    hr_req_reply(r, 200, auth_tokens_json(&tok, &m), NULL);
done:
    hr_session_tokens_free(&tok);
    json_decref(body);
}

static void auth_refresh(hr_req_t *r)
{
    static const char *const fields[] = {"refresh_token", NULL};
    json_t *body = hr_req_json_object(r, false);
    hr_session_tokens_t tok = {0};
    const char *refresh = NULL;
    char err[256];
    if (body == NULL || hr_req_only_fields(r, body, fields) != 0 ||
        hr_req_string_field(r, body, "refresh_token", true, 128, &refresh) != 0)
        goto done;
    hr_session_t s;
    switch (hr_session_refresh(&r->app->db, refresh, r->app->cfg.accounts_access_ttl_s,
                               r->app->cfg.accounts_refresh_ttl_s, &s, &tok, err, sizeof err)) {
    case HR_SESSION_OK:
        if (r->log_fields == NULL)
            r->log_fields = json_object();
        json_object_set_new(r->log_fields, "member", json_string(s.member_id));
        hr_req_reply(r, 200, auth_tokens_json(&tok, NULL), NULL);
        break;
    case HR_SESSION_REUSED:
        hr_log(HR_LOG_WARN, r->request_id,
               "a used refresh token was presented again: its session is revoked");
        __attribute__((fallthrough));
    case HR_SESSION_INVALID:
        hr_req_error(r, 401, "unauthorized", "the refresh token is not valid; log in again",
                     "refresh_token");
        break;
    case HR_SESSION_ERROR:
        auth_session_failed(r, err);
        break;
    }
done:
    hr_session_tokens_free(&tok);
    json_decref(body);
}

/* POST /v1/auth/logout {"refresh_token"} or with the access token: ends the
 * session (the whole refresh-token family). Always 204 for a well-formed
 * request, so it tells nothing about the token. */
static void auth_logout(hr_req_t *r)
{
    static const char *const fields[] = {"refresh_token", NULL};
    json_t *body = hr_req_json_object(r, true);
    const char *refresh = NULL;
    char err[256];
    hr_session_result_t rc = HR_SESSION_OK;
    if (body == NULL || hr_req_only_fields(r, body, fields) != 0 ||
        hr_req_string_field(r, body, "refresh_token", false, 128, &refresh) != 0)
        goto done;
    if (refresh != NULL) {
        rc = hr_session_revoke(&r->app->db, refresh, err, sizeof err);
    } else {
        hr_session_t s;
        if (hr_req_member(r, &s) != 0)
            goto done;
        rc = hr_session_revoke_family(&r->app->db, s.family_id, err, sizeof err);
    }
    if (rc == HR_SESSION_ERROR)
        auth_session_failed(r, err);
    else
        hr_req_reply(r, 204, NULL, NULL);
done:
    json_decref(body);
}

static void auth_me(hr_req_t *r)
{
    hr_session_t s;
    char err[256];
    if (hr_req_member(r, &s) != 0)
        return;
    const char *p[1] = {s.member_id};
    PGresult *res = hr_db_exec(&r->app->db,
                               "SELECT json_build_object('id', m.id, 'email', m.email, 'name',"
                               " m.name, 'tenant', json_build_object('id', t.id, 'name', t.name,"
                               " 'plan', t.plan), 'created_at', herald_ts(m.created_at))::text"
                               " FROM members m JOIN tenants t ON t.id = m.tenant_id"
                               " WHERE m.id = $1",
                               1, p, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "member read", err);
        return;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        hr_req_error(r, 401, "unauthorized", "the session has ended; log in again", NULL);
        return;
    }
    json_t *doc = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    hr_assert(doc != NULL);
    hr_req_reply(r, 200, doc, NULL);
}

const hr_route_t hr_routes_auth[] = {
    {"POST", "/v1/auth/signup", auth_signup},
    {"POST", "/v1/auth/login", auth_login},
    {"POST", "/v1/auth/refresh", auth_refresh},
    {"POST", "/v1/auth/logout", auth_logout},
    {"GET", "/v1/auth/me", auth_me},
    {NULL, NULL, NULL},
};
