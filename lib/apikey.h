/* apikey: API key format (hk_test_… / hk_live_…, 32 random bytes), hashing
 * for storage and lookup. Keys are never stored or logged in clear. */
#ifndef HR_APIKEY_H
#define HR_APIKEY_H

#include <stdbool.h>
#include <stddef.h>

#define HR_APIKEY_HASHLEN 65 /* 64 hex characters and the NUL */
#define HR_APIKEY_MAXLEN 96

typedef struct hr_apikey {
    char key[HR_APIKEY_MAXLEN];      /* full secret: shown once, then wiped */
    char hash[HR_APIKEY_HASHLEN];    /* BLAKE2b-256 hex, what the database keeps */
    char prefix[16];                 /* "hk_live_" or "hk_test_" */
    char last4[5];
} hr_apikey_t;

/* Makes a new key for a production (live) or development (test) environment. */
void hr_apikey_generate(bool live, hr_apikey_t *out);

/* Hashes a presented key. Returns -1 (and leaves out empty) if the key does
 * not have the right shape, so malformed keys never reach the database. */
int hr_apikey_hash(const char *key, char out[HR_APIKEY_HASHLEN]) __attribute__((warn_unused_result));

/* Overwrites the secret in k. */
void hr_apikey_wipe(hr_apikey_t *k);

#endif
