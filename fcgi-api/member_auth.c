/* member_auth: member authentication for the dashboard routes, and the small
 * request-body helpers the account handlers share. */
#include "member_auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"

static const char *session_bearer(hr_req_t *r)
{
    const char *h = hr_req_param(r, "HTTP_AUTHORIZATION");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return h;
}

int hr_req_member(hr_req_t *r, hr_session_t *out)
{
    const char *tok = session_bearer(r);
    char err[256];
    if (tok == NULL || tok[0] == '\0') {
        hr_req_error(r, 401, "unauthorized",
                     "send the access token as Authorization: Bearer <token>", NULL);
        return -1;
    }
    if (hr_session_verify_access(tok, out, err, sizeof err) != 0) {
        hr_req_error(r, 401, "unauthorized", "the access token is not valid", NULL);
        return -1;
    }
    int alive = hr_session_alive(&r->app->db, out, err, sizeof err);
    if (alive < 0) {
        hr_req_db_failed(r, "session check", err);
        return -1;
    }
    if (!alive) {
        hr_req_error(r, 401, "unauthorized", "the session has ended; log in again", NULL);
        return -1;
    }
    if (r->log_fields == NULL)
        r->log_fields = json_object();
    json_object_set_new(r->log_fields, "member", json_string(out->member_id));
    return 0;
}

int hr_req_scope(hr_req_t *r, hr_scope_t *out)
{
    memset(out, 0, sizeof *out);
    const char *tok = session_bearer(r);
    if (tok != NULL && strncmp(tok, "hk_", 3) == 0) {
        if (hr_req_authenticate(r) != 0)
            return -1;
        snprintf(out->tenant_id, sizeof out->tenant_id, "%s", r->auth.tenant_id);
        snprintf(out->environment_id, sizeof out->environment_id, "%s", r->auth.environment_id);
        return 0;
    }
    if (hr_req_member(r, &out->session) != 0)
        return -1;
    out->member = true;
    snprintf(out->tenant_id, sizeof out->tenant_id, "%s", out->session.tenant_id);
    return 0;
}

json_t *hr_req_json_object(hr_req_t *r, bool allow_empty)
{
    if (allow_empty && (r->content_length <= 0) &&
        (r->content_type == NULL || r->content_type[0] == '\0'))
        return json_object();
    char *body = NULL;
    size_t len = 0;
    if (hr_req_read_body(r, &body, &len) != 0)
        return NULL;
    if (len == 0 && allow_empty)
        return json_object();
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        char msg[256];
        snprintf(msg, sizeof msg, "malformed JSON at line %d, column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        hr_req_error(r, 400, "invalid_json", msg, NULL);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        hr_req_error(r, 422, "validation_failed", "the body must be a JSON object", NULL);
        return NULL;
    }
    return root;
}

int hr_req_only_fields(hr_req_t *r, const json_t *obj, const char *const *allowed)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a != NULL && !ok; a++)
            ok = strcmp(*a, k) == 0;
        if (!ok) {
            char msg[192];
            snprintf(msg, sizeof msg, "%.120s is not a field of this request", k);
            hr_req_error(r, 422, "validation_failed", msg, k);
            return -1;
        }
    }
    return 0;
}

int hr_req_grace_seconds(hr_req_t *r, const json_t *obj, long *out)
{
    const json_t *g = json_object_get(obj, "grace_seconds");
    *out = r->app->cfg.accounts_key_grace_s;
    if (g == NULL)
        return 0;
    if (!json_is_integer(g) || json_integer_value(g) < 0 || json_integer_value(g) > 30 * 86400) {
        hr_req_error(r, 422, "validation_failed",
                     "grace_seconds must be an integer from 0 to 2592000", "grace_seconds");
        return -1;
    }
    *out = (long)json_integer_value(g);
    return 0;
}

int hr_req_string_field(hr_req_t *r, const json_t *obj, const char *name, bool required,
                        size_t max, const char **out)
{
    const json_t *v = json_object_get(obj, name);
    char msg[192];
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (!required)
            return 0;
        snprintf(msg, sizeof msg, "%s is required", name);
        goto refuse;
    }
    if (!json_is_string(v)) {
        snprintf(msg, sizeof msg, "%s must be a string", name);
        goto refuse;
    }
    const char *s = json_string_value(v);
    size_t chars = 0;
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            snprintf(msg, sizeof msg, "%s must not contain control characters", name);
            goto refuse;
        }
        if (((unsigned char)*p & 0xc0) != 0x80)
            chars++;
    }
    if (strlen(s) != json_string_length(v)) {
        snprintf(msg, sizeof msg, "%s must not contain NUL characters", name);
        goto refuse;
    }
    if (chars == 0 || chars > max) {
        snprintf(msg, sizeof msg, "%s must be 1 to %zu characters", name, max);
        goto refuse;
    }
    *out = s;
    return 0;
refuse:
    hr_req_error(r, 422, "validation_failed", msg, name);
    return -1;
}

const char *hr_req_client_ip(hr_req_t *r)
{
    const char *ip = hr_req_param(r, "REMOTE_ADDR");
    return ip != NULL && ip[0] != '\0' ? ip : "unknown";
}
