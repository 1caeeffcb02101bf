/* usertoken: end-user tokens. A tenant's backend gets one for a user
 * (POST /v1/users/{id}/token); the inbox API and the realtime gateway accept
 * it. HS256 JWT {"typ":"user","sub":<user id>,"env":<environment id>,"iat","exp"}
 * signed with the environment's signing secret (sealed in PostgreSQL). */
#ifndef HR_USERTOKEN_H
#define HR_USERTOKEN_H

#include <stddef.h>

#include "db.h"
#include "ids.h"

#define HR_USERTOKEN_MAX_TTL (30L * 86400)

typedef struct hr_usertoken {
    char user_id[256];
    char environment_id[HR_UUID_STRLEN];
    long long expires; /* Unix seconds */
} hr_usertoken_t;

/* Issues a token for user_id in environment env_id, valid ttl_s seconds
 * (1..HR_USERTOKEN_MAX_TTL). Creates the environment's signing secret on
 * first use. Returns the token (caller frees), or NULL with err. Needs the
 * master key (hr_crypto_load_master). */
char *hr_usertoken_issue(hr_db_t *db, const char *env_id, const char *user_id, long ttl_s,
                         char *err, size_t errlen);

/* Verifies a token: signature with the environment's current or (until it
 * lapses) previous secret, expiry, typ "user". When expect_env is not NULL
 * the token must belong to it. Returns 0 with out filled, -1 with a reason
 * fit for a 401 in err ("expired", "bad signature", "wrong environment", …),
 * or -2 when the database could not be asked (a 503). */
int hr_usertoken_verify(hr_db_t *db, const char *token, const char *expect_env,
                        hr_usertoken_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Environments' opened signing keys, kept by one process (not thread-safe)
 * for ttl_ms so a burst of connections (a gateway's reconnect storm) does
 * not ask PostgreSQL once each. At most HR_USERTOKEN_CACHE_MAX
 * environments; the oldest entry makes room. A token the cached keys refuse
 * is checked again with keys read afresh (a rotation is seen at once), so
 * staleness only means an old secret that lapsed (rotation grace over)
 * still verifies for up to ttl_ms. */
#define HR_USERTOKEN_CACHE_MAX 64
typedef struct hr_usertoken_cache hr_usertoken_cache_t;

/* A new empty cache (caller frees with hr_usertoken_cache_free). */
hr_usertoken_cache_t *hr_usertoken_cache_new(long ttl_ms);
void hr_usertoken_cache_free(hr_usertoken_cache_t *c);

/* hr_usertoken_verify, with keys from c while they are fresh; c NULL: none. */
int hr_usertoken_verify_cached(hr_usertoken_cache_t *c, hr_db_t *db, const char *token,
                               const char *expect_env, hr_usertoken_t *out, char *err,
                               size_t errlen) __attribute__((warn_unused_result));

/* Replaces the environment's signing secret; the old one keeps verifying
 * for grace_s seconds. Returns 0 or -1 with err. */
int hr_usertoken_rotate(hr_db_t *db, const char *env_id, long grace_s, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
