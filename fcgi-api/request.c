/* request: reading a FastCGI request (params, body) and writing JSON
 * responses, authentication of the API key, and the request log line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "jsonutil.h"
#include "log.h"

static const char *status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

const char *hr_req_param(hr_req_t *r, const char *name)
{
    return FCGX_GetParam(name, r->fcgx->envp);
}

void hr_req_reply(hr_req_t *r, int status, json_t *body, const char *headers)
{
    char *text = body != NULL ? hr_json_dump(body) : NULL;
    json_decref(body);
    /* libfcgi's own formatter mishandles %zu: format with snprintf, write raw. */
    char head[512];
    int n = snprintf(head, sizeof head,
                     "Status: %d %s\r\nContent-Type: application/json\r\n"
                     "Cache-Control: no-store\r\n%s\r\n",
                     status, status_text(status), headers ? headers : "");
    FCGX_PutStr(head, n < (int)sizeof head ? n : (int)sizeof head - 1, r->fcgx->out);
    if (text != NULL) {
        FCGX_PutStr(text, (int)strlen(text), r->fcgx->out);
        FCGX_PutStr("\n", 1, r->fcgx->out);
    }
    free(text);
    r->status = status;
}

void hr_req_error(hr_req_t *r, int status, const char *code, const char *message,
                  const char *field)
{
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);
    hr_assert(e != NULL);
    if (field != NULL && field[0] != '\0')
        json_object_set_new(e, "field", json_string(field));
    hr_req_reply(r, status, json_pack("{s:o}", "error", e), NULL);
    if (status >= 400) {
        if (r->log_fields == NULL)
            r->log_fields = json_object();
        json_object_set_new(r->log_fields, "error", json_string(code));
    }
}

int hr_req_read_typed(hr_req_t *r, const char *type, const char *kind, char **body,
                      size_t *len)
{
    const char *ct = r->content_type;
    size_t ctlen = ct ? strcspn(ct, ";") : 0;
    while (ctlen > 0 && ct[ctlen - 1] == ' ')
        ctlen--;
    if (ct == NULL || ctlen != strlen(type) || strncasecmp(ct, type, ctlen) != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "the body must be %ssent with Content-Type: %s", kind, type);
        hr_req_error(r, 415, "unsupported_media_type", msg, NULL);
        return -1;
    }
    long max = r->app->cfg.api_max_body;
    if (r->content_length > max) {
        hr_req_error(r, 413, "payload_too_large", "request body is larger than the limit", NULL);
        return -1;
    }
    long want = r->content_length < 0 ? max + 1 : r->content_length;
    char *buf = hr_arena_alloc(r->arena, (size_t)want + 1);
    long got = 0;
    while (got < want) {
        int n = FCGX_GetStr(buf + got, (int)(want - got), r->fcgx->in);
        if (n <= 0)
            break;
        got += n;
    }
    if (got > max) {
        hr_req_error(r, 413, "payload_too_large", "request body is larger than the limit", NULL);
        return -1;
    }
    buf[got] = '\0';
    *body = buf;
    *len = (size_t)got;
    return 0;
}

int hr_req_read_body(hr_req_t *r, char **body, size_t *len)
{
    return hr_req_read_typed(r, "application/json", "JSON ", body, len);
}

int hr_req_authenticate(hr_req_t *r)
{
    const char *h = hr_req_param(r, "HTTP_AUTHORIZATION");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        hr_req_error(r, 401, "unauthorized",
                     "send the API key as Authorization: Bearer <key>", NULL);
        return -1;
    }
    const char *key = h + 7;
    while (*key == ' ')
        key++;
    char err[256];
    switch (hr_auth_key(&r->app->keys, &r->app->db, key, r->app->cfg.api_key_cache_ttl, &r->auth,
                        err, sizeof err)) {
    case HR_AUTH_OK:
        hr_auth_flush_used(&r->app->keys, &r->app->db, r->app->cfg.accounts_key_last_used_flush_s,
                           false);
        if (r->log_fields == NULL)
            r->log_fields = json_object();
        json_object_set_new(r->log_fields, "env", json_string(r->auth.environment_id));
        return 0;
    case HR_AUTH_DENIED:
        hr_req_error(r, 401, "unauthorized", "the API key is not valid", NULL);
        return -1;
    case HR_AUTH_UNAVAILABLE:
        hr_log(HR_LOG_ERROR, r->request_id, "key lookup failed: %s", err);
        hr_req_error(r, 503, "not_ready", "the database is unreachable; try again", NULL);
        return -1;
    }
    return -1;
}

void hr_req_db_failed(hr_req_t *r, const char *what, const char *err)
{
    bool down = r->app->db.conn == NULL || PQstatus(r->app->db.conn) != CONNECTION_OK;
    hr_log(HR_LOG_ERROR, r->request_id, "%s failed: %s", what, err);
    if (down)
        hr_req_error(r, 503, "not_ready", "the database is unreachable; try again", NULL);
    else
        hr_req_error(r, 500, "internal_error", "the server failed; the error is logged", NULL);
}

void hr_req_log(hr_req_t *r, double duration_ms)
{
    json_t *f = r->log_fields != NULL ? r->log_fields : json_object();
    r->log_fields = NULL;
    json_object_set_new(f, "method", json_string(r->method ? r->method : ""));
    json_object_set_new(f, "route", json_string(r->route ? r->route : "unmatched"));
    json_object_set_new(f, "status", json_integer(r->status));
    json_object_set_new(f, "duration_ms", json_real((double)(long)(duration_ms * 1000) / 1000));
    hr_log_json(r->status >= 500 ? HR_LOG_ERROR : HR_LOG_INFO, r->request_id, "request", f);
}
