/* auth: API key → environment, through a small per-process cache so a hot
 * key costs no PostgreSQL round trip. */
#ifndef HR_API_AUTH_H
#define HR_API_AUTH_H

#include <stdbool.h>
#include <time.h>

#include "apikey.h"
#include "db.h"
#include "ids.h"

typedef struct hr_auth {
    char environment_id[HR_UUID_STRLEN];
    char tenant_id[HR_UUID_STRLEN];
    char key_id[HR_UUID_STRLEN];
    bool live;          /* production environment */
    char plan[8];       /* tenants.plan: free, pro, custom */
    long rate_limit;    /* tenants.rate_limit (custom plan), -1 when unset */
    long long quota;    /* tenants.monthly_quota (custom plan), -1 when unset */
} hr_auth_t;

#define HR_KEYCACHE_SLOTS 256

typedef struct hr_keycache_entry {
    char hash[HR_APIKEY_HASHLEN];
    bool found;
    hr_auth_t auth;
    time_t expires;
    bool used;          /* used since its last_used_at was last written */
} hr_keycache_entry_t;

typedef struct hr_keycache {
    hr_keycache_entry_t slots[HR_KEYCACHE_SLOTS];
    time_t next_flush;  /* when used keys' last_used_at is written next */
} hr_keycache_t;

typedef enum {
    HR_AUTH_OK = 0,
    HR_AUTH_DENIED,      /* no, malformed, unknown, revoked or expired key */
    HR_AUTH_UNAVAILABLE, /* the database could not be asked */
} hr_auth_result_t;

/* Looks up a presented key (the text after "Bearer "). ttl_s is how long an
 * answer is cached (a negative answer at most 5 s). */
hr_auth_result_t hr_auth_key(hr_keycache_t *cache, hr_db_t *db, const char *key, long ttl_s,
                             hr_auth_t *out, char *err, size_t errlen);

/* Records the last use of the cached keys used since the previous flush, in
 * one UPDATE, when flush_s seconds have passed since then (force: now, e.g.
 * at exit). A failure is logged and the keys stay marked. */
void hr_auth_flush_used(hr_keycache_t *cache, hr_db_t *db, long flush_s, bool force);

/* Drops a key (by its hash) from this process's cache, after it was revoked
 * or rotated here. */
void hr_auth_forget(hr_keycache_t *cache, const char *hash);

#endif
