/* Unit tests of notification: a send request is normalised with its defaults,
 * and every refusal carries the right status, code and exact field name.
 * Table-driven: each refusal is one row. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "notification.h"

/* ---- helpers ---------------------------------------------------------- */

/* The smallest valid request; cases change one member of it. */
static json_t *base_request(void)
{
    json_t *r = json_pack("{s:{s:s}, s:s, s:s}", "user", "id", "user-1", "type", "order.shipped",
                          "title", "Your order shipped");
    assert_non_null(r);
    return r;
}

/* Sets member path ("title" or "user.email") of req to value (stolen), or
 * removes it when value is NULL. */
static void set_member(json_t *req, const char *path, json_t *value)
{
    json_t *obj = req;
    if (strncmp(path, "user.", 5) == 0) {
        obj = json_object_get(req, "user");
        path += 5;
    }
    assert_true(json_is_object(obj));
    if (value == NULL)
        json_object_del(obj, path);
    else
        assert_int_equal(json_object_set_new(obj, path, value), 0);
}

/* Serialises req (decref'd) into a request body; caller frees. */
static char *request_text(json_t *req)
{
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    assert_non_null(text);
    return text;
}

static json_t *parse_ok(const char *what, const char *text)
{
    hr_reject_t rej;
    json_t *out = hr_notification_parse(text, strlen(text), &rej);
    if (out == NULL)
        fail_msg("%s: refused %d %s field '%s': %s", what, rej.status, rej.code, rej.field,
                 rej.message);
    return out;
}

/* Checks one refusal; returns false (after printing why) on a mismatch so
 * the caller can free before failing. */
static bool check_reject(const char *what, json_t *out, const hr_reject_t *rej, int status,
                         const char *code, const char *field)
{
    if (out != NULL) {
        char *s = json_dumps(out, JSON_COMPACT);
        print_error("%s: accepted, normalised to %s\n", what, s);
        free(s);
        json_decref(out);
        return false;
    }
    bool ok = rej->status == status && rej->code != NULL && strcmp(rej->code, code) == 0 &&
              strcmp(rej->field, field) == 0;
    if (ok && status == 422) {
        /* The message starts with the field it is about. */
        size_t n = strlen(field);
        ok = strncmp(rej->message, field, n) == 0 && rej->message[n] == ' ' &&
             rej->message[n + 1] != '\0';
    } else if (ok && status == 400) {
        ok = strncmp(rej->message, "malformed JSON", 14) == 0;
    }
    if (!ok)
        print_error("%s: want %d %s field '%s', got %d %s field '%s' (%s)\n", what, status, code,
                    field, rej->status, rej->code ? rej->code : "(null)", rej->field,
                    rej->message);
    return ok;
}

static bool expect_refused(const char *what, const char *text, size_t len, int status,
                           const char *code, const char *field)
{
    hr_reject_t rej;
    json_t *out = hr_notification_parse(text, len, &rej);
    return check_reject(what, out, &rej, status, code, field);
}

static char *repeat(const char *unit, size_t count)
{
    size_t n = strlen(unit);
    char *s = malloc(n * count + 1);
    assert_non_null(s);
    for (size_t i = 0; i < count; i++)
        memcpy(s + i * n, unit, n);
    s[n * count] = '\0';
    return s;
}

static void assert_json_equal_text(const char *what, json_t *got, const char *want_text)
{
    json_t *want = json_loads(want_text, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(want);
    bool same = json_equal(got, want);
    json_decref(want);
    if (!same) {
        char *s = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        print_error("%s:\ngot  %s\nwant %s\n", what, s, want_text);
        free(s);
        fail();
    }
}

/* ---- accepted requests -------------------------------------------------- */

static void test_full_request_normalised(void **state)
{
    (void)state;
    const char *text =
        "{\"user\":{\"id\":\"user-42\",\"email\":\"ada@example.com\",\"phone\":\"+14155550100\"},"
        "\"type\":\"order.shipped\",\"title\":\"Shipped \xe2\x9c\x93\","
        "\"body\":\"Your parcel is on its way.\",\"data\":{\"orderId\":\"A-1\",\"items\":[1,2]},"
        "\"channels\":[\"webhook\",\"email\",\"in_app\"],\"idempotencyKey\":\"order-A-1\"}";
    json_t *out = parse_ok("full request", text);
    /* Explicit channels are kept as given: no defaults added, order kept. */
    assert_json_equal_text("full request", out,
                           "{\"user\":{\"id\":\"user-42\",\"email\":\"ada@example.com\","
                           "\"phone\":\"+14155550100\"},\"type\":\"order.shipped\","
                           "\"title\":\"Shipped \xe2\x9c\x93\","
                           "\"body\":\"Your parcel is on its way.\","
                           "\"data\":{\"orderId\":\"A-1\",\"items\":[1,2]},"
                           "\"channels\":[\"webhook\",\"email\",\"in_app\"],"
                           "\"idempotencyKey\":\"order-A-1\"}");
    json_decref(out);
}

static void test_defaults(void **state)
{
    (void)state;
    static const struct {
        const char *what, *request, *normalised;
    } cases[] = {
        {"minimal", "{\"user\":{\"id\":\"u1\"},\"type\":\"t\",\"title\":\"x\"}",
         "{\"user\":{\"id\":\"u1\"},\"type\":\"t\",\"title\":\"x\",\"body\":\"\",\"data\":{},"
         "\"channels\":[\"in_app\"]}"},
        {"email gives the email channel",
         "{\"user\":{\"id\":\"u1\",\"email\":\"a@b.co\"},\"type\":\"t\",\"title\":\"x\"}",
         "{\"user\":{\"id\":\"u1\",\"email\":\"a@b.co\"},\"type\":\"t\",\"title\":\"x\","
         "\"body\":\"\",\"data\":{},\"channels\":[\"in_app\",\"email\"]}"},
        {"phone gives the sms channel",
         "{\"user\":{\"id\":\"u1\",\"phone\":\"+4915112345678\"},\"type\":\"t\",\"title\":\"x\"}",
         "{\"user\":{\"id\":\"u1\",\"phone\":\"+4915112345678\"},\"type\":\"t\",\"title\":\"x\","
         "\"body\":\"\",\"data\":{},\"channels\":[\"in_app\",\"sms\"]}"},
        {"email and phone",
         "{\"user\":{\"phone\":\"+4915112345678\",\"email\":\"a@b.co\",\"id\":\"u1\"},"
         "\"title\":\"x\",\"type\":\"t\"}",
         "{\"user\":{\"id\":\"u1\",\"email\":\"a@b.co\",\"phone\":\"+4915112345678\"},"
         "\"type\":\"t\",\"title\":\"x\",\"body\":\"\",\"data\":{},"
         "\"channels\":[\"in_app\",\"email\",\"sms\"]}"},
        {"nulls mean absent",
         "{\"user\":{\"id\":\"u1\",\"email\":null,\"phone\":null},\"type\":\"t\",\"title\":\"x\","
         "\"body\":null,\"data\":null,\"channels\":null,\"idempotencyKey\":null}",
         "{\"user\":{\"id\":\"u1\"},\"type\":\"t\",\"title\":\"x\",\"body\":\"\",\"data\":{},"
         "\"channels\":[\"in_app\"]}"},
        {"explicit channels replace the defaults",
         "{\"user\":{\"id\":\"u1\",\"email\":\"a@b.co\"},\"type\":\"t\",\"title\":\"x\","
         "\"channels\":[\"slack\"],\"body\":\"\",\"data\":{}}",
         "{\"user\":{\"id\":\"u1\",\"email\":\"a@b.co\"},\"type\":\"t\",\"title\":\"x\","
         "\"body\":\"\",\"data\":{},\"channels\":[\"slack\"]}"},
        {"every channel",
         "{\"user\":{\"id\":\"u1\"},\"type\":\"t\",\"title\":\"x\",\"channels\":[\"email\","
         "\"sms\",\"telegram\",\"discord\",\"whatsapp\",\"slack\",\"webhook\",\"in_app\"]}",
         "{\"user\":{\"id\":\"u1\"},\"type\":\"t\",\"title\":\"x\",\"body\":\"\",\"data\":{},"
         "\"channels\":[\"email\",\"sms\",\"telegram\",\"discord\",\"whatsapp\",\"slack\","
         "\"webhook\",\"in_app\"]}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *out = parse_ok(cases[i].what, cases[i].request);
        assert_json_equal_text(cases[i].what, out, cases[i].normalised);
        json_decref(out);
    }
}

static void test_valid_types(void **state)
{
    (void)state;
    static const char *const types[] = {"a", "0", "order.shipped", "billing:invoice_paid-v2",
                                        "9lives", "a.b_c-d:e"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        json_t *req = base_request();
        set_member(req, "type", json_string(types[i]));
        char *text = request_text(req);
        json_t *out = parse_ok(types[i], text);
        free(text);
        assert_string_equal(json_string_value(json_object_get(out, "type")), types[i]);
        json_decref(out);
    }
}

/* The body is read up to len only; nothing after it counts. */
static void test_parse_honours_len(void **state)
{
    (void)state;
    const char *text = "{\"user\":{\"id\":\"u1\"},\"type\":\"t\",\"title\":\"x\"}GARBAGE";
    size_t json_len = strlen(text) - strlen("GARBAGE");
    hr_reject_t rej;
    json_t *out = hr_notification_parse(text, json_len, &rej);
    assert_non_null(out);
    json_decref(out);
    assert_true(expect_refused("cut short", text, json_len - 1, 400, "invalid_json", ""));
    assert_true(expect_refused("with garbage", text, strlen(text), 400, "invalid_json", ""));
}

/* ---- refusals ----------------------------------------------------------- */

/* Whole bodies that are not acceptable JSON (400) or not a request (422). */
static const struct {
    const char *what, *text;
    int status;
    const char *code, *field;
} raw_cases[] = {
    {"empty body", "", 400, "invalid_json", ""},
    {"open brace", "{", 400, "invalid_json", ""},
    {"truncated", "{\"user\":{\"id\":\"u1\"},\"type\":", 400, "invalid_json", ""},
    {"single quotes", "{'user': {'id': 'u1'}}", 400, "invalid_json", ""},
    {"trailing comma", "{\"user\":{\"id\":\"u1\"},\"type\":\"t\",\"title\":\"x\",}", 400,
     "invalid_json", ""},
    {"bare number", "42", 400, "invalid_json", ""},
    {"bare string", "\"hello\"", 400, "invalid_json", ""},
    {"bare null", "null", 400, "invalid_json", ""},
    {"two documents", "{} {}", 400, "invalid_json", ""},
    {"invalid UTF-8", "{\"user\":{\"id\":\"u\xff\"},\"type\":\"t\",\"title\":\"x\"}", 400,
     "invalid_json", ""},
    {"escaped NUL", "{\"user\":{\"id\":\"u1\"},\"type\":\"t\",\"title\":\"a\\u0000b\"}", 400,
     "invalid_json", ""},
    {"duplicate top-level key",
     "{\"user\":{\"id\":\"u1\"},\"type\":\"t\",\"title\":\"x\",\"title\":\"y\"}", 400,
     "invalid_json", ""},
    {"duplicate key in user",
     "{\"user\":{\"id\":\"u1\",\"id\":\"u2\"},\"type\":\"t\",\"title\":\"x\"}", 400,
     "invalid_json", ""},
    {"duplicate key in data",
     "{\"user\":{\"id\":\"u1\"},\"type\":\"t\",\"title\":\"x\",\"data\":{\"k\":1,\"k\":2}}", 400,
     "invalid_json", ""},
    {"array body", "[]", 422, "validation_failed", "body"},
    {"array of requests", "[{\"user\":{\"id\":\"u1\"},\"type\":\"t\",\"title\":\"x\"}]", 422,
     "validation_failed", "body"},
    {"empty object", "{}", 422, "validation_failed", "user"},
};

static void test_raw_refusals(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof raw_cases / sizeof raw_cases[0]; i++)
        if (!expect_refused(raw_cases[i].what, raw_cases[i].text, strlen(raw_cases[i].text),
                            raw_cases[i].status, raw_cases[i].code, raw_cases[i].field))
            failures++;
    assert_int_equal(failures, 0);
}

/* One member of the base request set to a JSON value (NULL: removed). Every
 * one of these is 422 validation_failed naming field. */
static const struct {
    const char *member, *value, *field;
} member_cases[] = {
    /* unknown members */
    {"nickname", "\"x\"", "nickname"},
    {"Title", "\"x\"", "Title"},
    {"idempotency_key", "\"k\"", "idempotency_key"},
    {"user.nickname", "\"x\"", "user.nickname"},
    {"user.Email", "\"a@b.co\"", "user.Email"},
    /* user */
    {"user", NULL, "user"},
    {"user", "\"user-1\"", "user"},
    {"user", "null", "user"},
    {"user", "[]", "user"},
    {"user", "{}", "user.id"},
    {"user.id", NULL, "user.id"},
    {"user.id", "\"\"", "user.id"},
    {"user.id", "null", "user.id"},
    {"user.id", "42", "user.id"},
    {"user.id", "[\"u1\"]", "user.id"},
    {"user.id", "\"a\\u0001b\"", "user.id"},
    {"user.id", "\"line\\nbreak\"", "user.id"},
    {"user.id", "\"tab\\there\"", "user.id"},
    {"user.id", "\"del\\u007f\"", "user.id"},
    /* user.email */
    {"user.email", "\"\"", "user.email"},
    {"user.email", "42", "user.email"},
    {"user.email", "\"not-an-email\"", "user.email"},
    {"user.email", "\"a@b\"", "user.email"},
    {"user.email", "\"@example.com\"", "user.email"},
    {"user.email", "\"ada@\"", "user.email"},
    {"user.email", "\"a@@example.com\"", "user.email"},
    {"user.email", "\"a@b@example.com\"", "user.email"},
    {"user.email", "\"ada lovelace@example.com\"", "user.email"},
    {"user.email", "\"Ada <ada@example.com>\"", "user.email"},
    {"user.email", "\"ada@example..com\"", "user.email"},
    {"user.email", "\"ada@.example.com\"", "user.email"},
    {"user.email", "\"ada@example.com.\"", "user.email"},
    {"user.email", "\"ada@examplecom\"", "user.email"},
    {"user.email", "\"ada@exa_mple.com\"", "user.email"},
    {"user.email", "\"ada@example.com\\n\"", "user.email"},
    {"user.email", "\"ada@example.com,bob@example.com\"", "user.email"},
    /* user.phone */
    {"user.phone", "\"\"", "user.phone"},
    {"user.phone", "14155550100", "user.phone"},
    {"user.phone", "\"14155550100\"", "user.phone"},
    {"user.phone", "\"+04155550100\"", "user.phone"},
    {"user.phone", "\"+1 415 555 0100\"", "user.phone"},
    {"user.phone", "\"+1-415-555-0100\"", "user.phone"},
    {"user.phone", "\"+1234567\"", "user.phone"},
    {"user.phone", "\"+1234567890123456\"", "user.phone"},
    {"user.phone", "\"+\"", "user.phone"},
    {"user.phone", "\"++14155550100\"", "user.phone"},
    {"user.phone", "\"+1415555010a\"", "user.phone"},
    /* type */
    {"type", NULL, "type"},
    {"type", "\"\"", "type"},
    {"type", "null", "type"},
    {"type", "7", "type"},
    {"type", "\"Order.Shipped\"", "type"},
    {"type", "\".order\"", "type"},
    {"type", "\"-order\"", "type"},
    {"type", "\"_order\"", "type"},
    {"type", "\"order shipped\"", "type"},
    {"type", "\"order/shipped\"", "type"},
    {"type", "\"ord\\u00e9r\"", "type"},
    /* title */
    {"title", NULL, "title"},
    {"title", "\"\"", "title"},
    {"title", "null", "title"},
    {"title", "7", "title"},
    {"title", "{\"en\":\"Hi\"}", "title"},
    /* body */
    {"body", "5", "body"},
    {"body", "[\"a\"]", "body"},
    {"body", "true", "body"},
    /* data */
    {"data", "[]", "data"},
    {"data", "\"x\"", "data"},
    {"data", "5", "data"},
    {"data", "true", "data"},
    /* channels */
    {"channels", "\"email\"", "channels"},
    {"channels", "{}", "channels"},
    {"channels", "5", "channels"},
    {"channels", "[]", "channels"},
    {"channels", "[\"email\",\"carrier_pigeon\"]", "channels[1]"},
    {"channels", "[\"EMAIL\"]", "channels[0]"},
    {"channels", "[\"\"]", "channels[0]"},
    {"channels", "[\"email\",\"email\"]", "channels[1]"},
    {"channels", "[\"in_app\",\"sms\",\"in_app\"]", "channels[2]"},
    {"channels", "[\"sms\",5]", "channels[1]"},
    {"channels", "[null]", "channels[0]"},
    {"channels", "[[\"email\"]]", "channels[0]"},
    /* idempotencyKey */
    {"idempotencyKey", "\"\"", "idempotencyKey"},
    {"idempotencyKey", "5", "idempotencyKey"},
};

static void test_member_refusals(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof member_cases / sizeof member_cases[0]; i++) {
        char what[160];
        snprintf(what, sizeof what, "%s = %s", member_cases[i].member,
                 member_cases[i].value ? member_cases[i].value : "(removed)");
        json_t *value = NULL;
        if (member_cases[i].value != NULL) {
            value = json_loads(member_cases[i].value, JSON_DECODE_ANY, NULL);
            assert_non_null(value);
        }
        json_t *req = base_request();
        set_member(req, member_cases[i].member, value);
        char *text = request_text(req);
        if (!expect_refused(what, text, strlen(text), 422, "validation_failed",
                            member_cases[i].field))
            failures++;
        free(text);
    }
    assert_int_equal(failures, 0);
}

/* Length limits, in characters (not bytes): unit repeated count times. */
static const struct {
    const char *member, *unit;
    size_t count;
    bool ok;
} length_cases[] = {
    {"user.id", "a", 255, true},
    {"user.id", "a", 256, false},
    {"user.id", "\xc3\xa9", 255, true}, /* 510 bytes */
    {"user.id", "\xc3\xa9", 256, false},
    {"type", "a", 128, true},
    {"type", "a", 129, false},
    {"title", "a", 500, true},
    {"title", "a", 501, false},
    {"title", "\xc3\xa9", 500, true},         /* 2-byte: 1000 bytes */
    {"title", "\xc3\xa9", 501, false},
    {"title", "\xe2\x82\xac", 500, true},     /* 3-byte: 1500 bytes */
    {"title", "\xf0\x9f\x93\xa6", 500, true}, /* 4-byte: 2000 bytes */
    {"title", "\xf0\x9f\x93\xa6", 501, false},
    {"body", "a", 20000, true},
    {"body", "a", 20001, false},
    {"body", "\xe2\x82\xac", 20000, true},
    {"body", "\xe2\x82\xac", 20001, false},
    {"idempotencyKey", "k", 255, true},
    {"idempotencyKey", "k", 256, false},
};

static void test_length_limits(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof length_cases / sizeof length_cases[0]; i++) {
        char what[160];
        snprintf(what, sizeof what, "%s = %zu x \"%s\"", length_cases[i].member,
                 length_cases[i].count, length_cases[i].unit);
        char *value = repeat(length_cases[i].unit, length_cases[i].count);
        json_t *req = base_request();
        set_member(req, length_cases[i].member, json_string(value));
        char *text = request_text(req);
        hr_reject_t rej;
        json_t *out = hr_notification_parse(text, strlen(text), &rej);
        free(text);
        if (length_cases[i].ok) {
            const char *m = length_cases[i].member;
            json_t *obj = out;
            if (out != NULL && strncmp(m, "user.", 5) == 0) {
                obj = json_object_get(out, "user");
                m += 5;
            }
            const char *got = json_string_value(json_object_get(obj, m));
            if (got == NULL || strcmp(got, value) != 0) {
                print_error("%s: refused or changed (%s)\n", what, out ? "changed" : rej.message);
                failures++;
            }
            json_decref(out);
        } else if (!check_reject(what, out, &rej, 422, "validation_failed",
                                 length_cases[i].member)) {
            failures++;
        } else if (strstr(rej.message, "at most") == NULL) {
            print_error("%s: message does not give the limit: %s\n", what, rej.message);
            failures++;
        }
        free(value);
    }
    assert_int_equal(failures, 0);
}

static void test_email_length(void **state)
{
    (void)state;
    /* 64 + 1 + 189 = 254 characters, the longest address allowed. */
    char *local = repeat("a", 64), *l1 = repeat("b", 63), *l2 = repeat("c", 63);
    char *l3 = repeat("d", 57);
    char longest[300], too_long[300], long_local[300];
    snprintf(longest, sizeof longest, "%s@%s.%s.%s.com", local, l1, l2, l3);
    snprintf(too_long, sizeof too_long, "%s@%s.%s.%sd.com", local, l1, l2, l3);
    snprintf(long_local, sizeof long_local, "%sa@example.com", local);
    free(local);
    free(l1);
    free(l2);
    free(l3);
    assert_int_equal(strlen(longest), 254);
    assert_int_equal(strlen(too_long), 255);

    json_t *req = base_request();
    set_member(req, "user.email", json_string(longest));
    char *text = request_text(req);
    json_t *out = parse_ok("254-character email", text);
    free(text);
    json_decref(out);

    const char *const refused[] = {too_long, long_local};
    int failures = 0;
    for (size_t i = 0; i < 2; i++) {
        req = base_request();
        set_member(req, "user.email", json_string(refused[i]));
        text = request_text(req);
        if (!expect_refused(refused[i], text, strlen(text), 422, "validation_failed",
                            "user.email"))
            failures++;
        free(text);
    }
    assert_int_equal(failures, 0);
}

/* ---- the exported checks ------------------------------------------------- */

static void test_valid_email(void **state)
{
    (void)state;
    static const char *const good[] = {
        "a@b.co", "ada@example.com", "first.last+tag@sub.example.co.uk", "o'brien@example.ie",
        "x_y-z@my-host.example", "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.cn",
    };
    static const char *const bad[] = {
        "", "a", "ab", "a@b", "@b.co", "a@", "a@.co", "a@b.", "a@b..co", "a@@b.co", "a@b@c.co",
        "a b@c.co", "a@b c.co", "<a@b.co>", "a@b.co>", "a(b)@c.co", "a,b@c.co", "a;b@c.co",
        "a:b@c.co", "a\\b@c.co", "\"a\"@b.co", "a@[127.0.0.1]", "a@b_c.co", "a@b.co\r",
        "\ta@b.co",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!hr_valid_email(good[i]))
            fail_msg("\"%s\" should be a valid email", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (hr_valid_email(bad[i]))
            fail_msg("\"%s\" should not be a valid email", bad[i]);
}

static void test_valid_e164(void **state)
{
    (void)state;
    static const char *const good[] = {"+14155550100", "+12345678", "+123456789012345",
                                       "+4915112345678", "+998901234567"};
    static const char *const bad[] = {"",           "+",           "14155550100", "+0123456789",
                                      "+1234567",   "+1234567890123456",         "+1 4155550100",
                                      "+1-415-555", "++14155550100", "+1415555010a",
                                      "+14155550100 ", " +14155550100"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!hr_valid_e164(good[i]))
            fail_msg("\"%s\" should be a valid E.164 number", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (hr_valid_e164(bad[i]))
            fail_msg("\"%s\" should not be a valid E.164 number", bad[i]);
}

/* ---- hr_notification_validate (batch items) ---------------------------- */

static void test_validate_prefixes_fields(void **state)
{
    (void)state;
    static const struct {
        const char *member, *value, *field;
    } cases[] = {
        {"user", NULL, "notifications[3].user"},
        {"user.nickname", "\"x\"", "notifications[3].user.nickname"},
        {"user.email", "\"nope\"", "notifications[3].user.email"},
        {"nickname", "1", "notifications[3].nickname"},
        {"title", "\"\"", "notifications[3].title"},
        {"channels", "[\"email\",\"fax\"]", "notifications[3].channels[1]"},
        {"data", "[]", "notifications[3].data"},
    };
    int failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *req = base_request();
        set_member(req, cases[i].member,
                   cases[i].value ? json_loads(cases[i].value, JSON_DECODE_ANY, NULL) : NULL);
        hr_reject_t rej;
        json_t *out = hr_notification_validate(req, "notifications[3].", &rej);
        json_decref(req);
        if (!check_reject(cases[i].field, out, &rej, 422, "validation_failed", cases[i].field))
            failures++;
    }
    assert_int_equal(failures, 0);
}

/* A batch item that is not an object is named by its position alone. */
static void test_validate_non_object_item(void **state)
{
    (void)state;
    json_t *item = json_string("not a request");
    hr_reject_t rej;
    json_t *out = hr_notification_validate(item, "notifications[3].", &rej);
    json_decref(item);
    assert_true(check_reject("string item", out, &rej, 422, "validation_failed",
                             "notifications[3]"));
}

static void test_validate_does_not_steal(void **state)
{
    (void)state;
    json_t *req = base_request();
    json_t *data = json_pack("{s:s}", "k", "v");
    set_member(req, "data", data);
    set_member(req, "user.email", json_string("a@b.co"));
    hr_reject_t rej;
    json_t *out = hr_notification_validate(req, "", &rej);
    assert_non_null(out);
    /* The input is still whole and owned by the caller. */
    assert_int_equal(req->refcount, 1);
    assert_string_equal(json_string_value(json_object_get(data, "k")), "v");
    json_decref(req);
    /* And the output lives on without it. */
    assert_json_equal_text("validate", out,
                           "{\"user\":{\"id\":\"user-1\",\"email\":\"a@b.co\"},"
                           "\"type\":\"order.shipped\",\"title\":\"Your order shipped\","
                           "\"body\":\"\",\"data\":{\"k\":\"v\"},"
                           "\"channels\":[\"in_app\",\"email\"]}");
    json_decref(out);
}

/* Strings built in C (not parsed) may hold NUL; they are refused by name. */
static void test_validate_refuses_nul(void **state)
{
    (void)state;
    json_t *req = base_request();
    set_member(req, "title", json_stringn("a\0b", 3));
    hr_reject_t rej;
    json_t *out = hr_notification_validate(req, "", &rej);
    json_decref(req);
    assert_true(check_reject("NUL in title", out, &rej, 422, "validation_failed", "title"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_request_normalised),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_valid_types),
        cmocka_unit_test(test_parse_honours_len),
        cmocka_unit_test(test_raw_refusals),
        cmocka_unit_test(test_member_refusals),
        cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_email_length),
        cmocka_unit_test(test_valid_email),
        cmocka_unit_test(test_valid_e164),
        cmocka_unit_test(test_validate_prefixes_fields),
        cmocka_unit_test(test_validate_non_object_item),
        cmocka_unit_test(test_validate_does_not_steal),
        cmocka_unit_test(test_validate_refuses_nul),
    };
    return cmocka_run_group_tests_name("notification", tests, NULL, NULL);
}
