/* sweeper: the safety net. Correctness never depends on a stream entry
 * surviving: the sweeper puts due retries back on their streams, re-queues
 * deliveries Redis lost, returns expired leases, stores ingest entries left
 * in a dead router, and drops old data. */
#ifndef HR_SWEEPER_H
#define HR_SWEEPER_H

#include <time.h>

#include "config.h"
#include "db.h"
#include "redis.h"
#include "router.h"

typedef struct hr_sweeper {
    hr_config_t *cfg;
    hr_db_t db;
    hr_redis_t redis;
    time_t last_retention;
    time_t lease_hold_until; /* no lease expiry before this (set by an outage) */
    hr_router_t rescue;      /* stores ingest entries a dead router left behind */
} hr_sweeper_t;

/* One pass. Returns the number of deliveries put on streams, or -1. */
int hr_sweeper_pass(hr_sweeper_t *s, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Runs passes until SIGTERM; returns the exit code. */
int hr_sweeper_run(hr_sweeper_t *s, const char *config_path);

#endif
