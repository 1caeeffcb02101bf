/* Unit tests of ids: UUIDv7 layout and time prefix, ordering, uniqueness,
 * deterministic derived ids and UUID text validation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ids.h"

static int group_setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Lower-case canonical text with the given version nibble and the RFC 9562
 * variant (10xx). */
static void assert_uuid_layout(const char *s, char version)
{
    assert_int_equal(strlen(s), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(s[i], '-');
        else if (strchr("0123456789abcdef", s[i]) == NULL || s[i] == '\0')
            fail_msg("'%c' at %d of %s is not lower-case hex", s[i], i, s);
    }
    assert_int_equal(s[14], version);
    if (strchr("89ab", s[19]) == NULL)
        fail_msg("variant nibble '%c' of %s is not 8, 9, a or b", s[19], s);
    assert_true(hr_uuid_valid(s));
}

static void test_uuid7_layout(void **state)
{
    (void)state;
    for (int i = 0; i < 1000; i++) {
        char id[HR_UUID_STRLEN];
        hr_uuid7(id);
        assert_uuid_layout(id, '7');
    }
}

static void test_uuid7_time_prefix(void **state)
{
    (void)state;
    char id[HR_UUID_STRLEN];
    hr_uuid7_at(0x0123456789abULL, id);
    /* The 48-bit big-endian millisecond count is the first 12 hex digits. */
    assert_memory_equal(id, "01234567-89ab-7", 15);

    static const uint64_t times[] = {0, 1, 999, 1700000000000ULL, 4102444800000ULL,
                                     0xffffffffffffULL};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        hr_uuid7_at(times[i], id);
        assert_uuid_layout(id, '7');
        assert_int_equal(hr_uuid7_time(id), times[i]);
    }
}

static void test_uuid7_uses_current_time(void **state)
{
    (void)state;
    char id[HR_UUID_STRLEN];
    uint64_t before = now_ms();
    hr_uuid7(id);
    uint64_t after = now_ms();
    uint64_t t = hr_uuid7_time(id);
    assert_in_range(t, before, after);
}

static void test_uuid7_orders_by_millisecond(void **state)
{
    (void)state;
    char prev[HR_UUID_STRLEN], cur[HR_UUID_STRLEN];
    uint64_t t0 = 1700000000000ULL;
    hr_uuid7_at(t0, prev);
    for (uint64_t t = t0 + 1; t < t0 + 2000; t++) {
        hr_uuid7_at(t, cur);
        if (strcmp(prev, cur) >= 0)
            fail_msg("%s (%llu ms) does not sort before %s", prev, (unsigned long long)(t - 1),
                     cur);
        memcpy(prev, cur, sizeof cur);
    }

    /* Ids made a few milliseconds apart sort in creation order. */
    char a[HR_UUID_STRLEN], b[HR_UUID_STRLEN];
    hr_uuid7(a);
    struct timespec pause = {0, 3 * 1000 * 1000};
    nanosleep(&pause, NULL);
    hr_uuid7(b);
    assert_true(strcmp(a, b) < 0);
}

static int cmp_ids(const void *x, const void *y)
{
    return strcmp((const char *)x, (const char *)y);
}

static void test_uuid7_unique(void **state)
{
    (void)state;
    enum { N = 10000 };
    char(*ids)[HR_UUID_STRLEN] = malloc(N * sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < N; i++)
        hr_uuid7(ids[i]);
    qsort(ids, N, sizeof *ids, cmp_ids);
    int dups = 0;
    for (int i = 1; i < N; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0)
            dups++;
    /* Same millisecond, same random bits: the random part is not random. */
    hr_uuid7_at(42, ids[0]);
    hr_uuid7_at(42, ids[1]);
    int same_ms_equal = strcmp(ids[0], ids[1]) == 0;
    free(ids);
    assert_int_equal(dups, 0);
    assert_false(same_ms_equal);
}

static void test_derive_known_answer(void **state)
{
    (void)state;
    /* BLAKE2b-128 of the parent's 16 bytes and the label, the parent's time
     * prefix, version 8. Derived ids are stored, so the scheme must never
     * change; these values were computed independently. */
    static const struct {
        const char *label, *want;
    } cases[] = {
        {"email", "01890a5d-ac96-8c48-85a1-beff20e73109"},
        {"sms", "01890a5d-ac96-88d9-b5bf-743f321f2213"},
        {"", "01890a5d-ac96-8cb9-a9d9-1485dc6c5566"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[HR_UUID_STRLEN];
        hr_uuid_derive("01890a5d-ac96-774b-bcce-b302099a8057", cases[i].label, out);
        assert_string_equal(out, cases[i].want);
        hr_uuid_derive("01890A5D-AC96-774B-BCCE-B302099A8057", cases[i].label, out);
        assert_string_equal(out, cases[i].want);
    }
}

static void test_derive_properties(void **state)
{
    (void)state;
    char parent[HR_UUID_STRLEN], other[HR_UUID_STRLEN];
    char a[HR_UUID_STRLEN], b[HR_UUID_STRLEN], c[HR_UUID_STRLEN], d[HR_UUID_STRLEN];
    hr_uuid7_at(1700000000123ULL, parent);
    hr_uuid7_at(1700000000123ULL, other);

    hr_uuid_derive(parent, "email", a);
    hr_uuid_derive(parent, "email", b);
    hr_uuid_derive(parent, "sms", c);
    hr_uuid_derive(other, "email", d);

    assert_uuid_layout(a, '8');
    assert_string_equal(a, b);     /* deterministic */
    assert_string_not_equal(a, c); /* per label */
    assert_string_not_equal(a, d); /* per parent, even within one millisecond */
    assert_string_not_equal(a, parent);
    /* Children keep the parent's time, so they sort with it. */
    assert_memory_equal(a, parent, 13);
    assert_memory_equal(c, parent, 13);
    assert_int_equal(hr_uuid7_time(a), 1700000000123ULL);
}

static void test_uuid_valid(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"01890a5d-ac96-774b-bcce-b302099a8057", true},
        {"01890A5D-AC96-774B-BCCE-B302099A8057", true},
        {"01890a5d-AC96-774b-BCCE-b302099a8057", true},
        {"00000000-0000-0000-0000-000000000000", true},
        {"", false},
        {"01890a5d-ac96-774b-bcce-b302099a805", false},    /* 35 characters */
        {"01890a5d-ac96-774b-bcce-b302099a80577", false},  /* 37 characters */
        {"01890a5dac96774bbcceb302099a8057", false},       /* no hyphens, 32 hex */
        {"01890a5d-ac96-774b-bcceb-302099a8057", false},   /* hyphen moved */
        {"01890a5d-ac96-774b-bcce-b302099a805g", false},   /* not hex */
        {"01890a5d-ac96-774b-bcce-b302099a805-", false},   /* hyphen for a digit */
        {"01890a5d+ac96-774b-bcce-b302099a8057", false},   /* wrong separator */
        {" 1890a5d-ac96-774b-bcce-b302099a8057", false},   /* space */
        {"{1890a5d-ac96-774b-bcce-b302099a805}", false},   /* braces */
        {"01890a5d-ac96-774b-bcce-b302099a80\xc3\xa9", false}, /* UTF-8 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (hr_uuid_valid(cases[i].s) != cases[i].ok)
            fail_msg("hr_uuid_valid(\"%s\") should be %s", cases[i].s,
                     cases[i].ok ? "true" : "false");
    assert_false(hr_uuid_valid(NULL));
}

static void test_uuid7_time_of_invalid_text(void **state)
{
    (void)state;
    assert_int_equal(hr_uuid7_time(NULL), 0);
    assert_int_equal(hr_uuid7_time(""), 0);
    assert_int_equal(hr_uuid7_time("not-a-uuid"), 0);
    assert_int_equal(hr_uuid7_time("01890a5d-ac96-774b-bcce-b302099a805g"), 0);
    assert_int_equal(hr_uuid7_time("01890A5D-AC96-774B-BCCE-B302099A8057"), 0x01890a5dac96ULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid7_layout),
        cmocka_unit_test(test_uuid7_time_prefix),
        cmocka_unit_test(test_uuid7_uses_current_time),
        cmocka_unit_test(test_uuid7_orders_by_millisecond),
        cmocka_unit_test(test_uuid7_unique),
        cmocka_unit_test(test_derive_known_answer),
        cmocka_unit_test(test_derive_properties),
        cmocka_unit_test(test_uuid_valid),
        cmocka_unit_test(test_uuid7_time_of_invalid_text),
    };
    return cmocka_run_group_tests_name("ids", tests, group_setup, NULL);
}
