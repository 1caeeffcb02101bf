/* webhook: endpoint loading and Standard Webhooks signing (libsodium
 * HMAC-SHA256 and base64). */
#include "webhook.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"

void hr_webhook_secret_new(char out[HR_WEBHOOK_SECRET_LEN])
{
    unsigned char key[32];
    randombytes_buf(key, sizeof key);
    memcpy(out, "whsec_", 6);
    sodium_bin2base64(out + 6, HR_WEBHOOK_SECRET_LEN - 6, key, sizeof key,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(key, sizeof key);
}

int hr_webhook_sign(const char *secret, const char *msg_id, long long ts, const char *body,
                    size_t len, char out[HR_WEBHOOK_SIG_LEN])
{
    if (strncmp(secret, "whsec_", 6) == 0)
        secret += 6;
    unsigned char key[64], mac[crypto_auth_hmacsha256_BYTES];
    size_t keylen = 0;
    if (sodium_base642bin(key, sizeof key, secret, strlen(secret), NULL, &keylen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        keylen == 0)
        return -1;
    crypto_auth_hmacsha256_state st;
    char tsbuf[32];
    int tn = snprintf(tsbuf, sizeof tsbuf, "%lld", ts);
    crypto_auth_hmacsha256_init(&st, key, keylen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg_id, strlen(msg_id));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)tsbuf, (size_t)tn);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(key, sizeof key);
    memcpy(out, "v1,", 3);
    sodium_bin2base64(out + 3, HR_WEBHOOK_SIG_LEN - 3, mac, sizeof mac,
                      sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

hr_webhook_endpoint_t *hr_webhook_endpoint_ref(hr_webhook_endpoint_t *e)
{
    if (e != NULL)
        e->refs++;
    return e;
}

static void wipe_free(char *s)
{
    if (s == NULL)
        return;
    sodium_memzero(s, strlen(s));
    free(s);
}

void hr_webhook_endpoint_unref(hr_webhook_endpoint_t *e)
{
    if (e == NULL || --e->refs > 0)
        return;
    free(e->url);
    wipe_free(e->secret);
    wipe_free(e->previous_secret);
    free(e);
}

static char *open_secret(const char *sealed)
{
    if (sealed == NULL || sealed[0] == '\0')
        return NULL;
    size_t len = 0;
    unsigned char *p = hr_crypto_open(sealed, &len);
    if (p == NULL)
        return NULL;
    char *s = strndup((const char *)p, len);
    hr_assert(s != NULL);
    hr_crypto_free_secret(p, len);
    return s;
}

hr_webhook_endpoint_t **hr_webhook_endpoints_load(hr_db_t *db, const char *ids, char *err,
                                                  size_t errlen)
{
    const char *p[1] = {ids};
    PGresult *res = hr_db_exec(db,
                               "SELECT id, environment_id, url, secret,"
                               " CASE WHEN previous_until > now() THEN previous_secret END,"
                               " private_targets = 'deny', disabled_at IS NOT NULL"
                               " FROM webhook_endpoints WHERE id = ANY($1::uuid[])",
                               1, p, err, errlen);
    if (res == NULL)
        return NULL;
    int n = PQntuples(res), k = 0;
    hr_webhook_endpoint_t **out = calloc((size_t)n + 1, sizeof *out);
    hr_assert(out != NULL);
    for (int i = 0; i < n; i++) {
        char *secret = open_secret(PQgetvalue(res, i, 3));
        if (secret == NULL) {
            hr_log_json(HR_LOG_ERROR, NULL, "webhook secret cannot be opened",
                        json_pack("{s:s}", "endpoint_id", PQgetvalue(res, i, 0)));
            continue;
        }
        hr_webhook_endpoint_t *e = calloc(1, sizeof *e);
        hr_assert(e != NULL);
        snprintf(e->id, sizeof e->id, "%s", PQgetvalue(res, i, 0));
        snprintf(e->environment_id, sizeof e->environment_id, "%s", PQgetvalue(res, i, 1));
        e->url = strdup(PQgetvalue(res, i, 2));
        hr_assert(e->url != NULL);
        e->secret = secret;
        e->previous_secret = PQgetisnull(res, i, 4) ? NULL : open_secret(PQgetvalue(res, i, 4));
        e->strict = PQgetvalue(res, i, 5)[0] == 't';
        e->disabled = PQgetvalue(res, i, 6)[0] == 't';
        e->refs = 1;
        out[k++] = e;
    }
    PQclear(res);
    return out;
}
