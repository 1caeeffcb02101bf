/* Unit tests of the router's event planning (workers/events.c): an event
 * without a user goes to the team destinations of its type's channels,
 * never in-app; a test send goes to its one destination. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <jansson.h>

#include "events.h"

#define NID "01930000-0000-7000-8000-000000000001"
#define ENV "01930000-0000-7000-8000-0000000000e1"

static const json_t *by_channel(const json_t *delivs, const char *ch)
{
    size_t i;
    json_t *d;
    json_array_foreach(delivs, i, d) if (strcmp(json_string_value(json_object_get(d, "channel")),
                                                ch) == 0) return d;
    return NULL;
}

static void test_team_plan(void **state)
{
    (void)state;
    json_t *n =
        json_loads("{\"user\": {\"id\": \"\"}, \"type\": \"deploy.failed\", \"event\": {"
                   "\"team\": true, \"channels\": [\"email\", \"in_app\", \"discord\", \"slack\"],"
                   "\"destinations\": {\"email\": \"ops@example.com\","
                   " \"discord\": \"https://discord.example/hook\", \"sms\": \"+14155550100\"}}}",
                   0, NULL);
    assert_non_null(n);
    json_t *delivs = json_array();
    assert_true(hr_events_plan_team(NID, ENV, n, delivs));
    assert_int_equal(json_array_size(delivs), 3); /* email, discord, slack; no in_app, no sms */
    const json_t *e = by_channel(delivs, "email");
    assert_string_equal(json_string_value(json_object_get(e, "status")), "queued");
    assert_string_equal(json_string_value(json_object_get(e, "address")), "ops@example.com");
    assert_string_equal(json_string_value(json_object_get(e, "notification_id")), NID);
    const json_t *s = by_channel(delivs, "slack");
    assert_string_equal(json_string_value(json_object_get(s, "status")), "skipped");
    assert_string_equal(json_string_value(json_object_get(s, "error")), "not_configured");
    assert_null(by_channel(delivs, "in_app"));
    assert_null(by_channel(delivs, "sms"));
    /* Delivery ids are derived: the same plan twice gives the same ids. */
    json_t *again = json_array();
    assert_true(hr_events_plan_team(NID, ENV, n, again));
    assert_string_equal(json_string_value(json_object_get(by_channel(again, "email"), "id")),
                        json_string_value(json_object_get(e, "id")));
    json_decref(again);
    json_decref(delivs);
    json_decref(n);
}

static void test_test_send_and_user_events(void **state)
{
    (void)state;
    json_t *n = json_loads("{\"event\": {\"team\": true, \"test\": true, \"channels\": [\"email\"],"
                           "\"destinations\": {\"sms\": \"+14155550100\"}}}",
                           0, NULL);
    json_t *delivs = json_array();
    assert_true(hr_events_plan_team(NID, ENV, n, delivs));
    assert_int_equal(json_array_size(delivs), 1);
    assert_non_null(by_channel(delivs, "sms"));
    json_decref(n);
    /* An event with a user, or a plain notification, is not planned here. */
    n = json_loads("{\"user\": {\"id\": \"u1\"}, \"event\": {\"fields\": {}}}", 0, NULL);
    assert_false(hr_events_plan_team(NID, ENV, n, delivs));
    json_decref(n);
    n = json_loads("{\"user\": {\"id\": \"u1\"}}", 0, NULL);
    assert_false(hr_events_plan_team(NID, ENV, n, delivs));
    assert_int_equal(json_array_size(delivs), 1);
    json_decref(n);
    json_decref(delivs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_team_plan),
        cmocka_unit_test(test_test_send_and_user_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
