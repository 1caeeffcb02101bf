/* gate: circuit breaker, bulkhead and send rate per provider endpoint. */
#include "gate.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

hr_gate_t *hr_gate_get(hr_gates_t *gates, const char *key)
{
    for (size_t i = 0; i < gates->n; i++)
        if (strcmp(gates->items[i]->key, key) == 0)
            return gates->items[i];
    if (gates->n == gates->cap) {
        gates->cap = gates->cap ? gates->cap * 2 : 16;
        gates->items = realloc(gates->items, gates->cap * sizeof *gates->items);
        hr_assert(gates->items != NULL);
    }
    hr_gate_t *g = calloc(1, sizeof *g);
    hr_assert(g != NULL);
    snprintf(g->key, sizeof g->key, "%s", key);
    /* Keys name endpoints by their secrets (a Discord webhook URL is its own
     * credential): logs get the provider and a digest that tells gates apart. */
    unsigned char d[8];
    crypto_generichash(d, sizeof d, (const unsigned char *)key, strlen(key), NULL, 0);
    char hex[2 * sizeof d + 1];
    sodium_bin2hex(hex, sizeof hex, d, sizeof d);
    int plen = (int)strcspn(key, ":");
    snprintf(g->label, sizeof g->label, "%.*s#%s", plen < 24 ? plen : 24, key, hex);
    g->tokens = -1; /* filled on first admit */
    gates->items[gates->n++] = g;
    return g;
}

hr_gate_verdict_t hr_gate_admit(hr_gate_t *g, long long now_ms, long max_inflight,
                                long rate_per_s, long *wait_ms)
{
    *wait_ms = 0;
    if (g->state == HR_GATE_OPEN) {
        if (now_ms < g->open_until_ms) {
            *wait_ms = (long)(g->open_until_ms - now_ms);
            return HR_GATE_REFUSE;
        }
        g->state = HR_GATE_HALF_OPEN;
        g->probing = false;
    }
    if (g->state == HR_GATE_HALF_OPEN && g->probing) {
        *wait_ms = 50;
        return HR_GATE_WAIT;
    }
    if (g->inflight >= max_inflight) {
        *wait_ms = 50;
        return HR_GATE_WAIT;
    }
    if (rate_per_s > 0) {
        /* Bucket of one second's worth: bursts at most rate_per_s. */
        double cap = (double)rate_per_s;
        if (g->tokens < 0) {
            g->tokens = cap;
            g->refill_ms = now_ms;
        }
        g->tokens += (double)(now_ms - g->refill_ms) * (double)rate_per_s / 1000.0;
        if (g->tokens > cap)
            g->tokens = cap;
        g->refill_ms = now_ms;
        if (g->tokens < 1.0) {
            *wait_ms = (long)((1.0 - g->tokens) * 1000.0 / (double)rate_per_s) + 1;
            return HR_GATE_WAIT;
        }
        g->tokens -= 1.0;
    }
    if (g->state == HR_GATE_HALF_OPEN)
        g->probing = true;
    g->inflight++;
    return HR_GATE_GO;
}

void hr_gate_done(hr_gate_t *g, long long now_ms, bool failure, bool neutral, long threshold,
                  long cooldown_ms)
{
    if (g->inflight > 0)
        g->inflight--;
    if (g->state == HR_GATE_HALF_OPEN && g->probing) {
        g->probing = false;
        if (failure && !neutral) {
            g->state = HR_GATE_OPEN;
            g->open_until_ms = now_ms + cooldown_ms;
            hr_log_json(HR_LOG_WARN, NULL, "circuit breaker reopened",
                        json_pack("{s:s}", "endpoint", g->label));
        } else {
            g->state = HR_GATE_CLOSED;
            g->failures = 0;
            hr_log_json(HR_LOG_INFO, NULL, "circuit breaker closed",
                        json_pack("{s:s}", "endpoint", g->label));
        }
        return;
    }
    if (neutral)
        return;
    if (!failure) {
        g->failures = 0;
        return;
    }
    if (++g->failures >= threshold && g->state == HR_GATE_CLOSED) {
        g->state = HR_GATE_OPEN;
        g->open_until_ms = now_ms + cooldown_ms;
        hr_log_json(HR_LOG_WARN, NULL, "circuit breaker opened",
                    json_pack("{s:s, s:i, s:I}", "endpoint", g->label, "failures", g->failures,
                              "cooldown_ms", (json_int_t)cooldown_ms));
    }
}

void hr_gates_free(hr_gates_t *gates)
{
    for (size_t i = 0; i < gates->n; i++)
        free(gates->items[i]);
    free(gates->items);
    memset(gates, 0, sizeof *gates);
}
