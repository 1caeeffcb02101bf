/* notification: field-by-field validation of a send request. Every refusal
 * names the field, so a client can fix its request without guessing. */
#include "notification.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "render.h"

#define NOTIF_MAX_USER_ID 255
#define NOTIF_MAX_TYPE 128
#define NOTIF_MAX_TITLE 500
#define NOTIF_MAX_BODY 20000
#define NOTIF_MAX_IDEM 255

static json_t *notif_reject(hr_reject_t *rej, const char *prefix, const char *field,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static json_t *notif_reject(hr_reject_t *rej, const char *prefix, const char *field,
                            const char *fmt, ...)
{
    rej->status = 422;
    rej->code = "validation_failed";
    snprintf(rej->field, sizeof rej->field, "%s%s", prefix, field);
    /* A whole batch item is named "notifications[3]", not "notifications[3]." */
    size_t fl = strlen(rej->field);
    if (field[0] == '\0' && fl > 0 && rej->field[fl - 1] == '.')
        rej->field[fl - 1] = '\0';
    int n = snprintf(rej->message, sizeof rej->message, "%s ", rej->field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rej->message + n, sizeof rej->message - (size_t)n, fmt, ap);
    va_end(ap);
    return NULL;
}

/* Length in characters of a UTF-8 string (jansson guarantees valid UTF-8). */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

bool hr_valid_email(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 254 || has_control(s))
        return false;
    const char *at = strrchr(s, '@');
    if (at == NULL || at == s || at - s > 64 || strchr(s, '@') != at)
        return false;
    const char *dom = at + 1;
    size_t dn = strlen(dom);
    if (dn < 3 || strchr(dom, '.') == NULL || dom[0] == '.' || dom[dn - 1] == '.' ||
        strstr(dom, ".."))
        return false;
    for (const char *p = s; *p; p++)
        if (*p == ' ' || *p == '<' || *p == '>' || *p == '(' || *p == ')' || *p == ',' ||
            *p == ';' || *p == ':' || *p == '\\' || *p == '"' || *p == '[' || *p == ']')
            return false;
    for (const char *p = dom; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return false;
    }
    return true;
}

bool hr_valid_e164(const char *s)
{
    if (s[0] != '+' || s[1] < '1' || s[1] > '9')
        return false;
    size_t digits = 0;
    for (const char *p = s + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        digits++;
    }
    return digits >= 8 && digits <= 15;
}

static bool type_valid(const char *s)
{
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == ':'))
            return false;
    }
    return true;
}

/* A required or optional string member with a length range in characters.
 * Returns the string, NULL when absent and optional; *bad is set on refusal. */
static const char *notif_string(const json_t *obj, const char *key, const char *prefix,
                                const char *field, bool required, size_t min, size_t max,
                                hr_reject_t *rej, bool *bad)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || (json_is_null(v) && !required)) {
        if (required) {
            *bad = true;
            notif_reject(rej, prefix, field, "is required");
        }
        return NULL;
    }
    if (!json_is_string(v)) {
        *bad = true;
        notif_reject(rej, prefix, field, "must be a string");
        return NULL;
    }
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) {
        *bad = true;
        notif_reject(rej, prefix, field, "must not contain NUL characters");
        return NULL;
    }
    size_t n = utf8_len(s);
    if (n < min || n > max) {
        *bad = true;
        if (n < min)
            notif_reject(rej, prefix, field, "must not be empty");
        else
            notif_reject(rej, prefix, field, "must be at most %zu characters", max);
        return NULL;
    }
    return s;
}

static const char *const top_fields[] = {"user", "type", "title", "body", "data", "channels",
                                         "idempotencyKey", NULL};
static const char *const user_fields[] = {"id", "email", "phone", "locale", NULL};

static const char *unknown_member(const json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(key, *a) == 0)
                ok = true;
        if (!ok)
            return key;
    }
    return NULL;
}

static json_t *notif_user(const json_t *obj, const char *prefix, hr_reject_t *rej)
{
    json_t *u = json_object_get(obj, "user");
    bool bad = false;
    if (u == NULL)
        return notif_reject(rej, prefix, "user", "is required");
    if (!json_is_object(u))
        return notif_reject(rej, prefix, "user", "must be an object");
    const char *unknown = unknown_member(u, user_fields);
    if (unknown != NULL) {
        char f[96];
        snprintf(f, sizeof f, "user.%.80s", unknown);
        return notif_reject(rej, prefix, f, "is not a known field");
    }
    const char *id = notif_string(u, "id", prefix, "user.id", true, 1, NOTIF_MAX_USER_ID, rej, &bad);
    if (bad)
        return NULL;
    if (has_control(id))
        return notif_reject(rej, prefix, "user.id", "must not contain control characters");
    const char *email = notif_string(u, "email", prefix, "user.email", false, 1, 254, rej, &bad);
    if (bad)
        return NULL;
    if (email != NULL && !hr_valid_email(email))
        return notif_reject(rej, prefix, "user.email", "is not a valid email address");
    const char *phone = notif_string(u, "phone", prefix, "user.phone", false, 1, 16, rej, &bad);
    if (bad)
        return NULL;
    if (phone != NULL && !hr_valid_e164(phone))
        return notif_reject(rej, prefix, "user.phone",
                            "must be an E.164 number such as +14155550100");
    /* The locale picks the template variant (lib/render.h). */
    const char *locale = notif_string(u, "locale", prefix, "user.locale", false, 1, 35, rej, &bad);
    if (bad)
        return NULL;
    if (locale != NULL && !hr_render_locale_valid(locale))
        return notif_reject(rej, prefix, "user.locale", "must be a locale tag such as en or pt-BR");
    json_t *out = json_pack("{s:s}", "id", id);
    hr_assert(out != NULL);
    if (email != NULL)
        json_object_set_new(out, "email", json_string(email));
    if (phone != NULL)
        json_object_set_new(out, "phone", json_string(phone));
    if (locale != NULL)
        json_object_set_new(out, "locale", json_string(locale));
    return out;
}

static json_t *notif_channels(const json_t *obj, const json_t *user, const char *prefix,
                              hr_reject_t *rej)
{
    json_t *v = json_object_get(obj, "channels");
    json_t *out = json_array();
    hr_assert(out != NULL);
    if (v == NULL || json_is_null(v)) {
        json_array_append_new(out, json_string("in_app"));
        if (json_object_get(user, "email") != NULL)
            json_array_append_new(out, json_string("email"));
        if (json_object_get(user, "phone") != NULL)
            json_array_append_new(out, json_string("sms"));
        return out;
    }
    if (!json_is_array(v)) {
        json_decref(out);
        return notif_reject(rej, prefix, "channels", "must be an array of channel names");
    }
    if (json_array_size(v) == 0) {
        json_decref(out);
        return notif_reject(rej, prefix, "channels", "must name at least one channel");
    }
    bool seen[HR_CHANNEL_COUNT] = {false};
    size_t i;
    json_t *c;
    json_array_foreach(v, i, c) {
        char f[32];
        snprintf(f, sizeof f, "channels[%zu]", i);
        hr_channel_t ch;
        if (!json_is_string(c)) {
            json_decref(out);
            return notif_reject(rej, prefix, f, "must be a string");
        }
        if (hr_channel_parse(json_string_value(c), &ch) != 0) {
            json_decref(out);
            return notif_reject(rej, prefix, f,
                                "is not a channel (email, sms, telegram, discord, whatsapp, "
                                "slack, webhook, in_app)");
        }
        if (seen[ch]) {
            json_decref(out);
            return notif_reject(rej, prefix, f, "repeats a channel");
        }
        seen[ch] = true;
        json_array_append_new(out, json_string(hr_channel_name(ch)));
    }
    return out;
}

json_t *hr_notification_validate(const json_t *obj, const char *prefix, hr_reject_t *rej)
{
    memset(rej, 0, sizeof *rej);
    bool bad = false;
    json_t *user = NULL, *channels = NULL, *out = NULL;
    if (!json_is_object(obj))
        return notif_reject(rej, prefix, prefix[0] ? "" : "body", "must be a JSON object");
    const char *unknown = unknown_member(obj, top_fields);
    if (unknown != NULL) {
        char f[96];
        snprintf(f, sizeof f, "%.90s", unknown);
        return notif_reject(rej, prefix, f, "is not a known field");
    }
    user = notif_user(obj, prefix, rej);
    if (user == NULL)
        goto fail;
    const char *type = notif_string(obj, "type", prefix, "type", true, 1, NOTIF_MAX_TYPE, rej, &bad);
    if (bad)
        goto fail;
    if (!type_valid(type)) {
        notif_reject(rej, prefix, "type",
                     "must start with a-z or 0-9 and contain only a-z 0-9 . _ - :");
        goto fail;
    }
    const char *title = notif_string(obj, "title", prefix, "title", true, 1, NOTIF_MAX_TITLE, rej, &bad);
    if (bad)
        goto fail;
    const char *body = notif_string(obj, "body", prefix, "body", false, 0, NOTIF_MAX_BODY, rej, &bad);
    if (bad)
        goto fail;
    const char *idem = notif_string(obj, "idempotencyKey", prefix, "idempotencyKey", false, 1,
                                    NOTIF_MAX_IDEM, rej, &bad);
    if (bad)
        goto fail;
    json_t *data = json_object_get(obj, "data");
    if (data != NULL && !json_is_null(data) && !json_is_object(data)) {
        notif_reject(rej, prefix, "data", "must be an object");
        goto fail;
    }
    channels = notif_channels(obj, user, prefix, rej);
    if (channels == NULL)
        goto fail;
    json_t *data_out = data != NULL && !json_is_null(data) ? json_incref(data) : json_object();
    out = json_pack("{s:o, s:s, s:s, s:s, s:o, s:o}", "user", user, "type", type, "title", title,
                    "body", body ? body : "", "data", data_out, "channels", channels);
    hr_assert(out != NULL);
    if (idem != NULL)
        json_object_set_new(out, "idempotencyKey", json_string(idem));
    return out;
fail:
    json_decref(user);
    json_decref(channels);
    return NULL;
}

json_t *hr_notification_parse(const char *body, size_t len, hr_reject_t *rej)
{
    memset(rej, 0, sizeof *rej);
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        rej->status = 400;
        rej->code = "invalid_json";
        snprintf(rej->message, sizeof rej->message, "malformed JSON at line %d, column %d: %s",
                 jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    json_t *out = hr_notification_validate(root, "", rej);
    json_decref(root);
    return out;
}
