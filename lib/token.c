/* token: issue and verify HS256 tokens. */
#include "token.h"

#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define JWT_LEEWAY_S 30

char *hr_token_issue(const unsigned char *key, size_t keylen, const json_t *claims, long ttl_s)
{
    jwt_t *j = NULL;
    char *out = NULL, *grants = NULL;
    if (jwt_new(&j) != 0)
        return NULL;
    json_t *c = json_deep_copy(claims);
    hr_assert(c != NULL);
    long now = (long)time(NULL);
    json_object_set_new(c, "iat", json_integer(now));
    json_object_set_new(c, "exp", json_integer(now + ttl_s));
    grants = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    if (grants == NULL || jwt_add_grants_json(j, grants) != 0 ||
        jwt_set_alg(j, JWT_ALG_HS256, key, (int)keylen) != 0)
        goto done;
    out = jwt_encode_str(j);
done:
    free(grants);
    jwt_free(j);
    return out;
}

/* Splits the payload part out of a token and decodes it. */
json_t *hr_token_peek(const char *token)
{
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
        return NULL;
    size_t n = (size_t)(dot2 - dot1 - 1), binlen = 0;
    unsigned char *bin = malloc(n + 1);
    hr_assert(bin != NULL);
    json_t *claims = NULL;
    if (sodium_base642bin(bin, n, dot1 + 1, n, NULL, &binlen, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0)
        claims = json_loadb((const char *)bin, binlen, 0, NULL);
    free(bin);
    if (claims != NULL && !json_is_object(claims)) {
        json_decref(claims);
        claims = NULL;
    }
    return claims;
}

json_t *hr_token_verify(const char *token, const unsigned char *const *keys, const size_t *keylens,
                      int nkeys, char *err, size_t errlen)
{
    if (token == NULL || strlen(token) > 8192) {
        snprintf(err, errlen, "malformed");
        return NULL;
    }
    json_t *claims = NULL;
    for (int i = 0; i < nkeys && claims == NULL; i++) {
        jwt_t *j = NULL;
        if (jwt_decode(&j, token, keys[i], (int)keylens[i]) == 0 && j != NULL &&
            jwt_get_alg(j) == JWT_ALG_HS256) {
            char *grants = jwt_get_grants_json(j, NULL);
            claims = grants ? json_loads(grants, 0, NULL) : NULL;
            free(grants);
        }
        jwt_free(j);
    }
    if (claims == NULL) {
        json_t *peek = hr_token_peek(token);
        snprintf(err, errlen, "%s", peek ? "bad signature" : "malformed");
        json_decref(peek);
        return NULL;
    }
    json_t *exp = json_object_get(claims, "exp");
    if (!json_is_integer(exp) || json_integer_value(exp) + JWT_LEEWAY_S < (json_int_t)time(NULL)) {
        snprintf(err, errlen, "%s", json_is_integer(exp) ? "expired" : "no expiry");
        json_decref(claims);
        return NULL;
    }
    return claims;
}
