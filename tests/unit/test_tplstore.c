/* Unit tests of the content cache and rendering against a fake PostgreSQL
 * (hr_db_exec is wrapped with -Wl,--wrap): templates compile once and
 * render many times; the cache costs one version query per render and
 * reloads only when the content version changes; locale fallback, per-part
 * fallback to the built-in layout, branding and category variables. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db.h"
#include "render.h"
#include "tplstore.h"

#define ENV "01930000-0000-7000-8000-0000000000e1"

/* What the fake database holds, and how often each query ran. */
static struct {
    long long version;
    const char *content; /* published template content (JSON), or NULL */
    int tpl_version;
    const char *company;
    const char *default_locale;
    const char *category_emoji; /* NULL: no category */
    const char *recipient;      /* notification row */
    bool down;
    int n_version, n_branding, n_type, n_message;
} fake;

/* A result of one row of text values (NULL = SQL NULL). */
static PGresult *row(int n, const char *const *vals)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc attrs[8];
    memset(attrs, 0, sizeof attrs);
    char names[8][4];
    for (int i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "c%d", i);
        attrs[i].name = names[i];
        attrs[i].format = 0;
        attrs[i].typid = 25;
        attrs[i].typlen = -1;
        attrs[i].atttypmod = -1;
    }
    assert_int_equal(PQsetResultAttrs(res, n, attrs), 1);
    for (int i = 0; i < n; i++)
        assert_int_equal(
            PQsetvalue(res, 0, i, (char *)vals[i], vals[i] ? (int)strlen(vals[i]) : -1), 1);
    return res;
}

PGresult *__wrap_hr_db_exec(hr_db_t *db, const char *sql, int nparams, const char *const *params,
                            char *err, size_t errlen);
PGresult *__wrap_hr_db_exec_prepared(hr_db_t *db, const char *name, const char *sql, int nparams,
                                     const char *const *params, char *err, size_t errlen);
PGresult *__wrap_hr_db_exec_prepared(hr_db_t *db, const char *name, const char *sql, int nparams,
                                     const char *const *params, char *err, size_t errlen)
{
    (void)name;
    return __wrap_hr_db_exec(db, sql, nparams, params, err, errlen);
}

PGresult *__wrap_hr_db_exec(hr_db_t *db, const char *sql, int nparams, const char *const *params,
                            char *err, size_t errlen)
{
    (void)db;
    (void)nparams;
    (void)params;
    if (fake.down) {
        snprintf(err, errlen, "connection refused");
        return NULL;
    }
    char ver[24], tv[24];
    snprintf(ver, sizeof ver, "%lld", fake.version);
    snprintf(tv, sizeof tv, "%d", fake.tpl_version);
    if (strstr(sql, "FROM notifications n") != NULL) {
        fake.n_message++;
        const char *v[3] = {fake.recipient, NULL, ver};
        return row(3, v);
    }
    if (strstr(sql, "FROM branding") != NULL) {
        fake.n_branding++;
        const char *v[6] = {fake.company, "", "#123456", "Footer", "", fake.default_locale};
        return row(6, v);
    }
    if (strstr(sql, "template_versions") != NULL) {
        fake.n_type++;
        const char *v[7] = {"f",         fake.category_emoji ? "billing" : NULL,
                            "Billing",   fake.category_emoji,
                            "#22aa55",   fake.content ? tv : NULL,
                            fake.content};
        return row(7, v);
    }
    if (strstr(sql, "content_versions") != NULL) {
        fake.n_version++;
        const char *v[1] = {ver};
        return row(1, v);
    }
    fail_msg("unexpected query: %s", sql);
    return NULL;
}

static int setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof fake);
    fake.version = 1;
    fake.company = "Acme";
    fake.default_locale = "en";
    fake.recipient = "{\"id\": \"u1\", \"locale\": \"fr-CA\"}";
    hr_tplstore_clear();
    return 0;
}

static const char *const content_v1 =
    "{\"channels\": {\"email\": {\"subject\": \"Default {{title}}\"}},"
    " \"locales\": {\"fr\": {\"email\": {\"subject\": \"FR {{title}} {{brand.company_name}}\"},"
    "  \"sms\": {\"text\": \"SMS {{order}}\"}}}}";

static int render_msg(hr_channel_t ch, hr_rendered_t *out)
{
    json_t *data = json_pack("{s:i}", "order", 7);
    char err[256];
    int rc = hr_render_for_channel(NULL, ENV, "01930000-0000-7000-8000-000000000001", ch, "order.x",
                                   "Hi", "", data, out, err, sizeof err);
    json_decref(data);
    return rc;
}

static void test_compile_once_render_many(void **state)
{
    (void)state;
    fake.content = content_v1;
    fake.tpl_version = 3;
    hr_rendered_t r;
    for (int i = 0; i < 50; i++) {
        assert_int_equal(render_msg(HR_CHANNEL_EMAIL, &r), 0);
        assert_string_equal(r.subject, "FR Hi Acme"); /* fr-CA -> fr */
        assert_string_equal(r.locale, "fr");
        assert_int_equal(r.version, 3);
        /* html and text were not defined: the built-in layout fills them */
        assert_non_null(strstr(r.html, "Acme"));
        assert_non_null(strstr(r.html, "#123456"));
        assert_true(strncmp(r.text, "Hi\n\n", 4) == 0);
        hr_rendered_free(&r);
    }
    /* one query per message; branding and the type loaded once */
    assert_int_equal(fake.n_message, 50);
    assert_int_equal(fake.n_branding, 1);
    assert_int_equal(fake.n_type, 1);
    assert_int_equal(fake.n_version, 0);

    /* a new version (publish, branding change, ...) reloads once */
    fake.version = 2;
    fake.content = "{\"channels\": {\"email\": {\"subject\": \"V2 {{title}}\"}}}";
    fake.company = "Other";
    for (int i = 0; i < 3; i++) {
        assert_int_equal(render_msg(HR_CHANNEL_EMAIL, &r), 0);
        assert_string_equal(r.subject, "V2 Hi");
        assert_null(strstr(r.html, "Acme"));
        assert_non_null(strstr(r.html, "Other"));
        hr_rendered_free(&r);
    }
    assert_int_equal(fake.n_branding, 2);
    assert_int_equal(fake.n_type, 2);
}

static void test_fallbacks_and_category(void **state)
{
    (void)state;
    fake.content = content_v1;
    fake.tpl_version = 1;
    fake.category_emoji = "\xf0\x9f\x92\xb3";
    hr_rendered_t r;
    /* sms: the fr variant */
    assert_int_equal(render_msg(HR_CHANNEL_SMS, &r), 0);
    assert_string_equal(r.text, "SMS 7");
    hr_rendered_free(&r);
    /* discord: no variant in any locale: built-in, with the category */
    assert_int_equal(render_msg(HR_CHANNEL_DISCORD, &r), 0);
    assert_int_equal(r.version, 0);
    assert_string_equal(r.title, "\xf0\x9f\x92\xb3 Hi");
    assert_string_equal(r.color, "#22aa55");
    assert_string_equal(r.emoji, "\xf0\x9f\x92\xb3");
    hr_rendered_free(&r);
    /* a user whose locale has no variant: the environment default, then none */
    fake.recipient = "{\"id\": \"u1\", \"locale\": \"de\"}";
    assert_int_equal(render_msg(HR_CHANNEL_EMAIL, &r), 0);
    assert_string_equal(r.subject, "Default Hi");
    assert_string_equal(r.locale, "");
    hr_rendered_free(&r);
    /* no template at all */
    fake.version++;
    fake.content = NULL;
    assert_int_equal(render_msg(HR_CHANNEL_EMAIL, &r), 0);
    assert_string_equal(r.subject, "Hi");
    assert_int_equal(r.version, 0);
    hr_rendered_free(&r);
}

static void test_render_time_failure_falls_back(void **state)
{
    (void)state;
    /* a subject over the output limit (1 MiB: 1,500 copies of the layout)
     * fails at render time: the message goes out in the built-in layout */
    static char content[24000];
    char *p = content + sprintf(content, "{\"channels\": {\"email\": {\"subject\": \"");
    for (int i = 0; i < 1500; i++)
        p += sprintf(p, "{{>layout}}");
    sprintf(p, "\", \"text\": \"custom\"}}}");
    fake.content = content;
    fake.tpl_version = 4;
    fake.recipient = "{\"id\": \"u1\"}";
    hr_rendered_t r;
    assert_int_equal(render_msg(HR_CHANNEL_EMAIL, &r), 0);
    assert_string_equal(r.subject, "Hi");
    assert_int_equal(r.version, 0);
    assert_true(strncmp(r.text, "Hi\n", 3) == 0); /* the whole message, not a mix */
    hr_rendered_free(&r);

    /* database down: an error, nothing rendered */
    fake.down = true;
    assert_int_equal(render_msg(HR_CHANNEL_EMAIL, &r), -1);
    hr_rendered_free(&r);
}

static void test_preview_path(void **state)
{
    (void)state;
    /* hr_render without a version: one version query, then the cache */
    json_t *draft = json_loads("{\"channels\": {\"in_app\": {\"title\": \"T {{title}}\","
                               " \"action_url\": \"https://x.example/{{data.id}}\"}}}",
                               0, NULL);
    json_t *data = json_pack("{s:s}", "id", "a&b");
    hr_render_in_t in = {.environment_id = ENV,
                         .channel = HR_CHANNEL_IN_APP,
                         .type = "t",
                         .title = "Hello",
                         .data = data,
                         .draft = draft,
                         .draft_version = 5,
                         .content_version = -1};
    hr_rendered_t r;
    hr_render_error_t e;
    assert_int_equal(hr_render(NULL, &in, &r, &e), 0);
    assert_string_equal(r.title, "T Hello");
    assert_string_equal(r.action_url, "https://x.example/a&b"); /* plain text: not escaped */
    assert_int_equal(r.version, 5);
    hr_rendered_free(&r);
    assert_int_equal(fake.n_version, 1);
    /* a draft that fails at render time is a template error, not a 503 */
    json_t *bad = json_loads("{\"channels\": {\"in_app\": {\"body\": \"{{>self}}\"}}}", 0, NULL);
    in.draft = bad;
    assert_int_equal(hr_render(NULL, &in, &r, &e), 0); /* unknown partial: empty */
    hr_rendered_free(&r);
    json_decref(bad);
    json_decref(draft);
    json_decref(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_compile_once_render_many, setup),
        cmocka_unit_test_setup(test_fallbacks_and_category, setup),
        cmocka_unit_test_setup(test_render_time_failure_falls_back, setup),
        cmocka_unit_test_setup(test_preview_path, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
