/* arena: a bump allocator over a list of blocks. */
#include "arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct hr_arena_block {
    hr_arena_block_t *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

void hr_arena_init(hr_arena_t *a, size_t block_size)
{
    a->head = NULL;
    a->block_size = block_size < 256 ? 256 : block_size;
}

void *hr_arena_alloc(hr_arena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    hr_arena_block_t *b = a->head;
    if (b == NULL || b->size - b->used < n) {
        size_t size = n > a->block_size ? n : a->block_size;
        b = malloc(sizeof *b + size);
        hr_assert(b != NULL);
        b->size = size;
        b->used = 0;
        /* Keep the current block first only if the new one is a one-off. */
        if (a->head != NULL && size > a->block_size) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *hr_arena_strndup(hr_arena_t *a, const char *s, size_t n)
{
    char *p = hr_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *hr_arena_printf(hr_arena_t *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    hr_assert(n >= 0);
    char *p = hr_arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void hr_arena_reset(hr_arena_t *a)
{
    hr_arena_block_t *keep = NULL;
    for (hr_arena_block_t *b = a->head, *next; b != NULL; b = next) {
        next = b->next;
        if (keep == NULL && b->size == a->block_size) {
            keep = b;
            continue;
        }
        free(b);
    }
    if (keep != NULL) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->head = keep;
}

void hr_arena_free(hr_arena_t *a)
{
    for (hr_arena_block_t *b = a->head, *next; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
}
