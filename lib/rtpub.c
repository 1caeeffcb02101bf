/* rtpub: inbox events onto the replay streams and herald:rt (one Lua script),
 * and the per-user ordering of inbox changes. */
#include "rtpub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "log.h"

/* KEYS: replay stream, herald:rt. ARGV: env, user, event JSON, replay MAXLEN,
 * replay window (ms), herald:rt MAXLEN. The replay entry goes first, so a
 * gateway that sees the herald:rt entry can always find it for replay. */
static hr_redis_script_t rtpub_script = {
    .source =
        "local t = redis.call('TIME')\n"
        "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
        "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 'ev', ARGV[3])\n"
        "redis.call('XTRIM', KEYS[1], 'MINID', '~', tostring(now - tonumber(ARGV[5])))\n"
        "redis.call('PEXPIRE', KEYS[1], ARGV[5])\n"
        "redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'e', ARGV[1], 'u', ARGV[2],"
        " 'id', id, 'ev', ARGV[3])\n"
        "return id\n",
};

void hr_rtpub_opts(const hr_config_t *cfg, hr_rtpub_opts_t *out)
{
    out->replay_max = cfg->realtime_replay_max;
    out->replay_window_s = cfg->realtime_replay_window_s;
    out->fanout_maxlen = cfg->realtime_fanout_maxlen;
}

void hr_rtpub_replay_key(const char *env, const char *user, char *out, size_t len)
{
    snprintf(out, len, HR_RTPUB_REPLAY_PREFIX "%s:%s", env, user);
}

int hr_rtpub_publish(hr_redis_t *r, const hr_rtpub_opts_t *o, const char *env, const char *user,
                     const json_t *event, char *id_out, char *err, size_t errlen)
{
    char key[600], maxlen[24], window[24], fanout[24];
    hr_rtpub_replay_key(env, user, key, sizeof key);
    snprintf(maxlen, sizeof maxlen, "%ld", o->replay_max);
    snprintf(window, sizeof window, "%ld", o->replay_window_s * 1000);
    snprintf(fanout, sizeof fanout, "%ld", o->fanout_maxlen);
    char *payload = hr_json_dump(event);
    const char *args[8] = {key, HR_RTPUB_STREAM, env, user, payload, maxlen, window, fanout};
    size_t lens[8];
    for (int i = 0; i < 8; i++)
        lens[i] = strlen(args[i]);
    redisReply *rep = hr_redis_eval(r, &rtpub_script, 2, 8, args, lens, err, errlen);
    free(payload);
    if (rep == NULL)
        return -1;
    int rc = -1;
    if (rep->type == REDIS_REPLY_STRING) {
        if (id_out != NULL)
            snprintf(id_out, HR_RTPUB_IDLEN, "%s", rep->str);
        rc = 0;
    } else {
        snprintf(err, errlen, "publish: %s", rep->type == REDIS_REPLY_ERROR ? rep->str : "bad reply");
    }
    freeReplyObject(rep);
    return rc;
}

static json_t *rtpub_ts(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

json_t *hr_rtpub_item_json(const PGresult *res, int row, int col0)
{
    json_t *data = json_loads(PQgetvalue(res, row, col0 + 4), 0, NULL);
    json_t *it = json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:o, s:b, s:o, s:o}", "id",
                           PQgetvalue(res, row, col0), "notification_id",
                           PQgetvalue(res, row, col0 + 1), "title", PQgetvalue(res, row, col0 + 2),
                           "body", PQgetvalue(res, row, col0 + 3), "data",
                           data != NULL ? data : json_object(), "read",
                           !PQgetisnull(res, row, col0 + 5), "read_at",
                           rtpub_ts(res, row, col0 + 5), "archived",
                           !PQgetisnull(res, row, col0 + 6), "archived_at",
                           rtpub_ts(res, row, col0 + 6), "created_at",
                           rtpub_ts(res, row, col0 + 7));
    hr_assert(it != NULL);
    return it;
}

int hr_rtpub_begin(hr_db_t *db, const char *env, const char *user, char *err, size_t errlen)
{
    const char *p[2] = {env, user};
    if (hr_db_run(db, "BEGIN", 0, NULL, err, errlen) != 0)
        return -1;
    if (hr_db_run(db, "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 7))", 2,
                  p, err, errlen) != 0) {
        hr_db_rollback(db);
        return -1;
    }
    return 0;
}

int hr_rtpub_commit(hr_db_t *db, char *err, size_t errlen)
{
    if (hr_db_run(db, "COMMIT", 0, NULL, err, errlen) != 0) {
        hr_db_rollback(db);
        return -1;
    }
    return 0;
}

int hr_rtpub_unread(hr_db_t *db, const char *env, const char *user, long *out, char *err,
                    size_t errlen)
{
    const char *p[2] = {env, user};
    PGresult *res = hr_db_exec(db,
                               "SELECT count(*) FROM inbox_items WHERE environment_id = $1"
                               " AND user_id = $2 AND read_at IS NULL AND archived_at IS NULL",
                               2, p, err, errlen);
    if (res == NULL)
        return -1;
    *out = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

int hr_rtpub_created(hr_db_t *db, hr_redis_t *r, const hr_rtpub_opts_t *o, const char *item_id,
                     char *err, size_t errlen)
{
    const char *p[1] = {item_id};
    PGresult *who = hr_db_exec(db, "SELECT environment_id, user_id FROM inbox_items WHERE id = $1",
                               1, p, err, errlen);
    if (who == NULL)
        return -1;
    if (PQntuples(who) != 1) {
        PQclear(who);
        snprintf(err, errlen, "inbox item %s not found", item_id);
        return -1;
    }
    char env[64];
    char *user = strdup(PQgetvalue(who, 0, 1));
    snprintf(env, sizeof env, "%s", PQgetvalue(who, 0, 0));
    PQclear(who);
    hr_assert(user != NULL);
    int rc = -1;
    PGresult *res = NULL;
    json_t *ev = NULL;
    long unread = 0;
    if (hr_rtpub_begin(db, env, user, err, errlen) != 0)
        goto fail;
    res = hr_db_exec(db, "SELECT " HR_RTPUB_ITEM_COLS " FROM inbox_items i WHERE i.id = $1", 1, p,
                     err, errlen);
    if (res == NULL || PQntuples(res) != 1 || hr_rtpub_unread(db, env, user, &unread, err, errlen) != 0) {
        if (res != NULL && PQntuples(res) != 1)
            snprintf(err, errlen, "inbox item %s vanished", item_id);
        hr_db_rollback(db);
        goto fail;
    }
    ev = json_pack("{s:s, s:I, s:o}", "type", "notification.created", "unread_count",
                   (json_int_t)unread, "item", hr_rtpub_item_json(res, 0, 0));
    if (hr_rtpub_publish(r, o, env, user, ev, NULL, err, errlen) != 0) {
        hr_db_rollback(db);
        goto fail;
    }
    rc = hr_rtpub_commit(db, err, errlen);
fail:
    PQclear(res);
    json_decref(ev);
    free(user);
    return rc;
}
