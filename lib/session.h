/* session: rolling sessions of dashboard members. A login starts a family of
 * refresh tokens; each refresh uses up the presented token and issues the next
 * (so an active member never logs in again), and presenting a used token
 * revokes the whole family (it was stolen, or replayed). Access tokens are
 * short-lived HS256 JWTs signed with a key derived from the master key. */
#ifndef HR_SESSION_H
#define HR_SESSION_H

#include <stddef.h>

#include "db.h"
#include "ids.h"

#define HR_SESSION_REFRESH_LEN 64 /* "hr_rt_" + 43 base64url characters + NUL, rounded up */

typedef struct hr_session {
    char member_id[HR_UUID_STRLEN];
    char tenant_id[HR_UUID_STRLEN];
    char family_id[HR_UUID_STRLEN];
} hr_session_t;

typedef struct hr_session_tokens {
    char *access;                          /* JWT; free with hr_session_tokens_free */
    char refresh[HR_SESSION_REFRESH_LEN];  /* shown once; only its hash is stored */
    long access_ttl_s;
} hr_session_tokens_t;

typedef enum {
    HR_SESSION_OK = 0,
    HR_SESSION_INVALID,  /* unknown, expired or revoked token */
    HR_SESSION_REUSED,   /* an already-used token: its family is now revoked */
    HR_SESSION_ERROR,    /* database or key failure: err says why */
} hr_session_result_t;

/* Starts a new family for s->member_id / s->tenant_id (s->family_id is set)
 * and issues its first tokens. */
hr_session_result_t hr_session_start(hr_db_t *db, hr_session_t *s, long access_ttl_s,
                                     long refresh_ttl_s, hr_session_tokens_t *out, char *err,
                                     size_t errlen);

/* Uses up a refresh token and issues the next one of its family (valid
 * refresh_ttl_s again) with a new access token; s is filled. */
hr_session_result_t hr_session_refresh(hr_db_t *db, const char *refresh, long access_ttl_s,
                                       long refresh_ttl_s, hr_session_t *s,
                                       hr_session_tokens_t *out, char *err, size_t errlen);

/* Revokes the family of a refresh token (logout). HR_SESSION_INVALID when the
 * token is unknown. */
hr_session_result_t hr_session_revoke(hr_db_t *db, const char *refresh, char *err, size_t errlen);

/* Revokes a family by id (logout with an access token). */
hr_session_result_t hr_session_revoke_family(hr_db_t *db, const char *family_id, char *err,
                                             size_t errlen);

/* Verifies an access token's signature, expiry and type; fills s. Returns 0,
 * or -1 with the reason in err. Does not ask the database: see
 * hr_session_alive. */
int hr_session_verify_access(const char *token, hr_session_t *s, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* True (1) when s's member exists and its family is not revoked, 0 when not,
 * -1 on a database failure. */
int hr_session_alive(hr_db_t *db, const hr_session_t *s, char *err, size_t errlen);

void hr_session_tokens_free(hr_session_tokens_t *t);

#endif
