/* integrations: an environment's provider configuration per channel —
 * GET|PUT|DELETE /v1/integrations/{channel}, POST /v1/integrations/{channel}/test.
 * Credentials are sealed with the master key and never returned; only the
 * names of the credential fields set are shown. API key only. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "crypto.h"
#include "enqueue.h"
#include "handlers.h"
#include "ids.h"
#include "jsonutil.h"
#include "log.h"
#include "member_auth.h"
#include "notification.h"
#include "ssrf.h"

/* Which providers a channel takes and the credentials and settings each
 * needs (NULL-terminated lists). */
typedef struct integ_kind {
    const char *channel, *provider;
    const char *required_creds[4];
    const char *required_settings[3];
} integ_kind_t;

static const integ_kind_t integ_kinds[] = {
    {"email", "smtp", {NULL}, {"smtp_url", "from", NULL}},
    {"email", "resend", {"api_key", NULL}, {"from", NULL}},
    {"sms", "twilio", {"account_sid", "auth_token", NULL}, {NULL}},
    {"telegram", "telegram", {"bot_token", NULL}, {NULL}},
    {"discord", "discord", {"bot_token", NULL}, {NULL}},
    {"whatsapp", "whatsapp", {"access_token", NULL}, {"phone_number_id", NULL}},
    {"slack", "slack", {"bot_token", NULL}, {NULL}},
};

static const char *const integ_settings[] = {
    "base_url", "from", "reply_to", "list_unsubscribe", "smtp_url", "bot_username",
    "phone_number_id", "messaging_service_sid", "rate_per_s", "color", "private_targets",
    "webhook_secret_token", "tls", NULL};

#define INTEG_JSON                                                                          \
    "json_build_object('channel', channel, 'provider', provider, 'settings', settings,"   \
    " 'created_at', herald_ts(created_at), 'updated_at', herald_ts(updated_at),"           \
    " 'telegram_hook_path', CASE WHEN hook_secret IS NOT NULL AND channel = 'telegram'"    \
    "   THEN '/v1/hooks/telegram/' || hook_secret END,"                                     \
    " 'hook_path', CASE WHEN hook_secret IS NOT NULL THEN '/v1/hooks/'"                     \
    "   || CASE channel WHEN 'sms' THEN 'twilio' ELSE channel END || '/' || hook_secret END)::text"

/* Authenticates the request and returns its {channel} parameter when that
 * channel takes an integration; else NULL after the 401/404. */
static const char *integ_channel(hr_req_t *r)
{
    if (hr_req_authenticate(r) != 0)
        return NULL;
    const char *ch = r->params[0];
    for (size_t i = 0; i < sizeof integ_kinds / sizeof integ_kinds[0]; i++)
        if (strcmp(integ_kinds[i].channel, ch) == 0)
            return ch;
    hr_req_error(r, 404, "not_found",
                 "no integration for this channel (email, sms, telegram, discord, whatsapp, slack)",
                 "channel");
    return NULL;
}

static void integ_get(hr_req_t *r)
{
    char err[256];
    const char *ch = integ_channel(r);
    if (ch == NULL)
        return;
    const char *p[2] = {r->auth.environment_id, ch};
    PGresult *res = hr_db_exec(&r->app->db,
                               "SELECT " INTEG_JSON ", credentials FROM integrations"
                               " WHERE environment_id = $1 AND channel = $2",
                               2, p, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "integration read", err);
        return;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        hr_req_error(r, 404, "not_found", "this channel has no integration; it uses the local sink", NULL);
        return;
    }
    json_t *doc = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    /* Which credentials are set, never their values. */
    size_t len = 0;
    unsigned char *plain = hr_crypto_open(PQgetvalue(res, 0, 1), &len);
    json_t *names = json_array();
    if (plain != NULL) {
        json_t *cred = json_loadb((const char *)plain, len, 0, NULL);
        const char *k;
        json_t *v;
        json_object_foreach(cred, k, v)
            json_array_append_new(names, json_string(k));
        json_decref(cred);
        hr_crypto_free_secret(plain, len);
    }
    json_object_set_new(doc, "credentials_set", names);
    PQclear(res);
    hr_req_reply(r, 200, doc, NULL);
}

/* Each of names (NULL-terminated) must be a string member of obj (the
 * body's `what` object). Returns 0, or -1 after a 422 naming the first one
 * missing. */
static int integ_required(hr_req_t *r, const json_t *obj, const char *what,
                          const char *const *names, const char *provider)
{
    for (int i = 0; names[i] != NULL; i++)
        if (hr_json_str(obj, names[i]) == NULL) {
            char field[96], msg[160];
            snprintf(field, sizeof field, "%s.%s", what, names[i]);
            snprintf(msg, sizeof msg, "%s is required for %s", field, provider);
            hr_req_error(r, 422, "validation_failed", msg, field);
            return -1;
        }
    return 0;
}

/* Checks body for kind; 422 naming the field on failure. */
static int integ_check(hr_req_t *r, const json_t *body, const integ_kind_t **kind_out)
{
    static const char *const fields[] = {"provider", "credentials", "settings", NULL};
    char msg[256];
    if (hr_req_only_fields(r, body, fields) != 0)
        return -1;
    const char *ch = r->params[0], *provider = hr_json_str(body, "provider");
    const integ_kind_t *kind = NULL;
    for (size_t i = 0; i < sizeof integ_kinds / sizeof integ_kinds[0]; i++)
        if (strcmp(integ_kinds[i].channel, ch) == 0 &&
            (provider == NULL ? kind == NULL : strcmp(integ_kinds[i].provider, provider) == 0))
            kind = &integ_kinds[i];
    if (kind == NULL || (provider == NULL && strcmp(ch, "email") == 0)) {
        snprintf(msg, sizeof msg, "provider must name a provider of %s", ch);
        hr_req_error(r, 422, "validation_failed", msg, "provider");
        return -1;
    }
    const json_t *cred = json_object_get(body, "credentials");
    const json_t *settings = json_object_get(body, "settings");
    if (!json_is_object(cred)) {
        hr_req_error(r, 422, "validation_failed", "credentials must be an object", "credentials");
        return -1;
    }
    if (settings != NULL && !json_is_object(settings)) {
        hr_req_error(r, 422, "validation_failed", "settings must be an object", "settings");
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)cred, k, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 4096) {
            char field[96];
            snprintf(msg, sizeof msg, "credentials.%.60s must be a string of 1 to 4096 characters", k);
            snprintf(field, sizeof field, "credentials.%.60s", k);
            hr_req_error(r, 422, "validation_failed", msg, field);
            return -1;
        }
    }
    if (integ_required(r, cred, "credentials", kind->required_creds, kind->provider) != 0)
        return -1;
    json_object_foreach((json_t *)settings, k, v) {
        bool known = false;
        for (int i = 0; integ_settings[i] != NULL && !known; i++)
            known = strcmp(integ_settings[i], k) == 0;
        char field[96];
        snprintf(field, sizeof field, "settings.%.60s", k);
        if (!known) {
            snprintf(msg, sizeof msg, "%s is not a setting of integrations", field);
            hr_req_error(r, 422, "validation_failed", msg, field);
            return -1;
        }
        bool want_int = strcmp(k, "rate_per_s") == 0 || strcmp(k, "color") == 0;
        if (want_int ? !json_is_integer(v) || json_integer_value(v) < 0
                     : !json_is_string(v) || json_string_length(v) > 2048) {
            snprintf(msg, sizeof msg, "%s must be %s", field,
                     want_int ? "a non-negative integer" : "a string of at most 2048 characters");
            hr_req_error(r, 422, "validation_failed", msg, field);
            return -1;
        }
    }
    if (integ_required(r, settings, "settings", kind->required_settings, kind->provider) != 0)
        return -1;
    const char *tls = hr_json_str(settings, "tls");
    if (tls != NULL && strcmp(tls, "require") != 0 && strcmp(tls, "try") != 0) {
        hr_req_error(r, 422, "validation_failed", "settings.tls must be require or try",
                     "settings.tls");
        return -1;
    }
    /* A base URL points Herald's requests somewhere: the SSRF rules apply. */
    const char *base = hr_json_str(settings, "base_url");
    hr_ssrf_policy_t pol = hr_ssrf_policy_parse(r->app->cfg.providers_private_targets);
    const char *pt = hr_json_str(settings, "private_targets");
    if (pt != NULL && strcmp(pt, "deny") != 0 && strcmp(pt, "default") != 0) {
        hr_req_error(r, 422, "validation_failed", "settings.private_targets must be deny or default",
                     "settings.private_targets");
        return -1;
    }
    if (pt != NULL && strcmp(pt, "deny") == 0)
        pol = HR_SSRF_DENY;
    char why[160];
    if (base != NULL && hr_ssrf_check_url(base, pol, why, sizeof why) != 0) {
        snprintf(msg, sizeof msg, "settings.base_url: %s", why);
        hr_req_error(r, 422, "validation_failed", msg, "settings.base_url");
        return -1;
    }
    *kind_out = kind;
    return 0;
}

/* Channels whose provider calls back (Telegram updates, Twilio and WhatsApp
 * delivery receipts): their integration gets a hook secret for its URL. */
static bool integ_has_hook(const char *ch)
{
    return strcmp(ch, "telegram") == 0 || strcmp(ch, "sms") == 0 || strcmp(ch, "whatsapp") == 0;
}

static void integ_put(hr_req_t *r)
{
    char err[256];
    const char *ch = integ_channel(r);
    if (ch == NULL)
        return;
    json_t *body = hr_req_json_object(r, false);
    const integ_kind_t *kind = NULL;
    if (body == NULL || integ_check(r, body, &kind) != 0)
        goto done;
    if (!hr_crypto_ready()) {
        hr_req_error(r, 503, "not_ready", "no master key is configured", NULL);
        goto done;
    }
    char *cred = hr_json_dump(json_object_get(body, "credentials"));
    char *sealed = hr_crypto_seal((const unsigned char *)cred, strlen(cred));
    free(cred);
    json_t *settings = json_object_get(body, "settings");
    char *stext = hr_json_dump(settings != NULL ? settings : json_object());
    char secret[65];
    hr_crypto_random_hex(secret, 24);
    const char *p[6] = {r->auth.environment_id, ch, kind->provider, sealed, stext,
                        integ_has_hook(ch) ? secret : NULL};
    PGresult *res = hr_db_exec(
        &r->app->db,
        "INSERT INTO integrations (environment_id, channel, provider, credentials, settings,"
        " hook_secret) VALUES ($1, $2, $3, $4, $5::jsonb, $6)"
        " ON CONFLICT (environment_id, channel) DO UPDATE SET provider = EXCLUDED.provider,"
        " credentials = EXCLUDED.credentials, settings = EXCLUDED.settings,"
        " hook_secret = COALESCE(integrations.hook_secret, EXCLUDED.hook_secret),"
        " updated_at = clock_timestamp()"
        " RETURNING " INTEG_JSON ", (xmax = 0)",
        6, p, err, sizeof err);
    free(sealed);
    free(stext);
    if (res == NULL) {
        hr_req_db_failed(r, "integration write", err);
        goto done;
    }
    json_t *doc = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    json_t *names = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(body, "credentials"), k, v)
        json_array_append_new(names, json_string(k));
    json_object_set_new(doc, "credentials_set", names);
    int status = PQgetvalue(res, 0, 1)[0] == 't' ? 201 : 200;
    PQclear(res);
    hr_req_reply(r, status, doc, NULL);
done:
    json_decref(body);
}

static void integ_delete(hr_req_t *r)
{
    char err[256];
    const char *ch = integ_channel(r);
    if (ch == NULL)
        return;
    const char *p[2] = {r->auth.environment_id, ch};
    PGresult *res = hr_db_exec(&r->app->db,
                               "DELETE FROM integrations WHERE environment_id = $1 AND channel = $2",
                               2, p, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "integration delete", err);
        return;
    }
    bool gone = atoi(PQcmdTuples(res)) == 1;
    PQclear(res);
    if (!gone)
        hr_req_error(r, 404, "not_found", "this channel has no integration", NULL);
    else
        hr_req_reply(r, 204, NULL, NULL);
}

/* Checks to as an address of channel ch by the rules of the stored user
 * addresses (lib/address.h; discord and slack take an id or a webhook URL).
 * Returns 0, or -1 after a 422 naming "to". */
static int integ_address(hr_req_t *r, const char *ch, const char *to)
{
    hr_channel_t c = HR_CHANNEL_COUNT;
    char why[192] = "is not an address this channel takes", msg[256];
    if (hr_channel_parse(ch, &c) == 0 &&
        hr_address_valid(c, HR_ADDR_ANY, to,
                         hr_ssrf_policy_parse(r->app->cfg.providers_private_targets), why,
                         sizeof why))
        return 0;
    snprintf(msg, sizeof msg, "to %s", why);
    hr_req_error(r, 422, "validation_failed", msg, "to");
    return -1;
}

/* POST /v1/integrations/{channel}/test {"to", "title"?, "body"?}: a test
 * message through the configured provider. It takes the send path like any
 * notification (the same round trip with the rate limit, the monthly quota
 * and the usage count; 429 when a limit refuses it) as a team event whose
 * one destination is {channel: to}, which the router stores and queues; its
 * outcome shows at GET /v1/notifications/{notification_id}. */
static void integ_test(hr_req_t *r)
{
    static const char *const fields[] = {"to", "title", "body", NULL};
    char err[256];
    json_t *n = NULL;
    const char *ch = integ_channel(r);
    if (ch == NULL)
        return;
    json_t *body = hr_req_json_object(r, false);
    const char *to = NULL, *title = NULL, *text = NULL;
    if (body == NULL || hr_req_only_fields(r, body, fields) != 0 ||
        hr_req_string_field(r, body, "to", true, 2048, &to) != 0 ||
        hr_req_string_field(r, body, "title", false, 500, &title) != 0 ||
        hr_req_string_field(r, body, "body", false, 20000, &text) != 0 ||
        integ_address(r, ch, to) != 0)
        goto done;
    const char *p[2] = {r->auth.environment_id, ch};
    PGresult *res = hr_db_exec(&r->app->db,
                               "SELECT 1 FROM integrations WHERE environment_id = $1 AND channel = $2",
                               2, p, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "test message", err);
        goto done;
    }
    bool found = PQntuples(res) == 1;
    PQclear(res);
    if (!found) {
        hr_req_error(r, 404, "not_found", "this channel has no integration to test", NULL);
        goto done;
    }
    /* channels only feeds the usage count: a test event's destination
     * decides its one delivery (workers/events.c). */
    n = json_pack("{s:{s:s}, s:s, s:s, s:s, s:{}, s:[s], s:{s:b, s:b, s:{s:s}}}", "user", "id", "",
                  "type", "herald.test", "title", title ? title : "Herald test message", "body",
                  text ? text : "If you can read this, the integration works.", "data",
                  "channels", ch, "event", "team", 1, "test", 1, "destinations", ch, to);
    hr_assert(n != NULL);
    hr_enqueue_item_t item = {.n = n, .idem = NULL};
    hr_enqueue_limits_t lim;
    hr_enqueue_status_t st = hr_enqueue(r, &item, 1, &lim, err, sizeof err);
    if (st != HR_ENQ_OK) {
        hr_enqueue_reply_refused(r, st, &lim, err);
        goto done;
    }
    char did[HR_UUID_STRLEN];
    hr_uuid_derive(item.id, ch, did);
    hr_req_reply(r, 202,
                 json_pack("{s:s, s:s, s:s}", "notification_id", item.id, "delivery_id", did,
                           "status", "accepted"),
                 NULL);
done:
    json_decref(n);
    json_decref(body);
}

const hr_route_t hr_routes_integrations[] = {
    {"GET", "/v1/integrations/{channel}", integ_get},
    {"PUT", "/v1/integrations/{channel}", integ_put},
    {"DELETE", "/v1/integrations/{channel}", integ_delete},
    {"POST", "/v1/integrations/{channel}/test", integ_test},
    {NULL, NULL, NULL},
};
