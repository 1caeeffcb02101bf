/* Unit tests of apikey: key format, hashing for lookup, refusal of malformed
 * keys and wiping of the secret. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "apikey.h"

/* 8-character prefix and 32 random bytes in unpadded base64url. */
#define KEY_LEN (8 + 43)

static int group_setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static bool is_base64url(const char *s)
{
    for (; *s; s++)
        if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *s) ==
            NULL)
            return false;
    return true;
}

static void assert_hex64(const char *h)
{
    assert_int_equal(strlen(h), 64);
    if (strspn(h, "0123456789abcdef") != 64)
        fail_msg("%s is not 64 lower-case hex digits", h);
}

static void test_generate_shape(void **state)
{
    (void)state;
    static const struct {
        bool live;
        const char *prefix;
    } kinds[] = {{true, "hk_live_"}, {false, "hk_test_"}};
    for (size_t i = 0; i < 2; i++) {
        for (int n = 0; n < 200; n++) {
            hr_apikey_t k;
            hr_apikey_generate(kinds[i].live, &k);
            assert_string_equal(k.prefix, kinds[i].prefix);
            assert_memory_equal(k.key, kinds[i].prefix, 8);
            assert_int_equal(strlen(k.key), KEY_LEN);
            if (!is_base64url(k.key + 8))
                fail_msg("%s: body is not base64url", k.key);
            assert_string_equal(k.last4, k.key + KEY_LEN - 4);
            assert_hex64(k.hash);
            hr_apikey_wipe(&k);
        }
    }
}

static void test_hash_matches_generated(void **state)
{
    (void)state;
    hr_apikey_t k;
    char h1[HR_APIKEY_HASHLEN], h2[HR_APIKEY_HASHLEN];
    hr_apikey_generate(true, &k);
    assert_int_equal(hr_apikey_hash(k.key, h1), 0);
    assert_int_equal(hr_apikey_hash(k.key, h2), 0);
    assert_string_equal(h1, k.hash);
    assert_string_equal(h2, k.hash);
    hr_apikey_wipe(&k);
}

static void test_hash_known_answer(void **state)
{
    (void)state;
    /* BLAKE2b-256 of the whole key text, computed independently. Stored
     * hashes depend on it, so it must never change. */
    char h[HR_APIKEY_HASHLEN];
    assert_int_equal(hr_apikey_hash("hk_test_abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFG", h), 0);
    assert_string_equal(h, "b3be6fce6f0796b9dbe300910d642a2e5828dc93cd6dbe203ff77b4dc01481d9");
}

static void test_hash_differs_per_key(void **state)
{
    (void)state;
    char a[HR_APIKEY_HASHLEN], b[HR_APIKEY_HASHLEN];
    assert_int_equal(hr_apikey_hash("hk_test_abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFG", a), 0);
    assert_int_equal(hr_apikey_hash("hk_test_abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFH", b), 0);
    assert_string_not_equal(a, b);
    /* The prefix is part of what is hashed. */
    assert_int_equal(hr_apikey_hash("hk_live_abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFG", b), 0);
    assert_string_not_equal(a, b);
}

static void test_two_keys_differ(void **state)
{
    (void)state;
    hr_apikey_t a, b;
    hr_apikey_generate(false, &a);
    hr_apikey_generate(false, &b);
    assert_string_not_equal(a.key, b.key);
    assert_string_not_equal(a.hash, b.hash);
    hr_apikey_wipe(&a);
    hr_apikey_wipe(&b);
}

static void test_malformed_keys_refused(void **state)
{
    (void)state;
    static const struct {
        const char *why, *key;
    } cases[] = {
        {"empty", ""},
        {"prefix only", "hk_live_"},
        {"wrong prefix", "hk_prod_abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFG"},
        {"upper-case prefix", "HK_LIVE_abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFG"},
        {"no prefix", "abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFGhijklmn"},
        {"39-character body", "hk_live_abcdefghijklmnopqrstuvwxyz0123456789-_A"},
        {"96 characters", "hk_live_abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFGHIJKLMNOPQRSTUV"
                          "WXYZabcdefghijklmnopqrstuvwx"},
        {"standard base64 +", "hk_live_abcdefghijklmnopqrstuvwxyz0123456789+_ABCDEFG"},
        {"standard base64 /", "hk_live_abcdefghijklmnopqrstuvwxyz0123456789/_ABCDEFG"},
        {"padding", "hk_live_abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE=="},
        {"space", "hk_live_abcdefghijklmnopqrstuvwxyz 0123456789-_ABCDEF"},
        {"trailing newline", "hk_live_abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEF\n"},
        {"quote", "hk_live_abcdefghijklmnopqrstuvwxyz0123456789'_ABCDEFG"},
        {"UTF-8", "hk_live_abcdefghijklmnopqrstuvwxyz0123456789-_ABCDE\xc3\xa9"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char h[HR_APIKEY_HASHLEN];
        memset(h, 'x', sizeof h);
        if (hr_apikey_hash(cases[i].key, h) != -1)
            fail_msg("%s: \"%s\" was accepted", cases[i].why, cases[i].key);
        assert_string_equal(h, "");
    }
    char h[HR_APIKEY_HASHLEN] = "x";
    assert_int_equal(hr_apikey_hash(NULL, h), -1);
    assert_string_equal(h, "");
}

static void test_length_limits(void **state)
{
    (void)state;
    char key[HR_APIKEY_MAXLEN + 1], h[HR_APIKEY_HASHLEN];
    /* Shortest accepted: the prefix and 40 characters. */
    memset(key, 'a', sizeof key);
    memcpy(key, "hk_test_", 8);
    key[48] = '\0';
    assert_int_equal(hr_apikey_hash(key, h), 0);
    key[47] = '\0';
    assert_int_equal(hr_apikey_hash(key, h), -1);
    /* Longest accepted: HR_APIKEY_MAXLEN - 1 characters. */
    memset(key, 'a', sizeof key);
    memcpy(key, "hk_test_", 8);
    key[HR_APIKEY_MAXLEN - 1] = '\0';
    assert_int_equal(hr_apikey_hash(key, h), 0);
    key[HR_APIKEY_MAXLEN - 1] = 'a';
    key[HR_APIKEY_MAXLEN] = '\0';
    assert_int_equal(hr_apikey_hash(key, h), -1);
}

static void test_wipe(void **state)
{
    (void)state;
    hr_apikey_t k;
    hr_apikey_generate(true, &k);
    char hash[HR_APIKEY_HASHLEN], last4[5];
    memcpy(hash, k.hash, sizeof hash);
    memcpy(last4, k.last4, sizeof last4);
    hr_apikey_wipe(&k);
    for (size_t i = 0; i < sizeof k.key; i++)
        if (k.key[i] != 0)
            fail_msg("byte %zu of the key survived the wipe", i);
    /* What may be stored or shown stays. */
    assert_string_equal(k.hash, hash);
    assert_string_equal(k.last4, last4);
    assert_string_equal(k.prefix, "hk_live_");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_shape),
        cmocka_unit_test(test_hash_matches_generated),
        cmocka_unit_test(test_hash_known_answer),
        cmocka_unit_test(test_hash_differs_per_key),
        cmocka_unit_test(test_two_keys_differ),
        cmocka_unit_test(test_malformed_keys_refused),
        cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_wipe),
    };
    return cmocka_run_group_tests_name("apikey", tests, group_setup, NULL);
}
