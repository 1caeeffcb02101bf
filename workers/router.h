/* router: turns entries of the ingest log into notification and delivery
 * rows (one transaction per batch, idempotent on replay) and puts each
 * queued delivery on its channel's stream. */
#ifndef HR_ROUTER_H
#define HR_ROUTER_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"
#include "db.h"
#include "redis.h"
#include "stream.h"

typedef struct hr_router {
    hr_config_t *cfg;
    hr_db_t db;
    hr_redis_t redis;
    hr_consumer_t consumer;
} hr_router_t;

/* Decides the deliveries of one normalised notification: appends
 * {id, notification_id, environment_id, channel, status, address, error}
 * objects to delivs. Pure: unit tests call it. */
void hr_router_plan(const char *notification_id, const char *environment_id, const json_t *n,
                    json_t *delivs);

/* Stores and dispatches one batch. Returns 0 when every entry was stored
 * and acknowledged, -1 (entries stay pending, to be retried) otherwise. */
int hr_router_process(hr_router_t *rt, hr_stream_batch_t *batch, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Runs until SIGTERM. Returns the exit code. */
int hr_router_run(hr_router_t *rt, const char *config_path);

#endif
