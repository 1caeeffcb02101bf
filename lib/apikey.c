/* apikey: generation (libsodium randomness, base64url body) and hashing
 * (keyless BLAKE2b: the 256-bit random body makes a slow hash unnecessary). */
#include "apikey.h"

#include <sodium.h>
#include <string.h>

#define APIKEY_RAW 32

static bool apikey_shape_ok(const char *key)
{
    size_t n = strlen(key);
    if (n < 8 + 40 || n >= HR_APIKEY_MAXLEN)
        return false;
    if (strncmp(key, "hk_live_", 8) != 0 && strncmp(key, "hk_test_", 8) != 0)
        return false;
    for (size_t i = 8; i < n; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

int hr_apikey_hash(const char *key, char out[HR_APIKEY_HASHLEN])
{
    out[0] = '\0';
    if (key == NULL || !apikey_shape_ok(key))
        return -1;
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)key, strlen(key), NULL, 0);
    sodium_bin2hex(out, HR_APIKEY_HASHLEN, h, sizeof h);
    return 0;
}

void hr_apikey_generate(bool live, hr_apikey_t *out)
{
    unsigned char raw[APIKEY_RAW];
    memset(out, 0, sizeof *out);
    randombytes_buf(raw, sizeof raw);
    strcpy(out->prefix, live ? "hk_live_" : "hk_test_");
    strcpy(out->key, out->prefix);
    sodium_bin2base64(out->key + 8, sizeof out->key - 8, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    size_t n = strlen(out->key);
    memcpy(out->last4, out->key + n - 4, 4);
    int rc = hr_apikey_hash(out->key, out->hash);
    (void)rc; /* a generated key always has the right shape */
}

void hr_apikey_wipe(hr_apikey_t *k)
{
    sodium_memzero(k->key, sizeof k->key);
}
