/* Unit tests of channel: names round trip, unknown names are refused, and
 * each channel's delivery stream key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "channel.h"

static const struct {
    hr_channel_t ch;
    const char *name;
} known[] = {
    {HR_CHANNEL_EMAIL, "email"},       {HR_CHANNEL_SMS, "sms"},
    {HR_CHANNEL_TELEGRAM, "telegram"}, {HR_CHANNEL_DISCORD, "discord"},
    {HR_CHANNEL_WHATSAPP, "whatsapp"}, {HR_CHANNEL_SLACK, "slack"},
    {HR_CHANNEL_WEBHOOK, "webhook"},   {HR_CHANNEL_IN_APP, "in_app"},
};

static void test_names_round_trip(void **state)
{
    (void)state;
    assert_int_equal(sizeof known / sizeof known[0], HR_CHANNEL_COUNT);
    for (size_t i = 0; i < HR_CHANNEL_COUNT; i++) {
        hr_channel_t ch = HR_CHANNEL_COUNT;
        assert_string_equal(hr_channel_name(known[i].ch), known[i].name);
        assert_int_equal(hr_channel_parse(known[i].name, &ch), 0);
        assert_int_equal(ch, known[i].ch);
    }
}

static void test_out_of_range_has_no_name(void **state)
{
    (void)state;
    assert_null(hr_channel_name(HR_CHANNEL_COUNT));
    assert_null(hr_channel_name((hr_channel_t)-1));
    assert_null(hr_channel_name((hr_channel_t)1000));
}

static void test_unknown_names_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "Email", "EMAIL", "e-mail", "in-app", "inapp", "email ", " sms", "sms\n",
        "push", "emailx", "emai", "webhooks", "in_app_",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hr_channel_t ch = HR_CHANNEL_SLACK;
        if (hr_channel_parse(bad[i], &ch) != -1)
            fail_msg("\"%s\" was accepted as a channel", bad[i]);
        assert_int_equal(ch, HR_CHANNEL_SLACK); /* left alone */
    }
}

static void test_stream_names(void **state)
{
    (void)state;
    char buf[64];
    hr_channel_stream(HR_CHANNEL_EMAIL, buf, sizeof buf);
    assert_string_equal(buf, "herald:deliveries:email");
    hr_channel_stream(HR_CHANNEL_IN_APP, buf, sizeof buf);
    assert_string_equal(buf, "herald:deliveries:in_app");
    for (size_t i = 0; i < HR_CHANNEL_COUNT; i++) {
        char want[64];
        snprintf(want, sizeof want, "herald:deliveries:%s", known[i].name);
        hr_channel_stream(known[i].ch, buf, sizeof buf);
        assert_string_equal(buf, want);
    }
    /* A short buffer is truncated, never overrun. */
    char small[8];
    hr_channel_stream(HR_CHANNEL_TELEGRAM, small, sizeof small);
    assert_string_equal(small, "herald:");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_out_of_range_has_no_name),
        cmocka_unit_test(test_unknown_names_refused),
        cmocka_unit_test(test_stream_names),
    };
    return cmocka_run_group_tests_name("channel", tests, NULL, NULL);
}
