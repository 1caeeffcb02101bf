/* Unit tests of db: which refusals are worth retrying. The error text is the
 * one db.c writes ("SQLSTATE: message", or a bare message without a state). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "db.h"

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
