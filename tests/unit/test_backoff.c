/* Unit tests of backoff: every delay lies in [0, min(cap, base * factor^(n-1))]
 * and is spread over that whole range (full jitter), even for huge attempts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <sodium.h>

#include "backoff.h"

#define SAMPLES 5000

static int group_setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

typedef struct sample_stats {
    long min, max;
    double mean;
} sample_stats_t;

/* Draws SAMPLES delays, failing on the first one outside [0, ceiling]. */
static sample_stats_t sample(int attempt, long base, long factor, long cap, long ceiling)
{
    sample_stats_t st = {LONG_MAX, LONG_MIN, 0};
    double sum = 0;
    for (int i = 0; i < SAMPLES; i++) {
        long v = hr_backoff_ms(attempt, base, factor, cap);
        if (v < 0 || v > ceiling)
            fail_msg("attempt %d base %ld factor %ld cap %ld: %ld is outside [0, %ld]", attempt,
                     base, factor, cap, v, ceiling);
        st.min = v < st.min ? v : st.min;
        st.max = v > st.max ? v : st.max;
        sum += (double)v;
    }
    st.mean = sum / SAMPLES;
    return st;
}

/* Over SAMPLES uniform draws the extremes come within 2% of the ends and the
 * mean within 5% of the middle; missing that by chance is far below 1e-20. */
static void assert_full_jitter(const sample_stats_t *st, long ceiling)
{
    long slack = ceiling / 50;
    if (st->max < ceiling - slack)
        fail_msg("max %ld never got near the ceiling %ld", st->max, ceiling);
    if (st->min > slack)
        fail_msg("min %ld never got near 0 (ceiling %ld)", st->min, ceiling);
    double mid = (double)ceiling / 2;
    if (st->mean < mid * 0.95 || st->mean > mid * 1.05)
        fail_msg("mean %.1f is not near %.1f", st->mean, mid);
}

static void test_ceiling_table(void **state)
{
    (void)state;
    static const struct {
        int attempt;
        long base, factor, cap, ceiling;
    } cases[] = {
        {1, 1000, 2, 3600000, 1000},
        {2, 1000, 2, 3600000, 2000},
        {3, 1000, 2, 3600000, 4000},
        {8, 1000, 2, 86400000, 128000},
        {12, 1000, 2, 3600000, 2048000},
        {13, 1000, 2, 3600000, 3600000}, /* 4096000 capped */
        {4, 100, 3, 100000, 2700},
        {5, 1000, 10, 60000, 60000},
        {3, 5000, 2, 3000, 3000}, /* base above cap */
        {1, 7, 1, 100, 7},
        {50, 7, 1, 100, 7}, /* factor 1: constant */
        {2, 1, 2, 86400000, 2},
        {0, 500, 2, 10000, 500}, /* attempt 0 treated like the first */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sample_stats_t st = sample(cases[i].attempt, cases[i].base, cases[i].factor, cases[i].cap,
                                   cases[i].ceiling);
        assert_full_jitter(&st, cases[i].ceiling);
    }
}

static void test_huge_attempts_respect_cap(void **state)
{
    (void)state;
    static const int attempts[] = {64, 100, 1000, 100000, INT_MAX};
    for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
        sample_stats_t st = sample(attempts[i], 1000, 2, 3600000, 3600000);
        assert_full_jitter(&st, 3600000);
        st = sample(attempts[i], 1, 10, 86400000, 86400000);
        assert_full_jitter(&st, 86400000);
    }
}

static void test_no_overflow_near_long_max(void **state)
{
    (void)state;
    /* base * factor would overflow a long; UBSan reports it if it happens. */
    for (int i = 0; i < 100; i++) {
        long v = hr_backoff_ms(3, LONG_MAX / 4, 10, LONG_MAX);
        assert_true(v >= 0);
        v = hr_backoff_ms(INT_MAX, LONG_MAX / 2 + 1, 3, LONG_MAX - 1);
        assert_true(v >= 0);
    }
}

static void test_zero_ceiling(void **state)
{
    (void)state;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(hr_backoff_ms(1, 0, 2, 1000), 0);
        assert_int_equal(hr_backoff_ms(5, 1000, 2, 0), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ceiling_table),
        cmocka_unit_test(test_huge_attempts_respect_cap),
        cmocka_unit_test(test_no_overflow_near_long_max),
        cmocka_unit_test(test_zero_ceiling),
    };
    return cmocka_run_group_tests_name("backoff", tests, group_setup, NULL);
}
