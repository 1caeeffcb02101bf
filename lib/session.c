/* session: refresh-token families in PostgreSQL (hashed), access JWTs. */
#include "session.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "token.h"

#define SESSION_PREFIX "hr_rt_"
#define SESSION_KDF_CTX "hraccess"
#define SESSION_KDF_ID 1

/* BLAKE2b-256 hex of a refresh token: the 256-bit random body makes a slow
 * hash unnecessary. -1 when the token does not have the right shape. */
static int session_hash(const char *token, char out[65])
{
    size_t n = token != NULL ? strlen(token) : 0;
    if (n < strlen(SESSION_PREFIX) + 40 || n >= HR_SESSION_REFRESH_LEN ||
        strncmp(token, SESSION_PREFIX, strlen(SESSION_PREFIX)) != 0)
        return -1;
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)token, n, NULL, 0);
    sodium_bin2hex(out, 65, h, sizeof h);
    return 0;
}

static void session_new_refresh(char out[HR_SESSION_REFRESH_LEN])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    strcpy(out, SESSION_PREFIX);
    sodium_bin2base64(out + strlen(SESSION_PREFIX), HR_SESSION_REFRESH_LEN - strlen(SESSION_PREFIX),
                      raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

static int session_key(unsigned char key[32])
{
    return hr_crypto_derive(SESSION_KDF_CTX, SESSION_KDF_ID, key, 32);
}

/* Signs the access token and stores the next refresh token of s's family. */
static hr_session_result_t session_issue(hr_db_t *db, const hr_session_t *s, long access_ttl_s,
                                         long refresh_ttl_s, hr_session_tokens_t *out, char *err,
                                         size_t errlen)
{
    memset(out, 0, sizeof *out);
    unsigned char key[32];
    if (session_key(key) != 0) {
        snprintf(err, errlen, "no master key loaded");
        return HR_SESSION_ERROR;
    }
    json_t *claims = json_pack("{s:s, s:s, s:s, s:s}", "typ", "member", "sub", s->member_id,
                               "tnt", s->tenant_id, "fam", s->family_id);
    hr_assert(claims != NULL);
    out->access = hr_token_issue(key, sizeof key, claims, access_ttl_s);
    json_decref(claims);
    sodium_memzero(key, sizeof key);
    if (out->access == NULL) {
        snprintf(err, errlen, "access token could not be signed");
        return HR_SESSION_ERROR;
    }
    out->access_ttl_s = access_ttl_s;
    char id[HR_UUID_STRLEN], hash[65], ttl[24];
    hr_uuid7(id);
    session_new_refresh(out->refresh);
    int rc = session_hash(out->refresh, hash);
    hr_assert(rc == 0);
    snprintf(ttl, sizeof ttl, "%ld", refresh_ttl_s);
    const char *p[5] = {id, s->family_id, s->member_id, hash, ttl};
    if (hr_db_run(db,
                  "INSERT INTO refresh_tokens (id, family_id, member_id, token_hash, expires_at)"
                  " VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::int))",
                  5, p, err, errlen) != 0) {
        hr_session_tokens_free(out);
        return HR_SESSION_ERROR;
    }
    return HR_SESSION_OK;
}

hr_session_result_t hr_session_start(hr_db_t *db, hr_session_t *s, long access_ttl_s,
                                     long refresh_ttl_s, hr_session_tokens_t *out, char *err,
                                     size_t errlen)
{
    hr_uuid7(s->family_id);
    return session_issue(db, s, access_ttl_s, refresh_ttl_s, out, err, errlen);
}

hr_session_result_t hr_session_revoke_family(hr_db_t *db, const char *family_id, char *err,
                                             size_t errlen)
{
    const char *p[1] = {family_id};
    return hr_db_run(db,
                     "UPDATE refresh_tokens SET revoked_at = now()"
                     " WHERE family_id = $1 AND revoked_at IS NULL",
                     1, p, err, errlen) == 0
               ? HR_SESSION_OK
               : HR_SESSION_ERROR;
}

hr_session_result_t hr_session_refresh(hr_db_t *db, const char *refresh, long access_ttl_s,
                                       long refresh_ttl_s, hr_session_t *s,
                                       hr_session_tokens_t *out, char *err, size_t errlen)
{
    char hash[65];
    memset(out, 0, sizeof *out);
    memset(s, 0, sizeof *s);
    if (session_hash(refresh, hash) != 0)
        return HR_SESSION_INVALID;
    if (hr_db_run(db, "BEGIN", 0, NULL, err, errlen) != 0)
        return HR_SESSION_ERROR;
    /* Using the token up is the atomic step: of two concurrent refreshes with
     * the same token exactly one gets the row. */
    const char *p[1] = {hash};
    PGresult *res = hr_db_exec(db,
                               "UPDATE refresh_tokens r SET used_at = now() FROM members m"
                               " WHERE r.token_hash = $1 AND r.used_at IS NULL"
                               " AND r.revoked_at IS NULL AND r.expires_at > now()"
                               " AND m.id = r.member_id"
                               " RETURNING r.member_id, m.tenant_id, r.family_id",
                               1, p, err, errlen);
    if (res == NULL)
        goto fail;
    if (PQntuples(res) == 1) {
        snprintf(s->member_id, sizeof s->member_id, "%s", PQgetvalue(res, 0, 0));
        snprintf(s->tenant_id, sizeof s->tenant_id, "%s", PQgetvalue(res, 0, 1));
        snprintf(s->family_id, sizeof s->family_id, "%s", PQgetvalue(res, 0, 2));
        PQclear(res);
        hr_session_result_t rc = session_issue(db, s, access_ttl_s, refresh_ttl_s, out, err, errlen);
        if (rc != HR_SESSION_OK || hr_db_run(db, "COMMIT", 0, NULL, err, errlen) != 0) {
            hr_session_tokens_free(out);
            goto fail;
        }
        return HR_SESSION_OK;
    }
    PQclear(res);
    /* Not usable: a used token presented again means a copy is in the wrong
     * hands; end the whole family. */
    res = hr_db_exec(db, "SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL",
                     1, p, err, errlen);
    if (res == NULL)
        goto fail;
    hr_session_result_t rc = HR_SESSION_INVALID;
    if (PQntuples(res) == 1) {
        char fam[HR_UUID_STRLEN];
        snprintf(fam, sizeof fam, "%s", PQgetvalue(res, 0, 0));
        rc = hr_session_revoke_family(db, fam, err, errlen) == HR_SESSION_OK ? HR_SESSION_REUSED
                                                                              : HR_SESSION_ERROR;
    }
    PQclear(res);
    if (rc == HR_SESSION_ERROR || hr_db_run(db, "COMMIT", 0, NULL, err, errlen) != 0)
        goto fail;
    return rc;
fail:
    hr_db_rollback(db);
    return HR_SESSION_ERROR;
}

hr_session_result_t hr_session_revoke(hr_db_t *db, const char *refresh, char *err, size_t errlen)
{
    char hash[65];
    if (session_hash(refresh, hash) != 0)
        return HR_SESSION_INVALID;
    const char *p[1] = {hash};
    PGresult *res = hr_db_exec(db,
                               "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id ="
                               " (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)"
                               " AND revoked_at IS NULL RETURNING id",
                               1, p, err, errlen);
    if (res == NULL)
        return HR_SESSION_ERROR;
    PQclear(res);
    /* An unknown token and an already-ended session answer the same. */
    return HR_SESSION_OK;
}

int hr_session_verify_access(const char *token, hr_session_t *s, char *err, size_t errlen)
{
    unsigned char key[32];
    if (session_key(key) != 0) {
        snprintf(err, errlen, "no master key loaded");
        return -1;
    }
    const unsigned char *keys[1] = {key};
    size_t lens[1] = {sizeof key};
    json_t *claims = hr_token_verify(token, keys, lens, 1, err, errlen);
    sodium_memzero(key, sizeof key);
    if (claims == NULL)
        return -1;
    const char *typ = json_string_value(json_object_get(claims, "typ"));
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    const char *tnt = json_string_value(json_object_get(claims, "tnt"));
    const char *fam = json_string_value(json_object_get(claims, "fam"));
    int rc = -1;
    if (typ == NULL || strcmp(typ, "member") != 0 || sub == NULL || !hr_uuid_valid(sub) ||
        tnt == NULL || !hr_uuid_valid(tnt) || fam == NULL || !hr_uuid_valid(fam)) {
        snprintf(err, errlen, "not a member access token");
        goto done;
    }
    snprintf(s->member_id, sizeof s->member_id, "%s", sub);
    snprintf(s->tenant_id, sizeof s->tenant_id, "%s", tnt);
    snprintf(s->family_id, sizeof s->family_id, "%s", fam);
    rc = 0;
done:
    json_decref(claims);
    return rc;
}

int hr_session_alive(hr_db_t *db, const hr_session_t *s, char *err, size_t errlen)
{
    const char *p[3] = {s->member_id, s->tenant_id, s->family_id};
    PGresult *res = hr_db_exec(db,
                               "SELECT 1 FROM members m WHERE m.id = $1 AND m.tenant_id = $2"
                               " AND EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = $3"
                               " AND r.member_id = m.id AND r.revoked_at IS NULL)",
                               3, p, err, errlen);
    if (res == NULL)
        return -1;
    int alive = PQntuples(res) == 1;
    PQclear(res);
    return alive;
}

void hr_session_tokens_free(hr_session_tokens_t *t)
{
    if (t->access != NULL) {
        sodium_memzero(t->access, strlen(t->access));
        free(t->access);
    }
    t->access = NULL;
    sodium_memzero(t->refresh, sizeof t->refresh);
}
