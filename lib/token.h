/* token: HS256 JSON Web Tokens (libjwt) for member access tokens and end-user
 * tokens. Only HS256 is issued or accepted; "none" and every other algorithm
 * is refused. */
#ifndef HR_TOKEN_H
#define HR_TOKEN_H

#include <jansson.h>
#include <stddef.h>

/* Signs claims (an object; "iat" and "exp" = now + ttl_s are added) with
 * key. Returns the token (caller frees with free()), or NULL. */
char *hr_token_issue(const unsigned char *key, size_t keylen, const json_t *claims, long ttl_s);

/* Verifies token against each of nkeys keys (several during a rotation) and
 * its expiry (30 s leeway). Returns its claims (caller decrefs), or NULL with
 * the reason ("malformed", "bad signature", "expired", …) in err. */
json_t *hr_token_verify(const char *token, const unsigned char *const *keys, const size_t *keylens,
                      int nkeys, char *err, size_t errlen);

/* Claims of a token without verifying it (to find which key to verify
 * with). Caller decrefs; NULL if malformed. Never trust the result. */
json_t *hr_token_peek(const char *token);

#endif
