/* hooks: callbacks from providers. POST /v1/hooks/telegram/{secret}, the
 * Telegram bot's webhook: "/start <code>" from a chat links that chat to the
 * user the code was made for (POST /v1/users/{id}/telegram-link). Delivery
 * receipts: POST /v1/hooks/twilio/{secret} (SMS status callbacks) and
 * POST|GET /v1/hooks/whatsapp/{secret} (Cloud API status webhooks and their
 * verification handshake) move a sent delivery to delivered or failed and
 * emit notification.delivered / notification.failed. The secret in the path
 * names the integration (and so the environment); providers retry anything
 * but 2xx, so every well-formed, authentic callback is answered 200. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "handlers.h"
#include "jsonutil.h"
#include "log.h"
#include "member_auth.h"
#include "query.h"
#include "whevent.h"

typedef struct hook_integ {
    char env[HR_UUID_STRLEN];
    json_t *creds;    /* opened credentials (owned; hook_integ_free drops them) */
    json_t *settings; /* (owned) */
} hook_integ_t;

static void hook_integ_free(hook_integ_t *h)
{
    json_decref(h->creds);
    json_decref(h->settings);
    h->creds = h->settings = NULL;
}

/* Finds the integration of channel whose hook secret is the path's {secret}
 * and opens its credentials. The lookup goes by a digest of the secret and
 * the secret itself is then compared in constant time, so response times
 * tell nothing about it. Returns 0, or -1 after replying 404/503. */
static int hook_integ_find(hr_req_t *r, const char *channel, const char *provider, hook_integ_t *out)
{
    char err[256];
    const char *secret = r->params[0];
    memset(out, 0, sizeof *out);
    if (strlen(secret) < 16 || strlen(secret) > 128) {
        hr_req_error(r, 404, "not_found", "no such hook", NULL);
        return -1;
    }
    const char *p[3] = {secret, channel, provider};
    PGresult *res = hr_db_exec(&r->app->db,
                               "SELECT environment_id, hook_secret, credentials, settings::text"
                               " FROM integrations"
                               " WHERE sha256(hook_secret::bytea) = sha256($1::text::bytea)"
                               " AND channel = $2 AND provider = $3",
                               3, p, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "hook lookup", err);
        return -1;
    }
    if (PQntuples(res) != 1 || !hr_crypto_streq(PQgetvalue(res, 0, 1), secret)) {
        PQclear(res);
        hr_req_error(r, 404, "not_found", "no such hook", NULL);
        return -1;
    }
    snprintf(out->env, sizeof out->env, "%s", PQgetvalue(res, 0, 0));
    out->settings = json_loads(PQgetvalue(res, 0, 3), 0, NULL);
    size_t len = 0;
    unsigned char *plain = hr_crypto_open(PQgetvalue(res, 0, 2), &len);
    PQclear(res);
    if (plain != NULL) {
        out->creds = json_loadb((const char *)plain, len, 0, NULL);
        hr_crypto_free_secret(plain, len);
    }
    if (!json_is_object(out->creds)) {
        hook_integ_free(out);
        hr_log(HR_LOG_ERROR, r->request_id, "hook: the %s integration's credentials cannot be opened",
               channel);
        hr_req_error(r, 503, "not_ready", "the integration's credentials cannot be opened", NULL);
        return -1;
    }
    return 0;
}

static void hooks_telegram(hr_req_t *r)
{
    hook_integ_t in;
    if (hook_integ_find(r, "telegram", "telegram", &in) != 0)
        return;
    char env[HR_UUID_STRLEN], token[256] = "";
    snprintf(env, sizeof env, "%s", in.env);
    const char *want = hr_json_str(in.settings, "webhook_secret_token");
    if (want != NULL)
        snprintf(token, sizeof token, "%s", want);
    hook_integ_free(&in);
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
        char err[256];
        PGresult *res = hr_db_exec(&r->app->db,
                                   "UPDATE end_users SET telegram_chat_id = $3,"
                                   " telegram_link_code = NULL, updated_at = now()"
                                   " WHERE environment_id = $1 AND telegram_link_code = $2"
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

/* ------------------------------------------------------------ receipts */

/* The integration a receipt hook's path secret names. */
/* What a receipt did to its delivery. */
typedef enum { RECEIPT_UNKNOWN, RECEIPT_CHANGED, RECEIPT_REPEAT, RECEIPT_IGNORED } receipt_t;

static const char *receipt_name(receipt_t o)
{
    switch (o) {
    case RECEIPT_CHANGED: return "changed";
    case RECEIPT_REPEAT: return "repeat";
    case RECEIPT_IGNORED: return "ignored";
    default: return "unknown_message";
    }
}

/* Applies a receipt: the delivery of env and channel with the provider's
 * message id moves from sent to state ("delivered" or "failed", with error),
 * never backwards, and its outcome event is emitted. A repeat of the state
 * the delivery is already in emits the event again, which inserts nothing
 * when it was stored the first time (derived ids) and recovers it when it
 * was not. Returns 0 with *outcome, or -1 after replying 503/500. */
static int receipt_apply(hr_req_t *r, const char *env, const char *channel, const char *msgid,
                         const char *state, const char *error, receipt_t *outcome)
{
    char err[256];
    *outcome = RECEIPT_UNKNOWN;
    const char *p[3] = {env, channel, msgid};
    PGresult *res = hr_db_exec(&r->app->db,
                               "SELECT id, notification_id, status, address, attempts, error"
                               " FROM deliveries WHERE environment_id = $1 AND channel = $2"
                               " AND provider_message_id = $3 ORDER BY id DESC LIMIT 1",
                               3, p, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "receipt lookup", err);
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    char id[HR_UUID_STRLEN], nid[HR_UUID_STRLEN], status[16];
    snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
    snprintf(nid, sizeof nid, "%s", PQgetvalue(res, 0, 1));
    snprintf(status, sizeof status, "%s", PQgetvalue(res, 0, 2));
    const char *address = hr_arena_printf(r->arena, "%s", PQgetvalue(res, 0, 3));
    int attempts = atoi(PQgetvalue(res, 0, 4));
    const char *stored_error =
        PQgetisnull(res, 0, 5) ? NULL : hr_arena_printf(r->arena, "%s", PQgetvalue(res, 0, 5));
    PQclear(res);
    if (json_object_get(r->log_fields, "delivery_id") == NULL) {
        if (r->log_fields == NULL)
            r->log_fields = json_object();
        json_object_set_new(r->log_fields, "delivery_id", json_string(id));
    }
    if (strcmp(status, state) == 0) {
        *outcome = RECEIPT_REPEAT;
        error = stored_error;
    } else if (strcmp(status, "sent") != 0) {
        *outcome = RECEIPT_IGNORED; /* not sent yet, or already settled otherwise */
        return 0;
    } else {
        const char *u[3] = {id, state, error};
        res = hr_db_exec(&r->app->db,
                         "UPDATE deliveries SET status = $2, updated_at = now(),"
                         " delivered_at = CASE WHEN $2 = 'delivered' THEN now() END,"
                         " error = CASE WHEN $2 = 'failed' THEN $3 ELSE error END"
                         " WHERE id = $1 AND status = 'sent' RETURNING 1",
                         3, u, err, sizeof err);
        if (res == NULL) {
            hr_req_db_failed(r, "receipt update", err);
            return -1;
        }
        bool changed = PQntuples(res) == 1;
        PQclear(res);
        if (!changed) {
            *outcome = RECEIPT_IGNORED; /* another receipt settled it meanwhile */
            return 0;
        }
        *outcome = RECEIPT_CHANGED;
    }
    hr_whevent_t ev = {.environment_id = env,
                       .notification_id = nid,
                       .delivery_id = id,
                       .channel = channel,
                       .status = state,
                       .address = address,
                       .attempts = attempts,
                       .provider_message_id = msgid,
                       .error = strcmp(state, "failed") == 0 ? error : NULL};
    int stored = 0;
    int rc = hr_whevent_emit(&r->app->db, &r->app->redis, &ev, &stored, err, sizeof err);
    if (rc == -1) {
        /* The provider retries a 5xx: the repeat emits it again. */
        hr_req_db_failed(r, "receipt event", err);
        return -1;
    }
    if (rc == 1)
        hr_log_json(HR_LOG_WARN, r->request_id, "webhook events not queued now",
                    json_pack("{s:s, s:s}", "delivery_id", id, "error", err));
    return 0;
}

/* The receipt's answer to the provider: 200 {"ok", "result", "status"?}. */
static void receipt_reply(hr_req_t *r, receipt_t o, const char *state)
{
    if (r->log_fields == NULL)
        r->log_fields = json_object();
    json_object_set_new(r->log_fields, "receipt", json_string(receipt_name(o)));
    hr_req_reply(r, 200,
                 json_pack("{s:b, s:s, s:s?}", "ok", 1, "result", receipt_name(o), "status",
                           o == RECEIPT_CHANGED || o == RECEIPT_REPEAT ? state : NULL),
                 NULL);
}

/* A message id or error code from a provider: 1 to max characters of
 * [A-Za-z0-9._:=+/-]. */
static bool receipt_token(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("._:=+/-", *s) != NULL))
            return false;
    return true;
}

/* ---------------------------------------------------------------- Twilio */

typedef struct form_pair {
    const char *key, *value;
} form_pair_t;

static int form_cmp(const void *a, const void *b)
{
    const form_pair_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c != 0 ? c : strcmp(x->value, y->value);
}

#define FORM_MAX_PAIRS 128

/* Reads an application/x-www-form-urlencoded body into pairs sorted by key
 * (arena memory). Returns the number of pairs, or -1 after replying
 * 400/413/415. */
static int form_read(hr_req_t *r, form_pair_t *pairs, size_t max)
{
    char *buf;
    size_t got;
    if (hr_req_read_typed(r, "application/x-www-form-urlencoded", "", &buf, &got) != 0)
        return -1;
    size_t n = 0;
    for (const char *q = buf; q < buf + got;) {
        size_t plen = strcspn(q, "&"), klen = strcspn(q, "=&");
        if (plen > 0) {
            if (n == max) {
                hr_req_error(r, 400, "invalid_body", "the form has too many fields", NULL);
                return -1;
            }
            const char *k = hr_query_decode(r, q, klen);
            const char *v = klen < plen ? hr_query_decode(r, q + klen + 1, plen - klen - 1) : "";
            if (k == NULL || v == NULL) {
                char msg[160];
                snprintf(msg, sizeof msg, "the form field %.60s is not valid percent-encoding",
                         k != NULL ? k : "name");
                hr_req_error(r, 400, "invalid_body", msg, k);
                return -1;
            }
            pairs[n].key = k;
            pairs[n].value = v;
            n++;
        }
        q += plen;
        if (*q == '&')
            q++;
    }
    qsort(pairs, n, sizeof pairs[0], form_cmp);
    return (int)n;
}

static const char *form_get(const form_pair_t *pairs, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(pairs[i].key, key) == 0)
            return pairs[i].value;
    return NULL;
}

/* The URL Twilio was given for this callback: [api] public_url and the
 * path (the Twilio sender builds StatusCallback from the same setting);
 * without it, the scheme, host and port nginx saw (nginx passes $host,
 * which has no port). */
static const char *twilio_url(hr_req_t *r)
{
    const char *pub = r->app->cfg.api_public_url;
    size_t plen = strlen(pub);
    while (plen > 0 && pub[plen - 1] == '/')
        plen--;
    const char *q = r->query != NULL && r->query[0] ? r->query : NULL;
    if (plen > 0)
        return hr_arena_printf(r->arena, "%.*s%s%s%s", (int)plen, pub, r->path, q ? "?" : "",
                               q ? q : "");
    const char *scheme = hr_req_param(r, "REQUEST_SCHEME");
    const char *host = hr_req_param(r, "HTTP_HOST");
    const char *port = hr_req_param(r, "SERVER_PORT");
    scheme = scheme != NULL ? scheme : "https";
    host = host != NULL ? host : "";
    const char *colon = strrchr(host, ':');
    bool has_port = colon != NULL && strchr(colon, ']') == NULL;
    bool default_port = port == NULL || port[0] == '\0' ||
                        strcmp(port, strcmp(scheme, "https") == 0 ? "443" : "80") == 0;
    return hr_arena_printf(r->arena, "%s://%s%s%s%s%s%s", scheme, host,
                           has_port || default_port ? "" : ":", has_port || default_port ? "" : port,
                           r->path, q ? "?" : "", q ? q : "");
}

/* X-Twilio-Signature: base64 of HMAC-SHA1(auth token, URL followed by every
 * POST field, sorted by name, as name and value). */
static bool twilio_signature_ok(hr_req_t *r, const char *token, const form_pair_t *pairs, int n)
{
    const char *given = hr_req_param(r, "HTTP_X_TWILIO_SIGNATURE");
    if (given == NULL || token == NULL)
        return false;
    const char *url = twilio_url(r);
    size_t len = strlen(url);
    for (int i = 0; i < n; i++)
        len += strlen(pairs[i].key) + strlen(pairs[i].value);
    char *data = hr_arena_alloc(r->arena, len + 1), *d = data;
    d = stpcpy(d, url);
    for (int i = 0; i < n; i++) {
        d = stpcpy(d, pairs[i].key);
        d = stpcpy(d, pairs[i].value);
    }
    unsigned char mac[HR_CRYPTO_SHA1_LEN];
    hr_crypto_hmac_sha1(token, strlen(token), data, len, mac);
    char b64[sodium_base64_ENCODED_LEN(HR_CRYPTO_SHA1_LEN, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    return hr_crypto_streq(given, b64);
}

/* POST /v1/hooks/twilio/{secret}: a Twilio SMS status callback. delivered →
 * delivered; undelivered and failed → failed with the error code; the
 * other statuses (queued, sent, …) change nothing. */
static void hooks_twilio(hr_req_t *r)
{
    hook_integ_t in;
    if (hook_integ_find(r, "sms", "twilio", &in) != 0)
        return;
    form_pair_t pairs[FORM_MAX_PAIRS];
    int n = form_read(r, pairs, FORM_MAX_PAIRS);
    if (n < 0)
        goto done;
    if (!twilio_signature_ok(r, hr_json_str(in.creds, "auth_token"), pairs, n)) {
        hr_req_error(r, 401, "unauthorized", "the X-Twilio-Signature does not match", NULL);
        goto done;
    }
    const char *sid = form_get(pairs, n, "MessageSid");
    const char *status = form_get(pairs, n, "MessageStatus");
    const char *code = form_get(pairs, n, "ErrorCode");
    if (sid == NULL || !receipt_token(sid, 64)) {
        hr_req_error(r, 400, "validation_failed",
                     "MessageSid is required: 1 to 64 letters, digits and ._:=+/-", "MessageSid");
        goto done;
    }
    if (status == NULL || !receipt_token(status, 32)) {
        hr_req_error(r, 400, "validation_failed", "MessageStatus is required: a status word",
                     "MessageStatus");
        goto done;
    }
    if (code != NULL && code[0] != '\0' && !receipt_token(code, 16)) {
        hr_req_error(r, 400, "validation_failed", "ErrorCode must be a Twilio error code",
                     "ErrorCode");
        goto done;
    }
    const char *state = NULL, *error = NULL;
    if (strcmp(status, "delivered") == 0) {
        state = "delivered";
    } else if (strcmp(status, "undelivered") == 0 || strcmp(status, "failed") == 0) {
        state = "failed";
        error = code != NULL && code[0] != '\0'
                    ? hr_arena_printf(r->arena, "twilio_%s: %s", code, status)
                    : hr_arena_printf(r->arena, "twilio: %s", status);
    }
    receipt_t o = RECEIPT_IGNORED;
    if (state != NULL && receipt_apply(r, in.env, "sms", sid, state, error, &o) != 0)
        goto done;
    receipt_reply(r, o, state);
done:
    hook_integ_free(&in);
}

/* -------------------------------------------------------------- WhatsApp */

/* GET /v1/hooks/whatsapp/{secret}?hub.mode=subscribe&hub.verify_token=…
 * &hub.challenge=…: Meta's verification of the callback URL. The token must
 * be the integration's credentials.verify_token; the challenge is echoed. */
static void hooks_whatsapp_verify(hr_req_t *r)
{
    hook_integ_t in;
    if (hook_integ_find(r, "whatsapp", "whatsapp", &in) != 0)
        return;
    const char *mode = hr_query_get(r, "hub.mode");
    const char *token = hr_query_get(r, "hub.verify_token");
    const char *challenge = hr_query_get(r, "hub.challenge");
    const char *want = hr_json_str(in.creds, "verify_token");
    if (mode == NULL || strcmp(mode, "subscribe") != 0) {
        hr_req_error(r, 400, "validation_failed", "hub.mode must be subscribe", "hub.mode");
    } else if (challenge == NULL || !receipt_token(challenge, 128)) {
        hr_req_error(r, 400, "validation_failed",
                     "hub.challenge is required: 1 to 128 letters, digits and ._:=+/-",
                     "hub.challenge");
    } else if (token == NULL || want == NULL || !hr_crypto_streq(token, want)) {
        hr_req_error(r, 403, "forbidden",
                     want == NULL ? "the integration has no credentials.verify_token"
                                  : "hub.verify_token does not match",
                     "hub.verify_token");
    } else {
        char head[128];
        int len = snprintf(head, sizeof head,
                           "Status: 200 OK\r\nContent-Type: text/plain\r\n"
                           "Cache-Control: no-store\r\n\r\n");
        FCGX_PutStr(head, len, r->fcgx->out);
        FCGX_PutStr(challenge, (int)strlen(challenge), r->fcgx->out);
        r->status = 200;
    }
    hook_integ_free(&in);
}

/* X-Hub-Signature-256: "sha256=" and the hex HMAC-SHA256 of the raw body
 * under the app secret. */
static bool whatsapp_signature_ok(hr_req_t *r, const char *secret, const char *body, size_t len)
{
    const char *given = hr_req_param(r, "HTTP_X_HUB_SIGNATURE_256");
    if (given == NULL || secret == NULL || strncmp(given, "sha256=", 7) != 0)
        return false;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[2 * sizeof mac + 1], lower[2 * sizeof mac + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    snprintf(lower, sizeof lower, "%s", given + 7);
    for (char *c = lower; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c - 'A' + 'a');
    return strlen(given + 7) == 2 * sizeof mac && hr_crypto_streq(lower, hex);
}

/* One status of a webhook, checked. */
typedef struct wa_status {
    const char *id, *state, *error; /* state NULL: changes nothing */
} wa_status_t;

#define WA_MAX_STATUSES 256

/* Checks the payload's shape and collects its statuses (entry[].changes[]
 * .value.statuses[]; changes without statuses, e.g. incoming messages, are
 * skipped). Returns the number of statuses, or -1 after a 400 naming the
 * field. */
static int whatsapp_statuses(hr_req_t *r, const json_t *body, wa_status_t *out, size_t max)
{
    char field[128], msg[256];
    const json_t *entries = json_object_get(body, "entry");
    if (!json_is_array(entries)) {
        hr_req_error(r, 400, "validation_failed", "entry must be an array", "entry");
        return -1;
    }
    size_t n = 0, i, j, k;
    const json_t *e, *c, *s;
    json_array_foreach(entries, i, e) {
        const json_t *changes = json_object_get(e, "changes");
        if (!json_is_array(changes)) {
            snprintf(field, sizeof field, "entry[%zu].changes", i);
            goto bad_array;
        }
        json_array_foreach(changes, j, c) {
            const json_t *statuses = json_object_get(json_object_get(c, "value"), "statuses");
            if (statuses == NULL)
                continue;
            if (!json_is_array(statuses)) {
                snprintf(field, sizeof field, "entry[%zu].changes[%zu].value.statuses", i, j);
                goto bad_array;
            }
            json_array_foreach(statuses, k, s) {
                const char *id = hr_json_str(s, "id"), *st = hr_json_str(s, "status");
                if (id == NULL || !receipt_token(id, 256)) {
                    snprintf(field, sizeof field, "entry[%zu].changes[%zu].value.statuses[%zu].id", i,
                             j, k);
                    snprintf(msg, sizeof msg, "%s must be a message id (wamid.…)", field);
                    hr_req_error(r, 400, "validation_failed", msg, field);
                    return -1;
                }
                if (st == NULL || !receipt_token(st, 32)) {
                    snprintf(field, sizeof field,
                             "entry[%zu].changes[%zu].value.statuses[%zu].status", i, j, k);
                    snprintf(msg, sizeof msg, "%s must be a status word", field);
                    hr_req_error(r, 400, "validation_failed", msg, field);
                    return -1;
                }
                if (n == max) {
                    hr_req_error(r, 400, "validation_failed", "too many statuses in one callback",
                                 "entry");
                    return -1;
                }
                wa_status_t *o = &out[n++];
                o->id = id;
                o->error = NULL;
                /* read implies delivered (its delivered status may be lost). */
                if (strcmp(st, "delivered") == 0 || strcmp(st, "read") == 0) {
                    o->state = "delivered";
                } else if (strcmp(st, "failed") == 0) {
                    const json_t *err = json_array_get(json_object_get(s, "errors"), 0);
                    const json_t *code = json_object_get(err, "code");
                    const char *title = hr_json_str(err, "title");
                    o->state = "failed";
                    o->error = hr_arena_printf(
                        r->arena, "whatsapp_%lld: %.200s",
                        json_is_integer(code) ? (long long)json_integer_value(code) : 0LL,
                        title != NULL ? title : "failed");
                } else {
                    o->state = NULL;
                }
            }
        }
    }
    return (int)n;
bad_array:
    snprintf(msg, sizeof msg, "%s must be an array", field);
    hr_req_error(r, 400, "validation_failed", msg, field);
    return -1;
}

/* POST /v1/hooks/whatsapp/{secret}: WhatsApp Cloud API status webhooks,
 * signed with the app secret (credentials.app_secret). delivered and read →
 * delivered; failed → failed with the error code; sent changes nothing. */
static void hooks_whatsapp(hr_req_t *r)
{
    hook_integ_t in;
    json_t *body = NULL;
    if (hook_integ_find(r, "whatsapp", "whatsapp", &in) != 0)
        return;
    char *raw;
    size_t len;
    if (hr_req_read_body(r, &raw, &len) != 0)
        goto done;
    if (!whatsapp_signature_ok(r, hr_json_str(in.creds, "app_secret"), raw, len)) {
        hr_req_error(r, 401, "unauthorized",
                     hr_json_str(in.creds, "app_secret") == NULL
                         ? "the integration has no credentials.app_secret to check signatures with"
                         : "the X-Hub-Signature-256 does not match",
                     NULL);
        goto done;
    }
    json_error_t jerr;
    body = json_loadb(raw, len, 0, &jerr);
    if (!json_is_object(body)) {
        hr_req_error(r, 400, "invalid_json", "the body must be a JSON object", NULL);
        goto done;
    }
    wa_status_t *st = hr_arena_alloc(r->arena, WA_MAX_STATUSES * sizeof *st);
    int n = whatsapp_statuses(r, body, st, WA_MAX_STATUSES);
    if (n < 0)
        goto done;
    int changed = 0;
    for (int i = 0; i < n; i++) {
        receipt_t o;
        if (st[i].state == NULL)
            continue;
        if (receipt_apply(r, in.env, "whatsapp", st[i].id, st[i].state, st[i].error, &o) != 0)
            goto done;
        changed += o == RECEIPT_CHANGED;
    }
    if (r->log_fields == NULL)
        r->log_fields = json_object();
    json_object_set_new(r->log_fields, "receipts", json_integer(n));
    hr_req_reply(r, 200, json_pack("{s:b, s:i, s:i}", "ok", 1, "statuses", n, "changed", changed),
                 NULL);
done:
    json_decref(body);
    hook_integ_free(&in);
}

const hr_route_t hr_routes_hooks[] = {
    {"POST", "/v1/hooks/telegram/{secret}", hooks_telegram},
    {"POST", "/v1/hooks/twilio/{secret}", hooks_twilio},
    {"POST", "/v1/hooks/whatsapp/{secret}", hooks_whatsapp},
    {"GET", "/v1/hooks/whatsapp/{secret}", hooks_whatsapp_verify},
    {NULL, NULL, NULL},
};
