/* Unit tests of usertoken (end-user tokens signed with per-environment
 * secrets) and of session's access-token verification. PostgreSQL is
 * replaced by an in-memory table of environments: hr_db_exec and hr_db_run
 * are wrapped (-Wl,--wrap) and answer usertoken's statements. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "crypto.h"
#include "session.h"
#include "token.h"
#include "usertoken.h"

#define ENV_A "01a20000-0000-7000-8000-00000000000a"
#define ENV_B "01a20000-0000-7000-8000-00000000000b"

typedef struct fake_env {
    char id[HR_UUID_STRLEN];
    char *secret;   /* sealed, or NULL */
    char *previous; /* sealed, or NULL */
    bool previous_valid;
} fake_env_t;

/* ENV_A, ENV_B, then more than a cache holds (made in group_setup). */
#define NENVS (2 + HR_USERTOKEN_CACHE_MAX + 8)
static fake_env_t envs[NENVS] = {{ENV_A, NULL, NULL, false}, {ENV_B, NULL, NULL, false}};
static bool db_down = false;
static int selects; /* signing-secret SELECTs answered */

static fake_env_t *find_env(const char *id)
{
    for (size_t i = 0; i < NENVS; i++)
        if (strcmp(envs[i].id, id) == 0)
            return &envs[i];
    return NULL;
}

PGresult *__wrap_hr_db_exec(hr_db_t *db, const char *sql, int nparams, const char *const *params,
                            char *err, size_t errlen);
int __wrap_hr_db_run(hr_db_t *db, const char *sql, int nparams, const char *const *params,
                     char *err, size_t errlen);

/* SELECT signing_secret, <previous while valid> FROM environments WHERE id = $1 */
PGresult *__wrap_hr_db_exec(hr_db_t *db, const char *sql, int nparams, const char *const *params,
                            char *err, size_t errlen)
{
    (void)db;
    (void)nparams;
    if (db_down) {
        snprintf(err, errlen, "connection refused");
        return NULL;
    }
    assert_non_null(strstr(sql, "SELECT signing_secret"));
    selects++;
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc cols[2];
    memset(cols, 0, sizeof cols);
    cols[0].name = (char *)"signing_secret";
    cols[1].name = (char *)"previous";
    cols[0].format = cols[1].format = 0;
    cols[0].typid = cols[1].typid = 25;
    cols[0].typlen = cols[1].typlen = -1;
    cols[0].atttypmod = cols[1].atttypmod = -1;
    assert_int_equal(PQsetResultAttrs(res, 2, cols), 1);
    fake_env_t *e = find_env(params[0]);
    if (e != NULL) {
        const char *prev = e->previous_valid ? e->previous : NULL;
        assert_int_equal(PQsetvalue(res, 0, 0, e->secret, e->secret ? (int)strlen(e->secret) : -1), 1);
        assert_int_equal(PQsetvalue(res, 0, 1, (char *)prev, prev ? (int)strlen(prev) : -1), 1);
    }
    return res;
}

/* The UPDATEs of ut_ensure_secret ($1 env, $2 sealed) and hr_usertoken_rotate
 * ($1 env, $2 sealed, $3 grace seconds). */
int __wrap_hr_db_run(hr_db_t *db, const char *sql, int nparams, const char *const *params,
                     char *err, size_t errlen)
{
    (void)db;
    if (db_down) {
        snprintf(err, errlen, "connection refused");
        return -1;
    }
    fake_env_t *e = find_env(params[0]);
    if (e == NULL)
        return 0;
    if (nparams == 2) {
        if (e->secret == NULL)
            e->secret = strdup(params[1]);
    } else {
        assert_non_null(strstr(sql, "signing_previous"));
        free(e->previous);
        e->previous = e->secret;
        e->previous_valid = atol(params[2]) > 0;
        e->secret = strdup(params[1]);
    }
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    for (size_t i = 2; i < NENVS; i++)
        snprintf(envs[i].id, sizeof envs[i].id, "01a20000-0000-7000-8000-%012zx", 0x100 + i);
    hr_config_t cfg;
    char err[256];
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.security_master_key, sizeof cfg.security_master_key, "%s",
             "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    return hr_crypto_load_master(&cfg, err, sizeof err);
}

static int group_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < NENVS; i++) {
        free(envs[i].secret);
        free(envs[i].previous);
    }
    return 0;
}

static hr_db_t db;

/* The sealed current secret of env (the environment must exist). */
static const char *env_secret(const char *env)
{
    fake_env_t *e = find_env(env);
    if (e == NULL)
        fail_msg("no environment %s", env);
    return e != NULL ? e->secret : NULL;
}

static char *issue(const char *env, const char *user, long ttl)
{
    char err[256];
    char *t = hr_usertoken_issue(&db, env, user, ttl, err, sizeof err);
    if (t == NULL)
        fail_msg("issue: %s", err);
    return t;
}

static void expect_refused(const char *token, const char *expect_env, const char *why)
{
    hr_usertoken_t out;
    char err[256] = "";
    assert_int_equal(hr_usertoken_verify(&db, token, expect_env, &out, err, sizeof err), -1);
    if (why != NULL && strstr(err, why) == NULL)
        fail_msg("refused for '%s', expected '%s'", err, why);
}

/* A token with the given claims, signed with env's current secret. */
static char *forge(const char *env, json_t *claims, long ttl)
{
    size_t n = 0;
    unsigned char *key = hr_crypto_open(env_secret(env), &n);
    assert_non_null(key);
    char *t = hr_token_issue(key, n, claims, ttl);
    hr_crypto_free_secret(key, n);
    json_decref(claims);
    assert_non_null(t);
    return t;
}

static void test_issue_and_verify(void **state)
{
    (void)state;
    char *t = issue(ENV_A, "user-42", 600);
    hr_usertoken_t out;
    char err[256];
    assert_non_null(env_secret(ENV_A)); /* made on first use, sealed */
    assert_int_equal(hr_usertoken_verify(&db, t, ENV_A, &out, err, sizeof err), 0);
    assert_string_equal(out.user_id, "user-42");
    assert_string_equal(out.environment_id, ENV_A);
    assert_true(out.expires > 0);
    assert_int_equal(hr_usertoken_verify(&db, t, NULL, &out, err, sizeof err), 0);
    free(t);
}

static void test_ttl_bounds(void **state)
{
    (void)state;
    char err[256];
    assert_null(hr_usertoken_issue(&db, ENV_A, "u", 0, err, sizeof err));
    assert_null(hr_usertoken_issue(&db, ENV_A, "u", HR_USERTOKEN_MAX_TTL + 1, err, sizeof err));
}

static void test_expired_is_refused(void **state)
{
    (void)state;
    free(issue(ENV_A, "u", 60));
    char *t = forge(ENV_A, json_pack("{s:s, s:s, s:s}", "typ", "user", "sub", "u", "env", ENV_A), -120);
    expect_refused(t, ENV_A, "expired");
    free(t);
}

static void test_wrong_signature_is_refused(void **state)
{
    (void)state;
    unsigned char key[32];
    randombytes_buf(key, sizeof key);
    json_t *c = json_pack("{s:s, s:s, s:s}", "typ", "user", "sub", "u", "env", ENV_A);
    char *t = hr_token_issue(key, sizeof key, c, 600);
    json_decref(c);
    expect_refused(t, ENV_A, "bad signature");
    free(t);
    /* tampered payload of a genuine token */
    char *g = issue(ENV_A, "alice", 600);
    char *dot = strchr(g, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    expect_refused(g, ENV_A, NULL);
    free(g);
    expect_refused("not-a-token", ENV_A, "malformed");
    expect_refused("", ENV_A, "malformed");
}

static void test_other_environment_is_refused(void **state)
{
    (void)state;
    char *a = issue(ENV_A, "u", 600);
    free(issue(ENV_B, "u", 600));
    expect_refused(a, ENV_B, "wrong environment");
    /* claims env B but signed with A's secret */
    char *t = forge(ENV_A, json_pack("{s:s, s:s, s:s}", "typ", "user", "sub", "u", "env", ENV_B), 600);
    expect_refused(t, NULL, "bad signature");
    free(t);
    free(a);
}

static void test_member_token_is_not_a_user_token(void **state)
{
    (void)state;
    free(issue(ENV_A, "u", 600));
    char *t = forge(ENV_A, json_pack("{s:s, s:s, s:s}", "typ", "member", "sub", "u", "env", ENV_A), 600);
    expect_refused(t, ENV_A, "not a user token");
    free(t);
}

static void test_rotation_grace(void **state)
{
    (void)state;
    char err[256];
    hr_usertoken_t out;
    char *old = issue(ENV_B, "bob", 600);
    assert_int_equal(hr_usertoken_rotate(&db, ENV_B, 3600, err, sizeof err), 0);
    assert_int_equal(hr_usertoken_verify(&db, old, ENV_B, &out, err, sizeof err), 0);
    char *fresh = issue(ENV_B, "bob", 600);
    assert_int_equal(hr_usertoken_verify(&db, fresh, ENV_B, &out, err, sizeof err), 0);
    assert_int_equal(hr_usertoken_rotate(&db, ENV_B, 0, err, sizeof err), 0);
    expect_refused(old, ENV_B, "bad signature");
    expect_refused(fresh, ENV_B, "bad signature");
    free(old);
    free(fresh);
}

static void test_database_down_is_not_a_401(void **state)
{
    (void)state;
    char *t = issue(ENV_A, "u", 600);
    hr_usertoken_t out;
    char err[256];
    db_down = true;
    assert_int_equal(hr_usertoken_verify(&db, t, ENV_A, &out, err, sizeof err), -2);
    db_down = false;
    free(t);
}

/* verify through c; returns its result and how many SELECTs it made. */
static int cached(hr_usertoken_cache_t *c, const char *token, const char *env, int *asked)
{
    hr_usertoken_t out;
    char err[256];
    int before = selects;
    int rc = hr_usertoken_verify_cached(c, &db, token, env, &out, err, sizeof err);
    *asked = selects - before;
    return rc;
}

static void test_cache_asks_once_per_environment(void **state)
{
    (void)state;
    hr_usertoken_cache_t *c = hr_usertoken_cache_new(60000);
    char *t1 = issue(ENV_A, "u1", 600), *t2 = issue(ENV_A, "u2", 600);
    int asked;
    assert_int_equal(cached(c, t1, ENV_A, &asked), 0);
    assert_int_equal(asked, 1);
    assert_int_equal(cached(c, t2, ENV_A, &asked), 0);
    assert_int_equal(asked, 0);
    assert_int_equal(cached(c, t1, NULL, &asked), 0);
    assert_int_equal(asked, 0);
    /* refused as before: another environment, a forged signature */
    assert_int_equal(cached(c, t1, ENV_B, &asked), -1);
    char *forged = forge(ENV_B, json_pack("{s:s, s:s, s:s}", "typ", "user", "sub", "x", "env", ENV_A), 600);
    assert_int_equal(cached(c, forged, ENV_A, &asked), -1);
    assert_int_equal(asked, 1); /* a refusal asks again: the secret may have been rotated */
    /* without a cache every check asks */
    assert_int_equal(cached(NULL, t2, ENV_A, &asked), 0);
    assert_int_equal(asked, 1);
    db_down = true; /* cached keys still verify while PostgreSQL is away */
    assert_int_equal(cached(c, t2, ENV_A, &asked), 0);
    db_down = false;
    hr_usertoken_cache_free(c);
    free(t1);
    free(t2);
    free(forged);
}

static void test_cache_sees_rotation_and_ages_out(void **state)
{
    (void)state;
    char err[256];
    hr_usertoken_cache_t *c = hr_usertoken_cache_new(60000);
    char *old = issue(ENV_A, "u", 600);
    int asked;
    assert_int_equal(cached(c, old, ENV_A, &asked), 0);
    /* a token of the new secret verifies at once (the cached keys refuse it,
     * so they are read again) */
    assert_int_equal(hr_usertoken_rotate(&db, ENV_A, 0, err, sizeof err), 0);
    char *fresh = issue(ENV_A, "u", 600);
    assert_int_equal(cached(c, fresh, ENV_A, &asked), 0);
    assert_int_equal(asked, 1);
    assert_int_equal(cached(c, old, ENV_A, &asked), -1); /* re-read: the old secret is gone */
    hr_usertoken_cache_free(c);
    /* the documented staleness: a secret whose grace ended verifies from the
     * cache until its entry is ttl old, then no more */
    c = hr_usertoken_cache_new(50);
    assert_int_equal(cached(c, fresh, ENV_A, &asked), 0);
    assert_int_equal(hr_usertoken_rotate(&db, ENV_A, 0, err, sizeof err), 0);
    assert_int_equal(cached(c, fresh, ENV_A, &asked), 0);
    assert_int_equal(asked, 0);
    struct timespec pause = {0, 80 * 1000000L};
    nanosleep(&pause, NULL);
    assert_int_equal(cached(c, fresh, ENV_A, &asked), -1);
    assert_int_equal(asked, 1);
    hr_usertoken_cache_free(c);
    free(old);
    free(fresh);
}

static void test_cache_makes_room_by_age(void **state)
{
    (void)state;
    hr_usertoken_cache_t *c = hr_usertoken_cache_new(60000);
    char *tok[NENVS];
    int asked;
    for (size_t i = 2; i < NENVS; i++) {
        tok[i] = issue(envs[i].id, "u", 600);
        assert_int_equal(cached(c, tok[i], envs[i].id, &asked), 0);
        assert_int_equal(asked, 1);
    }
    /* the newest HR_USERTOKEN_CACHE_MAX stayed, the oldest made room */
    for (size_t i = NENVS - HR_USERTOKEN_CACHE_MAX; i < NENVS; i++) {
        assert_int_equal(cached(c, tok[i], envs[i].id, &asked), 0);
        assert_int_equal(asked, 0);
    }
    assert_int_equal(cached(c, tok[2], envs[2].id, &asked), 0);
    assert_int_equal(asked, 1);
    for (size_t i = 2; i < NENVS; i++)
        free(tok[i]);
    hr_usertoken_cache_free(c);
}

/* session: member access tokens, signed with a key derived from the master key. */
static char *member_token(const char *typ, long ttl)
{
    unsigned char key[32];
    assert_int_equal(hr_crypto_derive("hraccess", 1, key, sizeof key), 0);
    json_t *c = json_pack("{s:s, s:s, s:s, s:s}", "typ", typ, "sub", ENV_A, "tnt", ENV_B, "fam", ENV_A);
    char *t = hr_token_issue(key, sizeof key, c, ttl);
    json_decref(c);
    return t;
}

static void test_access_tokens(void **state)
{
    (void)state;
    hr_session_t s;
    char err[256];
    char *t = member_token("member", 900);
    assert_int_equal(hr_session_verify_access(t, &s, err, sizeof err), 0);
    assert_string_equal(s.member_id, ENV_A);
    assert_string_equal(s.tenant_id, ENV_B);
    free(t);
    t = member_token("member", -120);
    assert_int_equal(hr_session_verify_access(t, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "expired"));
    free(t);
    t = member_token("user", 900);
    assert_int_equal(hr_session_verify_access(t, &s, err, sizeof err), -1);
    free(t);
    /* a user token (an environment's secret) is not an access token */
    char *u = issue(ENV_A, "u", 600);
    assert_int_equal(hr_session_verify_access(u, &s, err, sizeof err), -1);
    free(u);
    /* alg "none" */
    const char *none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
                       "eyJ0eXAiOiJtZW1iZXIiLCJleHAiOjk5OTk5OTk5OTl9.";
    assert_int_equal(hr_session_verify_access(none, &s, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_and_verify),
        cmocka_unit_test(test_ttl_bounds),
        cmocka_unit_test(test_expired_is_refused),
        cmocka_unit_test(test_wrong_signature_is_refused),
        cmocka_unit_test(test_other_environment_is_refused),
        cmocka_unit_test(test_member_token_is_not_a_user_token),
        cmocka_unit_test(test_rotation_grace),
        cmocka_unit_test(test_database_down_is_not_a_401),
        cmocka_unit_test(test_cache_asks_once_per_environment),
        cmocka_unit_test(test_cache_sees_rotation_and_ages_out),
        cmocka_unit_test(test_cache_makes_room_by_age),
        cmocka_unit_test(test_access_tokens),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
