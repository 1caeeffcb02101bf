/* content: helpers of the content handlers. */
#include "content.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

int hr_content_body(hr_req_t *r, json_t **out)
{
    char *body = NULL;
    size_t len = 0;
    *out = NULL;
    if (hr_req_read_body(r, &body, &len) != 0)
        return -1;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        char msg[256];
        snprintf(msg, sizeof msg, "malformed JSON at line %d, column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        hr_req_error(r, 400, "invalid_json", msg, NULL);
        return -1;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        hr_req_error(r, 422, "validation_failed", "body must be a JSON object", "body");
        return -1;
    }
    *out = root;
    return 0;
}

bool hr_content_key_valid(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
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

void hr_content_invalid(hr_req_t *r, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hr_req_error(r, 422, "validation_failed", msg, field);
}

int hr_content_query(hr_req_t *r, const char *what, const char *sql, int nparams,
                     const char *const *params, json_t **out)
{
    char err[256];
    *out = NULL;
    PGresult *res = hr_db_exec(&r->app->db, sql, nparams, params, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, what, err);
        return -1;
    }
    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        return 0;
    }
    json_t *doc = json_loads(PQgetvalue(res, 0, 0), JSON_DECODE_ANY, NULL);
    PQclear(res);
    hr_assert(doc != NULL);
    *out = doc;
    return 1;
}

int hr_content_query_row(hr_req_t *r, const char *what, const char *sql, int nparams,
                         const char *const *params, json_t **out)
{
    int rc = hr_content_query(r, what, sql, nparams, params, out);
    if (rc == 0) {
        hr_log(HR_LOG_ERROR, r->request_id, "%s returned no row", what);
        hr_req_error(r, 500, "internal_error", "the server failed; the error is logged", NULL);
        return -1;
    }
    return rc;
}

/* Characters of a UTF-8 string. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

int hr_content_string(hr_req_t *r, const json_t *obj, const char *key, size_t max, const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        hr_content_invalid(r, key, "%s must be a string", key);
        return -1;
    }
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) {
        hr_content_invalid(r, key, "%s must not contain NUL characters", key);
        return -1;
    }
    if (utf8_chars(s) > max) {
        hr_content_invalid(r, key, "%s must be at most %zu characters", key, max);
        return -1;
    }
    *out = s;
    return 1;
}

int hr_content_known(hr_req_t *r, const json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok) {
            char f[96];
            snprintf(f, sizeof f, "%.90s", key);
            hr_content_invalid(r, f, "%s is not a known field", f);
            return -1;
        }
    }
    return 0;
}

const char *hr_content_actor(hr_req_t *r)
{
    if (r->auth.key_id[0] != '\0')
        return hr_arena_printf(r->arena, "api_key:%s", r->auth.key_id);
    return "api_key";
}

void hr_content_reply_list(hr_req_t *r, const char *what, const char *sql, int nparams,
                           const char *const *params)
{
    char err[256];
    PGresult *res = hr_db_exec(&r->app->db, sql, nparams, params, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, what, err);
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(list, json_loads(PQgetvalue(res, i, 0), 0, NULL));
    PQclear(res);
    hr_req_reply(r, 200, json_pack("{s:o}", "data", list), NULL);
}
