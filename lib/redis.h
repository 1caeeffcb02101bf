/* redis: one Redis connection per process (hiredis, RESP2), reconnected when
 * it breaks, and Lua scripts run by EVALSHA with an EVAL fallback. */
#ifndef HR_REDIS_H
#define HR_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "config.h"

typedef struct hr_redis {
    redisContext *ctx;
    const hr_config_t *cfg; /* where Redis is; not owned */
    int unread;             /* answers of hr_redis_send()'s commands not read yet */
} hr_redis_t;

typedef struct hr_redis_script {
    const char *source;
    char sha[41]; /* filled on first use */
} hr_redis_script_t;

/* Remembers where Redis is ([redis] settings of cfg, which must outlive r);
 * connects lazily. */
void hr_redis_init(hr_redis_t *r, const hr_config_t *cfg);

/* Opens a connection to the Redis of cfg ([redis] host/port or socket,
 * timeout_ms for connect and commands) and authenticates with [redis]
 * password when set. Returns the context (caller frees with redisFree), or
 * NULL with the reason in err. */
redisContext *hr_redis_connect(const hr_config_t *cfg, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Connects if not connected. Returns 0, or -1 with the reason in err. */
int hr_redis_ensure(hr_redis_t *r, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Sets the read timeout for blocking commands (XREADGROUP BLOCK …). */
void hr_redis_set_timeout(hr_redis_t *r, long ms);

/* Runs one command given as argv. Returns the reply (caller frees with
 * freeReplyObject), or NULL with the reason in err; an I/O error drops the
 * connection so the next call reconnects. A Redis error reply is returned,
 * not NULL: check reply->type. */
redisReply *hr_redis_argv(hr_redis_t *r, int argc, const char **argv, const size_t *lens,
                          char *err, size_t errlen) __attribute__((warn_unused_result));

/* printf-style (hiredis format) variant of hr_redis_argv. */
redisReply *hr_redis_cmd(hr_redis_t *r, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((warn_unused_result));

/* Runs a script: EVALSHA, loading it on NOSCRIPT. args are keys then argv.
 * Same ownership and errors as hr_redis_argv. */
redisReply *hr_redis_eval(hr_redis_t *r, hr_redis_script_t *s, int nkeys, int nargs,
                          const char **args, const size_t *lens, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Creates the consumer group on stream (MKSTREAM) unless it exists. */
int hr_redis_group(hr_redis_t *r, const char *stream, const char *group, char *err,
                   size_t errlen) __attribute__((warn_unused_result));

/* Pipelining: queue commands with hr_redis_append, then read all their replies
 * with hr_redis_flush. append returns 0 or -1 (no connection); flush returns
 * the number of error replies (their text in err), or -1 on an I/O error,
 * which drops the connection. */
int hr_redis_append(hr_redis_t *r, int argc, const char **argv, const size_t *lens, char *err,
                    size_t errlen) __attribute__((warn_unused_result));
int hr_redis_flush(hr_redis_t *r, int n, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Writes the n commands queued with hr_redis_append without waiting for
 * their answers: the next command on r reads them first (an error answer is
 * logged then). For writes whose outcome can wait, such as acks: written
 * before the next command, they share its turn of Redis's event loop, so
 * with appendfsync always its fsync too. Only for a connection whose answers
 * are all read through these functions (not redisGetReply on r->ctx, as the
 * gateway's replay does). Returns 0, or -1 on an I/O error, which drops the
 * connection (Redis may or may not have run them). */
int hr_redis_send(hr_redis_t *r, int n, char *err, size_t errlen) __attribute__((warn_unused_result));

void hr_redis_close(hr_redis_t *r);

#endif
