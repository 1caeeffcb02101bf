/* Unit tests of the realtime gateway's rooms: join/leave bookkeeping, one
 * room per environment + user, the per-user and per-environment limits, and
 * freeing emptied rooms. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "room.h"

#define ENV_A "01a20253-2075-7907-b10f-dc9be551a370"
#define ENV_B "01a20253-2075-7907-b10f-dc9be551a371"

static void test_join_leave(void **state)
{
    (void)state;
    hr_rt_rooms_t rs;
    hr_rt_rooms_init(&rs, 8);
    hr_rt_member_t m[3];
    memset(m, 0, sizeof m);
    assert_int_equal(hr_rt_rooms_join(&rs, ENV_A, "u1", &m[0], 0, 0), HR_RT_JOIN_OK);
    assert_int_equal(hr_rt_rooms_join(&rs, ENV_A, "u1", &m[1], 0, 0), HR_RT_JOIN_OK);
    assert_int_equal(hr_rt_rooms_join(&rs, ENV_B, "u1", &m[2], 0, 0), HR_RT_JOIN_OK);
    hr_rt_room_t *ra = hr_rt_rooms_find(&rs, ENV_A, "u1");
    hr_rt_room_t *rb = hr_rt_rooms_find(&rs, ENV_B, "u1");
    assert_non_null(ra);
    assert_non_null(rb);
    assert_ptr_not_equal(ra, rb); /* same user id, other environment: other room */
    assert_int_equal(ra->n, 2);
    assert_ptr_equal(m[0].room, ra);
    assert_string_equal(hr_rt_room_env(ra), ENV_A);
    assert_string_equal(hr_rt_room_user(ra), "u1");
    assert_int_equal(ra->unread, -1);
    assert_int_equal(rs.nrooms, 2);
    assert_int_equal(rs.nmembers, 3);
    assert_int_equal(hr_rt_rooms_env_count(&rs, ENV_A), 2);
    assert_null(hr_rt_rooms_find(&rs, ENV_A, "u2"));
    /* Every member of the room is reachable from it. */
    int seen = 0;
    for (hr_rt_member_t *p = ra->members; p != NULL; p = p->next)
        seen += p == &m[0] || p == &m[1];
    assert_int_equal(seen, 2);
    hr_rt_rooms_leave(&rs, &m[0]);
    assert_null(m[0].room);
    assert_int_equal(ra->n, 1);
    assert_ptr_equal(ra->members, &m[1]);
    hr_rt_rooms_leave(&rs, &m[0]); /* twice: no-op */
    hr_rt_rooms_leave(&rs, &m[1]); /* emptied: freed */
    assert_null(hr_rt_rooms_find(&rs, ENV_A, "u1"));
    assert_int_equal(rs.nrooms, 1);
    assert_int_equal(hr_rt_rooms_env_count(&rs, ENV_A), 0);
    hr_rt_rooms_free(&rs); /* frees the ENV_B room, unlinks m[2] */
    assert_null(m[2].room);
}

static void test_limits(void **state)
{
    (void)state;
    hr_rt_rooms_t rs;
    hr_rt_rooms_init(&rs, 4);
    hr_rt_member_t m[6];
    memset(m, 0, sizeof m);
    assert_int_equal(hr_rt_rooms_join(&rs, ENV_A, "u1", &m[0], 2, 3), HR_RT_JOIN_OK);
    assert_int_equal(hr_rt_rooms_join(&rs, ENV_A, "u1", &m[1], 2, 3), HR_RT_JOIN_OK);
    assert_int_equal(hr_rt_rooms_check(&rs, ENV_A, "u1", 2, 3), HR_RT_JOIN_USER_FULL);
    assert_int_equal(hr_rt_rooms_join(&rs, ENV_A, "u1", &m[2], 2, 3), HR_RT_JOIN_USER_FULL);
    assert_null(m[2].room);
    assert_int_equal(hr_rt_rooms_join(&rs, ENV_A, "u2", &m[2], 2, 3), HR_RT_JOIN_OK);
    assert_int_equal(hr_rt_rooms_join(&rs, ENV_A, "u3", &m[3], 2, 3), HR_RT_JOIN_ENV_FULL);
    assert_int_equal(hr_rt_rooms_join(&rs, ENV_B, "u3", &m[3], 2, 3), HR_RT_JOIN_OK);
    hr_rt_rooms_leave(&rs, &m[0]);
    assert_int_equal(hr_rt_rooms_join(&rs, ENV_A, "u3", &m[4], 2, 3), HR_RT_JOIN_OK);
    hr_rt_rooms_free(&rs);
}

static void test_many_rooms(void **state)
{
    (void)state;
    hr_rt_rooms_t rs;
    hr_rt_rooms_init(&rs, 16); /* long chains on purpose */
    enum { N = 2000 };
    hr_rt_member_t *m = calloc(N, sizeof *m);
    assert_non_null(m);
    char user[32];
    for (int i = 0; i < N; i++) {
        snprintf(user, sizeof user, "user-%d", i % 500);
        assert_int_equal(hr_rt_rooms_join(&rs, i % 2 ? ENV_A : ENV_B, user, &m[i], 0, 0),
                         HR_RT_JOIN_OK);
    }
    assert_int_equal(rs.nrooms, 500); /* user-k always lands in the same environment */
    for (int i = 0; i < N; i += 2)
        hr_rt_rooms_leave(&rs, &m[i]);
    assert_int_equal(rs.nmembers, N / 2);
    for (int i = 1; i < N; i += 2)
        hr_rt_rooms_leave(&rs, &m[i]);
    assert_int_equal(rs.nrooms, 0);
    assert_int_equal(rs.nmembers, 0);
    hr_rt_rooms_free(&rs);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_leave),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_many_rooms),
    };
    return cmocka_run_group_tests_name("rt_room", tests, NULL, NULL);
}
