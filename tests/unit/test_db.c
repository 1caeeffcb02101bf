/* Unit tests of db: which refusals are worth retrying. The error text is the
 * one db.c writes ("SQLSTATE: message", or a bare message without a state). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "db.h"

#define GENERIC "-c plan_cache_mode=force_generic_plan"

static void assert_options(const char *conninfo, const char *want)
{
    char *got = hr_db_session_options(conninfo);
    assert_string_equal(got, want);
    free(got);
}

/* Herald's session settings are added to what the operator's conninfo asks,
 * in either of its forms, never in place of it. */
static void test_session_options_keep_the_operators(void **state)
{
    (void)state;
    assert_options("host=/run/pg port=5432 dbname=herald", GENERIC);
    assert_options("", GENERIC);
    assert_options("dbname=herald options='-c search_path=herald'",
                   "-c search_path=herald " GENERIC);
    assert_options("postgresql://herald@db.example:5432/herald?options=-c%20work_mem%3D8MB",
                   "-c work_mem=8MB " GENERIC);
    assert_options("postgresql:///herald", GENERIC);
    /* unparseable: libpq reports it when connecting; ours alone here */
    assert_options("host='unterminated", GENERIC);
}

static void test_constraint_and_data_errors_last(void **state)
{
    (void)state;
    assert_true(hr_db_err_lasting("23503: insert or update on table \"attempts\" violates "
                                  "foreign key constraint \"attempts_delivery_id_fkey\""));
    assert_true(hr_db_err_lasting("23505: duplicate key value"));
    assert_true(hr_db_err_lasting("22P02: invalid input syntax for type uuid"));
    assert_true(hr_db_err_lasting("42601: syntax error at or near \"x\""));
}

static void test_outages_and_conflicts_pass(void **state)
{
    (void)state;
    assert_false(hr_db_err_lasting("08006: server closed the connection unexpectedly"));
    assert_false(hr_db_err_lasting("40001: could not serialize access"));
    assert_false(hr_db_err_lasting("40P01: deadlock detected"));
    assert_false(hr_db_err_lasting("53300: too many connections"));
    assert_false(hr_db_err_lasting("55P03: could not obtain lock"));
    assert_false(hr_db_err_lasting("57P01: terminating connection due to administrator command"));
    assert_false(hr_db_err_lasting("XX000: internal error"));
}

static void test_no_state_is_an_outage(void **state)
{
    (void)state;
    assert_false(hr_db_err_lasting("server closed the connection unexpectedly"));
    assert_false(hr_db_err_lasting("no connection"));
    assert_false(hr_db_err_lasting(""));
    assert_false(hr_db_err_lasting("2350"));
    assert_false(hr_db_err_lasting("2350x: lowercase is no SQLSTATE"));
    assert_false(hr_db_err_lasting("23503 missing colon"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constraint_and_data_errors_last),
        cmocka_unit_test(test_outages_and_conflicts_pass),
        cmocka_unit_test(test_no_state_is_an_outage),
        cmocka_unit_test(test_session_options_keep_the_operators),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
