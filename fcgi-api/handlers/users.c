/* users: the tenant's end users, by their external id —
 * POST /v1/users/{id}/token (a signed end-user token for the inbox and the
 * realtime gateway), PUT|GET|DELETE /v1/users/{id} (stored addresses per
 * channel) and POST /v1/users/{id}/telegram-link. API key only; scoped to
 * the key's environment. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "address.h"
#include "crypto.h"
#include "handlers.h"
#include "log.h"
#include "member_auth.h"
#include "usertoken.h"
#include "notification.h"
#include "render.h"
#include "ssrf.h"

#define USER_ID_MAX 255
#define USER_TOKEN_DEFAULT_TTL 3600

/* The {id} path parameter as an end-user id: 1..255 characters, no control
 * characters. Returns it, or NULL after a 422 naming "id". */
static const char *users_param_id(hr_req_t *r)
{
    const char *id = r->params[0];
    size_t chars = 0;
    for (const char *p = id; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            chars = 0;
            break;
        }
        if (((unsigned char)*p & 0xc0) != 0x80)
            chars++;
    }
    if (chars == 0 || chars > USER_ID_MAX) {
        hr_req_error(r, 422, "validation_failed",
                     "the user id must be 1 to 255 characters without control characters", "id");
        return NULL;
    }
    return id;
}

/* POST /v1/users/{id}/token {"ttl"?: seconds, default 3600, at most 30 days} */
static void users_token(hr_req_t *r)
{
    static const char *const fields[] = {"ttl", NULL};
    char err[256];
    if (hr_req_authenticate(r) != 0)
        return;
    json_t *body = hr_req_json_object(r, true);
    const char *user = NULL;
    if (body == NULL || hr_req_only_fields(r, body, fields) != 0 ||
        (user = users_param_id(r)) == NULL)
        goto done;
    long ttl = USER_TOKEN_DEFAULT_TTL;
    const json_t *t = json_object_get(body, "ttl");
    if (t != NULL) {
        if (!json_is_integer(t) || json_integer_value(t) < 1 ||
            json_integer_value(t) > HR_USERTOKEN_MAX_TTL) {
            hr_req_error(r, 422, "validation_failed",
                         "ttl must be an integer number of seconds from 1 to 2592000", "ttl");
            goto done;
        }
        ttl = (long)json_integer_value(t);
    }
    if (!hr_crypto_ready()) {
        hr_req_error(r, 503, "not_ready", "no master key is configured", NULL);
        goto done;
    }
    char *tok = hr_usertoken_issue(&r->app->db, r->auth.environment_id, user, ttl, err, sizeof err);
    if (tok == NULL) {
        hr_req_db_failed(r, "user token", err);
        goto done;
    }
    time_t exp = time(NULL) + ttl;
    struct tm tm;
    char when[32];
    gmtime_r(&exp, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    hr_req_reply(r, 200,
                 json_pack("{s:s, s:s, s:s, s:s, s:I}", "token", tok, "user_id", user,
                           "environment_id", r->auth.environment_id, "expires_at", when,
                           "expires_in", (json_int_t)ttl),
                 NULL);
    free(tok);
done:
    json_decref(body);
}

/* ---- addresses: PUT|GET|DELETE /v1/users/{id}, POST /v1/users/{id}/telegram-link ---- */

#define USER_JSON                                                                            \
    "json_build_object('id', user_id, 'email', email, 'phone', phone,"                      \
    " 'telegram_chat_id', telegram_chat_id, 'discord_user_id', discord_user_id,"           \
    " 'discord_webhook_url', discord_webhook, 'whatsapp', whatsapp,"                        \
    " 'slack_channel', slack_channel, 'slack_webhook_url', slack_webhook, 'locale', locale," \
    " 'created_at', herald_ts(created_at), 'updated_at', herald_ts(updated_at))::text"

/* The stored address fields: which channel's rules each follows, in which
 * form. */
static const struct {
    const char *field;
    hr_channel_t channel;
    hr_addr_form_t form;
} users_fields[] = {
    {"email", HR_CHANNEL_EMAIL, HR_ADDR_ID},
    {"phone", HR_CHANNEL_SMS, HR_ADDR_ID},
    {"telegram_chat_id", HR_CHANNEL_TELEGRAM, HR_ADDR_ID},
    {"discord_user_id", HR_CHANNEL_DISCORD, HR_ADDR_ID},
    {"discord_webhook_url", HR_CHANNEL_DISCORD, HR_ADDR_URL},
    {"whatsapp", HR_CHANNEL_WHATSAPP, HR_ADDR_ID},
    {"slack_channel", HR_CHANNEL_SLACK, HR_ADDR_ID},
    {"slack_webhook_url", HR_CHANNEL_SLACK, HR_ADDR_URL},
};

/* Address field i: NULL/absent clears it; else checked by its channel's
 * rules (lib/address.h). Returns 0 with *out (NULL when cleared), or -1
 * after a 422 naming the field. */
static int users_address(hr_req_t *r, const json_t *body, size_t i, const char **out)
{
    const char *name = users_fields[i].field, *v = NULL;
    if (hr_req_string_field(r, body, name, false, 2048, &v) != 0)
        return -1;
    *out = v;
    char why[192];
    if (v == NULL ||
        hr_address_valid(users_fields[i].channel, users_fields[i].form, v,
                         hr_ssrf_policy_parse(r->app->cfg.providers_private_targets), why,
                         sizeof why))
        return 0;
    char msg[256];
    snprintf(msg, sizeof msg, "%s %s", name, why);
    hr_req_error(r, 422, "validation_failed", msg, name);
    return -1;
}

/* PUT /v1/users/{id}: replaces the user's stored addresses and preferred
 * locale (a field left out is cleared). */
static void users_put(hr_req_t *r)
{
    static const char *const fields[] = {"email", "phone", "telegram_chat_id", "discord_user_id",
                                         "discord_webhook_url", "whatsapp", "slack_channel",
                                         "slack_webhook_url", "locale", NULL};
    char err[256];
    if (hr_req_authenticate(r) != 0)
        return;
    json_t *body = hr_req_json_object(r, false);
    const char *user = NULL, *v[9] = {NULL};
    if (body == NULL || hr_req_only_fields(r, body, fields) != 0 ||
        (user = users_param_id(r)) == NULL)
        goto done;
    for (size_t i = 0; i < 8; i++)
        if (users_address(r, body, i, &v[i]) != 0)
            goto done;
    if (hr_req_string_field(r, body, "locale", false, 35, &v[8]) != 0)
        goto done;
    if (v[8] != NULL && !hr_render_locale_valid(v[8])) {
        hr_req_error(r, 422, "validation_failed", "locale must be a locale tag such as en, fr or pt-BR",
                     "locale");
        goto done;
    }
    const char *p[11] = {r->auth.environment_id, user, v[0], v[1], v[2], v[3], v[4], v[5], v[6],
                         v[7], v[8]};
    PGresult *res = hr_db_exec(
        &r->app->db,
        "INSERT INTO end_users (environment_id, user_id, email, phone, telegram_chat_id,"
        " discord_user_id, discord_webhook, whatsapp, slack_channel, slack_webhook, locale)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (environment_id, user_id) DO UPDATE SET email = $3, phone = $4,"
        " telegram_chat_id = $5, discord_user_id = $6, discord_webhook = $7, whatsapp = $8,"
        " slack_channel = $9, slack_webhook = $10, locale = $11, updated_at = now()"
        " RETURNING " USER_JSON,
        11, p, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "user write", err);
        goto done;
    }
    hr_req_reply(r, 200, json_loads(PQgetvalue(res, 0, 0), 0, NULL), NULL);
    PQclear(res);
done:
    json_decref(body);
}

static void users_get(hr_req_t *r)
{
    char err[256];
    const char *user;
    if (hr_req_authenticate(r) != 0 || (user = users_param_id(r)) == NULL)
        return;
    const char *p[2] = {r->auth.environment_id, user};
    PGresult *res = hr_db_exec(&r->app->db,
                               "SELECT " USER_JSON " FROM end_users"
                               " WHERE environment_id = $1 AND user_id = $2",
                               2, p, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "user read", err);
        return;
    }
    if (PQntuples(res) == 0)
        hr_req_error(r, 404, "not_found", "no such user", NULL);
    else
        hr_req_reply(r, 200, json_loads(PQgetvalue(res, 0, 0), 0, NULL), NULL);
    PQclear(res);
}

/* DELETE /v1/users/{id}: erases the user — stored addresses, preferences
 * and inbox items. */
static void users_delete(hr_req_t *r)
{
    char err[256];
    const char *user;
    if (hr_req_authenticate(r) != 0 || (user = users_param_id(r)) == NULL)
        return;
    const char *p[2] = {r->auth.environment_id, user};
    PGresult *res = hr_db_exec(
        &r->app->db,
        "WITH u AS (DELETE FROM end_users WHERE environment_id = $1 AND user_id = $2 RETURNING 1),"
        " i AS (DELETE FROM inbox_items WHERE environment_id = $1 AND user_id = $2 RETURNING 1),"
        " pr AS (DELETE FROM preferences WHERE environment_id = $1 AND user_id = $2 RETURNING 1)"
        " SELECT (SELECT count(*) FROM u) + (SELECT count(*) FROM i) + (SELECT count(*) FROM pr)",
        2, p, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "user delete", err);
        return;
    }
    bool any = atol(PQgetvalue(res, 0, 0)) > 0;
    PQclear(res);
    if (!any)
        hr_req_error(r, 404, "not_found", "no such user", NULL);
    else
        hr_req_reply(r, 204, NULL, NULL);
}

/* POST /v1/users/{id}/telegram-link: a deep link t.me/<bot>?start=<code>;
 * when the user opens it and presses Start, Telegram posts "/start <code>"
 * to /v1/hooks/telegram/{secret}, which stores the user's chat id. */
static void users_telegram_link(hr_req_t *r)
{
    char err[256];
    const char *user;
    if (hr_req_authenticate(r) != 0 || (user = users_param_id(r)) == NULL)
        return;
    const char *p0[1] = {r->auth.environment_id};
    PGresult *res = hr_db_exec(&r->app->db,
                               "SELECT settings->>'bot_username' FROM integrations"
                               " WHERE environment_id = $1 AND channel = 'telegram'",
                               1, p0, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "telegram integration read", err);
        return;
    }
    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        hr_req_error(r, 409, "not_configured",
                     "configure the telegram integration with settings.bot_username first", NULL);
        return;
    }
    char bot[128], code[33];
    snprintf(bot, sizeof bot, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    hr_crypto_random_hex(code, 16);
    const char *p[3] = {r->auth.environment_id, user, code};
    if (hr_db_run(&r->app->db,
                  "INSERT INTO end_users (environment_id, user_id, telegram_link_code)"
                  " VALUES ($1, $2, $3) ON CONFLICT (environment_id, user_id)"
                  " DO UPDATE SET telegram_link_code = $3, updated_at = now()",
                  3, p, err, sizeof err) != 0) {
        hr_req_db_failed(r, "telegram link", err);
        return;
    }
    char url[256];
    snprintf(url, sizeof url, "https://t.me/%s?start=%s", bot[0] == '@' ? bot + 1 : bot, code);
    hr_req_reply(r, 200, json_pack("{s:s, s:s}", "url", url, "code", code), NULL);
}

const hr_route_t hr_routes_users[] = {
    {"POST", "/v1/users/{id}/token", users_token},
    {"PUT", "/v1/users/{id}", users_put},
    {"GET", "/v1/users/{id}", users_get},
    {"DELETE", "/v1/users/{id}", users_delete},
    {"POST", "/v1/users/{id}/telegram-link", users_telegram_link},
    {NULL, NULL, NULL},
};
