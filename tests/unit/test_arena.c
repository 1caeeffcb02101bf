/* Unit tests of arena: alignment, zeroed memory, allocations larger than a
 * block, reset and reuse, strndup and printf. AddressSanitizer catches any
 * write past an allocation or use of a freed block. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "arena.h"

static void assert_aligned(const void *p)
{
    if ((uintptr_t)p % 16 != 0)
        fail_msg("%p is not 16-byte aligned", p);
}

static void assert_all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            fail_msg("byte %zu of %zu is 0x%02x, not zero", i, n, p[i]);
}

static void test_init_minimum_block(void **state)
{
    (void)state;
    hr_arena_t a;
    hr_arena_init(&a, 0);
    assert_null(a.head);
    assert_int_equal(a.block_size, 256);
    hr_arena_init(&a, 8192);
    assert_int_equal(a.block_size, 8192);
    hr_arena_free(&a);
}

static void test_alloc_aligned_and_zeroed(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 3, 15, 16, 17, 31, 33, 100, 255, 256, 257, 1000, 4096};
    hr_arena_t a;
    hr_arena_init(&a, 1024);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            unsigned char *p = hr_arena_alloc(&a, sizes[i]);
            assert_non_null(p);
            assert_aligned(p);
            assert_all_zero(p, sizes[i]);
            /* Dirty it so reused memory would show up as non-zero later. */
            memset(p, 0xa5, sizes[i]);
        }
        hr_arena_reset(&a);
    }
    hr_arena_free(&a);
    assert_null(a.head);
}

/* Many allocations across blocks never overlap: each keeps its own pattern. */
static void test_allocations_do_not_overlap(void **state)
{
    (void)state;
    enum { N = 500 };
    unsigned char *ptrs[N];
    size_t lens[N];
    hr_arena_t a;
    hr_arena_init(&a, 512);
    for (int i = 0; i < N; i++) {
        lens[i] = (size_t)(i * 37 % 700) + 1; /* some larger than a block */
        ptrs[i] = hr_arena_alloc(&a, lens[i]);
        assert_aligned(ptrs[i]);
        memset(ptrs[i], i & 0xff, lens[i]);
    }
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < lens[i]; j++)
            if (ptrs[i][j] != (unsigned char)(i & 0xff))
                fail_msg("allocation %d byte %zu was overwritten", i, j);
    hr_arena_free(&a);
}

static void test_large_allocation(void **state)
{
    (void)state;
    hr_arena_t a;
    hr_arena_init(&a, 256);
    char *before = hr_arena_alloc(&a, 16);
    memcpy(before, "before", 7);
    size_t big = 256 * 40 + 3;
    unsigned char *p = hr_arena_alloc(&a, big);
    assert_aligned(p);
    assert_all_zero(p, big);
    memset(p, 0x5a, big);
    char *after = hr_arena_alloc(&a, 16);
    memcpy(after, "after", 6);
    /* A large allocation as the very first one, too. */
    hr_arena_t b;
    hr_arena_init(&b, 256);
    unsigned char *q = hr_arena_alloc(&b, big);
    memset(q, 0x3c, big);
    char *small = hr_arena_alloc(&b, 10);
    memcpy(small, "small", 6);

    assert_string_equal(before, "before");
    assert_string_equal(after, "after");
    assert_string_equal(small, "small");
    assert_int_equal(p[0], 0x5a);
    assert_int_equal(p[big - 1], 0x5a);
    assert_int_equal(q[big - 1], 0x3c);
    hr_arena_free(&a);
    hr_arena_free(&b);
}

static void test_reset_keeps_working(void **state)
{
    (void)state;
    hr_arena_t a;
    hr_arena_init(&a, 256);
    hr_arena_reset(&a); /* empty arena */
    assert_null(a.head);
    for (int round = 0; round < 20; round++) {
        /* A mix of small and one-off allocations, then start over. */
        for (int i = 0; i < 50; i++) {
            size_t n = i % 10 == 0 ? 5000 : (size_t)(i * 13 % 200) + 1;
            unsigned char *p = hr_arena_alloc(&a, n);
            assert_all_zero(p, n);
            memset(p, 0xff, n);
        }
        hr_arena_reset(&a);
        assert_non_null(a.head); /* one block is kept for the next request */
        /* and each request after that starts at its beginning again */
        void *p1 = hr_arena_alloc(&a, 32);
        memset(p1, 0x11, 32);
        hr_arena_reset(&a);
        void *p2 = hr_arena_alloc(&a, 32);
        assert_ptr_equal(p1, p2);
        assert_all_zero(p2, 32);
    }
    /* An arena whose only block was a one-off keeps nothing. */
    hr_arena_t b;
    hr_arena_init(&b, 256);
    memset(hr_arena_alloc(&b, 4096), 1, 4096);
    hr_arena_reset(&b);
    assert_null(b.head);
    assert_all_zero(hr_arena_alloc(&b, 64), 64);
    hr_arena_free(&b);

    hr_arena_free(&a);
    hr_arena_free(&a); /* freeing twice is harmless */
    assert_null(a.head);
}

static void test_strndup(void **state)
{
    (void)state;
    hr_arena_t a;
    hr_arena_init(&a, 256);
    assert_string_equal(hr_arena_strndup(&a, "hello world", 5), "hello");
    assert_string_equal(hr_arena_strndup(&a, "hello", 5), "hello");
    assert_string_equal(hr_arena_strndup(&a, "x", 0), "");
    /* Input need not be NUL-terminated: exactly n bytes are read. */
    char raw[3] = {'a', 'b', 'c'};
    char *s = hr_arena_strndup(&a, raw, sizeof raw);
    assert_string_equal(s, "abc");
    assert_ptr_not_equal(s, raw);
    /* Longer than a block. */
    char longer[600];
    memset(longer, 'z', sizeof longer);
    s = hr_arena_strndup(&a, longer, sizeof longer);
    assert_int_equal(strlen(s), sizeof longer);
    hr_arena_free(&a);
}

static void test_printf(void **state)
{
    (void)state;
    hr_arena_t a;
    hr_arena_init(&a, 256);
    assert_string_equal(hr_arena_printf(&a, "%s:%d:%05.1f", "id", -42, 3.14159), "id:-42:003.1");
    assert_string_equal(hr_arena_printf(&a, "%s", ""), "");
    char *s = hr_arena_printf(&a, "%0999d|", 7);
    assert_int_equal(strlen(s), 1000);
    assert_int_equal(s[998], '7');
    assert_int_equal(s[999], '|');
    assert_string_equal(hr_arena_printf(&a, "herald:pending:%s", "abc"), "herald:pending:abc");
    hr_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_minimum_block),
        cmocka_unit_test(test_alloc_aligned_and_zeroed),
        cmocka_unit_test(test_allocations_do_not_overlap),
        cmocka_unit_test(test_large_allocation),
        cmocka_unit_test(test_reset_keeps_working),
        cmocka_unit_test(test_strndup),
        cmocka_unit_test(test_printf),
    };
    return cmocka_run_group_tests_name("arena", tests, NULL, NULL);
}
