/* keyrevoke: Redis revocation markers for cached API keys. */
#include "keyrevoke.h"

#include <stdio.h>
#include <time.h>

/* How long past the cache TTL a cached key may still be honoured (auth.c's
 * AUTH_STALE_S while PostgreSQL is down), plus a margin. */
#define KEYREVOKE_EXTRA_S (3600 + 60)

int hr_keys_mark_revoked(hr_req_t *r, PGresult *res, int col, long after_s, char *err,
                         size_t errlen)
{
    int n = PQntuples(res);
    long ttl = after_s + r->app->cfg.api_key_cache_ttl + KEYREVOKE_EXTRA_S;
    long long at = (long long)time(NULL) + after_s;
    for (int i = 0; i < n; i++) {
        redisReply *rep = hr_redis_cmd(&r->app->redis, err, errlen,
                                       "SET herald:keyend:%s %lld EX %ld", PQgetvalue(res, i, col),
                                       at, ttl);
        if (rep == NULL)
            return -1;
        freeReplyObject(rep);
    }
    return 0;
}
