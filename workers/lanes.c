/* lanes: see lanes.h. */
#include "lanes.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef struct lane {
    hr_lanes_t *pool;
    pthread_t thread;
    bool started;
    hr_db_t db;
    CURLM *multi;
    bool commit_sent;   /* a handover's COMMIT is on its way, its answer unread */
} lane_t;

struct hr_lanes {
    pthread_mutex_t mu;
    pthread_cond_t ready;          /* a job was queued, or stop */
    hr_job_t *queue, *queue_tail;  /* submitted, not started */
    hr_job_t *done, *done_tail;    /* finished, not taken */
    bool stop;
    hr_lanes_mark_fn mark;
    CURLM *wake;
    lane_t *lanes;
    size_t n;
};

/* A lane's session runs one statement, the handover mark (a by-id update of
 * a partitioned table), once per message: re-planning it each time (what
 * PostgreSQL's auto mode does there) cost about a third of PostgreSQL's CPU
 * per email. Its generic plan is kept instead, and built with sequential
 * scans off so that it stays on the primary keys whatever the statistics
 * said when it was made (on empty tables a generic plan scans them:
 * docs/BENCHMARKS.md, "generic plans"). Nothing else runs in these sessions.
 * Not for the worker's claim and record: on empty tables their generic plans
 * read whole indexes even with sequential scans off (checked with EXPLAIN). */
static const char *const lane_session_sql =
    "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off";

/* Appends j to the list head..tail (under the pool's mutex). */
static void lanes_append(hr_job_t **head, hr_job_t **tail, hr_job_t *j)
{
    j->next = NULL;
    if (*tail != NULL)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

/* The lane this thread is (NULL outside the lanes). */
static __thread lane_t *lane_self;

void hr_lanes_handover(hr_job_t *j)
{
    lane_t *lane = lane_self;
    hr_assert(lane != NULL);
    if (lane->pool->mark(&lane->db, &j->msg) != 0) {
        j->handover = HR_HANDOVER_REFUSED;
        return;
    }
    /* Once written the COMMIT takes effect even if this process dies; the
     * end of DATA follows as soon as this returns. Sent on the very session
     * that marked (not hr_db_send, which would reconnect a broken one and
     * commit nothing there). */
    if (PQsendQuery(lane->db.conn, "COMMIT") != 1) {
        hr_log_json(HR_LOG_WARN, j->msg.request_id, "handover not recorded",
                    json_pack("{s:s, s:s}", "delivery_id", j->msg.delivery_id, "error",
                              PQerrorMessage(lane->db.conn)));
        hr_db_rollback(&lane->db);
        j->handover = HR_HANDOVER_REFUSED;
        return;
    }
    lane->commit_sent = true;
    j->handover = HR_HANDOVER_DONE;
}

/* Reads the answer to the COMMIT of j's handover, sent before its end. */
static void lane_commit_read(lane_t *lane, const hr_job_t *j)
{
    if (!lane->commit_sent)
        return;
    lane->commit_sent = false;
    PGresult *res;
    char err[256];
    if (hr_db_answer(&lane->db, true, &res, err, sizeof err) == 1 && res != NULL) {
        PQclear(res);
        return;
    }
    /* The send completed unmarked: its result is recorded when it comes;
     * only a worker dying first would send it again. */
    hr_db_rollback(&lane->db);
    hr_log_json(HR_LOG_ERROR, j->msg.request_id, "handover mark lost after the send",
                json_pack("{s:s, s:s}", "delivery_id", j->msg.delivery_id, "error", err));
}

/* Runs j's transfer to its end on the lane's multi handle. */
static void lane_run(lane_t *lane, hr_job_t *j)
{
    CURLMcode mc = curl_multi_add_handle(lane->multi, j->easy);
    hr_assert(mc == CURLM_OK);
    int running = 1;
    while (running > 0) {
        curl_multi_perform(lane->multi, &running);
        if (running > 0)
            curl_multi_poll(lane->multi, NULL, 0, 1000, NULL);
    }
    j->lane_rc = CURLE_OK;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(lane->multi, &left)) != NULL)
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == j->easy)
            j->lane_rc = msg->data.result;
    j->lane_status = 0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &j->lane_status);
    curl_multi_remove_handle(lane->multi, j->easy);
    lane_commit_read(lane, j);
}

static void *lane_main(void *arg)
{
    lane_t *lane = arg;
    hr_lanes_t *l = lane->pool;
    lane_self = lane;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        while (l->queue == NULL && !l->stop)
            pthread_cond_wait(&l->ready, &l->mu);
        hr_job_t *j = l->queue;
        if (j == NULL) { /* stopping, nothing left */
            pthread_mutex_unlock(&l->mu);
            break;
        }
        l->queue = j->next;
        if (l->queue == NULL)
            l->queue_tail = NULL;
        pthread_mutex_unlock(&l->mu);

        j->next = NULL;
        lane_run(lane, j);

        pthread_mutex_lock(&l->mu);
        lanes_append(&l->done, &l->done_tail, j);
        pthread_mutex_unlock(&l->mu);
        curl_multi_wakeup(l->wake);
    }
    return NULL;
}

hr_lanes_t *hr_lanes_new(size_t n, const char *conninfo, hr_lanes_mark_fn mark, CURLM *wake)
{
    hr_lanes_t *l = calloc(1, sizeof *l);
    hr_assert(l != NULL);
    l->lanes = calloc(n, sizeof *l->lanes);
    hr_assert(l->lanes != NULL);
    l->n = n;
    l->mark = mark;
    l->wake = wake;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->ready, NULL);
    /* Signals (SIGTERM, SIGHUP) are the worker thread's: the lanes block
     * them all, and inherit that mask. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        lane_t *lane = &l->lanes[i];
        lane->pool = l;
        snprintf(lane->db.conninfo, sizeof lane->db.conninfo, "%s", conninfo);
        lane->db.session_sql = lane_session_sql;
        lane->multi = curl_multi_init();
        hr_assert(lane->multi != NULL);
        ok = pthread_create(&lane->thread, NULL, lane_main, lane) == 0;
        lane->started = ok;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!ok) {
        hr_lanes_free(l);
        return NULL;
    }
    return l;
}

void hr_lanes_submit(hr_lanes_t *l, hr_job_t *j)
{
    pthread_mutex_lock(&l->mu);
    lanes_append(&l->queue, &l->queue_tail, j);
    pthread_cond_signal(&l->ready);
    pthread_mutex_unlock(&l->mu);
}

hr_job_t *hr_lanes_take_done(hr_lanes_t *l)
{
    if (l == NULL)
        return NULL;
    pthread_mutex_lock(&l->mu);
    hr_job_t *list = l->done;
    l->done = l->done_tail = NULL;
    pthread_mutex_unlock(&l->mu);
    return list;
}

void hr_lanes_free(hr_lanes_t *l)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_broadcast(&l->ready);
    pthread_mutex_unlock(&l->mu);
    for (size_t i = 0; i < l->n; i++) {
        lane_t *lane = &l->lanes[i];
        if (lane->started)
            pthread_join(lane->thread, NULL);
        if (lane->multi != NULL)
            curl_multi_cleanup(lane->multi);
        hr_db_close(&lane->db);
    }
    pthread_cond_destroy(&l->ready);
    pthread_mutex_destroy(&l->mu);
    free(l->lanes);
    free(l);
}
