/* arena: per-request memory. Allocate freely while a request runs; everything
 * is released at once by hr_arena_reset or hr_arena_free. */
#ifndef HR_ARENA_H
#define HR_ARENA_H

#include <stddef.h>

typedef struct hr_arena_block hr_arena_block_t;

typedef struct hr_arena {
    hr_arena_block_t *head;
    size_t block_size;
} hr_arena_t;

void hr_arena_init(hr_arena_t *a, size_t block_size);

/* Returns zeroed memory owned by the arena (never NULL: aborts on OOM). */
void *hr_arena_alloc(hr_arena_t *a, size_t n);

/* Copies s (n bytes, NUL-terminated in the copy) into the arena. */
char *hr_arena_strndup(hr_arena_t *a, const char *s, size_t n);

/* printf into the arena. */
char *hr_arena_printf(hr_arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Frees all but the first block, so a long-lived arena keeps one block. */
void hr_arena_reset(hr_arena_t *a);

/* Frees every block. */
void hr_arena_free(hr_arena_t *a);

#endif
