/* backoff: exponential backoff with full jitter (libsodium randomness). */
#include "backoff.h"

#include <sodium.h>

long hr_backoff_ms(int attempt, long base_ms, long factor, long cap_ms)
{
    long ceiling = base_ms;
    for (int i = 1; i < attempt && ceiling < cap_ms; i++)
        ceiling = ceiling > cap_ms / (factor > 0 ? factor : 1) ? cap_ms : ceiling * factor;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    if (ceiling <= 0)
        return 0;
    /* randombytes_uniform takes a 32-bit bound; caps are below 2^32 ms. */
    uint32_t bound = ceiling >= 0xffffffffL ? 0xffffffffU : (uint32_t)ceiling + 1;
    return (long)randombytes_uniform(bound);
}
