/* crypto: the master key (from config or a file, never from the database) and
 * the secretbox sealing of secrets at rest (provider credentials, token
 * signing secrets). */
#ifndef HR_CRYPTO_H
#define HR_CRYPTO_H

#include <sodium.h>
#include <stddef.h>

#include "config.h"

/* Loads the master key: [security] master_key (64 hex characters) or the
 * file named by [security] master_key_file (64 hex characters, or 32 raw
 * bytes). Returns 0, or -1 with the reason (naming the setting) in err. */
int hr_crypto_load_master(const hr_config_t *cfg, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* True once a master key is loaded. */
int hr_crypto_ready(void);

/* Seals len bytes: returns base64 (url-safe) of nonce || secretbox, caller
 * frees; NULL if no master key is loaded. */
char *hr_crypto_seal(const unsigned char *plain, size_t len);

/* Opens what hr_crypto_seal made. Returns the plaintext (NUL-terminated for
 * convenience, length in *len; caller frees with hr_crypto_free_secret), or
 * NULL if tampered, foreign or no master key. */
unsigned char *hr_crypto_open(const char *sealed, size_t *len);

/* Wipes and frees a secret returned by hr_crypto_open. */
void hr_crypto_free_secret(unsigned char *p, size_t len);

/* Derives a subkey of len bytes (16..64) from the master key for one purpose
 * (ctx: exactly 8 characters, e.g. "hraccess"; id: a subkey number) with
 * crypto_kdf. Returns 0, or -1 when no master key is loaded. */
int hr_crypto_derive(const char *ctx, unsigned long long id, unsigned char *out, size_t len)
    __attribute__((warn_unused_result));

/* HMAC-SHA1 (OpenSSL's libcrypto) of len bytes of data under a key of keylen
 * bytes, into out: only for verifying providers that still sign with it
 * (Twilio's X-Twilio-Signature); nothing of Herald's own uses SHA-1. */
#define HR_CRYPTO_SHA1_LEN 20
void hr_crypto_hmac_sha1(const void *key, size_t keylen, const void *data, size_t len,
                         unsigned char out[HR_CRYPTO_SHA1_LEN]);

/* Constant-time comparison of two strings of any length. */
int hr_crypto_streq(const char *a, const char *b);

/* Writes 2*n hex characters of n random bytes (plus the NUL) into out. */
void hr_crypto_random_hex(char *out, size_t n);

#endif
