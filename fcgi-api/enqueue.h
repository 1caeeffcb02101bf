/* enqueue: the send path's one Redis round trip. A Lua script checks each
 * item's idempotency key, applies the environment's limits, and appends the
 * new items to the ingest log (with a pending marker each), atomically. */
#ifndef HR_API_ENQUEUE_H
#define HR_API_ENQUEUE_H

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#include "app.h"
#include "ids.h"

#define HR_ENQUEUE_MAX 1000

typedef enum {
    HR_ENQ_ACCEPTED = 0, /* appended: answer 202 */
    HR_ENQ_REPLAY = 1,   /* same idempotency key, same request: the original id */
    HR_ENQ_CONFLICT = 2, /* same idempotency key, different request: 409 */
} hr_enqueue_outcome_t;

typedef struct hr_enqueue_item {
    const json_t *n;          /* in: normalised notification, no idempotencyKey */
    const char *idem;         /* in: idempotency key or NULL */
    char id[HR_UUID_STRLEN];  /* out: the new id, or the original one */
    hr_enqueue_outcome_t outcome;
} hr_enqueue_item_t;

typedef enum {
    HR_ENQ_OK = 0,
    HR_ENQ_UNAVAILABLE, /* Redis unreachable or failing: nothing was appended */
    HR_ENQ_LIMITED,     /* a limit refused the whole request: see limits */
    HR_ENQ_REVOKED,     /* the API key was revoked since this process cached it: 401 */
} hr_enqueue_status_t;

typedef struct hr_enqueue_limits {
    const char *code;    /* "rate_limited" or "quota_exceeded" when refused */
    long limit;          /* requests per window (RateLimit-Limit), 0 if none */
    long remaining;
    long reset_s;
    long retry_after_s;
} hr_enqueue_limits_t;

/* The rate limit (requests per [limits] rate_window_s; 0 none) and monthly
 * quota (0 none) of the request's tenant: its plan's settings, or for the
 * custom plan its own overrides. */
void hr_enqueue_plan_limits(const hr_config_t *cfg, const hr_auth_t *auth, long *rate,
                            long long *quota);

/* The quota month of now ("YYYYMM", UTC) and when it ends (Unix seconds). */
void hr_enqueue_month(time_t now, char month[7], time_t *month_end);

/* Enqueues n items (1..HR_ENQUEUE_MAX) for the request's environment. On
 * HR_ENQ_OK every item has its outcome and id; on HR_ENQ_LIMITED limits says
 * which limit refused it; on HR_ENQ_UNAVAILABLE err says why. */
hr_enqueue_status_t hr_enqueue(hr_req_t *r, hr_enqueue_item_t *items, size_t n,
                               hr_enqueue_limits_t *limits, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Answers a request hr_enqueue did not take (st other than HR_ENQ_OK), the
 * same way on every send path: 503 queue_unavailable (err is logged), 401
 * for a revoked key, or 429 rate_limited / quota_exceeded with Retry-After,
 * RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset and error.reset_at. */
void hr_enqueue_reply_refused(hr_req_t *r, hr_enqueue_status_t st,
                              const hr_enqueue_limits_t *limits, const char *err);

#endif
