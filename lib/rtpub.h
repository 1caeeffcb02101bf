/* rtpub: publishing in-app inbox events to the realtime gateways. Each event
 * is appended to the user's capped replay stream (its entry id is the event
 * id) and to the fan-out stream herald:rt that every gateway reads, in one
 * atomic Lua script. Also the inbox item's SQL columns and JSON shape, shared
 * by the inbox API and the in-app worker. */
#ifndef HR_RTPUB_H
#define HR_RTPUB_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "config.h"
#include "db.h"
#include "redis.h"

#define HR_RTPUB_STREAM "herald:rt"
#define HR_RTPUB_REPLAY_PREFIX "herald:rt:u:"
#define HR_RTPUB_IDLEN 48 /* "<ms>-<seq>" and the NUL */

typedef struct hr_rtpub_opts {
    long replay_max;      /* XADD MAXLEN ~ of a user's replay stream */
    long replay_window_s; /* entries older than this are trimmed; the key expires after it */
    long fanout_maxlen;   /* XADD MAXLEN ~ of herald:rt */
} hr_rtpub_opts_t;

/* The publishing options of the [realtime] settings. */
void hr_rtpub_opts(const hr_config_t *cfg, hr_rtpub_opts_t *out);

/* Writes the replay stream key of env + user into out ("herald:rt:u:<env>:<user>"). */
void hr_rtpub_replay_key(const char *env, const char *user, char *out, size_t len);

/* Publishes event (an object with "type"; the gateway adds "id") for env +
 * user. Writes the event id into id_out (HR_RTPUB_IDLEN bytes) when not NULL.
 * Returns 0, or -1 with err (Redis unreachable). */
int hr_rtpub_publish(hr_redis_t *r, const hr_rtpub_opts_t *o, const char *env, const char *user,
                     const json_t *event, char *id_out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Columns of an inbox item, for SELECT … FROM inbox_items i / RETURNING. */
#define HR_RTPUB_ITEM_COLS                                                                      \
    "i.id, i.notification_id, i.title, i.body, i.data::text, herald_ts(i.read_at),"             \
    " herald_ts(i.archived_at), herald_ts(i.created_at)"
#define HR_RTPUB_ITEM_NCOLS 8

/* The JSON of the item in row of res whose HR_RTPUB_ITEM_COLS start at col0.
 * Caller decrefs. */
json_t *hr_rtpub_item_json(const PGresult *res, int row, int col0);

/* Opens a transaction holding the user's inbox lock (an advisory lock), so
 * that changes and their published unread counts are ordered per user.
 * Returns 0, or -1 with err (nothing is left open). */
int hr_rtpub_begin(hr_db_t *db, const char *env, const char *user, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Commits (0) or, on failure, rolls back (-1 with err). */
int hr_rtpub_commit(hr_db_t *db, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The user's unread count (not read, not archived) into *out; 0 or -1. */
int hr_rtpub_unread(hr_db_t *db, const char *env, const char *user, long *out, char *err,
                    size_t errlen) __attribute__((warn_unused_result));

/* The in-app worker's hook: publishes notification.created for the inbox
 * item item_id (just inserted) with the user's new unread count. Returns 0,
 * or -1 with err; the item itself stays stored either way. */
int hr_rtpub_created(hr_db_t *db, hr_redis_t *r, const hr_rtpub_opts_t *o, const char *item_id,
                     char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
