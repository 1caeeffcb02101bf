/* auth: API key lookup by hash, cached per process. */
#include "auth.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

static const char *const auth_sql =
    "SELECT k.environment_id, e.tenant_id, e.kind = 'production', k.id, t.plan, "
    "COALESCE(t.rate_limit, -1), COALESCE(t.monthly_quota, -1), "
    "COALESCE(floor(extract(epoch FROM k.expires_at - now())), -1)::bigint "
    "FROM api_keys k JOIN environments e ON e.id = k.environment_id "
    "JOIN tenants t ON t.id = e.tenant_id "
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
        slot->used = true;
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
    long long left = -1;
    if (found) {
        snprintf(a.environment_id, sizeof a.environment_id, "%s", PQgetvalue(res, 0, 0));
        snprintf(a.tenant_id, sizeof a.tenant_id, "%s", PQgetvalue(res, 0, 1));
        a.live = PQgetvalue(res, 0, 2)[0] == 't';
        snprintf(a.key_id, sizeof a.key_id, "%s", PQgetvalue(res, 0, 3));
        snprintf(a.plan, sizeof a.plan, "%s", PQgetvalue(res, 0, 4));
        a.rate_limit = strtol(PQgetvalue(res, 0, 5), NULL, 10);
        a.quota = strtoll(PQgetvalue(res, 0, 6), NULL, 10);
        left = strtoll(PQgetvalue(res, 0, 7), NULL, 10);
    }
    PQclear(res);
    if (ttl_s > 0) {
        /* A rotated key in its grace period is cached no longer than it lives. */
        long life = found ? ttl_s : (ttl_s < 5 ? ttl_s : 5);
        if (left >= 0 && left < life)
            life = (long)left;
        if (slot->found && slot->used && sodium_memcmp(slot->hash, hash, sizeof hash) != 0)
            hr_auth_flush_used(cache, db, 0, true); /* the evicted key's use is not lost */
        memcpy(slot->hash, hash, sizeof hash);
        slot->found = found;
        slot->auth = a;
        slot->expires = now + life;
        slot->used = found;
    } else if (found) {
        const char *p[1] = {a.key_id};
        char e2[128];
        if (hr_db_run(db, "UPDATE api_keys SET last_used_at = now() WHERE id = $1", 1, p, e2,
                      sizeof e2) != 0)
            hr_log_warn("last_used_at not recorded: %s", e2);
    }
    if (!found)
        return HR_AUTH_DENIED;
    *out = a;
    return HR_AUTH_OK;
}

void hr_auth_flush_used(hr_keycache_t *cache, hr_db_t *db, long flush_s, bool force)
{
    time_t now = time(NULL);
    if (!force && now < cache->next_flush)
        return;
    cache->next_flush = now + flush_s;
    hr_buf_t ids = HR_BUF_INIT;
    int n = 0;
    for (size_t i = 0; i < HR_KEYCACHE_SLOTS; i++) {
        hr_keycache_entry_t *e = &cache->slots[i];
        if (!e->found || !e->used)
            continue;
        hr_buf_printf(&ids, "%s%s", n++ ? "," : "{", e->auth.key_id);
    }
    if (n == 0)
        return;
    hr_buf_puts(&ids, "}");
    const char *p[1] = {ids.data};
    char err[256];
    if (hr_db_run(db, "UPDATE api_keys SET last_used_at = now() WHERE id = ANY($1::uuid[])", 1,
                  p, err, sizeof err) == 0) {
        for (size_t i = 0; i < HR_KEYCACHE_SLOTS; i++)
            cache->slots[i].used = false;
    } else {
        hr_log_warn("last_used_at of %d keys not recorded: %s", n, err);
    }
    hr_buf_free(&ids);
}

void hr_auth_forget(hr_keycache_t *cache, const char *hash)
{
    hr_keycache_entry_t *slot = auth_slot(cache, hash);
    if (sodium_memcmp(slot->hash, hash, HR_APIKEY_HASHLEN) == 0)
        slot->expires = 0;
}
