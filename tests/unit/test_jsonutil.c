/* Unit tests of jsonutil: the shape of the API error body (with and without a
 * field), escaping of the message, and the small jansson helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"

/* Parses an error body and checks it is {"error": {code, message, field?}}
 * with nothing else. */
static void assert_error_body(const char *text, const char *code, const char *message,
                              const char *field)
{
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        fail_msg("not JSON (%s): %s", jerr.text, text);
    json_t *e = json_object_get(root, "error");
    int ok = json_is_object(root) && json_object_size(root) == 1 && json_is_object(e) &&
             json_object_size(e) == (field != NULL ? 3u : 2u) &&
             json_is_string(json_object_get(e, "code")) &&
             strcmp(hr_json_str(e, "code"), code) == 0 &&
             json_is_string(json_object_get(e, "message")) &&
             strcmp(hr_json_str(e, "message"), message) == 0 &&
             (field == NULL ? json_object_get(e, "field") == NULL
                            : hr_json_str(e, "field") != NULL &&
                                  strcmp(hr_json_str(e, "field"), field) == 0);
    json_decref(root);
    if (!ok)
        fail_msg("unexpected error body: %s", text);
}

static void test_error_body_with_field(void **state)
{
    (void)state;
    char *s = hr_json_error_body("validation_failed", "user.id is required", "user.id");
    assert_string_equal(s, "{\"error\":{\"code\":\"validation_failed\","
                           "\"message\":\"user.id is required\",\"field\":\"user.id\"}}");
    assert_error_body(s, "validation_failed", "user.id is required", "user.id");
    free(s);
}

static void test_error_body_without_field(void **state)
{
    (void)state;
    char *s = hr_json_error_body("invalid_json", "malformed JSON", NULL);
    assert_string_equal(s,
                        "{\"error\":{\"code\":\"invalid_json\",\"message\":\"malformed JSON\"}}");
    assert_error_body(s, "invalid_json", "malformed JSON", NULL);
    free(s);
}

static void test_error_body_escapes_message(void **state)
{
    (void)state;
    static const char *const messages[] = {
        "title \"Hi\" is too long",
        "back\\slash",
        "line\nbreak\tand tab",
        "control \x01 byte",
        "</script><script>alert(1)</script>",
        "caf\xc3\xa9 \xe2\x82\xac",
        "",
    };
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++) {
        char *s = hr_json_error_body("bad_request", messages[i], "say \"what\"");
        assert_error_body(s, "bad_request", messages[i], "say \"what\"");
        free(s);
    }
    char *s = hr_json_error_body("bad_request", "say \"hi\"", NULL);
    assert_non_null(strstr(s, "\"message\":\"say \\\"hi\\\"\""));
    free(s);
}

static void test_json_str(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:s, s:i, s:n, s:s#}", "name", "herald", "count", 3, "nothing",
                          "empty", "", (int)0);
    assert_non_null(o);
    assert_string_equal(hr_json_str(o, "name"), "herald");
    assert_string_equal(hr_json_str(o, "empty"), "");
    assert_null(hr_json_str(o, "count"));
    assert_null(hr_json_str(o, "nothing"));
    assert_null(hr_json_str(o, "missing"));
    assert_null(hr_json_str(NULL, "name"));
    json_t *arr = json_array();
    assert_null(hr_json_str(arr, "name"));
    json_decref(arr);
    json_decref(o);
}

static void test_json_dump(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:[i,i], s:{s:b}}", "a", 1, 2, "b", "c", 1);
    json_t *str = json_string("x\"y");
    json_t *num = json_integer(-5);
    char *s1 = hr_json_dump(o), *s2 = hr_json_dump(str), *s3 = hr_json_dump(num);
    json_decref(o);
    json_decref(str);
    json_decref(num);
    /* Compact; scalars too. */
    assert_string_equal(s1, "{\"a\":[1,2],\"b\":{\"c\":true}}");
    assert_string_equal(s2, "\"x\\\"y\"");
    assert_string_equal(s3, "-5");
    free(s1);
    free(s2);
    free(s3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_body_with_field),
        cmocka_unit_test(test_error_body_without_field),
        cmocka_unit_test(test_error_body_escapes_message),
        cmocka_unit_test(test_json_str),
        cmocka_unit_test(test_json_dump),
    };
    return cmocka_run_group_tests_name("jsonutil", tests, NULL, NULL);
}
