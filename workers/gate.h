/* gate: what stands between the worker and one provider endpoint — a
 * circuit breaker (after N consecutive failures it opens for a cool-down,
 * then lets one probe through), a bulkhead (a cap on sends in flight) and a
 * token-bucket send rate. One gate per endpoint key, in process memory. */
#ifndef HR_GATE_H
#define HR_GATE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { HR_GATE_CLOSED = 0, HR_GATE_OPEN, HR_GATE_HALF_OPEN } hr_gate_state_t;

typedef struct hr_gate {
    char key[256];           /* may hold a credential (webhook URL, token prefix) */
    char label[48];          /* what logs show: "<provider>#<16 hex of BLAKE2b(key)>" */
    hr_gate_state_t state;
    int inflight;
    int failures;            /* consecutive */
    long long open_until_ms;
    bool probing;            /* the half-open probe is in flight */
    double tokens;
    long long refill_ms;
} hr_gate_t;

typedef enum {
    HR_GATE_GO = 0,  /* send now (counted in flight) */
    HR_GATE_WAIT,    /* keep it queued: bulkhead full, rate spent or probe running */
    HR_GATE_REFUSE,  /* breaker open: put the delivery back as retrying */
} hr_gate_verdict_t;

typedef struct hr_gates {
    hr_gate_t **items;
    size_t n, cap;
} hr_gates_t;

/* The gate of key, created closed on first use. Owned by gates. */
hr_gate_t *hr_gate_get(hr_gates_t *gates, const char *key);

/* Asks to send one message now. *wait_ms gets how long to wait (WAIT: until
 * a token; REFUSE: until the cool-down ends). rate_per_s 0 is unlimited. */
hr_gate_verdict_t hr_gate_admit(hr_gate_t *g, long long now_ms, long max_inflight,
                                long rate_per_s, long *wait_ms);

/* Reports a finished send: failure counts towards opening the breaker;
 * neutral outcomes (the client's fault, e.g. an invalid address) only free
 * the slot. */
void hr_gate_done(hr_gate_t *g, long long now_ms, bool failure, bool neutral, long threshold,
                  long cooldown_ms);

void hr_gates_free(hr_gates_t *gates);

#endif
