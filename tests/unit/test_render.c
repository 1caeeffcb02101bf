/* Unit tests of render (the parts that need no database): locale tags and
 * fallback chains, checking template content (parse errors with their
 * field, line and column), the variables templates see, which parts
 * providers send, and tpl's no_escape option used for plain-text parts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "render.h"
#include "tpl.h"

static void test_locale_valid(void **state)
{
    (void)state;
    static const char *const good[] = {"en", "fr", "pt-BR", "zh-Hant-TW", "es-419", "deu", NULL};
    static const char *const bad[] = {"",   "e",      "english",         "en_US", "en-", "-en",
                                      "1n", "en--US", "en-US-abcdefghi", "en US", NULL};
    for (const char *const *s = good; *s; s++)
        assert_true(hr_render_locale_valid(*s));
    for (const char *const *s = bad; *s; s++)
        assert_false(hr_render_locale_valid(*s));
}

static void test_locale_chain(void **state)
{
    (void)state;
    char c[6][36];
    size_t n = hr_render_locale_chain("pt-BR", "en", c, 6);
    assert_int_equal(n, 4);
    assert_string_equal(c[0], "pt-BR");
    assert_string_equal(c[1], "pt");
    assert_string_equal(c[2], "en");
    assert_string_equal(c[3], "");
    /* The user's language is the default: no repeat. */
    n = hr_render_locale_chain("en-GB", "en", c, 6);
    assert_int_equal(n, 3);
    assert_string_equal(c[0], "en-GB");
    assert_string_equal(c[1], "en");
    assert_string_equal(c[2], "");
    /* No (or an invalid) user locale: the environment default, then none. */
    n = hr_render_locale_chain(NULL, "de", c, 6);
    assert_int_equal(n, 2);
    assert_string_equal(c[0], "de");
    assert_string_equal(c[1], "");
    n = hr_render_locale_chain("not a locale", "de", c, 6);
    assert_int_equal(n, 2);
    /* Compared without case. */
    n = hr_render_locale_chain("EN", "en", c, 6);
    assert_int_equal(n, 2);
    /* Three pieces: each shorter prefix. */
    n = hr_render_locale_chain("zh-Hant-TW", "en", c, 6);
    assert_int_equal(n, 5);
    assert_string_equal(c[1], "zh-Hant");
    assert_string_equal(c[2], "zh");
}

/* Checks content given as JSON text. */
static int check(const char *text, hr_render_error_t *e)
{
    json_t *c = json_loads(text, 0, NULL);
    assert_non_null(c);
    int rc = hr_render_check_content(c, e);
    json_decref(c);
    return rc;
}

static void test_check_content(void **state)
{
    (void)state;
    hr_render_error_t e;
    assert_int_equal(check("{\"channels\": {\"email\": {\"subject\": \"Hi {{name}}\","
                           " \"html\": \"<p>{{#items}}{{.}}{{/items}}</p>\", \"text\": \"x\"},"
                           " \"sms\": {\"text\": \"{{title}}\"}},"
                           " \"locales\": {\"fr\": {\"email\": {\"subject\": \"Salut\"}}},"
                           " \"sample\": {\"data\": {}}}",
                           &e),
                     0);
    /* A parse error: field, line and column. */
    assert_int_equal(check("{\"channels\": {\"email\": {\"html\": \"<p>\\n  {{#a}}x\"}}}", &e), -1);
    assert_true(e.template_error);
    assert_string_equal(e.part, "channels.email.html");
    assert_int_equal(e.tpl.line, 2);
    assert_int_equal(e.tpl.col, 3);
    assert_non_null(strstr(e.msg, "line 2, column 3"));
    /* Inside a locale. */
    assert_int_equal(check("{\"locales\": {\"pt-BR\": {\"sms\": {\"text\": \"{{/x}}\"}}}}", &e),
                     -1);
    assert_string_equal(e.part, "locales.pt-BR.sms.text");
    assert_int_equal(e.tpl.line, 1);
    assert_int_equal(e.tpl.col, 1);
    /* Shape errors name the field and carry no position. */
    static const struct {
        const char *text, *part;
    } bad[] = {
        {"{\"channels\": {\"fax\": {}}}", "channels.fax"},
        {"{\"channels\": {\"sms\": {\"html\": \"x\"}}}", "channels.sms.html"},
        {"{\"channels\": {\"email\": {\"subject\": 3}}}", "channels.email.subject"},
        {"{\"channels\": {\"email\": \"x\"}}", "channels.email"},
        {"{\"locales\": {\"english\": {}}}", "locales.english"},
        {"{\"channels\": {}, \"colour\": 1}", "colour"},
        {"{\"sample\": {}}", "channels"},
        {"{\"channels\": {}, \"sample\": []}", "sample"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(check(bad[i].text, &e), -1);
        assert_false(e.template_error);
        assert_string_equal(e.part, bad[i].part);
        assert_true(e.msg[0] != '\0');
    }
}

static void test_context(void **state)
{
    (void)state;
    json_t *data = json_pack("{s:i, s:s, s:s}", "order", 42, "title", "from data", "who", "<b>");
    json_t *event = json_pack("{s:{s:s, s:b}, s:s}", "fields", "plan", "pro", "paid", 1,
                              "description", "upgraded");
    json_t *user = json_pack("{s:s, s:s}", "id", "u1", "locale", "fr");
    json_t *brand = json_pack("{s:s}", "company_name", "Acme");
    json_t *cat = json_pack("{s:s, s:s}", "key", "billing", "emoji", "\xf0\x9f\x92\xb3");
    hr_render_in_t in = {.channel = HR_CHANNEL_DISCORD,
                         .type = "plan.upgraded",
                         .title = "Up",
                         .body = "",
                         .data = data,
                         .user = user,
                         .event = event};
    json_t *ctx = hr_render_context(&in, brand, cat, "fr");
    /* data members are top-level variables, but not over the reserved ones */
    assert_int_equal(json_integer_value(json_object_get(ctx, "order")), 42);
    assert_string_equal(json_string_value(json_object_get(ctx, "title")), "Up");
    /* empty strings are left out so {{#body}} sections work */
    assert_null(json_object_get(ctx, "body"));
    assert_true(json_is_true(json_object_get(ctx, "has_fields")));
    assert_int_equal(json_array_size(json_object_get(ctx, "field_list")), 2);
    /* sorted by name, whatever order the object had */
    json_t *f1 = json_array_get(json_object_get(ctx, "field_list"), 0);
    assert_string_equal(json_string_value(json_object_get(f1, "name")), "paid");
    assert_string_equal(json_string_value(json_object_get(f1, "value")), "true");
    assert_string_equal(json_string_value(json_object_get(ctx, "description")), "upgraded");
    assert_string_equal(json_string_value(json_object_get(ctx, "locale")), "fr");
    assert_string_equal(json_string_value(json_object_get(ctx, "channel")), "discord");

    /* Templates see all of it; plain-text parts are not HTML-escaped. */
    const char *src = "{{category.emoji}} {{brand.company_name}}: {{title}} #{{order}} "
                      "{{fields.plan}} {{who}}{{#field_list}} [{{name}}={{value}}]{{/field_list}}";
    hr_tpl_t *t = hr_tpl_compile(src, strlen(src), NULL);
    assert_non_null(t);
    hr_buf_t b = HR_BUF_INIT;
    hr_tpl_limits_t raw = {.no_escape = true};
    assert_int_equal(hr_tpl_render_ex(t, ctx, NULL, NULL, &raw, &b, NULL), 0);
    assert_string_equal(b.data, "\xf0\x9f\x92\xb3 Acme: Up #42 pro <b> [paid=true] [plan=pro]");
    hr_buf_free(&b);
    assert_int_equal(hr_tpl_render(t, ctx, NULL, NULL, &b, NULL), 0);
    assert_non_null(strstr(b.data, "&lt;b&gt;"));
    hr_buf_free(&b);
    hr_tpl_free(t);
    json_decref(ctx);

    /* No data, no event, no brand: still a usable context. */
    hr_render_in_t bare = {.channel = HR_CHANNEL_EMAIL, .type = "x", .title = "T"};
    ctx = hr_render_context(&bare, NULL, NULL, "");
    assert_true(json_is_false(json_object_get(ctx, "has_data")));
    assert_true(json_is_object(json_object_get(ctx, "brand")));
    assert_null(json_object_get(ctx, "category"));
    json_decref(ctx);
    json_decref(data);
    json_decref(event);
    json_decref(user);
    json_decref(brand);
    json_decref(cat);
}

static void test_title_body(void **state)
{
    (void)state;
    char s[] = "S", h[] = "H", tx[] = "T", ti[] = "Ti", b0[] = "B";
    hr_rendered_t r = {.subject = s, .html = h, .text = tx, .title = ti, .body = b0};
    const char *t, *b;
    hr_rendered_title_body(&r, HR_CHANNEL_EMAIL, &t, &b);
    assert_string_equal(t, "S");
    assert_string_equal(b, "T");
    hr_rendered_title_body(&r, HR_CHANNEL_SMS, &t, &b);
    assert_string_equal(t, "Ti");
    assert_string_equal(b, "T");
    hr_rendered_title_body(&r, HR_CHANNEL_DISCORD, &t, &b);
    assert_string_equal(t, "Ti");
    assert_string_equal(b, "B");
    hr_rendered_title_body(&r, HR_CHANNEL_IN_APP, &t, &b);
    assert_string_equal(b, "B");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locale_valid),  cmocka_unit_test(test_locale_chain),
        cmocka_unit_test(test_check_content), cmocka_unit_test(test_context),
        cmocka_unit_test(test_title_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
