/* stream: a consumer of a Redis Stream consumer group, shared by the router
 * and the workers. It first re-reads its own unacknowledged entries (after a
 * restart), takes over entries idle too long in other consumers (XAUTOCLAIM),
 * then blocks for new ones. */
#ifndef HR_STREAM_H
#define HR_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <libpq-fe.h>

#include "redis.h"

#define HR_STREAM_MAXFIELDS 8

typedef struct hr_stream_entry {
    const char *id;                       /* entry id, owned by the batch */
    int nfields;
    const char *keys[HR_STREAM_MAXFIELDS];
    const char *vals[HR_STREAM_MAXFIELDS];
} hr_stream_entry_t;

typedef struct hr_stream_batch {
    redisReply *reply;                    /* owns every string of entries */
    hr_stream_entry_t *entries;
    size_t n;
    bool claimed;                         /* taken over from another consumer */
} hr_stream_batch_t;

typedef struct hr_consumer {
    hr_redis_t *redis;
    char stream[128];
    char group[64];
    char name[128];
    long claim_idle_ms;
    bool pel_first;                       /* re-read own pending entries first */
    time_t last_claim;
    char claim_cursor[48];
    bool have_group;                      /* the group is known to exist */
    long backoff_ms;                      /* pause before the next read after a failure */
} hr_consumer_t;

/* Sets up a consumer named "<hostname>-<pid>" (or name when not NULL). */
void hr_consumer_init(hr_consumer_t *c, hr_redis_t *redis, const char *stream, const char *group,
                      const char *name, long claim_idle_ms);

/* Reads up to count entries, blocking at most block_ms for new ones. Returns 0
 * (out->n may be 0) or -1 with err; free the batch with hr_stream_batch_free. */
int hr_consumer_read(hr_consumer_t *c, long count, long block_ms, hr_stream_batch_t *out,
                     char *err, size_t errlen) __attribute__((warn_unused_result));

/* Takes over up to count entries idle at least claim_idle_ms in any consumer
 * of the group (XAUTOCLAIM, continuing from where the last call stopped),
 * without reading new ones. Returns 0 (out->n may be 0) or -1 with err. */
int hr_consumer_claim(hr_consumer_t *c, long count, hr_stream_batch_t *out, char *err,
                      size_t errlen) __attribute__((warn_unused_result));

/* One step of a consumer's loop: waits out the current backoff, creates the
 * group when needed, and reads a batch. Returns 1 with a batch to process
 * (free it with hr_stream_batch_free), or 0 when there is nothing to do now
 * (a stop was requested, or an error was logged and the backoff raised). */
int hr_consumer_next(hr_consumer_t *c, long count, long block_ms, hr_stream_batch_t *out);

/* Reports how the batch from hr_consumer_next went: a failure re-reads the
 * consumer's own pending entries after a growing pause. */
void hr_consumer_done(hr_consumer_t *c, bool ok);

/* Acknowledges and deletes the given entries (XACK and XDEL, pipelined).
 * wait: read their answers now; otherwise they are only written, and read
 * before the next command's (hr_redis_send), which they then share an fsync
 * with. An ack that fails either way only makes the entries come back, to
 * be skipped. */
int hr_consumer_ack(hr_consumer_t *c, const char *const *ids, size_t n, bool wait, char *err,
                    size_t errlen) __attribute__((warn_unused_result));

/* Puts the delivery of each row of res (its id in column id_col, its
 * notification's in nid_col) on stream as {d, n}, in one pipelined round
 * trip. Returns how many were queued: fewer than the rows when Redis failed
 * (err says why; the sweeper queues the rest later). */
int hr_stream_put_deliveries(hr_redis_t *redis, const char *stream, const PGresult *res,
                             int id_col, int nid_col, char *err, size_t errlen);

/* The value of field key in e, or NULL. */
const char *hr_stream_field(const hr_stream_entry_t *e, const char *key);

void hr_stream_batch_free(hr_stream_batch_t *b);

#endif
