/* usertoken: end-user tokens signed with per-environment secrets. */
#include "usertoken.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "log.h"
#include "token.h"

#define SECRET_BYTES 32

/* A new random secret, sealed with the master key (caller frees), or NULL. */
static char *ut_new_secret(char *err, size_t errlen)
{
    unsigned char raw[SECRET_BYTES];
    randombytes_buf(raw, sizeof raw);
    char *sealed = hr_crypto_seal(raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    if (sealed == NULL)
        snprintf(err, errlen, "no master key loaded");
    return sealed;
}

/* Creates a signing secret for env if it has none (race-free: the UPDATE
 * only fills an empty column). */
static int ut_ensure_secret(hr_db_t *db, const char *env_id, char *err, size_t errlen)
{
    char *sealed = ut_new_secret(err, errlen);
    if (sealed == NULL)
        return -1;
    const char *p[2] = {env_id, sealed};
    int rc = hr_db_run(db,
                       "UPDATE environments SET signing_secret = $2"
                       " WHERE id = $1 AND signing_secret IS NULL",
                       2, p, err, errlen);
    free(sealed);
    return rc;
}

/* Loads and opens the current and previous secrets. Returns how many keys
 * were put in keys/lens (0 when the environment has none), or -1. */
static int ut_load(hr_db_t *db, const char *env_id, unsigned char *keys[2], size_t lens[2],
                   char *err, size_t errlen)
{
    const char *p[1] = {env_id};
    PGresult *res = hr_db_exec(db,
                               "SELECT signing_secret, CASE WHEN signing_previous_until > now()"
                               " THEN signing_previous END FROM environments WHERE id = $1",
                               1, p, err, errlen);
    if (res == NULL)
        return -1;
    int n = 0;
    if (PQntuples(res) == 1) {
        for (int col = 0; col < 2; col++) {
            if (PQgetisnull(res, 0, col))
                continue;
            keys[n] = hr_crypto_open(PQgetvalue(res, 0, col), &lens[n]);
            if (keys[n] != NULL)
                n++;
        }
    }
    PQclear(res);
    return n;
}

static void ut_free(unsigned char *keys[2], size_t lens[2], int n)
{
    for (int i = 0; i < n; i++)
        hr_crypto_free_secret(keys[i], lens[i]);
}

char *hr_usertoken_issue(hr_db_t *db, const char *env_id, const char *user_id, long ttl_s,
                         char *err, size_t errlen)
{
    unsigned char *keys[2] = {NULL, NULL};
    size_t lens[2] = {0, 0};
    if (ttl_s < 1 || ttl_s > HR_USERTOKEN_MAX_TTL) {
        snprintf(err, errlen, "ttl must be between 1 and %ld seconds", HR_USERTOKEN_MAX_TTL);
        return NULL;
    }
    int n = ut_load(db, env_id, keys, lens, err, errlen);
    if (n == 0) {
        if (ut_ensure_secret(db, env_id, err, errlen) != 0)
            return NULL;
        n = ut_load(db, env_id, keys, lens, err, errlen);
    }
    if (n <= 0) {
        if (n == 0)
            snprintf(err, errlen, "environment has no signing secret");
        return NULL;
    }
    json_t *claims = json_pack("{s:s, s:s, s:s}", "typ", "user", "sub", user_id, "env", env_id);
    hr_assert(claims != NULL);
    char *tok = hr_token_issue(keys[0], lens[0], claims, ttl_s);
    json_decref(claims);
    ut_free(keys, lens, n);
    if (tok == NULL)
        snprintf(err, errlen, "token could not be signed");
    return tok;
}

/* Checks token's signature with keys (n of them) and its claims for env_id.
 * Returns 0 with out filled, or -1 with the reason in err. */
static int ut_check(const char *token, const char *env_id, unsigned char *const keys[2],
                    const size_t lens[2], int n, hr_usertoken_t *out, char *err, size_t errlen)
{
    json_t *claims =
        hr_token_verify(token, (const unsigned char *const *)keys, lens, n, err, errlen);
    if (claims == NULL)
        return -1;
    int rc = -1;
    const char *typ = json_string_value(json_object_get(claims, "typ"));
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    const char *cenv = json_string_value(json_object_get(claims, "env"));
    if (typ == NULL || strcmp(typ, "user") != 0 || sub == NULL || sub[0] == '\0' ||
        strlen(sub) >= sizeof out->user_id || cenv == NULL || strcmp(cenv, env_id) != 0) {
        snprintf(err, errlen, "not a user token");
        goto done;
    }
    snprintf(out->user_id, sizeof out->user_id, "%s", sub);
    snprintf(out->environment_id, sizeof out->environment_id, "%s", env_id);
    out->expires = json_integer_value(json_object_get(claims, "exp"));
    rc = 0;
done:
    json_decref(claims);
    return rc;
}

typedef struct ut_cached {
    char env_id[HR_UUID_STRLEN]; /* "" when the slot is free */
    unsigned char *keys[2];      /* hr_crypto_open's; freed by ut_cached_clear */
    size_t lens[2];
    int n;
    long long loaded_ms;
    unsigned long long order; /* when it was put, in puts: the smallest goes first */
} ut_cached_t;

struct hr_usertoken_cache {
    long ttl_ms;
    unsigned long long puts;
    ut_cached_t e[HR_USERTOKEN_CACHE_MAX];
};

static long long ut_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void ut_cached_clear(ut_cached_t *e)
{
    ut_free(e->keys, e->lens, e->n);
    memset(e, 0, sizeof *e);
}

hr_usertoken_cache_t *hr_usertoken_cache_new(long ttl_ms)
{
    hr_usertoken_cache_t *c = calloc(1, sizeof *c);
    hr_assert(c != NULL);
    c->ttl_ms = ttl_ms;
    return c;
}

void hr_usertoken_cache_free(hr_usertoken_cache_t *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < HR_USERTOKEN_CACHE_MAX; i++)
        ut_cached_clear(&c->e[i]);
    free(c);
}

/* env_id's entry, fresh or not, or NULL. */
static ut_cached_t *ut_cache_find(hr_usertoken_cache_t *c, const char *env_id)
{
    for (size_t i = 0; i < HR_USERTOKEN_CACHE_MAX; i++)
        if (strcmp(c->e[i].env_id, env_id) == 0)
            return &c->e[i];
    return NULL;
}

/* env_id's entry while it is fresh, or NULL. */
static ut_cached_t *ut_cache_get(hr_usertoken_cache_t *c, const char *env_id)
{
    ut_cached_t *e = ut_cache_find(c, env_id);
    return e != NULL && ut_now_ms() - e->loaded_ms < c->ttl_ms ? e : NULL;
}

/* Keeps the n keys of env_id (taking them over): in its old slot, a free
 * one, or the oldest. */
static void ut_cache_put(hr_usertoken_cache_t *c, const char *env_id, unsigned char *keys[2],
                         const size_t lens[2], int n)
{
    ut_cached_t *slot = ut_cache_find(c, env_id);
    for (size_t i = 0; i < HR_USERTOKEN_CACHE_MAX && slot == NULL; i++)
        if (c->e[i].env_id[0] == '\0')
            slot = &c->e[i];
    if (slot == NULL) {
        slot = &c->e[0];
        for (size_t i = 1; i < HR_USERTOKEN_CACHE_MAX; i++)
            if (c->e[i].order < slot->order)
                slot = &c->e[i];
    }
    ut_cached_clear(slot);
    snprintf(slot->env_id, sizeof slot->env_id, "%s", env_id);
    for (int i = 0; i < n; i++) {
        slot->keys[i] = keys[i];
        slot->lens[i] = lens[i];
    }
    slot->n = n;
    slot->loaded_ms = ut_now_ms();
    slot->order = ++c->puts;
}

int hr_usertoken_verify(hr_db_t *db, const char *token, const char *expect_env,
                        hr_usertoken_t *out, char *err, size_t errlen)
{
    return hr_usertoken_verify_cached(NULL, db, token, expect_env, out, err, errlen);
}

int hr_usertoken_verify_cached(hr_usertoken_cache_t *c, hr_db_t *db, const char *token,
                               const char *expect_env, hr_usertoken_t *out, char *err,
                               size_t errlen)
{
    json_t *peek = hr_token_peek(token);
    const char *env = json_string_value(json_object_get(peek, "env"));
    if (env == NULL || !hr_uuid_valid(env)) {
        json_decref(peek);
        snprintf(err, errlen, "malformed token");
        return -1;
    }
    char env_id[HR_UUID_STRLEN];
    snprintf(env_id, sizeof env_id, "%s", env);
    json_decref(peek);
    if (expect_env != NULL && strcmp(env_id, expect_env) != 0) {
        snprintf(err, errlen, "wrong environment");
        return -1;
    }
    ut_cached_t *hit = c != NULL ? ut_cache_get(c, env_id) : NULL;
    if (hit != NULL && ut_check(token, env_id, hit->keys, hit->lens, hit->n, out, err, errlen) == 0)
        return 0;
    /* Not cached, or refused by keys up to ttl old (the secret may have just
     * been rotated): ask PostgreSQL. */
    unsigned char *keys[2] = {NULL, NULL};
    size_t lens[2] = {0, 0};
    int n = ut_load(db, env_id, keys, lens, err, errlen);
    if (n < 0)
        return -2;
    if (n == 0) {
        snprintf(err, errlen, "unknown environment");
        return -1;
    }
    int rc = ut_check(token, env_id, keys, lens, n, out, err, errlen);
    if (c != NULL)
        ut_cache_put(c, env_id, keys, lens, n);
    else
        ut_free(keys, lens, n);
    return rc;
}

int hr_usertoken_rotate(hr_db_t *db, const char *env_id, long grace_s, char *err, size_t errlen)
{
    char *sealed = ut_new_secret(err, errlen);
    if (sealed == NULL)
        return -1;
    char grace[24];
    snprintf(grace, sizeof grace, "%ld", grace_s);
    const char *p[3] = {env_id, sealed, grace};
    int rc = hr_db_run(db,
                       "UPDATE environments SET signing_previous = signing_secret,"
                       " signing_previous_until = now() + make_interval(secs => $3::int),"
                       " signing_secret = $2 WHERE id = $1",
                       3, p, err, errlen);
    free(sealed);
    return rc;
}
