/* auth: API key lookup by hash, cached per process. */
#include "auth.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char *const auth_sql =
    "SELECT k.environment_id, e.tenant_id, e.kind = 'production' "
    "FROM api_keys k JOIN environments e ON e.id = k.environment_id "
    "WHERE k.key_hash = $1 AND k.revoked_at IS NULL "
    "AND (k.expires_at IS NULL OR k.expires_at > now())";

/* How long past its TTL a cached key is still honoured while the database
 * cannot be asked. */
#define AUTH_STALE_S 3600

static hr_keycache_entry_t *auth_slot(hr_keycache_t *cache, const char *hash)
{
    /* The hash is uniformly random: its first bytes pick the slot. */
    unsigned idx = 0;
    for (int i = 0; i < 4; i++)
        idx = idx * 16 + (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
    return &cache->slots[idx % HR_KEYCACHE_SLOTS];
}

hr_auth_result_t hr_auth_key(hr_keycache_t *cache, hr_db_t *db, const char *key, long ttl_s,
                             hr_auth_t *out, char *err, size_t errlen)
{
    char hash[HR_APIKEY_HASHLEN];
    if (hr_apikey_hash(key, hash) != 0)
        return HR_AUTH_DENIED;
    time_t now = time(NULL);
    hr_keycache_entry_t *slot = auth_slot(cache, hash);
    if (slot->expires > now && sodium_memcmp(slot->hash, hash, sizeof hash) == 0) {
        if (!slot->found)
            return HR_AUTH_DENIED;
        *out = slot->auth;
        return HR_AUTH_OK;
    }
    const char *params[1] = {hash};
    PGresult *res = hr_db_exec(db, auth_sql, 1, params, err, errlen);
    if (res == NULL) {
        /* PostgreSQL is down: a key this process knew stays good for a while,
         * so sending keeps working through a database outage. */
        if (slot->found && slot->expires + AUTH_STALE_S > now &&
            sodium_memcmp(slot->hash, hash, sizeof hash) == 0) {
            *out = slot->auth;
            return HR_AUTH_OK;
        }
        return HR_AUTH_UNAVAILABLE;
    }
    bool found = PQntuples(res) == 1;
    hr_auth_t a;
    memset(&a, 0, sizeof a);
    if (found) {
        snprintf(a.environment_id, sizeof a.environment_id, "%s", PQgetvalue(res, 0, 0));
        snprintf(a.tenant_id, sizeof a.tenant_id, "%s", PQgetvalue(res, 0, 1));
        a.live = PQgetvalue(res, 0, 2)[0] == 't';
    }
    PQclear(res);
    if (ttl_s > 0) {
        memcpy(slot->hash, hash, sizeof hash);
        slot->found = found;
        slot->auth = a;
        slot->expires = now + (found ? ttl_s : (ttl_s < 5 ? ttl_s : 5));
    }
    if (!found)
        return HR_AUTH_DENIED;
    *out = a;
    return HR_AUTH_OK;
}
