/* fanout: reads herald:rt for this gateway. A dedicated reader thread runs
 * XREAD BLOCK from the last id it saw (resuming there after a Redis blip),
 * copies each event out and hands the batch to the lws thread, which it
 * wakes with lws_cancel_service(); the lws thread takes them with
 * hr_rt_fanout_take() on LWS_CALLBACK_EVENT_WAIT_CANCELLED.
 *
 * Why a thread and not hiredis on the lws loop: hiredis 0.14 has no lws
 * adapter, and a blocking XREAD on its own connection keeps Redis latency,
 * reconnects and JSON framing off the one lws thread (LWS_MAX_SMP is 1);
 * lws_cancel_service() is lws's documented cross-thread wake-up. */
#ifndef HR_RT_FANOUT_H
#define HR_RT_FANOUT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "event.h"
#include "fanreply.h"

struct lws_context;

/* One herald:rt entry, as read. It is framed (hr_rt_msg_new) by the lws
 * thread only when this gateway holds a tab of the user: every gateway reads
 * every event, most of them for users it does not serve. */
typedef struct hr_rt_fanitem {
    struct hr_rt_fanitem *next;
    char *user;              /* points into key */
    char *id;                /* event id, points into key */
    char *ev;                /* payload JSON, points into key */
    size_t evlen;
    char key[];              /* "<env>\0<user>\0<id>\0<ev>\0" */
} hr_rt_fanitem_t;

typedef struct hr_rt_fanout {
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    hr_rt_fanitem_t *head, *tail;
    size_t pending;          /* items handed over, not yet taken */
    size_t max_pending;      /* the reader waits above this */
    volatile int stop;
    struct lws_context *ctx;
    hr_config_t cfg;         /* a copy: a reload in the lws thread never races the reader */
    size_t pre;              /* LWS_PRE */
    char last_id[48];        /* last entry read (reader thread only) */
    unsigned long long read; /* entries read (reader thread only) */
    hr_rt_fanarena_t arena;  /* replies of the reader's connection (reader thread only) */
} hr_rt_fanout_t;

/* Starts the reader. Returns 0 or -1. */
int hr_rt_fanout_start(hr_rt_fanout_t *f, struct lws_context *ctx, const hr_config_t *cfg,
                       size_t pre)
    __attribute__((warn_unused_result));

/* Takes every pending item (a list the caller frees with
 * hr_rt_fanitem_free, each after use). lws thread. */
hr_rt_fanitem_t *hr_rt_fanout_take(hr_rt_fanout_t *f);

void hr_rt_fanitem_free(hr_rt_fanitem_t *it);

/* Stops and joins the reader and frees what is pending. */
void hr_rt_fanout_stop(hr_rt_fanout_t *f);

#endif
