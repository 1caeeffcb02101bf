/* buf: a growable byte string. */
#ifndef HR_BUF_H
#define HR_BUF_H

#include <stddef.h>

typedef struct hr_buf {
    char *data; /* NUL-terminated; owned by the buffer */
    size_t len, cap;
} hr_buf_t;

#define HR_BUF_INIT {NULL, 0, 0}

void hr_buf_append(hr_buf_t *b, const char *s, size_t n);
void hr_buf_puts(hr_buf_t *b, const char *s);
void hr_buf_printf(hr_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hands the string to the caller (who frees it) and empties the buffer. */
char *hr_buf_steal(hr_buf_t *b);
void hr_buf_free(hr_buf_t *b);

#endif
