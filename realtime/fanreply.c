/* fanreply: hiredis reply-object functions over reusable blocks. */
#include "fanreply.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef struct hr_rt_fanblock {
    struct hr_rt_fanblock *next;
    size_t used, cap;
    max_align_t mem[];
} hr_rt_fanblock_t;

#define FANREPLY_BLOCK (256 * 1024)

/* n zeroed bytes that live until the next reset. */
static void *fanreply_alloc(hr_rt_fanarena_t *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    hr_rt_fanblock_t **pp = a->cur != NULL ? &a->cur : &a->first;
    for (;;) {
        hr_rt_fanblock_t *b = *pp;
        if (b == NULL) {
            size_t cap = n > FANREPLY_BLOCK ? n : FANREPLY_BLOCK;
            b = malloc(sizeof *b + cap);
            hr_assert(b != NULL);
            b->next = NULL;
            b->used = 0;
            b->cap = cap;
            *pp = b;
        }
        if (b->cap - b->used >= n) {
            a->cur = b;
            void *p = (char *)b->mem + b->used;
            b->used += n;
            memset(p, 0, n);
            return p;
        }
        pp = &b->next;
    }
}

void hr_rt_fanarena_reset(hr_rt_fanarena_t *a)
{
    for (hr_rt_fanblock_t *b = a->first; b != NULL; b = b->next)
        b->used = 0;
    a->cur = NULL;
}

void hr_rt_fanarena_free(hr_rt_fanarena_t *a)
{
    hr_rt_fanblock_t *b = a->first;
    while (b != NULL) {
        hr_rt_fanblock_t *next = b->next;
        free(b);
        b = next;
    }
    a->first = a->cur = NULL;
}

/* A reply object of type, linked into its parent array as hiredis's own
 * functions do. */
static redisReply *fanreply_obj(const redisReadTask *task, int type)
{
    redisReply *r = fanreply_alloc(task->privdata, sizeof *r);
    r->type = type;
    if (task->parent != NULL) {
        redisReply *parent = task->parent->obj;
        hr_assert(parent->type == REDIS_REPLY_ARRAY && (size_t)task->idx < parent->elements);
        parent->element[task->idx] = r;
    }
    return r;
}

static void *fanreply_string(const redisReadTask *task, char *str, size_t len)
{
    redisReply *r = fanreply_obj(task, task->type);
    r->str = fanreply_alloc(task->privdata, len + 1);
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

static void *fanreply_array(const redisReadTask *task, int elements)
{
    redisReply *r = fanreply_obj(task, REDIS_REPLY_ARRAY);
    if (elements > 0) {
        r->element = fanreply_alloc(task->privdata, (size_t)elements * sizeof *r->element);
        r->elements = (size_t)elements;
    }
    return r;
}

static void *fanreply_integer(const redisReadTask *task, long long value)
{
    redisReply *r = fanreply_obj(task, REDIS_REPLY_INTEGER);
    r->integer = value;
    return r;
}

static void *fanreply_nil(const redisReadTask *task)
{
    return fanreply_obj(task, REDIS_REPLY_NIL);
}

static void fanreply_free_obj(void *obj)
{
    (void)obj; /* hiredis drops a half-built reply: its blocks wait for the reset */
}

static redisReplyObjectFunctions fanreply_fns = {fanreply_string, fanreply_array, fanreply_integer,
                                                 fanreply_nil, fanreply_free_obj};

void hr_rt_fanarena_attach(hr_rt_fanarena_t *a, redisReader *reader)
{
    reader->fn = &fanreply_fns;
    reader->privdata = a;
    hr_rt_fanarena_reset(a);
}
