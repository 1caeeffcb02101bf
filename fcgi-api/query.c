/* query: query-string parsing with percent-decoding into the request arena. */
#include "query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *hr_query_decode(hr_req_t *r, const char *s, size_t n)
{
    char *out = hr_arena_alloc(r->arena, n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] == '%') {
            int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return NULL;
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else if (s[i] == '\0') {
            return NULL;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

const char *hr_query_get(hr_req_t *r, const char *name)
{
    const char *q = r->query;
    size_t nlen = strlen(name);
    while (q != NULL && *q) {
        size_t plen = strcspn(q, "&");
        size_t klen = strcspn(q, "=&");
        char *key = hr_query_decode(r, q, klen);
        if (key != NULL && strlen(key) == nlen && memcmp(key, name, nlen) == 0) {
            if (klen >= plen)
                return "";
            return hr_query_decode(r, q + klen + 1, plen - klen - 1);
        }
        q += plen;
        if (*q == '&')
            q++;
    }
    return NULL;
}

int hr_query_int(hr_req_t *r, const char *name, long def, long min, long max, long *out)
{
    const char *v = hr_query_get(r, name);
    *out = def;
    if (v == NULL)
        return 0;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (v[0] == '\0' || errno != 0 || *end != '\0' || n < min || n > max) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s must be an integer from %ld to %ld", name, min, max);
        hr_req_error(r, 422, "validation_failed", msg, name);
        return -1;
    }
    *out = n;
    return 0;
}

int hr_query_bool(hr_req_t *r, const char *name, int *out)
{
    const char *v = hr_query_get(r, name);
    *out = -1;
    if (v == NULL)
        return 0;
    if (v[0] == '\0' || strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = 1;
        return 0;
    }
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = 0;
        return 0;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be true or false", name);
    hr_req_error(r, 422, "validation_failed", msg, name);
    return -1;
}
