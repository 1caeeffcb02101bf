/* Unit tests of the realtime gateway's pure parts: event ids, framing of one
 * event for WebSocket and SSE, the bounded per-connection queue, and payload
 * peeking. Table-driven where the input is text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "event.h"

#define PRE 16

static void test_id_parse(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int ok;
        uint64_t ms, seq;
    } cases[] = {
        {"1795335338659-0", 0, 1795335338659ull, 0},
        {"1-2", 0, 1, 2},
        {"42", 0, 42, 0},
        {"0-0", 0, 0, 0},
        {"18446744073709551615-18446744073709551615", 0, UINT64_MAX, UINT64_MAX},
        {"", -1, 0, 0},
        {"-1", -1, 0, 0},
        {"1-", -1, 0, 0},
        {"1-x", -1, 0, 0},
        {"abc", -1, 0, 0},
        {"1-2-3", -1, 0, 0},
        {" 1-2", -1, 0, 0},
        {"184467440737095516160-0", -1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hr_rt_id_t id = {7, 7};
        int rc = hr_rt_id_parse(cases[i].in, &id);
        if (rc != cases[i].ok)
            fail_msg("'%s': rc %d, want %d", cases[i].in, rc, cases[i].ok);
        if (rc == 0) {
            assert_true(id.ms == cases[i].ms);
            assert_true(id.seq == cases[i].seq);
        }
    }
    hr_rt_id_t id;
    assert_int_equal(hr_rt_id_parse(NULL, &id), -1);
}

static void test_id_order_and_format(void **state)
{
    (void)state;
    hr_rt_id_t a = {5, 9}, b = {6, 0}, c = {6, 1};
    assert_true(hr_rt_id_cmp(a, b) < 0);
    assert_true(hr_rt_id_cmp(b, c) < 0);
    assert_true(hr_rt_id_cmp(c, a) > 0);
    assert_int_equal(hr_rt_id_cmp(c, c), 0);
    char out[48];
    hr_rt_id_format(c, out, sizeof out);
    assert_string_equal(out, "6-1");
    hr_rt_id_format((hr_rt_id_t){0, 0}, out, sizeof out);
    assert_string_equal(out, "0-0");
    hr_rt_id_format((hr_rt_id_t){UINT64_MAX, UINT64_MAX}, out, sizeof out);
    assert_string_equal(out, "18446744073709551615-18446744073709551615");
    hr_rt_id_format((hr_rt_id_t){1733459200123ULL, 42}, out, sizeof out);
    assert_string_equal(out, "1733459200123-42");
    /* what does not fit is cut, and the text always ends */
    char small[6];
    hr_rt_id_format((hr_rt_id_t){1733459200123ULL, 42}, small, sizeof small);
    assert_string_equal(small, "17334");
    hr_rt_id_format((hr_rt_id_t){7, 8}, small, 1);
    assert_string_equal(small, "");
    /* parsing the text gives the id back */
    hr_rt_id_t back;
    hr_rt_id_format((hr_rt_id_t){UINT64_MAX, 3}, out, sizeof out);
    assert_int_equal(hr_rt_id_parse(out, &back), 0);
    assert_true(back.ms == UINT64_MAX && back.seq == 3);
}

static void test_msg_framing(void **state)
{
    (void)state;
    const char *p = "{\"type\":\"notification.read\",\"unread_count\":2}";
    hr_rt_msg_t *m = hr_rt_msg_new("17-3", p, strlen(p), PRE);
    assert_non_null(m);
    assert_int_equal(m->refs, 1);
    assert_true(m->id.ms == 17 && m->id.seq == 3);
    assert_int_equal(m->ws_len, strlen((char *)m->ws));
    assert_string_equal((char *)m->ws,
                        "{\"id\":\"17-3\",\"type\":\"notification.read\",\"unread_count\":2}");
    assert_int_equal(m->sse_len, strlen((char *)m->sse));
    assert_string_equal((char *)m->sse, "id: 17-3\ndata: {\"type\":\"notification.read\","
                                        "\"unread_count\":2}\n\n");
    /* Both frames have PRE writable bytes before them, inside the message. */
    assert_true(m->ws - m->mem >= PRE);
    assert_true(m->sse - (m->ws + m->ws_len + 1) >= PRE);
    memset(m->ws - PRE, 0xAA, PRE);
    memset(m->sse - PRE, 0xBB, PRE);
    assert_string_equal((char *)m->ws,
                        "{\"id\":\"17-3\",\"type\":\"notification.read\",\"unread_count\":2}");
    hr_rt_msg_unref(m);
}

static void test_msg_without_id_and_bad_payloads(void **state)
{
    (void)state;
    hr_rt_msg_t *m = hr_rt_msg_new(NULL, "{\"type\":\"resync\"}\n", 18, PRE);
    assert_non_null(m);
    assert_string_equal((char *)m->ws, "{\"type\":\"resync\"}");
    assert_string_equal((char *)m->sse, "data: {\"type\":\"resync\"}\n\n");
    assert_true(m->id.ms == 0 && m->id.seq == 0);
    hr_rt_msg_unref(m);
    m = hr_rt_msg_new("1-1", "{}", 2, PRE);
    assert_non_null(m);
    assert_string_equal((char *)m->ws, "{\"id\":\"1-1\"}");
    hr_rt_msg_unref(m);
    static const char *const bad[] = {"", "[]", "x", "{\"a\":\n1}", "{", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(hr_rt_msg_new("1-1", bad[i], strlen(bad[i]), PRE));
    assert_null(hr_rt_msg_new("nope", "{}", 2, PRE));
    json_t *ev = json_pack("{s:s, s:s}", "type", "reconnect", "reason", "line\nbreak");
    m = hr_rt_msg_json(NULL, ev, PRE);
    json_decref(ev);
    assert_non_null(m);
    /* A newline inside a string is escaped: one SSE data line. */
    assert_null(strchr((char *)m->ws, '\n'));
    hr_rt_msg_unref(m);
}

static void test_queue_bounds(void **state)
{
    (void)state;
    hr_rt_queue_t q = {0};
    hr_rt_msg_t *m = hr_rt_msg_new("1-0", "{\"type\":\"x\"}", 12, PRE);
    for (int i = 0; i < 4; i++)
        assert_int_equal(hr_rt_queue_push(&q, m, 4), 0);
    assert_int_equal(hr_rt_queue_push(&q, m, 4), -1); /* full: refused, not grown */
    assert_int_equal(q.len, 4);
    assert_int_equal(m->refs, 5);
    assert_ptr_equal(hr_rt_queue_peek(&q), m);
    hr_rt_queue_pop(&q);
    assert_int_equal(q.len, 3);
    assert_int_equal(m->refs, 4);
    assert_int_equal(hr_rt_queue_push(&q, m, 0), 0); /* 0: no limit */
    hr_rt_queue_clear(&q);
    assert_int_equal(q.len, 0);
    assert_null(hr_rt_queue_peek(&q));
    assert_null(q.tail);
    hr_rt_queue_pop(&q); /* empty: no-op */
    assert_int_equal(m->refs, 1);
    /* FIFO order. */
    hr_rt_msg_t *a = hr_rt_msg_new("1-1", "{}", 2, PRE), *b = hr_rt_msg_new("1-2", "{}", 2, PRE);
    assert_int_equal(hr_rt_queue_push(&q, a, 8), 0);
    assert_int_equal(hr_rt_queue_push(&q, b, 8), 0);
    assert_ptr_equal(hr_rt_queue_peek(&q), a);
    hr_rt_queue_pop(&q);
    assert_ptr_equal(hr_rt_queue_peek(&q), b);
    hr_rt_queue_clear(&q);
    hr_rt_msg_unref(a);
    hr_rt_msg_unref(b);
    hr_rt_msg_unref(m);
}

static void test_payload_peek(void **state)
{
    (void)state;
    char type[32];
    long unread;
    hr_rt_payload_peek("{\"type\":\"notification.created\",\"unread_count\":12,\"item\":{\"type\":\"x\","
                       "\"unread_count\":99}}",
                       type, sizeof type, &unread);
    assert_string_equal(type, "notification.created");
    assert_int_equal(unread, 12);
    hr_rt_payload_peek("{\"other\":1}", type, sizeof type, &unread);
    assert_string_equal(type, "");
    assert_int_equal(unread, -1);
    hr_rt_payload_peek("{\"type\":\"a-very-long-type-name-that-does-not-fit\"}", type, 8, &unread);
    assert_string_equal(type, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_parse),
        cmocka_unit_test(test_id_order_and_format),
        cmocka_unit_test(test_msg_framing),
        cmocka_unit_test(test_msg_without_id_and_bad_payloads),
        cmocka_unit_test(test_queue_bounds),
        cmocka_unit_test(test_payload_peek),
    };
    return cmocka_run_group_tests_name("rt_event", tests, NULL, NULL);
}
