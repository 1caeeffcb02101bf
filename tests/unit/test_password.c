/* Unit tests of password (Argon2id hashes, dummy verification for unknown
 * accounts, length rules) and of member's email normalisation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "member.h"
#include "password.h"

static int group_setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static void test_hash_and_verify(void **state)
{
    (void)state;
    char h1[HR_PASSWORD_HASHLEN], h2[HR_PASSWORD_HASHLEN];
    assert_int_equal(hr_password_hash("correct horse battery", h1), 0);
    assert_int_equal(hr_password_hash("correct horse battery", h2), 0);
    assert_memory_equal(h1, "$argon2id$", 10);
    assert_string_not_equal(h1, h2); /* salted */
    assert_null(strstr(h1, "correct"));
    assert_true(hr_password_verify(h1, "correct horse battery"));
    assert_true(hr_password_verify(h2, "correct horse battery"));
    assert_false(hr_password_verify(h1, "correct horse batterY"));
    assert_false(hr_password_verify(h1, ""));
    assert_false(hr_password_verify(h1, "correct horse battery "));
}

static void test_no_hash_never_verifies(void **state)
{
    (void)state;
    assert_false(hr_password_verify(NULL, "anything"));
    assert_false(hr_password_verify("", "anything"));
    assert_false(hr_password_verify("$argon2id$garbage", "anything"));
}

static void test_check_lengths(void **state)
{
    (void)state;
    static const struct {
        const char *pw;
        long min;
        bool ok;
    } cases[] = {
        {"", 10, false},          {"123456789", 10, false}, {"1234567890", 10, true},
        {"ÄÖÜäöüßÄÖÜ", 10, true}, /* 10 characters, 20 bytes */
        {"ÄÖÜäöüßÄÖ", 10, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *why = hr_password_check(cases[i].pw, cases[i].min);
        if ((why == NULL) != cases[i].ok)
            fail_msg("case %zu (%s): %s", i, cases[i].pw, why ? why : "accepted");
    }
    char long_pw[HR_PASSWORD_MAX + 2];
    memset(long_pw, 'a', sizeof long_pw - 1);
    long_pw[sizeof long_pw - 1] = '\0';
    assert_non_null(hr_password_check(long_pw, 10));
    long_pw[HR_PASSWORD_MAX] = '\0';
    assert_null(hr_password_check(long_pw, 10));
}

static void test_email_normalise(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } good[] = {
        {"Ada@Example.COM", "ada@example.com"},
        {"  ada@example.com\t", "ada@example.com"},
        {"a.b+tag@sub.example.org", "a.b+tag@sub.example.org"},
    };
    static const char *const bad[] = {"", "   ", "ada", "ada@", "@example.com", "ada@example",
                                      "a b@example.com", "ada@@example.com", "ada@example..com",
                                      "<ada@example.com>"};
    char out[HR_MEMBER_EMAIL_MAX + 1];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(hr_member_email_normalise(good[i].in, out, sizeof out), 0);
        assert_string_equal(out, good[i].out);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (hr_member_email_normalise(bad[i], out, sizeof out) == 0)
            fail_msg("'%s' accepted as %s", bad[i], out);
    char longmail[300];
    memset(longmail, 'a', sizeof longmail);
    strcpy(longmail + 250, "@example.com");
    assert_int_equal(hr_member_email_normalise(longmail, out, sizeof out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_and_verify),
        cmocka_unit_test(test_no_hash_never_verifies),
        cmocka_unit_test(test_check_lengths),
        cmocka_unit_test(test_email_normalise),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
