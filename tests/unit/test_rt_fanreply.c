/* Unit tests of the fan-out reader's reply arena (realtime/fanreply.c): a
 * hiredis reader with the arena's functions builds the same reply trees as
 * hiredis's own, from whole or split input, across several blocks, and
 * reuses its memory after a reset. No network: bytes are fed to the reader. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanreply.h"

/* One XREAD reply: herald:rt with an entry of four fields and an empty one. */
static const char XREAD[] =
    "*1\r\n*2\r\n$9\r\nherald:rt\r\n*2\r\n"
    "*2\r\n$3\r\n1-1\r\n*8\r\n$1\r\ne\r\n$3\r\nenv\r\n$1\r\nu\r\n$2\r\nu1\r\n"
    "$2\r\nid\r\n$3\r\n5-0\r\n$2\r\nev\r\n$12\r\n{\"type\":\"x\"}\r\n"
    "*2\r\n$3\r\n1-2\r\n*0\r\n";

static redisReply *read_one(redisReader *r, const char *buf, size_t len)
{
    void *reply = NULL;
    assert_int_equal(redisReaderFeed(r, buf, len), REDIS_OK);
    assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
    return reply;
}

static void check_xread(const redisReply *rep)
{
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
    assert_int_equal(rep->elements, 1);
    const redisReply *s = rep->element[0];
    assert_int_equal(s->elements, 2);
    assert_string_equal(s->element[0]->str, "herald:rt");
    const redisReply *entries = s->element[1];
    assert_int_equal(entries->elements, 2);
    const redisReply *e = entries->element[0];
    assert_string_equal(e->element[0]->str, "1-1");
    const redisReply *f = e->element[1];
    assert_int_equal(f->type, REDIS_REPLY_ARRAY);
    assert_int_equal(f->elements, 8);
    static const char *want[] = {"e", "env", "u", "u1", "id", "5-0", "ev", "{\"type\":\"x\"}"};
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(f->element[i]->type, REDIS_REPLY_STRING);
        assert_string_equal(f->element[i]->str, want[i]);
        assert_int_equal(f->element[i]->len, strlen(want[i]));
    }
    const redisReply *empty = entries->element[1]->element[1];
    assert_int_equal(empty->type, REDIS_REPLY_ARRAY);
    assert_int_equal(empty->elements, 0);
    assert_null(empty->element);
}

static void test_xread_tree(void **state)
{
    (void)state;
    hr_rt_fanarena_t a = {0};
    redisReader *r = redisReaderCreate();
    hr_rt_fanarena_attach(&a, r);
    check_xread(read_one(r, XREAD, sizeof XREAD - 1));
    /* The same memory serves the next reply after a reset. */
    void *first = a.first;
    hr_rt_fanarena_reset(&a);
    check_xread(read_one(r, XREAD, sizeof XREAD - 1));
    assert_ptr_equal(a.first, first);
    hr_rt_fanarena_reset(&a);
    /* Split anywhere: the reader waits for the rest. */
    for (size_t cut = 1; cut < sizeof XREAD - 1; cut += 7) {
        void *reply = NULL;
        assert_int_equal(redisReaderFeed(r, XREAD, cut), REDIS_OK);
        assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
        if (reply == NULL)
            reply = read_one(r, XREAD + cut, sizeof XREAD - 1 - cut);
        else
            assert_int_equal(redisReaderFeed(r, XREAD + cut, sizeof XREAD - 1 - cut), REDIS_OK);
        check_xread(reply);
        hr_rt_fanarena_reset(&a);
    }
    redisReaderFree(r);
    hr_rt_fanarena_free(&a);
}

static void test_scalars(void **state)
{
    (void)state;
    hr_rt_fanarena_t a = {0};
    redisReader *r = redisReaderCreate();
    hr_rt_fanarena_attach(&a, r);
    redisReply *rep = read_one(r, ":42\r\n", 5);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    assert_int_equal(rep->integer, 42);
    rep = read_one(r, "$-1\r\n", 5); /* XREAD BLOCK timing out */
    assert_int_equal(rep->type, REDIS_REPLY_NIL);
    rep = read_one(r, "*-1\r\n", 5);
    assert_int_equal(rep->type, REDIS_REPLY_NIL);
    rep = read_one(r, "+OK\r\n", 5);
    assert_int_equal(rep->type, REDIS_REPLY_STATUS);
    assert_string_equal(rep->str, "OK");
    rep = read_one(r, "-NOGROUP no\r\n", 13);
    assert_int_equal(rep->type, REDIS_REPLY_ERROR);
    assert_string_equal(rep->str, "NOGROUP no");
    redisReaderFree(r);
    hr_rt_fanarena_free(&a);
}

/* A reply bigger than a block, with a string bigger than a block. */
static void test_big_reply(void **state)
{
    (void)state;
    const size_t n = 5000, big = 300 * 1024;
    size_t cap = 64 + n * 120 + big + 64;
    char *buf = malloc(cap), *w = buf;
    assert_non_null(buf);
    w += sprintf(w, "*%zu\r\n", n + 1);
    for (size_t i = 0; i < n; i++)
        w += sprintf(w, "$%d\r\n%-100zu\r\n", 100, i);
    w += sprintf(w, "$%zu\r\n", big);
    memset(w, 'x', big);
    w += big;
    w += sprintf(w, "\r\n");
    hr_rt_fanarena_t a = {0};
    redisReader *r = redisReaderCreate();
    r->maxbuf = 0;
    hr_rt_fanarena_attach(&a, r);
    for (int round = 0; round < 2; round++) {
        redisReply *rep = read_one(r, buf, (size_t)(w - buf));
        assert_int_equal(rep->elements, n + 1);
        for (size_t i = 0; i < n; i++) {
            char want[128];
            snprintf(want, sizeof want, "%-100zu", i);
            assert_string_equal(rep->element[i]->str, want);
        }
        assert_int_equal(rep->element[n]->len, big);
        assert_int_equal(rep->element[n]->str[big - 1], 'x');
        assert_int_equal(rep->element[n]->str[big], '\0');
        hr_rt_fanarena_reset(&a);
    }
    /* A half-built reply is dropped with the reader; the blocks stay ours. */
    assert_int_equal(redisReaderFeed(r, buf, 1000), REDIS_OK);
    void *none = NULL;
    assert_int_equal(redisReaderGetReply(r, &none), REDIS_OK);
    assert_null(none);
    redisReaderFree(r);
    hr_rt_fanarena_free(&a);
    assert_null(a.first);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xread_tree),
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_big_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
