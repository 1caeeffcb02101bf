/* Unit tests of crypto: secretbox sealing of secrets at rest (round trip,
 * tampering, a foreign master key, no master key), subkey derivation and the
 * constant-time comparison. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "config.h"
#include "crypto.h"

static const char *const KEY_A = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char *const KEY_B = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static void load(const char *hex)
{
    hr_config_t cfg;
    char err[256];
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.security_master_key, sizeof cfg.security_master_key, "%s", hex);
    assert_int_equal(hr_crypto_load_master(&cfg, err, sizeof err), 0);
}

static int group_setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static void test_no_master_key(void **state)
{
    (void)state;
    unsigned char k[32];
    size_t n = 0;
    assert_false(hr_crypto_ready());
    assert_null(hr_crypto_seal((const unsigned char *)"x", 1));
    assert_null(hr_crypto_open("AAAA", &n));
    assert_int_equal(hr_crypto_derive("hraccess", 1, k, sizeof k), -1);
}

static void test_bad_master_keys_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "00", "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                                      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hr_config_t cfg;
        char err[256] = "";
        memset(&cfg, 0, sizeof cfg);
        snprintf(cfg.security_master_key, sizeof cfg.security_master_key, "%s", bad[i]);
        assert_int_equal(hr_crypto_load_master(&cfg, err, sizeof err), -1);
        assert_non_null(strstr(err, "master_key"));
    }
}

static void test_seal_open_round_trip(void **state)
{
    (void)state;
    load(KEY_A);
    const char *secret = "provider-api-token-123";
    char *a = hr_crypto_seal((const unsigned char *)secret, strlen(secret));
    char *b = hr_crypto_seal((const unsigned char *)secret, strlen(secret));
    assert_non_null(a);
    assert_non_null(b);
    assert_string_not_equal(a, b); /* a fresh nonce every time */
    assert_null(strstr(a, secret));
    size_t n = 0;
    unsigned char *p = hr_crypto_open(a, &n);
    assert_non_null(p);
    assert_int_equal(n, strlen(secret));
    assert_memory_equal(p, secret, n);
    hr_crypto_free_secret(p, n);
    free(a);
    free(b);
}

static void test_tampered_or_foreign_boxes_are_refused(void **state)
{
    (void)state;
    load(KEY_A);
    char *box = hr_crypto_seal((const unsigned char *)"secret", 6);
    size_t n = 0, len = strlen(box);
    for (size_t i = 0; i < len; i++) {
        char *t = strdup(box);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        unsigned char *p = hr_crypto_open(t, &n);
        if (p != NULL) /* a base64 change that decodes to the same bytes is no tampering */
            hr_crypto_free_secret(p, n);
        free(t);
        if (p != NULL && i < len - 1)
            fail_msg("tampered box at %zu opened", i);
    }
    assert_null(hr_crypto_open("", &n));
    assert_null(hr_crypto_open("not base64 !!", &n));
    assert_null(hr_crypto_open("AAAA", &n));
    load(KEY_B);
    assert_null(hr_crypto_open(box, &n));
    load(KEY_A);
    unsigned char *p = hr_crypto_open(box, &n);
    assert_non_null(p);
    hr_crypto_free_secret(p, n);
    free(box);
}

static void test_derive(void **state)
{
    (void)state;
    unsigned char a[32], b[32], c[32], d[32];
    load(KEY_A);
    assert_int_equal(hr_crypto_derive("hraccess", 1, a, sizeof a), 0);
    assert_int_equal(hr_crypto_derive("hraccess", 1, b, sizeof b), 0);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(hr_crypto_derive("hraccess", 2, c, sizeof c), 0);
    assert_memory_not_equal(a, c, sizeof a);
    assert_int_equal(hr_crypto_derive("hrother_", 1, c, sizeof c), 0);
    assert_memory_not_equal(a, c, sizeof a);
    assert_int_equal(hr_crypto_derive("short", 1, c, sizeof c), -1);
    assert_int_equal(hr_crypto_derive("hraccess", 1, c, 8), -1);
    load(KEY_B);
    assert_int_equal(hr_crypto_derive("hraccess", 1, d, sizeof d), 0);
    assert_memory_not_equal(a, d, sizeof a);
}

static void test_streq(void **state)
{
    (void)state;
    assert_true(hr_crypto_streq("abc", "abc"));
    assert_false(hr_crypto_streq("abc", "abd"));
    assert_false(hr_crypto_streq("abc", "abcd"));
    assert_true(hr_crypto_streq("", ""));
}

/* RFC 2202 test cases 1, 2 and 6 (a key longer than the block). */
static void test_hmac_sha1(void **state)
{
    (void)state;
    static const struct {
        const char *key, *data, *mac;
        size_t keylen;
    } cases[] = {
        {"\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b",
         "Hi There", "b617318655057264e28bc0b6fb378c8ef146be00", 20},
        {"Jefe", "what do ya want for nothing?", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", 4},
    };
    char hex[2 * HR_CRYPTO_SHA1_LEN + 1];
    unsigned char mac[HR_CRYPTO_SHA1_LEN];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hr_crypto_hmac_sha1(cases[i].key, cases[i].keylen, cases[i].data, strlen(cases[i].data), mac);
        sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
        assert_string_equal(hex, cases[i].mac);
    }
    unsigned char longkey[80];
    memset(longkey, 0xaa, sizeof longkey);
    const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";
    hr_crypto_hmac_sha1(longkey, sizeof longkey, data, strlen(data), mac);
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    assert_string_equal(hex, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_master_key),
        cmocka_unit_test(test_bad_master_keys_are_refused),
        cmocka_unit_test(test_seal_open_round_trip),
        cmocka_unit_test(test_tampered_or_foreign_boxes_are_refused),
        cmocka_unit_test(test_derive),
        cmocka_unit_test(test_streq),
        cmocka_unit_test(test_hmac_sha1),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
