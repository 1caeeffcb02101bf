/* query: reading URL query-string parameters of a request. */
#ifndef HR_API_QUERY_H
#define HR_API_QUERY_H

#include <stdbool.h>

#include "app.h"

/* Percent-decodes n bytes of s (a query string's or a form body's part; '+'
 * is a space) into the request arena; NULL on a bad escape or a NUL byte. */
char *hr_query_decode(hr_req_t *r, const char *s, size_t n);

/* The percent-decoded value of the first `name` parameter in the request's
 * query string (arena memory), "" for a bare `name`, or NULL when absent or
 * not decodable (bad escape, NUL byte). */
const char *hr_query_get(hr_req_t *r, const char *name);

/* Reads an integer parameter within [min, max] into *out (def when absent).
 * Returns 0, or -1 after replying 422 naming the parameter. */
int hr_query_int(hr_req_t *r, const char *name, long def, long min, long max, long *out)
    __attribute__((warn_unused_result));

/* Reads a boolean parameter ("true"/"false"/"1"/"0"; a bare name is true)
 * into *out: -1 absent, 0 false, 1 true. Returns 0, or -1 after a 422. */
int hr_query_bool(hr_req_t *r, const char *name, int *out) __attribute__((warn_unused_result));

#endif
