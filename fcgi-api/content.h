/* content: small helpers shared by the content handlers (templates,
 * branding, categories, event types, events, preferences, team
 * destinations): JSON bodies, key checks, JSON-producing queries. */
#ifndef HR_API_CONTENT_H
#define HR_API_CONTENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "app.h"

/* Reads the request body as a JSON object into *out (caller decrefs).
 * Returns 0, or -1 after replying 400/413/415/422. */
int hr_content_body(hr_req_t *r, json_t **out) __attribute__((warn_unused_result));

/* A key of event types, templates and categories: 1 to max characters of
 * a-z 0-9 . _ - :, starting with a letter or digit. */
bool hr_content_key_valid(const char *s, size_t max);

/* Replies 422 validation_failed naming field, with a printf message. */
void hr_content_invalid(hr_req_t *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runs sql, whose single column is JSON text. Returns 1 with *out set from
 * row 0 (caller decrefs), 0 when no row came back, or -1 after replying
 * 503/500 (what names the query in the log). */
int hr_content_query(hr_req_t *r, const char *what, const char *sql, int nparams,
                     const char *const *params, json_t **out) __attribute__((warn_unused_result));

/* hr_content_query for a statement that always returns a row: no row is a
 * bug of ours (500). Returns 1 with *out set, or -1 after replying. */
int hr_content_query_row(hr_req_t *r, const char *what, const char *sql, int nparams,
                         const char *const *params, json_t **out)
    __attribute__((warn_unused_result));

/* Runs sql, each row of which is one JSON object (its single column), and
 * answers 200 {"data": [the rows]}, or 503/500 (what names the query). */
void hr_content_reply_list(hr_req_t *r, const char *what, const char *sql, int nparams,
                           const char *const *params);

/* An optional string member: 1 with *out set, 0 when absent or null, -1
 * after a 422 (not a string, longer than max characters). */
int hr_content_string(hr_req_t *r, const json_t *obj, const char *key, size_t max, const char **out)
    __attribute__((warn_unused_result));

/* Refuses (422, returns -1) the first member of obj not in allowed. */
int hr_content_known(hr_req_t *r, const json_t *obj, const char *const *allowed)
    __attribute__((warn_unused_result));

/* Who made a change, for audit columns: "api_key:<key id>". Arena memory. */
const char *hr_content_actor(hr_req_t *r);

#endif
