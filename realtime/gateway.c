/* gateway: the lws protocol callback (HTTP for SSE and refusals, WebSocket),
 * sessions, authentication before the upgrade, greeting and replay, the
 * keep-alive tick and the SIGTERM drain. Everything here runs on the one lws
 * thread; events arrive from the fan-out reader thread (fanout.c). */
#include "gateway.h"

#include <errno.h>
#include <ev.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto.h"
#include "db.h"
#include "event.h"
#include "fanout.h"
#include "jsonutil.h"
#include "listen.h"
#include "log.h"
#include "redis.h"
#include "room.h"
#include "rtpub.h"
#include "usertoken.h"

volatile sig_atomic_t hr_rt_stop, hr_rt_reload;

enum { RT_NONE = 0, RT_WS, RT_SSE };

enum {
    RT_F_LINKED = 1,   /* in the gateway's list of sessions */
    RT_F_OVERFLOW = 2, /* fell behind: only the final resync is left to send */
    RT_F_PING = 4,     /* a WebSocket ping / SSE comment is due */
    RT_F_CLOSING = 8,  /* the last message (close flag) is queued */
    RT_F_WAKE = 16,    /* in gw_dispatch()'s list of writable requests */
};

/* Per-session data (lws allocates and frees it; our parts of it are
 * released in CLOSED / CLOSED_HTTP only). */
typedef struct rt_session {
    hr_rt_member_t member; /* first: a member pointer is a session pointer */
    struct rt_session *prev, *next;
    struct rt_session *wake_next; /* gw_dispatch()'s list, while RT_F_WAKE */
    struct lws *wsi;
    hr_rt_queue_t q;
    hr_rt_id_t base;       /* events up to here were before the connection */
    hr_rt_id_t last;       /* newest event queued to it */
    uint32_t last_rx;      /* gateway clock (s) of the last frame or pong from it */
    uint32_t last_ping;    /* gateway clock (s) of the last ping / comment */
    uint8_t kind;
    uint8_t flags;
    uint16_t close_code;
} rt_session_t;

/* Identity checked at LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, picked up by the
 * same connection's LWS_CALLBACK_ESTABLISHED in the same lws call chain. */
typedef struct rt_pending {
    struct lws *wsi;
    hr_usertoken_t who;
    char resume[48];
} rt_pending_t;

typedef struct rt_gw {
    hr_config_t *cfg;
    const char *config_path;
    struct lws_context *ctx;
    struct ev_loop *loop;  /* the event loop lws runs on (ours: libev, epoll) */
    hr_db_t db;
    hr_usertoken_cache_t *tokens; /* environments' signing keys */
    hr_redis_t redis;
    hr_rt_rooms_t rooms;
    hr_rt_fanout_t fanout;
    hr_rt_listen_t listener;
    rt_session_t *sessions;
    unsigned nsessions;
    rt_pending_t pending;
    lws_sorted_usec_list_t tick;
    uint32_t clock;        /* seconds since start */
    struct timespec t0;
    int draining;
    unsigned long long delivered, slow_dropped, refused;
} rt_gw_t;

static rt_gw_t gw;

#define RT_PRE LWS_PRE
#define RT_ARG_MAX 2048
#define RT_WRITE_BATCH 16 /* messages written per WRITEABLE callback at most */
/* How long an environment's signing keys are reused to check tokens: a
 * reconnect storm asks PostgreSQL once per environment, not per connection;
 * a secret whose rotation grace ended still verifies for up to this long. */
#define RT_TOKEN_CACHE_MS 5000

static uint32_t gw_clock(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint32_t)(t.tv_sec - gw.t0.tv_sec);
}

static uint64_t gw_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

void hr_rt_wake(void)
{
    if (gw.ctx != NULL)
        lws_cancel_service(gw.ctx);
}

/* ---- HTTP answers before any session exists ------------------------------ */

/* Writes a complete small JSON answer. A refusal is one write before a
 * session exists (the way lws_return_http_status() answers); everything a
 * session sends goes through its queue and the WRITEABLE callbacks. */
static int gw_http_json(struct lws *wsi, unsigned status, const char *body)
{
    unsigned char buf[RT_PRE + 4096];
    unsigned char *start = buf + RT_PRE, *p = start, *end = buf + sizeof buf - 1;
    size_t len = strlen(body);
    if (len > 2048)
        len = 2048;
    if (lws_add_http_common_headers(wsi, status, "application/json", len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    memcpy(start, body, len);
    if (lws_write(wsi, start, len, LWS_WRITE_HTTP_FINAL) != (int)len)
        return -1;
    return 0;
}

static int gw_http_error(struct lws *wsi, unsigned status, const char *code, const char *msg)
{
    char *body = hr_json_error_body(code, msg, NULL);
    size_t n = strlen(body);
    char *line = malloc(n + 2);
    hr_assert(line != NULL);
    memcpy(line, body, n);
    memcpy(line + n, "\n", 2);
    int rc = gw_http_json(wsi, status, line);
    free(line);
    free(body);
    gw.refused++;
    return rc;
}

/* ---- authentication -------------------------------------------------------- */

/* The user token of the request: Authorization: Bearer <token>, else
 * ?token=. Returns 0 with the token in buf, or -1. */
static int gw_token(struct lws *wsi, char *buf, int len)
{
    char h[RT_ARG_MAX];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
        lws_hdr_copy(wsi, h, sizeof h, WSI_TOKEN_HTTP_AUTHORIZATION) > 0) {
        if (strncasecmp(h, "Bearer ", 7) == 0) {
            const char *t = h + 7;
            while (*t == ' ')
                t++;
            snprintf(buf, (size_t)len, "%s", t);
            return buf[0] != '\0' ? 0 : -1;
        }
    }
    const char *q = lws_get_urlarg_by_name(wsi, "token=", h, sizeof h);
    if (q != NULL && q[0] != '\0') {
        snprintf(buf, (size_t)len, "%s", q);
        return 0;
    }
    return -1;
}

/* Authenticates and checks the limits. Returns 0 with who filled, or -1
 * after answering (401, 429, 503). */
static int gw_admit(struct lws *wsi, hr_usertoken_t *who)
{
    char token[RT_ARG_MAX], envbuf[RT_ARG_MAX], err[256];
    if (gw.draining) {
        gw_http_error(wsi, 503, "unavailable", "this gateway is shutting down; reconnect");
        return -1;
    }
    if (gw_token(wsi, token, sizeof token) != 0) {
        gw_http_error(wsi, 401, "unauthorized",
                      "send the user token as Authorization: Bearer <token> or ?token=");
        return -1;
    }
    const char *expect = lws_get_urlarg_by_name(wsi, "env=", envbuf, sizeof envbuf);
    char derr[300];
    if (hr_db_ensure(&gw.db, derr, sizeof derr) != 0) {
        hr_log_error("postgres: %s", derr);
        gw_http_error(wsi, 503, "not_ready", "the database is unreachable; try again");
        return -1;
    }
    int rc = hr_usertoken_verify_cached(gw.tokens, &gw.db, token, expect, who, err, sizeof err);
    if (rc == -2) {
        hr_log_error("token check failed: %s", err);
        gw_http_error(wsi, 503, "not_ready", "the database is unreachable; try again");
        return -1;
    }
    if (rc != 0) {
        char msg[320];
        snprintf(msg, sizeof msg, "the user token is not valid: %s", err);
        gw_http_error(wsi, 401, "unauthorized", msg);
        return -1;
    }
    switch (hr_rt_rooms_check(&gw.rooms, who->environment_id, who->user_id,
                              (unsigned)gw.cfg->realtime_max_per_user,
                              (unsigned)gw.cfg->realtime_max_per_env)) {
    case HR_RT_JOIN_OK:
        return 0;
    case HR_RT_JOIN_USER_FULL:
        gw_http_error(wsi, 429, "too_many_connections",
                      "this user holds the most connections allowed");
        return -1;
    case HR_RT_JOIN_ENV_FULL:
        gw_http_error(wsi, 429, "too_many_connections",
                      "this environment holds the most connections allowed");
        return -1;
    }
    return -1;
}

/* ---- queueing ---------------------------------------------------------------- */

static hr_rt_msg_t *gw_resync_msg(const char *reason, const char *id)
{
    json_t *ev = json_pack("{s:s, s:s}", "type", "resync", "reason", reason);
    hr_rt_msg_t *m = hr_rt_msg_json(id, ev, RT_PRE);
    json_decref(ev);
    hr_assert(m != NULL);
    return m;
}

/* Queues m for s. A session that is queue_max behind gets one resync and is
 * closed once it is written (or after 5 s if it never becomes writable).
 * Returns whether s needs a writable callback (the caller asks lws). */
static bool gw_push(rt_session_t *s, hr_rt_msg_t *m)
{
    if (s->flags & (RT_F_OVERFLOW | RT_F_CLOSING))
        return false;
    if (hr_rt_queue_push(&s->q, m, (unsigned)gw.cfg->realtime_queue_max) != 0) {
        hr_rt_queue_clear(&s->q);
        hr_rt_msg_t *r = gw_resync_msg("slow_consumer", NULL);
        r->flags |= HR_RT_MSG_CLOSE;
        hr_assert(hr_rt_queue_push(&s->q, r, 0) == 0);
        hr_rt_msg_unref(r);
        s->flags |= RT_F_OVERFLOW;
        s->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
        gw.slow_dropped++;
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, 5);
        hr_rt_room_t *room = s->member.room;
        hr_log_json(HR_LOG_WARN, NULL, "slow consumer: resync and close",
                    json_pack("{s:s, s:s}", "env", room ? hr_rt_room_env(room) : "",
                              "user", room ? hr_rt_room_user(room) : ""));
    }
    return true;
}

static void gw_queue(rt_session_t *s, hr_rt_msg_t *m)
{
    if (gw_push(s, m))
        lws_callback_on_writable(s->wsi);
}

/* ---- greeting and replay ------------------------------------------------------ */

/* The newest event id of the user's replay stream into out ("" if none).
 * Returns 0, or -1 when Redis failed. */
static int gw_head(const char *key, char *out, size_t len)
{
    char err[256];
    out[0] = '\0';
    redisReply *r = hr_redis_cmd(&gw.redis, err, sizeof err, "XREVRANGE %s + - COUNT 1", key);
    if (r == NULL) {
        hr_log_warn("replay head: %s", err);
        return -1;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements >= 1)
        snprintf(out, len, "%s", r->element[0]->element[0]->str);
    freeReplyObject(r);
    return 0;
}

/* Queues the events of the user's replay stream after `from` (filtered to
 * those s was not sent: up to s->base, or newer than s->last), or a resync
 * when they are not all there any more. Returns the newest id queued. */
static hr_rt_id_t gw_replay(rt_session_t *s, const char *key, const char *from, const char *head)
{
    hr_rt_id_t l, best = s->last;
    const char *why = NULL;
    char err[256], start[48];
    redisReply *info = NULL, *range = NULL;
    if (hr_rt_id_parse(from, &l) != 0) {
        why = "bad_last_event_id";
        goto resync;
    }
    uint64_t now = gw_now_ms(), window = (uint64_t)gw.cfg->realtime_replay_window_s * 1000;
    bool zero = l.ms == 0 && l.seq == 0;
    if (!zero && l.ms + window < now) {
        why = "replay_window";
        goto resync;
    }
    hr_rt_id_format(l, start, sizeof start);
    long count = gw.cfg->realtime_queue_max - 2;
    const char *a1[3] = {"XINFO", "STREAM", key};
    char cnt[24];
    snprintf(cnt, sizeof cnt, "%ld", count + 1);
    const char *a2[7] = {"XRANGE", key, start, "+", "COUNT", cnt, NULL};
    if (hr_redis_append(&gw.redis, 3, a1, NULL, err, sizeof err) != 0 ||
        hr_redis_append(&gw.redis, 6, a2, NULL, err, sizeof err) != 0 ||
        redisGetReply(gw.redis.ctx, (void **)&info) != REDIS_OK ||
        redisGetReply(gw.redis.ctx, (void **)&range) != REDIS_OK) {
        hr_log_warn("replay: redis failed");
        hr_redis_close(&gw.redis);
        why = "unavailable";
        goto resync;
    }
    if (range->type != REDIS_REPLY_ARRAY) {
        why = "unavailable";
        goto resync;
    }
    if (range->elements == 0)
        goto done; /* nothing after `from` */
    bool present = false;
    hr_rt_id_t first;
    if (hr_rt_id_parse(range->element[0]->element[0]->str, &first) == 0 &&
        hr_rt_id_cmp(first, l) == 0)
        present = true;
    if (!present) {
        /* `from` is gone: fine only if nothing was ever trimmed (every event
         * after it is still there), which XINFO's counters tell. */
        long long length = -1, added = -2;
        if (info->type == REDIS_REPLY_ARRAY)
            for (size_t i = 0; i + 1 < info->elements; i += 2) {
                const char *k = info->element[i]->str;
                if (info->element[i]->type != REDIS_REPLY_STRING)
                    continue;
                if (strcmp(k, "length") == 0)
                    length = info->element[i + 1]->integer;
                else if (strcmp(k, "entries-added") == 0)
                    added = info->element[i + 1]->integer;
            }
        if (length != added) {
            why = "replay_window";
            goto resync;
        }
    }
    if ((long)range->elements - (present ? 1 : 0) > count) {
        why = "too_many_missed";
        goto resync;
    }
    for (size_t i = present ? 1 : 0; i < range->elements; i++) {
        const redisReply *e = range->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[1]->elements < 2)
            continue;
        const char *id = e->element[0]->str, *ev = e->element[1]->element[1]->str;
        hr_rt_msg_t *m = hr_rt_msg_new(id, ev, strlen(ev), RT_PRE);
        if (m == NULL)
            continue;
        if (hr_rt_id_cmp(m->id, s->base) <= 0 || hr_rt_id_cmp(m->id, s->last) > 0) {
            gw_queue(s, m);
            if (hr_rt_id_cmp(m->id, best) > 0)
                best = m->id;
        }
        hr_rt_msg_unref(m);
    }
    goto done;
resync : {
    hr_rt_msg_t *m = gw_resync_msg(why, head[0] ? head : NULL);
    gw_queue(s, m);
    if (hr_rt_id_cmp(m->id, best) > 0)
        best = m->id;
    hr_rt_msg_unref(m);
}
done:
    if (info != NULL)
        freeReplyObject(info);
    if (range != NULL)
        freeReplyObject(range);
    return best;
}

/* Joins the room, sends the greeting (unread count, newest event id) and,
 * when resuming, the missed events. Returns 0, or -1 to close. */
static int gw_start(rt_session_t *s, const hr_usertoken_t *who, const char *resume)
{
    const char *env = who->environment_id, *user = who->user_id;
    if (hr_rt_rooms_join(&gw.rooms, env, user, &s->member, (unsigned)gw.cfg->realtime_max_per_user,
                         (unsigned)gw.cfg->realtime_max_per_env) != HR_RT_JOIN_OK)
        return -1;
    s->flags |= RT_F_LINKED;
    s->next = gw.sessions;
    if (gw.sessions != NULL)
        gw.sessions->prev = s;
    gw.sessions = s;
    gw.nsessions++;
    s->last_rx = s->last_ping = gw.clock;
    hr_rt_room_t *room = s->member.room;
    char key[600], head[48], err[256];
    hr_rtpub_replay_key(env, user, key, sizeof key);
    if (gw_head(key, head, sizeof head) != 0)
        head[0] = '\0';
    if (room->unread < 0) {
        long n = 0;
        if (hr_rtpub_unread(&gw.db, env, user, &n, err, sizeof err) == 0)
            room->unread = n;
        else
            hr_log_warn("unread count: %s", err);
    }
    hr_rt_id_t h = {0, 0};
    if (head[0] != '\0' && hr_rt_id_parse(head, &h) != 0)
        head[0] = '\0';
    s->base = s->last = h;
    json_t *ev = json_pack("{s:s, s:s, s:s?, s:i}", "type", "connected", "user", user,
                           "last_event_id", head[0] ? head : "0-0", "replay_window_s",
                           (int)gw.cfg->realtime_replay_window_s);
    json_object_set_new(ev, "unread_count",
                        room->unread >= 0 ? json_integer(room->unread) : json_null());
    /* A fresh connection's greeting carries the newest id (or 0-0), so a
     * client that never saw an event still resumes from the right place. */
    hr_rt_msg_t *m = hr_rt_msg_json(resume == NULL ? (head[0] ? head : "0-0") : NULL, ev, RT_PRE);
    json_decref(ev);
    gw_queue(s, m);
    hr_rt_msg_unref(m);
    if (resume != NULL && resume[0] != '\0') {
        s->base = s->last = (hr_rt_id_t){0, 0};
        /* Everything up to the head was before this connection. */
        s->base = h;
        hr_rt_id_t got = gw_replay(s, key, resume, head);
        s->last = hr_rt_id_cmp(got, h) > 0 ? got : h;
        s->base = s->last;
    }
    return 0;
}

static void gw_end(rt_session_t *s)
{
    hr_rt_rooms_leave(&gw.rooms, &s->member);
    hr_rt_queue_clear(&s->q);
    if (s->flags & RT_F_LINKED) {
        if (s->prev != NULL)
            s->prev->next = s->next;
        else
            gw.sessions = s->next;
        if (s->next != NULL)
            s->next->prev = s->prev;
        s->prev = s->next = NULL;
        s->flags &= (uint8_t)~RT_F_LINKED;
        gw.nsessions--;
    }
    s->kind = RT_NONE;
}

/* A client message on the WebSocket: {"type":"resume","last_event_id":…}
 * replays what it missed; anything else is ignored. */
static void gw_client_message(rt_session_t *s, const char *in, size_t len)
{
    json_t *j = json_loadb(in, len, 0, NULL);
    const char *type = hr_json_str(j, "type");
    const char *from = hr_json_str(j, "last_event_id");
    if (type != NULL && strcmp(type, "resume") == 0 && from != NULL && s->member.room != NULL) {
        hr_rt_room_t *room = s->member.room;
        char key[600], head[48];
        hr_rtpub_replay_key(hr_rt_room_env(room), hr_rt_room_user(room), key, sizeof key);
        if (gw_head(key, head, sizeof head) != 0)
            head[0] = '\0';
        hr_rt_id_t got = gw_replay(s, key, from, head);
        if (hr_rt_id_cmp(got, s->last) > 0)
            s->last = got;
    } else if (type != NULL && strcmp(type, "ping") == 0) {
        json_t *ev = json_pack("{s:s}", "type", "pong");
        hr_rt_msg_t *m = hr_rt_msg_json(NULL, ev, RT_PRE);
        json_decref(ev);
        gw_queue(s, m);
        hr_rt_msg_unref(m);
    }
    json_decref(j);
}

/* ---- fan-out -------------------------------------------------------------------- */

static void gw_dispatch(void)
{
    hr_rt_fanitem_t *it = hr_rt_fanout_take(&gw.fanout);
    rt_session_t *wake = NULL, **wake_end = &wake; /* in the order first woken */
    while (it != NULL) {
        hr_rt_fanitem_t *next = it->next;
        hr_rt_room_t *room = hr_rt_rooms_find(&gw.rooms, it->key, it->user);
        hr_rt_msg_t *m = room != NULL ? hr_rt_msg_new(it->id, it->ev, it->evlen, RT_PRE) : NULL;
        if (m != NULL) {
            char type[64];
            long unread;
            hr_rt_payload_peek(it->ev, type, sizeof type, &unread);
            if (unread >= 0)
                room->unread = unread;
            for (hr_rt_member_t *mb = room->members; mb != NULL; mb = mb->next) {
                rt_session_t *s = (rt_session_t *)mb;
                if (hr_rt_id_cmp(m->id, s->last) <= 0)
                    continue; /* already sent by a replay */
                s->last = m->id;
                if (gw_push(s, m) && !(s->flags & RT_F_WAKE)) {
                    s->flags |= RT_F_WAKE;
                    s->wake_next = NULL;
                    *wake_end = s;
                    wake_end = &s->wake_next;
                }
                gw.delivered++;
            }
            hr_rt_msg_unref(m);
        } else if (room != NULL) {
            hr_log_warn("fanout: skipped malformed event %s", it->id);
        }
        hr_rt_fanitem_free(it);
        it = next;
    }
    /* Each woken session is serviced at once as if its socket had polled
     * writable (lws_service_fd with POLLOUT): lws runs its SERVER_WRITEABLE
     * callback, where the writes happen, without the round trip through
     * the event loop that lws_callback_on_writable() costs (two epoll_ctl
     * calls and a wake-up per message: a fifth of the gateway's CPU at
     * 100,000 frames/s). A socket that is in fact full keeps lws's
     * remainder and gets POLLOUT armed by lws, as after any partial write.
     * Oldest event first. */
    while (wake != NULL) {
        rt_session_t *s = wake;
        wake = s->wake_next;
        s->wake_next = NULL;
        s->flags &= (uint8_t)~RT_F_WAKE;
        struct lws_pollfd pfd = {.fd = lws_get_socket_fd(s->wsi), .events = LWS_POLLIN,
                                 .revents = LWS_POLLOUT};
        if (pfd.fd < 0)
            lws_callback_on_writable(s->wsi);
        else
            (void)lws_service_fd(gw.ctx, &pfd); /* s may be gone after this */
    }
}

/* ---- writing ------------------------------------------------------------------------ */

/* TCP_CORK on or off for a connection's socket. Not a TCP socket (a test's
 * unix socket): nothing to do, the writes just go out one by one. */
static void gw_cork(struct lws *wsi, int on)
{
    int fd = lws_get_socket_fd(wsi);
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
}

/* Writes up to RT_WRITE_BATCH queued messages, as long as the socket takes
 * them (a full socket keeps lws's remainder and reports choked): one wake-up
 * and poll change per batch instead of per message. */
static int gw_write_ws_batch(rt_session_t *s)
{
    for (unsigned n = 0; n < RT_WRITE_BATCH; n++) {
        hr_rt_msg_t *m = hr_rt_queue_peek(&s->q);
        if (m == NULL)
            return 0;
        if (n > 0 && lws_send_pipe_choked(s->wsi))
            break;
        if (lws_write(s->wsi, m->ws, m->ws_len, LWS_WRITE_TEXT) < (int)m->ws_len)
            return -1;
        bool close = m->flags & HR_RT_MSG_CLOSE;
        hr_rt_queue_pop(&s->q);
        if (close) {
            const char *why = s->close_code == 1012 ? "reconnect" : "resync";
            lws_close_reason(s->wsi, (enum lws_close_status)s->close_code, (unsigned char *)why,
                             strlen(why));
            return -1;
        }
    }
    if (s->q.len > 0)
        lws_callback_on_writable(s->wsi);
    return 0;
}

static int gw_write_ws(rt_session_t *s)
{
    if (s->flags & RT_F_PING) {
        unsigned char ping[RT_PRE + 4];
        s->flags &= (uint8_t)~RT_F_PING;
        if (lws_write(s->wsi, ping + RT_PRE, 0, LWS_WRITE_PING) < 0)
            return -1;
        if (s->q.len > 0)
            lws_callback_on_writable(s->wsi);
        return 0;
    }
    /* A backlog goes out several messages per writable turn, corked so they
     * leave as one segment (one transmit, and one wake-up of the reader,
     * instead of one per message); see gw_write_ws_batch(). */
    bool cork = s->q.len > 1;
    if (cork)
        gw_cork(s->wsi, 1);
    int rc = gw_write_ws_batch(s);
    if (cork)
        gw_cork(s->wsi, 0);
    return rc;
}

static int gw_write_sse(rt_session_t *s)
{
    hr_rt_msg_t *m = hr_rt_queue_peek(&s->q);
    if (m == NULL && (s->flags & RT_F_PING)) {
        static const char ka[] = ": keep-alive\n\n";
        unsigned char buf[RT_PRE + sizeof ka];
        memcpy(buf + RT_PRE, ka, sizeof ka - 1);
        s->flags &= (uint8_t)~RT_F_PING;
        return lws_write(s->wsi, buf + RT_PRE, sizeof ka - 1, LWS_WRITE_HTTP) < 0 ? -1 : 0;
    }
    if (m == NULL)
        return 0;
    s->flags &= (uint8_t)~RT_F_PING;
    if (lws_write(s->wsi, m->sse, m->sse_len, LWS_WRITE_HTTP) < (int)m->sse_len)
        return -1;
    bool close = m->flags & HR_RT_MSG_CLOSE;
    hr_rt_queue_pop(&s->q);
    if (close)
        return -1;
    if (s->q.len > 0)
        lws_callback_on_writable(s->wsi);
    return 0;
}

/* ---- SSE ---------------------------------------------------------------------------- */

static int gw_sse_open(struct lws *wsi, rt_session_t *s)
{
    hr_usertoken_t who;
    if (gw_admit(wsi, &who) != 0)
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    char resume[64] = "", arg[RT_ARG_MAX];
    const char *v = NULL;
    if (lws_hdr_custom_length(wsi, "last-event-id:", 14) > 0)
        lws_hdr_custom_copy(wsi, resume, sizeof resume, "last-event-id:", 14);
    else if ((v = lws_get_urlarg_by_name(wsi, "last_event_id=", arg, sizeof arg)) != NULL)
        snprintf(resume, sizeof resume, "%s", v);
    unsigned char buf[RT_PRE + 1024];
    unsigned char *start = buf + RT_PRE, *p = start, *end = buf + sizeof buf - 1;
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/event-stream",
                                    LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"x-accel-buffering:",
                                    (const unsigned char *)"no", 2, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    /* What lws_http_mark_sse() does for HTTP/1 (it also logs an error there,
     * as it expects an h2 stream): no idle timeout, header storage released. */
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    lws_http_headers_detach(wsi);
    memset(s, 0, sizeof *s);
    s->wsi = wsi;
    s->kind = RT_SSE;
    if (gw_start(s, &who, resume[0] ? resume : NULL) != 0)
        return -1;
    return 0;
}

/* ---- the protocol callback ---------------------------------------------------------- */

static int gw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    rt_session_t *s = user;
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (!gw.draining)
            hr_rt_listen_adopt(&gw.listener);
        gw_dispatch();
        return 0;

    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
        char uri[128] = "";
        lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
        if (strcmp(uri, "/v1/realtime") != 0) {
            gw_http_error(wsi, 404, "not_found", "no such route");
            return 1;
        }
        if (in == NULL || strcmp((const char *)in, "websocket") != 0) {
            gw_http_error(wsi, 400, "bad_request", "only WebSocket upgrades are accepted");
            return 1;
        }
        memset(&gw.pending, 0, sizeof gw.pending);
        if (gw_admit(wsi, &gw.pending.who) != 0)
            return 1;
        gw.pending.wsi = wsi;
        /* Each URL argument is copied whole while searching: room for a token. */
        char arg[RT_ARG_MAX];
        const char *v = lws_get_urlarg_by_name(wsi, "last_event_id=", arg, sizeof arg);
        if (v != NULL)
            snprintf(gw.pending.resume, sizeof gw.pending.resume, "%s", v);
        return 0;
    }

    case LWS_CALLBACK_ESTABLISHED: {
        memset(s, 0, sizeof *s);
        s->wsi = wsi;
        if (gw.pending.wsi != wsi) {
            hr_log_error("websocket established without an admitted identity");
            return -1;
        }
        gw.pending.wsi = NULL;
        s->kind = RT_WS;
        return gw_start(s, &gw.pending.who, gw.pending.resume[0] ? gw.pending.resume : NULL);
    }

    case LWS_CALLBACK_RECEIVE:
        if (s->kind != RT_WS)
            return 0;
        s->last_rx = gw.clock;
        if (lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi) && len < 4096)
            gw_client_message(s, in, len);
        return 0;

    case LWS_CALLBACK_RECEIVE_PONG:
        if (s != NULL)
            s->last_rx = gw.clock;
        return 0;

    case LWS_CALLBACK_SERVER_WRITEABLE:
        return s->kind == RT_WS ? gw_write_ws(s) : 0;

    case LWS_CALLBACK_CLOSED:
        if (s != NULL && s->kind == RT_WS)
            gw_end(s);
        return 0;

    case LWS_CALLBACK_HTTP: {
        const char *uri = in;
        if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
            gw_http_error(wsi, 405, "method_not_allowed", "only GET is accepted");
            return lws_http_transaction_completed(wsi) ? -1 : 0;
        }
        if (strcmp(uri, "/v1/stream") == 0)
            return gw_sse_open(wsi, s);
        if (strcmp(uri, "/healthz") == 0) {
            char body[256];
            snprintf(body, sizeof body,
                     "{\"status\":\"%s\",\"connections\":%u,\"rooms\":%zu,\"delivered\":%llu,"
                     "\"slow_dropped\":%llu}\n",
                     gw.draining ? "draining" : "ok", gw.nsessions, gw.rooms.nrooms,
                     gw.delivered, gw.slow_dropped);
            if (gw_http_json(wsi, gw.draining ? 503 : 200, body) != 0)
                return -1;
            return lws_http_transaction_completed(wsi) ? -1 : 0;
        }
        if (strcmp(uri, "/v1/realtime") == 0)
            gw_http_error(wsi, 426, "upgrade_required",
                          "connect with a WebSocket (or use /v1/stream for SSE)");
        else
            gw_http_error(wsi, 404, "not_found", "no such route");
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }

    case LWS_CALLBACK_HTTP_WRITEABLE:
        return s != NULL && s->kind == RT_SSE ? gw_write_sse(s) : 0;

    case LWS_CALLBACK_LOCK_POLL:
    case LWS_CALLBACK_UNLOCK_POLL:
    case LWS_CALLBACK_CHANGE_MODE_POLL_FD:
    case LWS_CALLBACK_ADD_POLL_FD:
    case LWS_CALLBACK_DEL_POLL_FD:
        /* Notices for applications that run their own poll(): lws drives
         * our libev loop itself. Three of them come with every writable
         * request and three more after every write: answered here instead
         * of going through lws's HTTP dummy handler. */
        return 0;

    case LWS_CALLBACK_CLOSED_HTTP:
        if (s != NULL && s->kind == RT_SSE)
            gw_end(s);
        return 0;

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols gw_protocols[] = {
    /* One protocol for HTTP (SSE) and the WebSocket it upgrades to; clients
     * need no subprotocol. Small rx buffer: clients only send tiny control
     * messages, and an idle connection should cost little. */
    {"herald-realtime", gw_callback, sizeof(rt_session_t), 256, 0, NULL, 65536},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- keep-alive and drain --------------------------------------------------------- */

static void gw_tick(lws_sorted_usec_list_t *sul)
{
    gw.clock = gw_clock();
    uint32_t ping = (uint32_t)gw.cfg->realtime_ping_s;
    for (rt_session_t *s = gw.sessions; s != NULL; s = s->next) {
        if (gw.clock - s->last_ping < ping)
            continue;
        if (s->kind == RT_WS && gw.clock - s->last_rx > 2 * ping) {
            /* No pong for two intervals: a dead peer. */
            lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
            continue;
        }
        s->last_ping = gw.clock;
        s->flags |= RT_F_PING;
        lws_callback_on_writable(s->wsi);
    }
    lws_sul_schedule(gw.ctx, 0, sul, gw_tick, LWS_US_PER_SEC);
}

/* SIGTERM: every client is told to reconnect elsewhere (WebSocket close
 * 1012 after a "reconnect" event; SSE ends after it). */
static void gw_drain_start(void)
{
    gw.draining = 1;
    json_t *ev = json_pack("{s:s, s:s}", "type", "reconnect", "reason", "shutdown");
    hr_rt_msg_t *m = hr_rt_msg_json(NULL, ev, RT_PRE);
    json_decref(ev);
    m->flags |= HR_RT_MSG_CLOSE;
    for (rt_session_t *s = gw.sessions; s != NULL; s = s->next) {
        if (s->flags & RT_F_CLOSING)
            continue;
        if (s->flags & RT_F_OVERFLOW)
            continue;
        hr_rt_queue_clear(&s->q);
        if (hr_rt_queue_push(&s->q, m, 0) == 0) {
            s->flags |= RT_F_CLOSING;
            s->close_code = 1012;
            lws_callback_on_writable(s->wsi);
        }
    }
    hr_rt_msg_unref(m);
    hr_log_json(HR_LOG_INFO, NULL, "draining",
                json_pack("{s:i}", "connections", (int)gw.nsessions));
}

int hr_rt_gateway_run(hr_config_t *cfg, const char *config_path)
{
    char err[512];
    memset(&gw, 0, sizeof gw);
    gw.cfg = cfg;
    gw.config_path = config_path;
    clock_gettime(CLOCK_MONOTONIC, &gw.t0);
    hr_rt_rooms_init(&gw.rooms, 65536);
    if (hr_db_open(&gw.db, cfg->pg_conninfo, err, sizeof err) != 0)
        hr_log_warn("postgres not reachable yet: %s", err);
    hr_redis_init(&gw.redis, cfg);

    /* Our own listening socket: lws 4.1.6 cannot share a port (SO_REUSEPORT)
     * between processes; accepted connections are adopted into lws. */
    if (hr_rt_listen_open(&gw.listener, cfg->realtime_bind, (int)cfg->realtime_port,
                          cfg->realtime_reuse_port != 0) != 0) {
        hr_log_error("cannot listen on %s:%ld: %s", cfg->realtime_bind, cfg->realtime_port,
                     strerror(errno));
        hr_db_close(&gw.db);
        hr_rt_rooms_free(&gw.rooms);
        return 1;
    }
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = gw_protocols;
    /* lws on our own libev loop (epoll): lws's default poll() walks every
     * descriptor on every wake-up, which with ten thousand idle connections
     * per process costs more than the events themselves. The loop is ours so
     * that this function keeps control between turns (signals, drain). */
    gw.loop = ev_loop_new(EVBACKEND_EPOLL);
    if (gw.loop == NULL) {
        hr_log_error("cannot create the event loop");
        hr_rt_listen_close(&gw.listener);
        hr_db_close(&gw.db);
        hr_rt_rooms_free(&gw.rooms);
        return 1;
    }
    void *loops[1] = {gw.loop};
    info.foreign_loops = loops;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   LWS_SERVER_OPTION_LIBEV;
    /* No lws "validity" timers (a secs_since_valid_hangup of 0 disables
     * them): the gateway's own tick pings and drops dead peers (gw_tick).
     * lws's default policy re-files a per-connection timer in lws's sorted
     * timer list whenever a connection proves alive (pongs), a walk over
     * every connection's timer: with 12,500 connections per process that
     * walk took about 30 % of the lws thread during a fan-out
     * (docs/BENCHMARKS.md). */
    static const lws_retry_bo_t no_validity = {.secs_since_valid_ping = 0,
                                               .secs_since_valid_hangup = 0};
    info.retry_and_idle_policy = &no_validity;
    info.max_http_header_pool = 256;
    info.pt_serv_buf_size = 16384;
    info.timeout_secs = 10;
    gw.ctx = lws_create_context(&info);
    if (gw.ctx == NULL) {
        hr_log_error("cannot create the lws context");
        ev_loop_destroy(gw.loop);
        hr_rt_listen_close(&gw.listener);
        hr_db_close(&gw.db);
        hr_rt_rooms_free(&gw.rooms);
        return 1;
    }
    gw.tokens = hr_usertoken_cache_new(RT_TOKEN_CACHE_MS);
    bool fanout_started = false;
    if (hr_rt_fanout_start(&gw.fanout, gw.ctx, cfg, RT_PRE) != 0) {
        hr_log_error("cannot start the fan-out reader");
        goto fail;
    }
    fanout_started = true;
    if (hr_rt_listen_start(&gw.listener, gw.ctx) != 0) {
        hr_log_error("cannot start the acceptor");
        goto fail;
    }
    lws_sul_schedule(gw.ctx, 0, &gw.tick, gw_tick, LWS_US_PER_SEC);
    hr_log_json(HR_LOG_INFO, NULL, "herald-realtime listening",
                json_pack("{s:s, s:i, s:b}", "bind", cfg->realtime_bind, "port",
                          (int)cfg->realtime_port, "reuse_port", cfg->realtime_reuse_port != 0));

    struct timespec drain_until = {0, 0};
    for (;;) {
        /* One turn: wakes for sockets, lws timers, or lws_cancel_service()
         * (the fan-out reader, the acceptor, the signal handlers). */
        ev_run(gw.loop, EVRUN_ONCE);
        if (hr_rt_reload) {
            hr_rt_reload = 0;
            if (hr_config_reload(cfg, config_path, err, sizeof err) != 0)
                hr_log_error("reload failed, keeping the old configuration: %s", err);
            else
                hr_log_info("configuration reloaded");
        }
        if (hr_rt_stop && !gw.draining) {
            hr_rt_listen_close(&gw.listener); /* new connections go to other gateways */
            gw_drain_start();
            clock_gettime(CLOCK_MONOTONIC, &drain_until);
            drain_until.tv_sec += 3;
        }
        if (gw.draining) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (gw.nsessions == 0 || now.tv_sec > drain_until.tv_sec)
                break;
        }
    }
    hr_log_json(HR_LOG_INFO, NULL, "herald-realtime stopping",
                json_pack("{s:i, s:I, s:I, s:I}", "connections_left", (int)gw.nsessions,
                          "delivered", (json_int_t)gw.delivered, "slow_dropped",
                          (json_int_t)gw.slow_dropped, "refused", (json_int_t)gw.refused));
    hr_rt_fanout_stop(&gw.fanout);
    if (!gw.draining)
        hr_rt_listen_close(&gw.listener);
    lws_sul_cancel(&gw.tick);
    lws_context_destroy(gw.ctx); /* closes what is left: CLOSED frees their parts */
    gw.ctx = NULL;
    ev_loop_destroy(gw.loop);
    gw.loop = NULL;
    hr_rt_rooms_free(&gw.rooms);
    hr_usertoken_cache_free(gw.tokens);
    hr_db_close(&gw.db);
    hr_redis_close(&gw.redis);
    return 0;
fail:
    if (fanout_started)
        hr_rt_fanout_stop(&gw.fanout);
    hr_rt_listen_close(&gw.listener);
    lws_context_destroy(gw.ctx);
    ev_loop_destroy(gw.loop);
    hr_rt_rooms_free(&gw.rooms);
    hr_usertoken_cache_free(gw.tokens);
    hr_db_close(&gw.db);
    return 1;
}
