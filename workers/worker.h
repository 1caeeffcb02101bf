/* worker: sends the deliveries of one channel. Reads the channel's stream,
 * claims deliveries in PostgreSQL with a lease, sends through the channel's
 * provider, records every attempt, and acknowledges. */
#ifndef HR_WORKER_H
#define HR_WORKER_H

#include "channel.h"
#include "config.h"
#include "db.h"
#include "providers/provider.h"
#include "redis.h"
#include "stream.h"

typedef struct hr_worker {
    hr_config_t *cfg;
    hr_channel_t channel;
    hr_db_t db;
    hr_redis_t redis;
    hr_consumer_t consumer;
    const hr_provider_ops_t *provider;
    void *provider_state;
} hr_worker_t;

/* Runs until SIGTERM; returns the exit code. */
int hr_worker_run(hr_worker_t *w, const char *config_path);

#endif
