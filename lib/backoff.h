/* backoff: retry delays, exponential with full jitter. */
#ifndef HR_BACKOFF_H
#define HR_BACKOFF_H

/* Delay before retry number `attempt` (1 = first retry): a uniform random
 * value in [0, min(cap, base * factor^(attempt-1))] milliseconds. */
long hr_backoff_ms(int attempt, long base_ms, long factor, long cap_ms);

#endif
