/* hooks: callbacks from providers — POST /v1/hooks/telegram/{secret}, the
 * Telegram bot's webhook. The secret in the path names the integration (and
 * so the environment); "/start <code>" from a chat links that chat to the
 * user the code was made for (POST /v1/users/{id}/telegram-link). Telegram
 * retries anything but 2xx, so every well-formed update is answered 200. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "handlers.h"
#include "jsonutil.h"
#include "log.h"
#include "member_auth.h"

static void hooks_telegram(hr_req_t *r)
{
    char err[256];
    const char *secret = r->params[0];
    if (strlen(secret) < 16 || strlen(secret) > 128) {
        hr_req_error(r, 404, "not_found", "no such hook", NULL);
        return;
    }
    const char *p0[1] = {secret};
    PGresult *res = hr_db_exec(&r->app->db,
                               "SELECT environment_id, settings->>'webhook_secret_token'"
                               " FROM integrations WHERE channel = 'telegram' AND hook_secret = $1",
                               1, p0, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "hook lookup", err);
        return;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        hr_req_error(r, 404, "not_found", "no such hook", NULL);
        return;
    }
    char env[HR_UUID_STRLEN], token[256] = "";
    snprintf(env, sizeof env, "%s", PQgetvalue(res, 0, 0));
    if (!PQgetisnull(res, 0, 1))
        snprintf(token, sizeof token, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    /* setWebhook's secret_token, when configured, must come back. */
    const char *given = hr_req_param(r, "HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN");
    if (token[0] != '\0' && (given == NULL || !hr_crypto_streq(given, token))) {
        hr_req_error(r, 401, "unauthorized", "the secret token does not match", NULL);
        return;
    }
    json_t *body = hr_req_json_object(r, false);
    if (body == NULL)
        return;
    const json_t *msg = json_object_get(body, "message");
    const char *text = hr_json_str(msg, "text");
    const json_t *chat_id = json_object_get(json_object_get(msg, "chat"), "id");
    bool linked = false;
    if (text != NULL && json_is_integer(chat_id) && strncmp(text, "/start ", 7) == 0) {
        const char *code = text + 7;
        while (*code == ' ')
            code++;
        char chat[32];
        snprintf(chat, sizeof chat, "%lld", (long long)json_integer_value(chat_id));
        const char *p[3] = {env, code, chat};
        res = hr_db_exec(&r->app->db,
                         "UPDATE end_users SET telegram_chat_id = $3, telegram_link_code = NULL,"
                         " updated_at = now() WHERE environment_id = $1 AND telegram_link_code = $2"
                         " RETURNING user_id",
                         3, p, err, sizeof err);
        if (res == NULL) {
            json_decref(body);
            hr_req_db_failed(r, "telegram link", err);
            return;
        }
        linked = PQntuples(res) == 1;
        if (linked)
            hr_log_json(HR_LOG_INFO, r->request_id, "telegram chat linked",
                        json_pack("{s:s, s:s}", "environment_id", env, "user_id",
                                  PQgetvalue(res, 0, 0)));
        PQclear(res);
    }
    json_decref(body);
    hr_req_reply(r, 200, json_pack("{s:b, s:b}", "ok", 1, "linked", linked), NULL);
}

const hr_route_t hr_routes_hooks[] = {
    {"POST", "/v1/hooks/telegram/{secret}", hooks_telegram},
    {NULL, NULL, NULL},
};
