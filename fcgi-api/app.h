/* app: the state one herald-api child keeps for its lifetime (configuration,
 * one PostgreSQL and one Redis connection, the API key cache), and the
 * per-request context handlers receive. */
#ifndef HR_API_APP_H
#define HR_API_APP_H

#include <fcgiapp.h>
#include <jansson.h>
#include <stdbool.h>

#include "arena.h"
#include "auth.h"
#include "config.h"
#include "db.h"
#include "redis.h"

typedef struct hr_app {
    hr_config_t cfg;
    const char *config_path;
    hr_db_t db;
    hr_redis_t redis;
    hr_keycache_t keys;
} hr_app_t;

typedef struct hr_req {
    hr_app_t *app;
    FCGX_Request *fcgx;
    hr_arena_t *arena;
    const char *method;
    const char *path;        /* without the query string */
    const char *query;
    const char *request_id;
    const char *content_type;
    long content_length;     /* -1 when absent */
    const char *route;       /* route pattern, for the log */
    const char *params[4];   /* path segments matched by {name}, in order */
    hr_auth_t auth;          /* filled by hr_req_authenticate */
    int status;              /* status sent, for the log */
    json_t *log_fields;      /* extra fields for the request log line, or NULL */
} hr_req_t;

/* A request parameter (FastCGI param), or NULL. Owned by the FastCGI request. */
const char *hr_req_param(hr_req_t *r, const char *name);

/* Sends status and a JSON body (the reference is stolen). Extra headers
 * (each "Name: value\r\n") may be NULL. */
void hr_req_reply(hr_req_t *r, int status, json_t *body, const char *headers);

/* Sends the standard error body. field may be NULL. */
void hr_req_error(hr_req_t *r, int status, const char *code, const char *message,
                  const char *field);

/* Reads the request body into the arena after checking that its
 * Content-Type is type (parameters aside; kind names it in the 415 message,
 * "JSON " or "") and its size ([api] max_body). Returns 0 with the body
 * (NUL-terminated) and its length set, or -1 after replying 413/415. */
int hr_req_read_typed(hr_req_t *r, const char *type, const char *kind, char **body,
                      size_t *len) __attribute__((warn_unused_result));

/* hr_req_read_typed of a JSON body. */
int hr_req_read_body(hr_req_t *r, char **body, size_t *len) __attribute__((warn_unused_result));

/* Authenticates the Bearer API key. Returns 0, or -1 after replying 401/503. */
int hr_req_authenticate(hr_req_t *r) __attribute__((warn_unused_result));

/* Answers a failed database call: 503 not_ready when the connection is down
 * (try again), else 500 internal_error (a bug of ours). Logs what failed. */
void hr_req_db_failed(hr_req_t *r, const char *what, const char *err);

/* Writes one JSON log line for the finished request. */
void hr_req_log(hr_req_t *r, double duration_ms);

#endif
