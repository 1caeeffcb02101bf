/* oauth: sign-in with GitHub or Google (authorization-code flow) —
 * GET /v1/auth/oauth/{provider}/start redirects the browser to the provider
 * with a one-time state; GET /v1/auth/oauth/{provider}/callback checks the
 * state, exchanges the code, and answers a member session (signing the
 * member up with a new tenant on first use). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "handlers.h"
#include "log.h"
#include "member.h"
#include "oauth.h"
#include "query.h"
#include "member_auth.h"

#define OAUTH_STATE_TTL_S 600

static int oauth_find(hr_req_t *r, hr_oauth_provider_t *p)
{
    if (hr_oauth_provider(&r->app->cfg, r->params[0], p) != 0) {
        hr_req_error(r, 404, "not_found", "no such sign-in provider (github or google, if configured)",
                     "provider");
        return -1;
    }
    return 0;
}

/* The callback URL the provider sends the browser back to: [oauth]
 * redirect_url with {provider} filled in, else this host's own (arena). */
static const char *oauth_redirect_uri(hr_req_t *r, const char *provider)
{
    const char *tpl = r->app->cfg.oauth_redirect_url;
    if (tpl[0] != '\0') {
        const char *at = strstr(tpl, "{provider}");
        if (at == NULL)
            return tpl;
        return hr_arena_printf(r->arena, "%.*s%s%s", (int)(at - tpl), tpl, provider,
                               at + strlen("{provider}"));
    }
    const char *scheme = hr_req_param(r, "REQUEST_SCHEME");
    const char *host = hr_req_param(r, "HTTP_HOST");
    const char *port = hr_req_param(r, "SERVER_PORT");
    bool has_port = host != NULL && strchr(host, ':') != NULL;
    return hr_arena_printf(r->arena, "%s://%s%s%s/v1/auth/oauth/%s/callback",
                           scheme ? scheme : "https", host ? host : "localhost",
                           has_port || port == NULL ? "" : ":", has_port || port == NULL ? "" : port,
                           provider);
}

static void oauth_start(hr_req_t *r)
{
    hr_oauth_provider_t p;
    char state[65], err[256];
    if (oauth_find(r, &p) != 0)
        return;
    hr_crypto_random_hex(state, 32);
    redisReply *rep = hr_redis_cmd(&r->app->redis, err, sizeof err,
                                   "SET herald:oauth:state:%s %s EX %d", state, p.name,
                                   OAUTH_STATE_TTL_S);
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        if (rep != NULL)
            freeReplyObject(rep);
        hr_log(HR_LOG_ERROR, r->request_id, "oauth state: %s", err);
        hr_req_error(r, 503, "not_ready", "the service is unavailable; try again", NULL);
        return;
    }
    freeReplyObject(rep);
    char *url = hr_oauth_authorize_url(&p, oauth_redirect_uri(r, p.name), state);
    hr_assert(url != NULL);
    char *headers = hr_arena_printf(r->arena, "Location: %s\r\n", url);
    hr_req_reply(r, 302, json_pack("{s:s}", "url", url), headers);
    free(url);
}

static void oauth_callback(hr_req_t *r)
{
    hr_oauth_provider_t p;
    hr_oauth_identity_t who;
    hr_session_tokens_t tok = {0};
    json_t *tenant = NULL;
    char err[256];
    if (oauth_find(r, &p) != 0)
        return;
    const char *denied = hr_query_get(r, "error");
    const char *code = hr_query_get(r, "code");
    const char *state = hr_query_get(r, "state");
    if (denied != NULL) {
        hr_req_error(r, 401, "oauth_denied", "the provider did not grant the sign-in", "error");
        return;
    }
    if (state == NULL || state[0] == '\0' || strlen(state) != 64 ||
        strspn(state, "0123456789abcdef") != 64) {
        hr_req_error(r, 422, "validation_failed", "state is missing or malformed", "state");
        return;
    }
    if (code == NULL || code[0] == '\0' || strlen(code) > 512) {
        hr_req_error(r, 422, "validation_failed", "code is missing or too long", "code");
        return;
    }
    /* One use only: GETDEL takes the state away whatever follows. */
    redisReply *rep = hr_redis_cmd(&r->app->redis, err, sizeof err, "GETDEL herald:oauth:state:%s",
                                   state);
    if (rep == NULL) {
        hr_log(HR_LOG_ERROR, r->request_id, "oauth state: %s", err);
        hr_req_error(r, 503, "not_ready", "the service is unavailable; try again", NULL);
        return;
    }
    bool state_ok = rep->type == REDIS_REPLY_STRING && strcmp(rep->str, p.name) == 0;
    freeReplyObject(rep);
    if (!state_ok) {
        hr_req_error(r, 401, "invalid_state",
                     "the sign-in state is unknown, expired or already used; start again", "state");
        return;
    }
    if (hr_oauth_exchange(&p, code, oauth_redirect_uri(r, p.name), r->app->cfg.oauth_timeout_ms,
                          &who, err, sizeof err) != 0) {
        hr_log(HR_LOG_WARN, r->request_id, "oauth %s: %s", p.name, err);
        hr_req_error(r, 401, "oauth_failed", "the provider did not confirm the sign-in", "code");
        return;
    }
    char email[HR_MEMBER_EMAIL_MAX + 1];
    if (hr_member_email_normalise(who.email, email, sizeof email) != 0) {
        hr_req_error(r, 401, "oauth_failed", "the provider gave no usable email address", NULL);
        return;
    }
    char subject[160];
    snprintf(subject, sizeof subject, "%s", who.subject);
    hr_member_t m;
    const char *name = who.name[0] ? who.name : email;
    /* At most HR_MEMBER_NAME_MAX bytes, cut on a character boundary. */
    char short_name[HR_MEMBER_NAME_MAX + 1];
    size_t n = strlen(name);
    if (n > HR_MEMBER_NAME_MAX) {
        n = HR_MEMBER_NAME_MAX;
        while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(short_name, name, n);
    short_name[n] = '\0';
    if (n == 0)
        snprintf(short_name, sizeof short_name, "%.*s", (int)strcspn(email, "@"), email);
    for (char *c = short_name; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    switch (hr_member_oauth(&r->app->db, p.name, subject, email, who.email_verified, short_name,
                            &m, &tenant, err, sizeof err)) {
    case HR_MEMBER_OK:
        break;
    case HR_MEMBER_TAKEN:
        hr_req_error(r, 409, "email_taken",
                     "an account with this email exists and the provider has not verified the "
                     "address; log in with the password",
                     "email");
        return;
    case HR_MEMBER_NOTFOUND:
    case HR_MEMBER_ERROR:
        hr_req_db_failed(r, "oauth sign-in", err);
        return;
    }
    hr_session_t s = {0};
    snprintf(s.member_id, sizeof s.member_id, "%s", m.id);
    snprintf(s.tenant_id, sizeof s.tenant_id, "%s", m.tenant_id);
    if (hr_session_start(&r->app->db, &s, r->app->cfg.accounts_access_ttl_s,
                         r->app->cfg.accounts_refresh_ttl_s, &tok, err, sizeof err) != HR_SESSION_OK) {
        json_decref(tenant);
        hr_req_db_failed(r, "session", err);
        return;
    }
    json_t *out = json_pack("{s:s, s:s, s:s, s:I, s:{s:s, s:s, s:s, s:s}, s:s}", "access_token",
                            tok.access, "refresh_token", tok.refresh, "token_type", "Bearer",
                            "expires_in", (json_int_t)tok.access_ttl_s, "member", "id", m.id,
                            "tenant_id", m.tenant_id, "email", m.email, "name", m.name,
                            "provider", p.name);
    hr_assert(out != NULL);
    if (tenant != NULL) {
        json_object_set(out, "project_id", json_object_get(tenant, "project_id"));
        json_object_set(out, "environments", json_object_get(tenant, "environments"));
    }
    if (r->log_fields == NULL)
        r->log_fields = json_object();
    json_object_set_new(r->log_fields, "member", json_string(m.id));
    hr_req_reply(r, tenant != NULL ? 201 : 200, out, NULL);
    hr_session_tokens_free(&tok);
    json_decref(tenant);
}

const hr_route_t hr_routes_oauth[] = {
    {"GET", "/v1/auth/oauth/{provider}/start", oauth_start},
    {"GET", "/v1/auth/oauth/{provider}/callback", oauth_callback},
    {NULL, NULL, NULL},
};
