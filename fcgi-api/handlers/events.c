/* events: POST /v1/events — "something happened" with a type (or a
 * category), rich fields, a description and optionally a user. The event
 * type's configuration (channels, category, critical) decides the
 * deliveries, in the router; without a user the event goes to the
 * environment's team destinations. Same single Redis round trip as
 * notifications: the normalised event is a notification with an "event"
 * member. */
#include <stdio.h>
#include <string.h>

#include "content.h"
#include "enqueue.h"
#include "handlers.h"
#include "jsonutil.h"
#include "log.h"
#include "notification.h"
#include "render.h"

#define EVENT_MAX_FIELDS 25
#define EVENT_FIELD_NAME_MAX 256
#define EVENT_FIELD_VALUE_MAX 1024

/* Validates the optional user: {id, email?, phone?, locale?}. Returns the
 * normalised user (caller decrefs), or NULL after a 422. */
static json_t *event_user(hr_req_t *r, const json_t *u)
{
    static const char *const fields[] = {"id", "email", "phone", "locale", NULL};
    if (!json_is_object(u)) {
        hr_content_invalid(r, "user", "user must be an object");
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)u, key, v)
    {
        bool ok = false;
        for (const char *const *a = fields; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok) {
            char f[96];
            snprintf(f, sizeof f, "user.%.80s", key);
            hr_content_invalid(r, f, "%s is not a known field", f);
            return NULL;
        }
    }
    const char *id = hr_json_str(u, "id"), *email = hr_json_str(u, "email");
    const char *phone = hr_json_str(u, "phone"), *locale = hr_json_str(u, "locale");
    if (id == NULL || id[0] == '\0' || strlen(id) > 255 ||
        strlen(id) != json_string_length(json_object_get(u, "id"))) {
        hr_content_invalid(r, "user.id", "user.id is required: 1 to 255 characters");
        return NULL;
    }
    for (const char *p = id; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            hr_content_invalid(r, "user.id", "user.id must not contain control characters");
            return NULL;
        }
    if ((json_object_get(u, "email") && !json_is_null(json_object_get(u, "email")) &&
         (email == NULL || !hr_valid_email(email)))) {
        hr_content_invalid(r, "user.email", "user.email is not a valid email address");
        return NULL;
    }
    if ((json_object_get(u, "phone") && !json_is_null(json_object_get(u, "phone")) &&
         (phone == NULL || !hr_valid_e164(phone)))) {
        hr_content_invalid(r, "user.phone",
                           "user.phone must be an E.164 number such as +14155550100");
        return NULL;
    }
    if ((json_object_get(u, "locale") && !json_is_null(json_object_get(u, "locale")) &&
         (locale == NULL || !hr_render_locale_valid(locale)))) {
        hr_content_invalid(r, "user.locale",
                           "user.locale must be a locale tag such as en or pt-BR");
        return NULL;
    }
    json_t *out = json_pack("{s:s}", "id", id);
    if (email != NULL)
        json_object_set_new(out, "email", json_string(email));
    if (phone != NULL)
        json_object_set_new(out, "phone", json_string(phone));
    if (locale != NULL)
        json_object_set_new(out, "locale", json_string(locale));
    return out;
}

/* fields: an object of at most 25 name -> string/number/boolean. */
static int event_fields(hr_req_t *r, const json_t *f)
{
    if (!json_is_object(f)) {
        hr_content_invalid(r, "fields", "fields must be an object of name -> value");
        return -1;
    }
    if (json_object_size(f) > EVENT_MAX_FIELDS) {
        hr_content_invalid(r, "fields", "fields holds at most %d fields", EVENT_MAX_FIELDS);
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)f, k, v)
    {
        char name[300];
        snprintf(name, sizeof name, "fields.%.256s", k);
        if (k[0] == '\0' || strlen(k) > EVENT_FIELD_NAME_MAX) {
            hr_content_invalid(r, "fields", "field names must be 1 to %d bytes",
                               EVENT_FIELD_NAME_MAX);
            return -1;
        }
        if (!(json_is_string(v) || json_is_number(v) || json_is_boolean(v))) {
            hr_content_invalid(r, name, "%s must be a string, a number or a boolean", name);
            return -1;
        }
        if (json_is_string(v) && json_string_length(v) > EVENT_FIELD_VALUE_MAX) {
            hr_content_invalid(r, name, "%s must be at most %d bytes", name, EVENT_FIELD_VALUE_MAX);
            return -1;
        }
    }
    return 0;
}

/* Validates an event body into the normalised payload (caller decrefs), or
 * NULL after replying. */
static json_t *event_normalise(hr_req_t *r, const json_t *body)
{
    static const char *const fields[] = {"type",        "category",       "fields",
                                         "description", "user",           "title",
                                         "data",        "idempotencyKey", NULL};
    if (hr_content_known(r, body, fields) != 0)
        return NULL;
    const char *type = NULL, *category = NULL, *desc = NULL, *title = NULL;
    if (hr_content_string(r, body, "type", 128, &type) < 0 ||
        hr_content_string(r, body, "category", 64, &category) < 0 ||
        hr_content_string(r, body, "description", 4000, &desc) < 0 ||
        hr_content_string(r, body, "title", 500, &title) < 0)
        return NULL;
    if (type == NULL && category == NULL) {
        hr_content_invalid(r, "type", "type (or category) is required");
        return NULL;
    }
    if (type != NULL && !hr_content_key_valid(type, 128)) {
        hr_content_invalid(r, "type",
                           "type must start with a-z or 0-9 and contain only "
                           "a-z 0-9 . _ - :");
        return NULL;
    }
    if (category != NULL && !hr_content_key_valid(category, 64)) {
        hr_content_invalid(r, "category", "category must be a category key (a-z 0-9 . _ - :)");
        return NULL;
    }
    if (type == NULL)
        type = category; /* a category-only event uses the category as its type */
    json_t *f = json_object_get(body, "fields");
    if (f != NULL && event_fields(r, f) != 0)
        return NULL;
    json_t *data = json_object_get(body, "data");
    if (data != NULL && !json_is_null(data) && !json_is_object(data)) {
        hr_content_invalid(r, "data", "data must be an object");
        return NULL;
    }
    json_t *u = json_object_get(body, "user"), *user;
    bool team = u == NULL || json_is_null(u);
    if (team)
        user = json_pack("{s:s}", "id", "");
    else if ((user = event_user(r, u)) == NULL)
        return NULL;
    json_t *event = json_object();
    if (category != NULL)
        json_object_set_new(event, "category", json_string(category));
    if (f != NULL)
        json_object_set_new(event, "fields", json_incref(f));
    if (desc != NULL)
        json_object_set_new(event, "description", json_string(desc));
    if (team)
        json_object_set_new(event, "team", json_true());
    json_t *n =
        json_pack("{s:o, s:s, s:s, s:s, s:o, s:[], s:o}", "user", user, "type", type, "title",
                  title != NULL ? title : type, "body", desc != NULL ? desc : "", "data",
                  data != NULL && !json_is_null(data) ? json_incref(data) : json_object(),
                  "channels", "event", event);
    hr_assert(n != NULL);
    return n;
}

static void event_create(hr_req_t *r)
{
    json_t *body = NULL, *n = NULL;
    if (hr_req_authenticate(r) != 0 || hr_content_body(r, &body) != 0)
        return;
    const char *idem = hr_req_param(r, "HTTP_IDEMPOTENCY_KEY");
    const char *body_idem = NULL;
    if (hr_content_string(r, body, "idempotencyKey", 255, &body_idem) < 0)
        goto done;
    if (idem == NULL)
        idem = body_idem;
    if (idem != NULL && (idem[0] == '\0' || strlen(idem) > 255)) {
        hr_content_invalid(r, "Idempotency-Key", "Idempotency-Key must be 1 to 255 characters");
        goto done;
    }
    if ((n = event_normalise(r, body)) == NULL)
        goto done;
    hr_enqueue_item_t item = {.n = n, .idem = idem};
    hr_enqueue_limits_t lim;
    char err[256];
    hr_enqueue_status_t st = hr_enqueue(r, &item, 1, &lim, err, sizeof err);
    if (st != HR_ENQ_OK)
        hr_enqueue_reply_refused(r, st, &lim, err);
    else if (item.outcome == HR_ENQ_CONFLICT)
        hr_req_error(r, 409, "idempotency_conflict",
                     "this Idempotency-Key was used with a different request", "Idempotency-Key");
    else
        hr_req_reply(r, item.outcome == HR_ENQ_REPLAY ? 200 : 202,
                     json_pack("{s:s, s:s}", "id", item.id, "status", "accepted"), NULL);
done:
    json_decref(n);
    json_decref(body);
}

const hr_route_t hr_routes_events[] = {
    {"POST", "/v1/events", event_create},
    {NULL, NULL, NULL},
};
