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
    bool live; /* production environment */
} hr_auth_t;

#define HR_KEYCACHE_SLOTS 256

typedef struct hr_keycache_entry {
    char hash[HR_APIKEY_HASHLEN];
    bool found;
    hr_auth_t auth;
    time_t expires;
} hr_keycache_entry_t;

typedef struct hr_keycache {
    hr_keycache_entry_t slots[HR_KEYCACHE_SLOTS];
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

#endif
