/* worker: sends the deliveries of one channel. Reads the channel's stream,
 * claims deliveries in PostgreSQL with a lease, sends through the channel's
 * provider (network sends many at once through the libcurl multi
 * interface, behind a per-endpoint circuit breaker, bulkhead and send
 * rate), records every attempt, and acknowledges. */
#ifndef HR_WORKER_H
#define HR_WORKER_H

#include <curl/curl.h>

#include "buf.h"
#include "channel.h"
#include "config.h"
#include "db.h"
#include "gate.h"
#include "integration.h"
#include "providers/provider.h"
#include "redis.h"
#include "stream.h"

typedef struct hr_worker {
    hr_config_t *cfg;
    hr_channel_t channel;
    hr_db_t db;
    hr_redis_t redis;
    hr_consumer_t consumer;
    const hr_provider_ops_t *provider;  /* the local sink (synchronous) */
    void *provider_state;
    CURLM *multi;
    struct hr_lanes *lanes;             /* SMTP sends (lanes.h): started with the first */
    hr_job_t *queue, *queue_tail;       /* prepared, waiting for their gate */
    hr_job_t *handovers;                /* in flight, paused before their last
                                         * byte until their handover is recorded */
    size_t njobs;                       /* queued + in flight */
    int inflight;
    hr_gates_t gates;
    hr_integration_cache_t integrations;
    long long last_read_ms;             /* when the stream was last read (monotonic) */
    struct worker_done *pending;        /* finished sends waiting to be recorded */
    size_t npending, cappending;
    long long pending_since_ms;         /* when the oldest of them finished (monotonic) */
    hr_db_t rec_db;                     /* records go here, without waiting for the answer */
    struct worker_done *inrec;          /* the batch being recorded */
    size_t ninrec, capinrec;
    char *rec_text;                     /* its statement's parameters */
    hr_buf_t rec_ids;
    bool rec_sent;                      /* its answer is awaited on rec_db */
    long rec_pause_ms;                  /* after a failure: the pause before it goes again */
    long long rec_retry_ms;             /* and when (monotonic) */
    hr_db_t claim_db;                   /* claims go here, their answer taken when it comes */
    hr_stream_batch_t claiming;         /* the batch whose claim is on its way */
    bool claim_sent;                    /* its answer is awaited on claim_db */
    char **acks;                        /* stream entry ids to acknowledge */
    size_t nacks, capacks;
} hr_worker_t;

/* Runs until SIGTERM (then finishes what is in flight); returns the exit code. */
int hr_worker_run(hr_worker_t *w, const char *config_path);

/* Attempts allowed for channel: [worker] channel_max_attempts
 * ("webhook=12,sms=5"), else [worker] max_attempts. */
long hr_worker_max_attempts(const hr_config_t *cfg, hr_channel_t ch);

#endif
