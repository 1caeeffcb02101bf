/* fanout: the herald:rt reader thread and its hand-over list. */
#include "fanout.h"

#include <hiredis/hiredis.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "redis.h"
#include "rtpub.h"

#define FANOUT_BLOCK_MS 1000
#define FANOUT_COUNT 1024

static redisContext *fanout_connect(hr_rt_fanout_t *f)
{
    char err[256];
    redisContext *c = hr_redis_connect(&f->cfg, err, sizeof err);
    if (c == NULL) {
        hr_log_warn("fanout: %s", err);
        return NULL;
    }
    /* A blocking read waits up to FANOUT_BLOCK_MS: allow for that. */
    long ms = FANOUT_BLOCK_MS + f->cfg.redis_timeout_ms;
    struct timeval rtv = {ms / 1000, (ms % 1000) * 1000};
    redisSetTimeout(c, rtv);
    /* Replies are built in reusable blocks (fanreply.c): each one is done
     * with hr_rt_fanarena_reset(), never freeReplyObject(). */
    hr_rt_fanarena_attach(&f->arena, c->reader);
    return c;
}

/* Where to read from: the last id seen, or the stream's newest entry on the
 * first start (events before the gateway started are for replay, not here).
 * If the stream went back (Redis lost it), follow it. Returns 0 or -1. */
static int fanout_position(hr_rt_fanout_t *f, redisContext *c)
{
    redisReply *r = redisCommand(c, "XREVRANGE %s + - COUNT 1", HR_RTPUB_STREAM);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        hr_rt_fanarena_reset(&f->arena);
        return -1;
    }
    char newest[48] = "0-0";
    if (r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements >= 1 && r->element[0]->element[0]->type == REDIS_REPLY_STRING)
        snprintf(newest, sizeof newest, "%s", r->element[0]->element[0]->str);
    hr_rt_fanarena_reset(&f->arena);
    hr_rt_id_t have, top;
    if (f->last_id[0] == '\0' || hr_rt_id_parse(f->last_id, &have) != 0 ||
        hr_rt_id_parse(newest, &top) != 0 || hr_rt_id_cmp(top, have) < 0)
        snprintf(f->last_id, sizeof f->last_id, "%s", newest);
    return 0;
}

static const char *fanout_field(const redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (fields->element[i]->type == REDIS_REPLY_STRING &&
            strcmp(fields->element[i]->str, name) == 0 &&
            fields->element[i + 1]->type == REDIS_REPLY_STRING)
            return fields->element[i + 1]->str;
    return NULL;
}

/* The id of one XREAD entry (in the reply), or NULL. */
static const char *fanout_id(const redisReply *entry)
{
    if (entry->type == REDIS_REPLY_ARRAY && entry->elements >= 1 &&
        entry->element[0]->type == REDIS_REPLY_STRING)
        return entry->element[0]->str;
    return NULL;
}

/* Frames one herald:rt entry; NULL when it is malformed (logged). */
static hr_rt_fanitem_t *fanout_item(hr_rt_fanout_t *f, const redisReply *entry)
{
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
        entry->element[1]->type != REDIS_REPLY_ARRAY)
        return NULL;
    const redisReply *fields = entry->element[1];
    const char *env = fanout_field(fields, "e"), *user = fanout_field(fields, "u");
    const char *id = fanout_field(fields, "id"), *ev = fanout_field(fields, "ev");
    if (env == NULL || user == NULL || id == NULL || ev == NULL || strlen(env) >= 40)
        return NULL;
    size_t el = strlen(env), ul = strlen(user), il = strlen(id), vl = strlen(ev);
    hr_rt_fanitem_t *it = malloc(sizeof *it + el + ul + il + vl + 4);
    hr_assert(it != NULL);
    it->next = NULL;
    memcpy(it->key, env, el + 1);
    it->user = it->key + el + 1;
    memcpy(it->user, user, ul + 1);
    it->id = it->user + ul + 1;
    memcpy(it->id, id, il + 1);
    it->ev = it->id + il + 1;
    memcpy(it->ev, ev, vl + 1);
    it->evlen = vl;
    return it;
}

static void fanout_hand_over(hr_rt_fanout_t *f, hr_rt_fanitem_t *head, hr_rt_fanitem_t *tail,
                             size_t n)
{
    pthread_mutex_lock(&f->mu);
    while (f->pending > f->max_pending && !f->stop)
        pthread_cond_wait(&f->cond, &f->mu);
    if (f->tail != NULL)
        f->tail->next = head;
    else
        f->head = head;
    f->tail = tail;
    f->pending += n;
    pthread_mutex_unlock(&f->mu);
    lws_cancel_service(f->ctx);
}

static void *fanout_main(void *arg)
{
    hr_rt_fanout_t *f = arg;
    redisContext *c = NULL;
    long pause_ms = 100;
    while (!f->stop) {
        if (c == NULL) {
            c = fanout_connect(f);
            if (c == NULL || fanout_position(f, c) != 0) {
                if (c != NULL)
                    redisFree(c);
                c = NULL;
                usleep((useconds_t)pause_ms * 1000);
                pause_ms = pause_ms * 2 > 2000 ? 2000 : pause_ms * 2;
                continue;
            }
            hr_log_json(HR_LOG_INFO, NULL, "fanout reading",
                        json_pack("{s:s, s:s}", "stream", HR_RTPUB_STREAM, "from", f->last_id));
            pause_ms = 100;
        }
        redisReply *r = redisCommand(c, "XREAD COUNT %d BLOCK %d STREAMS %s %s", FANOUT_COUNT,
                                     FANOUT_BLOCK_MS, HR_RTPUB_STREAM, f->last_id);
        if (r == NULL) {
            hr_log_warn("fanout: redis: %s; reconnecting from %s", c->errstr, f->last_id);
            redisFree(c);
            c = NULL;
            continue;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
            r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
            const redisReply *entries = r->element[0]->element[1];
            hr_rt_fanitem_t *head = NULL, *tail = NULL;
            size_t n = 0;
            const char *last = NULL; /* in the reply: copied once, after the loop */
            for (size_t i = 0; i < entries->elements; i++) {
                const redisReply *e = entries->element[i];
                const char *eid = fanout_id(e);
                if (eid != NULL)
                    last = eid;
                f->read++;
                hr_rt_fanitem_t *it = fanout_item(f, e);
                if (it == NULL) {
                    hr_log_warn("fanout: skipped malformed entry %s", eid != NULL ? eid : "?");
                    continue;
                }
                if (tail != NULL)
                    tail->next = it;
                else
                    head = it;
                tail = it;
                n++;
            }
            if (last != NULL)
                snprintf(f->last_id, sizeof f->last_id, "%s", last);
            if (n > 0)
                fanout_hand_over(f, head, tail, n);
        } else if (r->type == REDIS_REPLY_ERROR) {
            hr_log_warn("fanout: %s", r->str);
            usleep(200 * 1000);
        }
        hr_rt_fanarena_reset(&f->arena);
    }
    if (c != NULL)
        redisFree(c);
    hr_rt_fanarena_free(&f->arena);
    return NULL;
}

int hr_rt_fanout_start(hr_rt_fanout_t *f, struct lws_context *ctx, const hr_config_t *cfg,
                       size_t pre)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cond, NULL);
    f->ctx = ctx;
    f->cfg = *cfg;
    f->pre = pre;
    f->max_pending = 65536;
    if (pthread_create(&f->thread, NULL, fanout_main, f) != 0)
        return -1;
    f->started = true;
    return 0;
}

hr_rt_fanitem_t *hr_rt_fanout_take(hr_rt_fanout_t *f)
{
    pthread_mutex_lock(&f->mu);
    hr_rt_fanitem_t *list = f->head;
    f->head = f->tail = NULL;
    f->pending = 0;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->mu);
    return list;
}

void hr_rt_fanitem_free(hr_rt_fanitem_t *it)
{
    free(it);
}

void hr_rt_fanout_stop(hr_rt_fanout_t *f)
{
    if (f->started) {
        pthread_mutex_lock(&f->mu);
        f->stop = 1;
        pthread_cond_signal(&f->cond);
        pthread_mutex_unlock(&f->mu);
        pthread_join(f->thread, NULL);
        f->started = false;
    }
    hr_rt_fanitem_t *it = hr_rt_fanout_take(f);
    while (it != NULL) {
        hr_rt_fanitem_t *next = it->next;
        hr_rt_fanitem_free(it);
        it = next;
    }
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cond);
}
