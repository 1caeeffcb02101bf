/* crypto: master key handling and XSalsa20-Poly1305 secretboxes (libsodium). */
#include "crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static unsigned char master[crypto_secretbox_KEYBYTES];
static int master_loaded = 0;

static int parse_hex_key(const char *hex, size_t hexlen, unsigned char out[32])
{
    size_t bin_len = 0;
    while (hexlen > 0 && (hex[hexlen - 1] == '\n' || hex[hexlen - 1] == '\r' || hex[hexlen - 1] == ' '))
        hexlen--;
    if (hexlen != 64)
        return -1;
    if (sodium_hex2bin(out, 32, hex, hexlen, NULL, &bin_len, NULL) != 0 || bin_len != 32)
        return -1;
    return 0;
}

int hr_crypto_load_master(const hr_config_t *cfg, char *err, size_t errlen)
{
    if (cfg->security_master_key[0] != '\0') {
        if (parse_hex_key(cfg->security_master_key, strlen(cfg->security_master_key), master) != 0) {
            snprintf(err, errlen, "[security] master_key must be 64 hex characters");
            return -1;
        }
        master_loaded = 1;
        return 0;
    }
    if (cfg->security_master_key_file[0] == '\0') {
        snprintf(err, errlen, "no master key: set [security] master_key_file or master_key");
        return -1;
    }
    FILE *f = fopen(cfg->security_master_key_file, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "[security] master_key_file %s cannot be read",
                 cfg->security_master_key_file);
        return -1;
    }
    char buf[130];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    int rc = -1;
    if (n == 32) {
        memcpy(master, buf, 32);
        rc = 0;
    } else {
        rc = parse_hex_key(buf, n, master);
    }
    sodium_memzero(buf, sizeof buf);
    if (rc != 0) {
        snprintf(err, errlen, "[security] master_key_file %s must hold 64 hex characters or 32 bytes",
                 cfg->security_master_key_file);
        return -1;
    }
    master_loaded = 1;
    return 0;
}

int hr_crypto_ready(void)
{
    return master_loaded;
}

char *hr_crypto_seal(const unsigned char *plain, size_t len)
{
    if (!master_loaded)
        return NULL;
    size_t boxlen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
    unsigned char *box = malloc(boxlen);
    hr_assert(box != NULL);
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, plain, len, box, master);
    size_t b64len = sodium_base64_ENCODED_LEN(boxlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(b64len);
    hr_assert(out != NULL);
    sodium_bin2base64(out, b64len, box, boxlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    free(box);
    return out;
}

unsigned char *hr_crypto_open(const char *sealed, size_t *len)
{
    if (!master_loaded || sealed == NULL)
        return NULL;
    size_t slen = strlen(sealed), boxlen = 0;
    unsigned char *box = malloc(slen + 1);
    hr_assert(box != NULL);
    if (sodium_base642bin(box, slen, sealed, slen, NULL, &boxlen, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        boxlen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        free(box);
        return NULL;
    }
    size_t plen = boxlen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    unsigned char *plain = sodium_malloc(plen + 1);
    hr_assert(plain != NULL);
    if (crypto_secretbox_open_easy(plain, box + crypto_secretbox_NONCEBYTES,
                                   boxlen - crypto_secretbox_NONCEBYTES, box, master) != 0) {
        sodium_free(plain);
        free(box);
        return NULL;
    }
    free(box);
    plain[plen] = '\0';
    *len = plen;
    return plain;
}

void hr_crypto_free_secret(unsigned char *p, size_t len)
{
    (void)len;
    if (p != NULL)
        sodium_free(p); /* sodium_free wipes the memory */
}

int hr_crypto_derive(const char *ctx, unsigned long long id, unsigned char *out, size_t len)
{
    if (!master_loaded || strlen(ctx) != crypto_kdf_CONTEXTBYTES || len < crypto_kdf_BYTES_MIN ||
        len > crypto_kdf_BYTES_MAX)
        return -1;
    return crypto_kdf_derive_from_key(out, len, id, ctx, master) == 0 ? 0 : -1;
}

void hr_crypto_hmac_sha1(const void *key, size_t keylen, const void *data, size_t len,
                         unsigned char out[HR_CRYPTO_SHA1_LEN])
{
    unsigned int outlen = HR_CRYPTO_SHA1_LEN;
    unsigned char *rc = HMAC(EVP_sha1(), key, (int)keylen, data, len, out, &outlen);
    hr_assert(rc != NULL && outlen == HR_CRYPTO_SHA1_LEN);
}

int hr_crypto_streq(const char *a, const char *b)
{
    /* Compare fixed-size digests so the length of a secret does not leak. */
    unsigned char ha[32], hb[32];
    crypto_generichash(ha, sizeof ha, (const unsigned char *)a, strlen(a), NULL, 0);
    crypto_generichash(hb, sizeof hb, (const unsigned char *)b, strlen(b), NULL, 0);
    return sodium_memcmp(ha, hb, sizeof ha) == 0;
}

void hr_crypto_random_hex(char *out, size_t n)
{
    unsigned char *raw = malloc(n ? n : 1);
    hr_assert(raw != NULL);
    randombytes_buf(raw, n);
    sodium_bin2hex(out, 2 * n + 1, raw, n);
    sodium_memzero(raw, n);
    free(raw);
}
