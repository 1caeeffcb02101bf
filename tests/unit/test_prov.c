/* Unit tests of the channel machinery: Standard Webhooks signatures (the
 * scheme's published test vector), the SSRF address classes and URL checks,
 * the circuit breaker / bulkhead / rate gate, and the router's address
 * resolution (pure part). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "gate.h"
#include "resolve.h"
#include "ssrf.h"
#include "webhook.h"

static void test_webhook_signature_vector(void **state)
{
    (void)state;
    char sig[HR_WEBHOOK_SIG_LEN];
    const char *body = "{\"test\": 2432232314}";
    assert_int_equal(hr_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                     "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                     strlen(body), sig),
                     0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* without the prefix: same key */
    char sig2[HR_WEBHOOK_SIG_LEN];
    assert_int_equal(hr_webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                     1614265330, body, strlen(body), sig2),
                     0);
    assert_string_equal(sig, sig2);
    /* a changed body changes it; a secret that is not base64 is refused */
    assert_int_equal(hr_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                     "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "{}", 2, sig2),
                     0);
    assert_string_not_equal(sig, sig2);
    assert_int_equal(hr_webhook_sign("whsec_***", "m", 1, "x", 1, sig2), -1);
}

static void test_webhook_secret_new(void **state)
{
    (void)state;
    char a[HR_WEBHOOK_SECRET_LEN], b[HR_WEBHOOK_SECRET_LEN], sig[HR_WEBHOOK_SIG_LEN];
    hr_webhook_secret_new(a);
    hr_webhook_secret_new(b);
    assert_int_equal(strncmp(a, "whsec_", 6), 0);
    assert_int_equal(strlen(a), 6 + 44);
    assert_string_not_equal(a, b);
    assert_int_equal(hr_webhook_sign(a, "id", 1, "x", 1, sig), 0);
}

static bool v4_allowed(const char *ip, hr_ssrf_policy_t p)
{
    struct sockaddr_in in;
    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, ip, &in.sin_addr), 1);
    return hr_ssrf_addr_allowed((struct sockaddr *)&in, p, NULL, 0);
}

static bool v6_allowed(const char *ip, hr_ssrf_policy_t p)
{
    struct sockaddr_in6 in6;
    memset(&in6, 0, sizeof in6);
    in6.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, ip, &in6.sin6_addr), 1);
    return hr_ssrf_addr_allowed((struct sockaddr *)&in6, p, NULL, 0);
}

static void test_ssrf_address_classes(void **state)
{
    (void)state;
    static const char *const denied[] = {"127.0.0.1", "127.9.9.9", "10.1.2.3", "172.16.0.1",
                                         "172.31.255.255", "192.168.1.1", "169.254.169.254",
                                         "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255"};
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
        assert_false(v4_allowed(denied[i], HR_SSRF_DENY));
    static const char *const public4[] = {"8.8.8.8", "1.1.1.1", "172.32.0.1", "192.169.0.1"};
    for (size_t i = 0; i < sizeof public4 / sizeof public4[0]; i++)
        assert_true(v4_allowed(public4[i], HR_SSRF_DENY));
    assert_true(v4_allowed("127.0.0.1", HR_SSRF_LOOPBACK));
    assert_false(v4_allowed("10.0.0.1", HR_SSRF_LOOPBACK));
    assert_false(v4_allowed("169.254.1.1", HR_SSRF_LOOPBACK));
    assert_true(v4_allowed("10.0.0.1", HR_SSRF_ALLOW));
    assert_false(v6_allowed("::1", HR_SSRF_DENY));
    assert_true(v6_allowed("::1", HR_SSRF_LOOPBACK));
    assert_false(v6_allowed("fe80::1", HR_SSRF_LOOPBACK));
    assert_false(v6_allowed("fd00::1", HR_SSRF_DENY));
    assert_false(v6_allowed("::ffff:10.0.0.1", HR_SSRF_DENY));
    assert_false(v6_allowed("::ffff:127.0.0.1", HR_SSRF_DENY));
    assert_true(v6_allowed("2606:4700::1111", HR_SSRF_DENY));
    char why[128];
    struct sockaddr_in in = {.sin_family = AF_INET};
    inet_pton(AF_INET, "169.254.169.254", &in.sin_addr);
    assert_false(hr_ssrf_addr_allowed((struct sockaddr *)&in, HR_SSRF_DENY, why, sizeof why));
    assert_non_null(strstr(why, "link-local"));
}

static void test_ssrf_urls(void **state)
{
    (void)state;
    char err[160];
    static const struct {
        const char *url;
        hr_ssrf_policy_t pol;
        int rc;
    } cases[] = {
        {"https://hooks.example.com/x", HR_SSRF_DENY, 0},
        {"http://hooks.example.com:8080/x?y=1", HR_SSRF_DENY, 0},
        {"http://10.0.0.5/hook", HR_SSRF_DENY, -1},
        {"http://10.0.0.5/hook", HR_SSRF_LOOPBACK, -1},
        {"http://169.254.169.254/latest/meta-data", HR_SSRF_LOOPBACK, -1},
        {"http://127.0.0.1:9/x", HR_SSRF_DENY, -1},
        {"http://127.0.0.1:9/x", HR_SSRF_LOOPBACK, 0},
        {"http://localhost:9/x", HR_SSRF_DENY, -1},
        {"http://LOCALHOST/x", HR_SSRF_DENY, -1},
        {"http://a.localhost/x", HR_SSRF_DENY, -1},
        {"http://[::1]:9/x", HR_SSRF_DENY, -1},
        {"http://[fe80::1]/x", HR_SSRF_LOOPBACK, -1},
        {"ftp://example.com/x", HR_SSRF_ALLOW, -1},
        {"file:///etc/passwd", HR_SSRF_ALLOW, -1},
        {"not a url", HR_SSRF_ALLOW, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = hr_ssrf_check_url(cases[i].url, cases[i].pol, err, sizeof err);
        if (rc != cases[i].rc)
            fail_msg("%s: got %d (%s)", cases[i].url, rc, err);
    }
    assert_int_equal(hr_ssrf_policy_parse("allow"), HR_SSRF_ALLOW);
    assert_int_equal(hr_ssrf_policy_parse("loopback"), HR_SSRF_LOOPBACK);
    assert_int_equal(hr_ssrf_policy_parse("bogus"), HR_SSRF_DENY);
}

static void test_breaker_opens_probes_and_closes(void **state)
{
    (void)state;
    hr_gates_t gates = {0};
    hr_gate_t *g = hr_gate_get(&gates, "telegram:x");
    assert_ptr_equal(hr_gate_get(&gates, "telegram:x"), g);
    long wait;
    long long t = 1000;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(hr_gate_admit(g, t, 10, 0, &wait), HR_GATE_GO);
        hr_gate_done(g, t, true, false, 5, 3000);
    }
    assert_int_equal(g->state, HR_GATE_CLOSED);
    /* a neutral outcome (client error) neither counts nor resets */
    assert_int_equal(hr_gate_admit(g, t, 10, 0, &wait), HR_GATE_GO);
    hr_gate_done(g, t, false, true, 5, 3000);
    assert_int_equal(g->failures, 4);
    assert_int_equal(hr_gate_admit(g, t, 10, 0, &wait), HR_GATE_GO);
    hr_gate_done(g, t, true, false, 5, 3000);
    assert_int_equal(g->state, HR_GATE_OPEN);
    assert_int_equal(hr_gate_admit(g, t + 1000, 10, 0, &wait), HR_GATE_REFUSE);
    assert_int_equal(wait, 2000);
    /* cool-down over: one probe, the others wait for it */
    assert_int_equal(hr_gate_admit(g, t + 3000, 10, 0, &wait), HR_GATE_GO);
    assert_int_equal(g->state, HR_GATE_HALF_OPEN);
    assert_int_equal(hr_gate_admit(g, t + 3001, 10, 0, &wait), HR_GATE_WAIT);
    /* a failed probe opens it again for a full cool-down */
    hr_gate_done(g, t + 3100, true, false, 5, 3000);
    assert_int_equal(g->state, HR_GATE_OPEN);
    assert_int_equal(hr_gate_admit(g, t + 5000, 10, 0, &wait), HR_GATE_REFUSE);
    assert_int_equal(hr_gate_admit(g, t + 6100, 10, 0, &wait), HR_GATE_GO);
    hr_gate_done(g, t + 6200, false, false, 5, 3000);
    assert_int_equal(g->state, HR_GATE_CLOSED);
    assert_int_equal(g->failures, 0);
    hr_gates_free(&gates);
}

static void test_bulkhead_and_rate(void **state)
{
    (void)state;
    hr_gates_t gates = {0};
    hr_gate_t *g = hr_gate_get(&gates, "slow");
    long wait;
    assert_int_equal(hr_gate_admit(g, 0, 2, 0, &wait), HR_GATE_GO);
    assert_int_equal(hr_gate_admit(g, 0, 2, 0, &wait), HR_GATE_GO);
    assert_int_equal(hr_gate_admit(g, 0, 2, 0, &wait), HR_GATE_WAIT);
    hr_gate_done(g, 10, false, false, 5, 1000);
    assert_int_equal(hr_gate_admit(g, 10, 2, 0, &wait), HR_GATE_GO);
    /* 30 per second: a burst of 30, then one every ~34 ms */
    hr_gate_t *r = hr_gate_get(&gates, "rate");
    int sent = 0;
    for (int i = 0; i < 100; i++)
        if (hr_gate_admit(r, 5000, 1000, 30, &wait) == HR_GATE_GO)
            sent++;
    assert_int_equal(sent, 30);
    assert_true(wait >= 30 && wait <= 40);
    assert_int_equal(hr_gate_admit(r, 5034, 1000, 30, &wait), HR_GATE_GO);
    sent = 0;
    for (long long t = 5040; t < 6040; t += 5)
        if (hr_gate_admit(r, t, 1000, 30, &wait) == HR_GATE_GO)
            sent++;
    assert_true(sent >= 28 && sent <= 31);
    hr_gates_free(&gates);
}

static void test_resolve_addresses_and_endpoints(void **state)
{
    (void)state;
    const char *nid = "0192e0a0-0000-7000-8000-000000000001";
    const char *env = "0192e0a0-0000-7000-8000-0000000000e1";
    json_t *notifs = json_pack("[{s:s, s:s, s:s, s:s}]", "id", nid, "environment_id", env,
                               "user_id", "u1", "type", "order.shipped");
    json_t *delivs = json_pack(
        "[{s:s, s:s, s:s, s:s, s:s, s:n, s:s},"
        " {s:s, s:s, s:s, s:s, s:s, s:s, s:n},"
        " {s:s, s:s, s:s, s:s, s:s, s:n, s:s},"
        " {s:s, s:s, s:s, s:s, s:s, s:n, s:s}]",
        "id", "d1", "notification_id", nid, "environment_id", env, "channel", "telegram", "status",
        "skipped", "address", "error", "no_address",
        "id", "d2", "notification_id", nid, "environment_id", env, "channel", "email", "status",
        "queued", "address", "given@example.com", "error",
        "id", "d3", "notification_id", nid, "environment_id", env, "channel", "webhook", "status",
        "skipped", "address", "error", "not_configured",
        "id", "d4", "notification_id", nid, "environment_id", env, "channel", "slack", "status",
        "skipped", "address", "error", "no_address");
    json_t *users = json_pack("[{s:s, s:s, s:s, s:s, s:n}]", "environment_id", env, "user_id",
                              "u1", "telegram", "4242", "email", "stored@example.com", "slack");
    json_t *eps = json_pack("[{s:s, s:s, s:[]}, {s:s, s:s, s:[s]}, {s:s, s:s, s:[s]}]",
                            "id", "e-all", "environment_id", env, "event_types",
                            "id", "e-orders", "environment_id", env, "event_types", "order.shipped",
                            "id", "e-other", "environment_id", env, "event_types", "invoice.paid");
    hr_resolve_apply(notifs, delivs, users, eps);
    assert_int_equal(json_array_size(delivs), 5);
    json_t *d1 = json_array_get(delivs, 0);
    assert_string_equal(json_string_value(json_object_get(d1, "status")), "queued");
    assert_string_equal(json_string_value(json_object_get(d1, "address")), "4242");
    json_t *d2 = json_array_get(delivs, 1);
    assert_string_equal(json_string_value(json_object_get(d2, "address")), "given@example.com");
    json_t *d4 = json_array_get(delivs, 2);
    assert_string_equal(json_string_value(json_object_get(d4, "channel")), "slack");
    assert_string_equal(json_string_value(json_object_get(d4, "status")), "skipped");
    json_t *w1 = json_array_get(delivs, 3), *w2 = json_array_get(delivs, 4);
    assert_string_equal(json_string_value(json_object_get(w1, "address")), "e-all");
    assert_string_equal(json_string_value(json_object_get(w2, "address")), "e-orders");
    assert_string_equal(json_string_value(json_object_get(w1, "status")), "queued");
    assert_string_not_equal(json_string_value(json_object_get(w1, "id")),
                            json_string_value(json_object_get(w2, "id")));
    json_decref(notifs);
    json_decref(delivs);
    json_decref(users);
    json_decref(eps);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhook_signature_vector),
        cmocka_unit_test(test_webhook_secret_new),
        cmocka_unit_test(test_ssrf_address_classes),
        cmocka_unit_test(test_ssrf_urls),
        cmocka_unit_test(test_breaker_opens_probes_and_closes),
        cmocka_unit_test(test_bulkhead_and_rate),
        cmocka_unit_test(test_resolve_addresses_and_endpoints),
    };
    return cmocka_run_group_tests_name("prov", tests, NULL, NULL);
}
