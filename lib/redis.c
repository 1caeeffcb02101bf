/* redis: hiredis connection handling, argv commands and script calls. */
#include "redis.h"

#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void hr_redis_init(hr_redis_t *r, const hr_config_t *cfg)
{
    memset(r, 0, sizeof *r);
    r->cfg = cfg;
}

static struct timeval redis_tv(long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

redisContext *hr_redis_connect(const hr_config_t *cfg, char *err, size_t errlen)
{
    struct timeval tv = redis_tv(cfg->redis_timeout_ms);
    redisContext *c = cfg->redis_socket[0]
                          ? redisConnectUnixWithTimeout(cfg->redis_socket, tv)
                          : redisConnectWithTimeout(cfg->redis_host, (int)cfg->redis_port, tv);
    if (c == NULL || c->err) {
        snprintf(err, errlen, "redis connect: %s", c ? c->errstr : "out of memory");
        goto fail;
    }
    redisSetTimeout(c, tv);
    if (cfg->redis_password[0] == '\0')
        return c;
    /* The password goes as its own argument: never formatted, never logged. */
    const char *argv[2] = {"AUTH", cfg->redis_password};
    redisReply *rep = redisCommandArgv(c, 2, argv, NULL);
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "redis AUTH: %s",
                 rep != NULL ? rep->str : (c->errstr[0] ? c->errstr : "I/O error"));
        if (rep != NULL)
            freeReplyObject(rep);
        goto fail;
    }
    freeReplyObject(rep);
    return c;
fail:
    if (c != NULL)
        redisFree(c);
    return NULL;
}

/* True when the peer closed an idle connection (Redis restarted): RESP2
 * outside pub/sub never sends unasked, so a readable socket means EOF or an
 * error. One poll() call, no round trip. */
static bool redis_peer_closed(redisContext *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR));
}

int hr_redis_ensure(hr_redis_t *r, char *err, size_t errlen)
{
    /* Answers still to read make the socket readable: then the next read
     * tells whether the peer is gone. */
    if (r->ctx != NULL && r->ctx->err == 0 && (r->unread > 0 || !redis_peer_closed(r->ctx)))
        return 0;
    hr_redis_close(r);
    r->ctx = hr_redis_connect(r->cfg, err, errlen);
    return r->ctx != NULL ? 0 : -1;
}

void hr_redis_set_timeout(hr_redis_t *r, long ms)
{
    if (r->ctx != NULL)
        redisSetTimeout(r->ctx, redis_tv(ms));
}

static redisReply *redis_checked(hr_redis_t *r, void *reply, char *err, size_t errlen)
{
    if (reply == NULL) {
        snprintf(err, errlen, "redis: %s", r->ctx && r->ctx->errstr[0] ? r->ctx->errstr : "I/O error");
        hr_redis_close(r);
        return NULL;
    }
    return reply;
}

/* Reads the answers left unread by hr_redis_send(), which come before the
 * answer to any command queued after them. Returns 0, or -1 on an I/O error
 * (the connection is dropped, the reason in err). */
static int redis_read_unread(hr_redis_t *r, char *err, size_t errlen)
{
    while (r->unread > 0) {
        void *reply = NULL;
        if (redisGetReply(r->ctx, &reply) != REDIS_OK) {
            snprintf(err, errlen, "redis: %s", r->ctx->errstr[0] ? r->ctx->errstr : "I/O error");
            hr_redis_close(r);
            return -1;
        }
        r->unread--;
        redisReply *rep = reply;
        if (rep->type == REDIS_REPLY_ERROR)
            hr_log_warn("redis: a command sent without waiting failed: %s", rep->str);
        freeReplyObject(rep);
    }
    return 0;
}

/* Reads the answer to the command just queued, after any left unread. */
static redisReply *redis_answer(hr_redis_t *r, char *err, size_t errlen)
{
    if (redis_read_unread(r, err, errlen) != 0)
        return NULL;
    void *reply = NULL;
    if (redisGetReply(r->ctx, &reply) != REDIS_OK)
        reply = NULL;
    return redis_checked(r, reply, err, errlen);
}

redisReply *hr_redis_argv(hr_redis_t *r, int argc, const char **argv, const size_t *lens,
                          char *err, size_t errlen)
{
    if (hr_redis_ensure(r, err, errlen) != 0)
        return NULL;
    if (redisAppendCommandArgv(r->ctx, argc, argv, lens) != REDIS_OK) {
        snprintf(err, errlen, "redis: out of memory");
        return NULL;
    }
    return redis_answer(r, err, errlen);
}

redisReply *hr_redis_cmd(hr_redis_t *r, char *err, size_t errlen, const char *fmt, ...)
{
    if (hr_redis_ensure(r, err, errlen) != 0)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAppendCommand(r->ctx, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        snprintf(err, errlen, "redis: out of memory");
        return NULL;
    }
    return redis_answer(r, err, errlen);
}

redisReply *hr_redis_eval(hr_redis_t *r, hr_redis_script_t *s, int nkeys, int nargs,
                          const char **args, const size_t *lens, char *err, size_t errlen)
{
    if (s->sha[0] == '\0') {
        redisReply *l = hr_redis_cmd(r, err, errlen, "SCRIPT LOAD %s", s->source);
        if (l == NULL)
            return NULL;
        if (l->type != REDIS_REPLY_STRING || l->len != 40) {
            snprintf(err, errlen, "redis SCRIPT LOAD: %s", l->type == REDIS_REPLY_ERROR ? l->str : "bad reply");
            freeReplyObject(l);
            return NULL;
        }
        memcpy(s->sha, l->str, 41);
        freeReplyObject(l);
    }
    int argc = nargs + 3;
    const char **argv = calloc((size_t)argc, sizeof *argv);
    size_t *alen = calloc((size_t)argc, sizeof *alen);
    redisReply *reply = NULL;
    char nk[16];
    if (argv == NULL || alen == NULL)
        goto fail;
    snprintf(nk, sizeof nk, "%d", nkeys);
    argv[0] = "EVALSHA";
    argv[1] = s->sha;
    argv[2] = nk;
    for (int i = 0; i < 3; i++)
        alen[i] = strlen(argv[i]);
    for (int i = 0; i < nargs; i++) {
        argv[3 + i] = args[i];
        alen[3 + i] = lens != NULL ? lens[i] : strlen(args[i]);
    }
    reply = hr_redis_argv(r, argc, argv, alen, err, errlen);
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        /* Redis lost its script cache (restart): send the source once. */
        freeReplyObject(reply);
        argv[0] = "EVAL";
        argv[1] = s->source;
        alen[0] = 4;
        alen[1] = strlen(s->source);
        reply = hr_redis_argv(r, argc, argv, alen, err, errlen);
    }
fail:
    free(argv);
    free(alen);
    return reply;
}

int hr_redis_group(hr_redis_t *r, const char *stream, const char *group, char *err, size_t errlen)
{
    redisReply *rep = hr_redis_cmd(r, err, errlen, "XGROUP CREATE %s %s 0 MKSTREAM", stream, group);
    if (rep == NULL)
        return -1;
    int rc = 0;
    if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "BUSYGROUP", 9) != 0) {
        snprintf(err, errlen, "XGROUP CREATE %s: %s", stream, rep->str);
        rc = -1;
    }
    freeReplyObject(rep);
    return rc;
}

int hr_redis_append(hr_redis_t *r, int argc, const char **argv, const size_t *lens, char *err,
                    size_t errlen)
{
    if (hr_redis_ensure(r, err, errlen) != 0)
        return -1;
    if (redisAppendCommandArgv(r->ctx, argc, argv, lens) != REDIS_OK) {
        snprintf(err, errlen, "redis: out of memory");
        return -1;
    }
    return 0;
}

int hr_redis_flush(hr_redis_t *r, int n, char *err, size_t errlen)
{
    if (r->ctx != NULL && redis_read_unread(r, err, errlen) != 0)
        return -1;
    int errors = 0;
    for (int i = 0; i < n; i++) {
        void *reply = NULL;
        if (r->ctx == NULL || redisGetReply(r->ctx, &reply) != REDIS_OK) {
            snprintf(err, errlen, "redis: %s", r->ctx ? r->ctx->errstr : "not connected");
            hr_redis_close(r);
            return -1;
        }
        redisReply *rep = reply;
        if (rep->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "redis: %s", rep->str);
            errors++;
        }
        freeReplyObject(rep);
    }
    return errors;
}

int hr_redis_send(hr_redis_t *r, int n, char *err, size_t errlen)
{
    if (r->ctx == NULL) {
        snprintf(err, errlen, "redis: not connected");
        return -1;
    }
    int done = 0;
    while (!done)
        if (redisBufferWrite(r->ctx, &done) != REDIS_OK) {
            snprintf(err, errlen, "redis: %s", r->ctx->errstr[0] ? r->ctx->errstr : "I/O error");
            hr_redis_close(r);
            return -1;
        }
    r->unread += n;
    return 0;
}

void hr_redis_close(hr_redis_t *r)
{
    if (r->ctx != NULL)
        redisFree(r->ctx);
    r->ctx = NULL;
    r->unread = 0;
}
