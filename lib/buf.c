/* buf: growable strings; out-of-memory aborts. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void buf_reserve(hr_buf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    hr_assert(p != NULL);
    b->data = p;
    b->cap = cap;
}

void hr_buf_append(hr_buf_t *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void hr_buf_puts(hr_buf_t *b, const char *s)
{
    hr_buf_append(b, s, strlen(s));
}

void hr_buf_printf(hr_buf_t *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    hr_assert(n >= 0);
    buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
}

char *hr_buf_steal(hr_buf_t *b)
{
    char *s = b->data;
    if (s == NULL) {
        s = strdup("");
        hr_assert(s != NULL);
    }
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

void hr_buf_free(hr_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
