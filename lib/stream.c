/* stream: consumer-group reading with recovery of pending entries. */
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

void hr_consumer_init(hr_consumer_t *c, hr_redis_t *redis, const char *stream, const char *group,
                      const char *name, long claim_idle_ms)
{
    memset(c, 0, sizeof *c);
    c->redis = redis;
    snprintf(c->stream, sizeof c->stream, "%s", stream);
    snprintf(c->group, sizeof c->group, "%s", group);
    if (name != NULL) {
        snprintf(c->name, sizeof c->name, "%s", name);
    } else {
        char host[64] = "host";
        gethostname(host, sizeof host - 1);
        snprintf(c->name, sizeof c->name, "%s-%d", host, (int)getpid());
    }
    c->claim_idle_ms = claim_idle_ms;
    c->pel_first = true;
    snprintf(c->claim_cursor, sizeof c->claim_cursor, "0-0");
}

/* Turns an array of [id, [k, v, k, v…]] into entries; entries deleted from
 * the stream (nil fields) are kept with no fields so they can be acked. */
static void stream_parse(redisReply *arr, hr_stream_batch_t *out)
{
    out->n = 0;
    out->entries = calloc(arr->elements ? arr->elements : 1, sizeof *out->entries);
    hr_assert(out->entries != NULL);
    for (size_t i = 0; i < arr->elements; i++) {
        redisReply *e = arr->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        hr_stream_entry_t *dst = &out->entries[out->n++];
        dst->id = e->element[0]->str;
        if (e->elements < 2 || e->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        redisReply *f = e->element[1];
        for (size_t k = 0; k + 1 < f->elements && dst->nfields < HR_STREAM_MAXFIELDS; k += 2) {
            dst->keys[dst->nfields] = f->element[k]->str;
            dst->vals[dst->nfields] = f->element[k + 1]->str;
            dst->nfields++;
        }
    }
}

static int stream_group(hr_consumer_t *c, long count, const char *from, long block_ms,
                        hr_stream_batch_t *out, char *err, size_t errlen)
{
    char cnt[24], blk[24];
    snprintf(cnt, sizeof cnt, "%ld", count);
    snprintf(blk, sizeof blk, "%ld", block_ms);
    const char *argv[11] = {"XREADGROUP", "GROUP", c->group, c->name, "COUNT", cnt};
    int argc = 6;
    if (block_ms > 0) {
        argv[argc++] = "BLOCK";
        argv[argc++] = blk;
    }
    argv[argc++] = "STREAMS";
    argv[argc++] = c->stream;
    argv[argc++] = from;
    hr_redis_set_timeout(c->redis, block_ms + c->redis->cfg->redis_timeout_ms);
    redisReply *rep = hr_redis_argv(c->redis, argc, argv, NULL, err, errlen);
    hr_redis_set_timeout(c->redis, c->redis->cfg->redis_timeout_ms);
    if (rep == NULL)
        return -1;
    if (rep->type == REDIS_REPLY_ERROR) {
        /* The group vanishes when Redis lost its data: create it again. */
        bool nogroup = strncmp(rep->str, "NOGROUP", 7) == 0;
        snprintf(err, errlen, "XREADGROUP %s: %s", c->stream, rep->str);
        freeReplyObject(rep);
        if (nogroup && hr_redis_group(c->redis, c->stream, c->group, err, errlen) == 0)
            return 0;
        return -1;
    }
    out->reply = rep;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
        rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2)
        stream_parse(rep->element[0]->element[1], out);
    return 0;
}

static int stream_autoclaim(hr_consumer_t *c, long count, hr_stream_batch_t *out, char *err,
                            size_t errlen)
{
    char idle[24], cnt[24];
    snprintf(idle, sizeof idle, "%ld", c->claim_idle_ms);
    snprintf(cnt, sizeof cnt, "%ld", count);
    const char *argv[8] = {"XAUTOCLAIM", c->stream, c->group, c->name, idle, c->claim_cursor,
                           "COUNT", cnt};
    redisReply *rep = hr_redis_argv(c->redis, 8, argv, NULL, err, errlen);
    if (rep == NULL)
        return -1;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2) {
        snprintf(err, errlen, "XAUTOCLAIM %s: %s", c->stream,
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        freeReplyObject(rep);
        return -1;
    }
    if (rep->element[0]->type == REDIS_REPLY_STRING)
        snprintf(c->claim_cursor, sizeof c->claim_cursor, "%s", rep->element[0]->str);
    out->reply = rep;
    out->claimed = true;
    if (rep->element[1]->type == REDIS_REPLY_ARRAY)
        stream_parse(rep->element[1], out);
    return 0;
}

int hr_consumer_claim(hr_consumer_t *c, long count, hr_stream_batch_t *out, char *err,
                      size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!c->have_group) {
        if (hr_redis_group(c->redis, c->stream, c->group, err, errlen) != 0)
            return -1;
        c->have_group = true;
    }
    if (stream_autoclaim(c, count, out, err, errlen) != 0) {
        c->have_group = false;
        return -1;
    }
    return 0;
}

int hr_consumer_read(hr_consumer_t *c, long count, long block_ms, hr_stream_batch_t *out,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (c->pel_first) {
        if (stream_group(c, count, "0", 0, out, err, errlen) != 0)
            return -1;
        if (out->n > 0)
            return 0;
        hr_stream_batch_free(out);
        c->pel_first = false;
    }
    time_t now = time(NULL);
    if ((now - c->last_claim) * 1000 >= c->claim_idle_ms / 2) {
        if (stream_autoclaim(c, count, out, err, errlen) != 0)
            return -1;
        if (strcmp(c->claim_cursor, "0-0") == 0)
            c->last_claim = now;
        if (out->n > 0)
            return 0;
        hr_stream_batch_free(out);
    }
    return stream_group(c, count, ">", block_ms, out, err, errlen);
}

static void stream_backoff(hr_consumer_t *c)
{
    c->backoff_ms = c->backoff_ms ? (c->backoff_ms * 2 > 5000 ? 5000 : c->backoff_ms * 2) : 200;
}

int hr_consumer_next(hr_consumer_t *c, long count, long block_ms, hr_stream_batch_t *out)
{
    char err[512];
    memset(out, 0, sizeof *out);
    if (c->backoff_ms > 0)
        hr_proc_sleep_ms(c->backoff_ms);
    if (hr_proc_stop)
        return 0;
    if (!c->have_group) {
        if (hr_redis_group(c->redis, c->stream, c->group, err, sizeof err) != 0) {
            hr_log_warn("redis: %s", err);
            stream_backoff(c);
            return 0;
        }
        c->have_group = true;
    }
    if (hr_consumer_read(c, count, block_ms, out, err, sizeof err) != 0) {
        hr_log_warn("reading %s: %s", c->stream, err);
        c->have_group = false;
        stream_backoff(c);
        return 0;
    }
    if (out->n == 0) {
        hr_stream_batch_free(out);
        c->backoff_ms = 0;
        return 0;
    }
    return 1;
}

void hr_consumer_done(hr_consumer_t *c, bool ok)
{
    if (ok) {
        c->backoff_ms = 0;
        return;
    }
    c->pel_first = true;
    stream_backoff(c);
}

int hr_consumer_ack(hr_consumer_t *c, const char *const *ids, size_t n, bool wait, char *err,
                    size_t errlen)
{
    if (n == 0)
        return 0;
    const char **argv = calloc(n + 3, sizeof *argv);
    hr_assert(argv != NULL);
    argv[0] = "XACK";
    argv[1] = c->stream;
    argv[2] = c->group;
    memcpy(argv + 3, ids, n * sizeof *ids);
    int rc = hr_redis_append(c->redis, (int)n + 3, argv, NULL, err, errlen);
    if (rc == 0) {
        /* Acked entries are of no further use: keep the stream small. */
        argv[1] = "XDEL";
        argv[2] = c->stream;
        rc = hr_redis_append(c->redis, (int)n + 2, argv + 1, NULL, err, errlen);
        if (rc == 0)
            rc = wait ? (hr_redis_flush(c->redis, 2, err, errlen) == 0 ? 0 : -1)
                      : hr_redis_send(c->redis, 2, err, errlen);
    }
    free(argv);
    return rc;
}

const char *hr_stream_field(const hr_stream_entry_t *e, const char *key)
{
    for (int i = 0; i < e->nfields; i++)
        if (strcmp(e->keys[i], key) == 0)
            return e->vals[i];
    return NULL;
}

void hr_stream_batch_free(hr_stream_batch_t *b)
{
    if (b->reply != NULL)
        freeReplyObject(b->reply);
    free(b->entries);
    memset(b, 0, sizeof *b);
}

int hr_stream_put_deliveries(hr_redis_t *redis, const char *stream, const PGresult *res,
                             int id_col, int nid_col, char *err, size_t errlen)
{
    int n = PQntuples(res), queued = n;
    for (int i = 0; i < n; i++) {
        const char *argv[7] = {"XADD", stream, "*", "d", PQgetvalue(res, i, id_col), "n",
                               PQgetvalue(res, i, nid_col)};
        if (hr_redis_append(redis, 7, argv, NULL, err, errlen) != 0) {
            queued = i;
            break;
        }
    }
    if (queued > 0 && hr_redis_flush(redis, queued, err, errlen) != 0)
        return 0;
    return queued;
}
