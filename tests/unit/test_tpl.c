/* Unit tests of tpl: every case of the official Mustache spec files (read at
 * run time from $HR_MUSTACHE_SPEC_DIR), parse errors with their positions,
 * render limits (self-including partials, deep nesting, work and output
 * bounds), HTML escaping, value formatting and the partial lookup contract. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tpl.h"

/* ---- helpers -------------------------------------------------------------- */

/* Partial lookup over a JSON object of name -> source. */
static int json_lookup(void *ud, const char *name, hr_tpl_partial_t *out, hr_tpl_error_t *err)
{
    (void)err;
    const json_t *p = json_object_get((const json_t *)ud, name);
    if (json_is_string(p)) {
        out->src = json_string_value(p);
        out->len = json_string_length(p);
    }
    return 0;
}

/* s with control characters and quotes escaped, for messages; caller frees. */
static char *visible(const char *s, size_t n)
{
    char *v = malloc(n * 4 + 3);
    assert_non_null(v);
    char *p = v;
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n') {
            *p++ = '\\';
            *p++ = 'n';
        } else if (ch == '\r') {
            *p++ = '\\';
            *p++ = 'r';
        } else if (ch == '\t') {
            *p++ = '\\';
            *p++ = 't';
        } else if (ch == '"' || ch == '\\') {
            *p++ = '\\';
            *p++ = (char)ch;
        } else if (ch < 0x20) {
            p += sprintf(p, "\\x%02x", ch);
        } else {
            *p++ = (char)ch;
        }
    }
    *p++ = '"';
    *p = '\0';
    return v;
}

/* Compiles and renders src against data (JSON text) with partials (JSON
 * object text, may be NULL). Returns the render result; *out gets the output
 * (caller frees) and *err the error. A compile error fails the test. */
static int render_json(const char *src, const char *data, const char *partials,
                       const hr_tpl_limits_t *lim, char **out, hr_tpl_error_t *err)
{
    hr_tpl_error_t cerr;
    hr_tpl_t *t = hr_tpl_compile(src, strlen(src), &cerr);
    if (t == NULL)
        fail_msg("compile of %s failed: %s at %u:%u", src, cerr.msg, cerr.line, cerr.col);
    json_error_t je;
    json_t *d = json_loads(data, JSON_DECODE_ANY, &je);
    if (d == NULL)
        fail_msg("bad test data %s: %s", data, je.text);
    json_t *p = partials ? json_loads(partials, 0, &je) : json_object();
    assert_non_null(p);
    hr_buf_t b = HR_BUF_INIT;
    int rc = hr_tpl_render_ex(t, d, json_lookup, p, lim, &b, err);
    *out = b.data; /* taken over from the buffer */
    json_decref(d);
    json_decref(p);
    hr_tpl_free(t);
    return rc;
}

static void assert_renders(const char *src, const char *data, const char *partials,
                           const char *want)
{
    char *got;
    hr_tpl_error_t err;
    if (render_json(src, data, partials, NULL, &got, &err) != 0)
        fail_msg("render of %s failed: %s", src, err.msg);
    if (strcmp(got, want) != 0) {
        char *vs = visible(src, strlen(src)), *vw = visible(want, strlen(want)),
             *vg = visible(got, strlen(got));
        print_error("# template %s\n#   expected %s\n#   actual   %s\n", vs, vw, vg);
        free(vs);
        free(vw);
        free(vg);
        free(got);
        fail();
    }
    free(got);
}

/* ---- the official spec ------------------------------------------------------ */

/* Runs every case of one spec file; prints each failure (name, template,
 * expected, actual) and fails if any did. A missing file fails. */
static void run_spec_file(const char *file)
{
    const char *dir = getenv("HR_MUSTACHE_SPEC_DIR");
    if (dir == NULL || dir[0] == '\0')
        fail_msg("HR_MUSTACHE_SPEC_DIR is not set: point it at the Mustache spec JSON files");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (root == NULL)
        fail_msg("cannot load spec file %s: %s", path, je.text);
    const json_t *tests = json_object_get(root, "tests");
    if (!json_is_array(tests) || json_array_size(tests) == 0) {
        json_decref(root);
        fail_msg("%s has no \"tests\" array", path);
    }
    size_t total = json_array_size(tests), failed = 0;
    for (size_t i = 0; i < total; i++) {
        const json_t *tc = json_array_get(tests, i);
        const char *name = json_string_value(json_object_get(tc, "name"));
        const json_t *tmpl = json_object_get(tc, "template");
        const json_t *want = json_object_get(tc, "expected");
        json_t *partials = json_object_get(tc, "partials");
        if (name == NULL || !json_is_string(tmpl) || !json_is_string(want)) {
            print_error("# %s case %zu: malformed\n", file, i);
            failed++;
            continue;
        }
        const char *src = json_string_value(tmpl);
        size_t src_len = json_string_length(tmpl);
        char *vs = visible(src, src_len);
        hr_tpl_error_t err;
        hr_tpl_t *t = hr_tpl_compile(src, src_len, &err);
        if (t == NULL) {
            print_error("# FAIL %s / %s\n#   template %s\n#   compile error: %s at %u:%u\n", file,
                        name, vs, err.msg, err.line, err.col);
            failed++;
            free(vs);
            continue;
        }
        hr_buf_t b = HR_BUF_INIT;
        int rc = hr_tpl_render(t, json_object_get(tc, "data"), json_lookup,
                               partials ? partials : NULL, &b, &err);
        if (rc != 0) {
            print_error("# FAIL %s / %s\n#   template %s\n#   render error: %s\n", file, name, vs,
                        err.msg);
            failed++;
        } else if (b.len != json_string_length(want) ||
                   memcmp(b.data, json_string_value(want), b.len) != 0) {
            char *vw = visible(json_string_value(want), json_string_length(want));
            char *vg = visible(b.data, b.len);
            print_error("# FAIL %s / %s\n#   template %s\n#   expected %s\n#   actual   %s\n", file,
                        name, vs, vw, vg);
            free(vw);
            free(vg);
            failed++;
        }
        hr_buf_free(&b);
        hr_tpl_free(t);
        free(vs);
    }
    print_message("# %s: %zu/%zu cases passed\n", file, total - failed, total);
    json_decref(root);
    if (failed > 0)
        fail_msg("%zu of %zu cases in %s failed", failed, total, file);
}

static void test_spec_comments(void **state)
{
    (void)state;
    run_spec_file("comments.json");
}

static void test_spec_delimiters(void **state)
{
    (void)state;
    run_spec_file("delimiters.json");
}

static void test_spec_interpolation(void **state)
{
    (void)state;
    run_spec_file("interpolation.json");
}

static void test_spec_inverted(void **state)
{
    (void)state;
    run_spec_file("inverted.json");
}

static void test_spec_partials(void **state)
{
    (void)state;
    run_spec_file("partials.json");
}

static void test_spec_sections(void **state)
{
    (void)state;
    run_spec_file("sections.json");
}

static void test_spec_inheritance(void **state)
{
    (void)state;
    run_spec_file("~inheritance.json");
}

static void test_spec_dynamic_names(void **state)
{
    (void)state;
    run_spec_file("~dynamic-names.json");
}

/* ---- parse errors ---------------------------------------------------------- */

static void test_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *src;
        const char *msg; /* expected substring */
        unsigned line, col;
    } cases[] = {
        {"{{#a}}x", "unclosed section 'a'", 1, 1},
        {"x\n\t{{^b}}\n", "unclosed inverted section 'b'", 2, 2},
        {"{{<p}}{{$b}}", "unclosed block 'b'", 1, 7},
        {"ab\n  {{#a}}\n{{/b}}",
         "closing tag 'b' does not match section 'a' opened at line 2 "
         "column 3",
         3, 1},
        {"{{<*p}}{{/p}}", "closing tag 'p' does not match parent '*p'", 1, 8},
        {"x{{/a}}", "closing tag 'a' without an opener", 1, 2},
        {"hello {{name", "unclosed tag", 1, 7},
        {"a\nb {{{x}}", "unclosed tag: no '}}}'", 2, 3},
        {"{{=<% %>=}}\n<%x}}", "unclosed tag: no '%>'", 2, 1},
        {"{{! never closed", "unclosed tag", 1, 1},
        {"{{=a=}}", "invalid set-delimiter tag", 1, 1},
        {"{{= a b c =}}", "invalid set-delimiter tag", 1, 1},
        {"x {{=<= =>=}}", "invalid set-delimiter tag", 1, 3},
        {"{{=<% %>}}", "unclosed tag: no '=}}'", 1, 1},
        {"{{}}", "empty tag name", 1, 1},
        {"{{# }}", "empty tag name", 1, 1},
        {"{{>*}}", "empty tag name", 1, 1},
        {"\n\n  {{first name}}", "contains whitespace", 3, 3},
        {"{{a..b}}", "empty dotted segment", 1, 1},
        {"{{#.a}}{{/.a}}", "empty dotted segment", 1, 1},
        {"{{>*x.}}", "empty dotted segment", 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hr_tpl_error_t err;
        memset(&err, 0, sizeof err);
        hr_tpl_t *t = hr_tpl_compile(cases[i].src, strlen(cases[i].src), &err);
        if (t != NULL) {
            hr_tpl_free(t);
            fail_msg("case %zu (%s) compiled", i, cases[i].src);
        }
        if (strstr(err.msg, cases[i].msg) == NULL || err.line != cases[i].line ||
            err.col != cases[i].col)
            fail_msg("case %zu (%s): got \"%s\" at %u:%u, want \"%s\" at %u:%u", i, cases[i].src,
                     err.msg, err.line, err.col, cases[i].msg, cases[i].line, cases[i].col);
    }
    /* A NULL error struct is allowed. */
    assert_null(hr_tpl_compile("{{#a}}", 6, NULL));
}

/* Builds n nested sections "{{#a}}" ... "{{/a}}" with "x" inside. */
static char *nested(size_t n)
{
    char *s = malloc(n * 12 + 2);
    assert_non_null(s);
    char *p = s;
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "{{#a}}");
    *p++ = 'x';
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "{{/a}}");
    *p = '\0';
    return s;
}

static void test_nesting_limit(void **state)
{
    (void)state;
    char *ok = nested(HR_TPL_MAX_NESTING);
    char *out;
    hr_tpl_error_t err;
    assert_int_equal(render_json(ok, "{\"a\": true}", NULL, NULL, &out, &err), 0);
    assert_string_equal(out, "x");
    free(out);
    free(ok);

    char *deep = nested(HR_TPL_MAX_NESTING + 1);
    hr_tpl_t *t = hr_tpl_compile(deep, strlen(deep), &err);
    assert_null(t);
    assert_non_null(strstr(err.msg, "nested deeper than 256"));
    assert_int_equal(err.line, 1);
    assert_int_equal(err.col, HR_TPL_MAX_NESTING * 6 + 1);
    free(deep);

    /* Hostile: a megabyte of openers fails cleanly, without recursion. */
    size_t n = 1 << 20;
    char *huge = malloc(n);
    assert_non_null(huge);
    for (size_t i = 0; i < n; i += 4)
        memcpy(huge + i, "{{#a", 4);
    assert_null(hr_tpl_compile(huge, n, &err)); /* the last tag is unclosed */
    for (size_t i = 0; i + 6 <= n; i += 6)
        memcpy(huge + i, "{{$a}}", 6);
    assert_null(hr_tpl_compile(huge, n - n % 6, &err));
    assert_non_null(strstr(err.msg, "nested deeper"));
    free(huge);
}

/* ---- render limits --------------------------------------------------------- */

static size_t count_char(const char *s, char ch)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == ch;
    return n;
}

static void test_self_including_partial(void **state)
{
    (void)state;
    char *out;
    hr_tpl_error_t err;
    /* The root plus 64 nested expansions, then the 65th is refused. */
    assert_int_equal(
        render_json("x{{>self}}", "{}", "{\"self\": \"x{{>self}}\"}", NULL, &out, &err), -1);
    assert_non_null(strstr(err.msg, "partial 'self' nested deeper than 64"));
    assert_int_equal(count_char(out, 'x'), HR_TPL_DEFAULT_MAX_DEPTH + 1);
    free(out);

    hr_tpl_limits_t lim = {.max_depth = 3};
    assert_int_equal(
        render_json("x{{>self}}", "{}", "{\"self\": \"x{{>self}}\"}", &lim, &out, &err), -1);
    assert_string_equal(out, "xxxx");
    free(out);

    /* Parents and block overrides are bounded the same way. */
    assert_int_equal(
        render_json("{{<p}}{{/p}}", "{}", "{\"p\": \"{{<p}}{{/p}}\"}", NULL, &out, &err), -1);
    assert_non_null(strstr(err.msg, "partial 'p' nested deeper than 64"));
    free(out);
    assert_int_equal(render_json("{{<p}}{{$a}}[{{$a}}x{{/a}}]{{/a}}{{/p}}", "{}",
                                 "{\"p\": \"{{$a}}{{/a}}\"}", NULL, &out, &err),
                     -1);
    assert_non_null(strstr(err.msg, "block 'a' nested deeper than 64"));
    free(out);

    /* Dynamic names recurse through data, and stop too. */
    assert_int_equal(
        render_json("{{>*n}}", "{\"n\": \"me\"}", "{\"me\": \"{{>*n}}\"}", NULL, &out, &err), -1);
    assert_non_null(strstr(err.msg, "nested deeper"));
    free(out);
}

static void test_work_and_output_limits(void **state)
{
    (void)state;
    char *out;
    hr_tpl_error_t err;
    /* 100^4 iterations that print nothing still stop. */
    const char *list = "{\"l\": [1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,"
                       "10,1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10,1,2,"
                       "3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,"
                       "6,7,8,9,10]}";
    hr_tpl_limits_t lim = {.max_steps = 100000};
    assert_int_equal(render_json("{{#l}}{{#l}}{{#l}}{{#l}}{{/l}}{{/l}}{{/l}}{{/l}}", list, NULL,
                                 &lim, &out, &err),
                     -1);
    assert_non_null(strstr(err.msg, "render exceeds 100000 steps"));
    free(out);

    hr_tpl_limits_t olim = {.max_output = 1000};
    assert_int_equal(
        render_json("{{#l}}{{#l}}0123456789{{/l}}{{/l}}", list, NULL, &olim, &out, &err), -1);
    assert_non_null(strstr(err.msg, "output exceeds 1000 bytes"));
    assert_true(strlen(out) <= 1000);
    free(out);

    /* Exactly at the limit is fine. */
    olim.max_output = 10;
    assert_int_equal(render_json("0123456789", "{}", NULL, &olim, &out, &err), 0);
    assert_string_equal(out, "0123456789");
    free(out);
}

/* ---- values ---------------------------------------------------------------- */

static void test_html_escaping(void **state)
{
    (void)state;
    const char *data = "{\"x\": \"<a href=\\\"/?a=1&b=2\\\">Tom's</a>\"}";
    assert_renders("{{x}}", data, NULL,
                   "&lt;a href=&quot;/?a=1&amp;b=2&quot;&gt;Tom&#39;s&lt;/a&gt;");
    assert_renders("{{{x}}}|{{&x}}", data, NULL,
                   "<a href=\"/?a=1&b=2\">Tom's</a>|<a href=\"/?a=1&b=2\">Tom's</a>");
    /* Template text is never escaped; data is never re-parsed. */
    assert_renders("<b>&{{y}}</b>", "{\"y\": \"{{x}}\"}", NULL, "<b>&{{x}}</b>");
    assert_renders("{{=<% %>=}}<%{x}%>", "{\"x\": \"&\"}", NULL, "&");
}

static void test_values_and_truthiness(void **state)
{
    (void)state;
    assert_renders("{{i}} {{n}} {{r}} {{e}} {{t}} {{f}} {{z}} {{o}} {{a}}",
                   "{\"i\": -42, \"n\": 9007199254740993, \"r\": 0.1, \"e\": 1e300, "
                   "\"t\": true, \"f\": false, \"z\": null, \"o\": {\"k\": 1}, \"a\": [1]}",
                   NULL, "-42 9007199254740993 0.1 1e+300 true false   ");
    /* Only false, null, missing and [] are falsy. */
    assert_renders("{{#s}}s{{/s}}{{#z}}z{{/z}}{{#o}}o{{/o}}{{#f}}f{{/f}}{{#n}}n{{/n}}"
                   "{{#a}}a{{/a}}{{#m}}m{{/m}}",
                   "{\"s\": \"\", \"z\": 0, \"o\": {}, \"f\": false, \"n\": null, \"a\": []}", NULL,
                   "szo");
    assert_renders("{{^s}}s{{/s}}{{^z}}z{{/z}}{{^f}}f{{/f}}{{^n}}n{{/n}}{{^a}}a{{/a}}{{^m}}m{{/m}}",
                   "{\"s\": \"\", \"z\": 0, \"f\": false, \"n\": null, \"a\": []}", NULL, "fnam");
    /* List elements are rendered whatever their truth. */
    assert_renders("{{#l}}[{{.}}]{{/l}}", "{\"l\": [false, null, 0, \"\"]}", NULL,
                   "[false][][0][]");
    /* NULL data renders as an empty context. */
    hr_tpl_t *t = hr_tpl_compile("a{{x}}b", 7, NULL);
    assert_non_null(t);
    hr_buf_t b = HR_BUF_INIT;
    assert_int_equal(hr_tpl_render(t, NULL, NULL, NULL, &b, NULL), 0);
    assert_string_equal(b.data, "ab");
    /* Rendering appends to what the buffer holds. */
    assert_int_equal(hr_tpl_render(t, NULL, NULL, NULL, &b, NULL), 0);
    assert_string_equal(b.data, "abab");
    hr_buf_free(&b);
    assert_null(b.data);
    /* An empty render still yields a string. */
    hr_tpl_t *e = hr_tpl_compile(NULL, 0, NULL);
    assert_non_null(e);
    assert_int_equal(hr_tpl_render(e, NULL, NULL, NULL, &b, NULL), 0);
    assert_string_equal(b.data, "");
    hr_buf_free(&b);
    hr_tpl_free(e);
    hr_tpl_free(t);
}

static void test_block_indentation(void **state)
{
    (void)state;
    /* The example from the spec's whitespace notes. */
    assert_renders("{{<parent}}\n        {{$block}}\n        Hello\n        {{/block}}\n"
                   "{{/parent}}",
                   "{}", "{\"parent\": \"I say,\\n  {{$block}}\\n  Hi there!\\n  {{/block}}\"}",
                   "I say,\n  Hello\n");
    /* Indented standalone partials nest their indentation. */
    assert_renders("a\n  {{>p}}\nb", "{}", "{\"p\": \"1\\n  {{>q}}\\n2\\n\", \"q\": \"x\\ny\\n\"}",
                   "a\n  1\n    x\n    y\n  2\nb");
    /* Empty lines of a partial get no trailing blanks. */
    assert_renders("  {{>p}}\n", "{}", "{\"p\": \"a\\n\\nb\\n\"}", "  a\n\n  b\n");
    /* An inline partial belongs to its line: its own lines are not indented,
     * but the line it starts is. */
    assert_renders("  {{>q}}\n", "{}", "{\"q\": \"x {{>p}}\\n{{>p}}!\\n\", \"p\": \"a\\nb\"}",
                   "  x a\nb\n  a\nb!\n");
    /* A block default keeps its own lines when its opener is not at a line
     * end; an override gets the opener's indentation on its later lines. */
    const char *dflt = "{\"p\": \"  {{$b}}x\\ny\\n{{/b}}\\nz\\n\"}";
    assert_renders("{{>p}}", "{}", dflt, "  x\ny\nz\n");
    assert_renders("{{<p}}{{$b}}1\n2\n{{/b}}{{/p}}", "{}", dflt, "  1\n  2\nz\n");
    /* A standalone pair re-indents both its default and its override. */
    const char *pair = "{\"p\": \"<\\n  {{$b}}\\n    d1\\n  d2\\n  {{/b}}\\n>\"}";
    assert_renders("{{>p}}", "{}", pair, "<\n    d1\n  d2\n>");
    assert_renders("{{<p}}{{$b}}\n\t1\n\t 2\n{{/b}}{{/p}}", "{}", pair, "<\n    1\n     2\n>");
}

/* ---- the lookup contract --------------------------------------------------- */

typedef struct cache {
    hr_tpl_t *header;
    int calls;
} cache_t;

/* Hands out a compiled partial owned by the caller's cache. */
static int cached_lookup(void *ud, const char *name, hr_tpl_partial_t *out, hr_tpl_error_t *err)
{
    cache_t *c = ud;
    c->calls++;
    if (strcmp(name, "broken") == 0) {
        snprintf(err->msg, sizeof err->msg, "storage is down");
        return -1;
    }
    if (strcmp(name, "silent") == 0)
        return -1;
    if (strcmp(name, "bad") == 0) {
        out->src = "ok\n{{#x}}";
        out->len = strlen(out->src);
        return 0;
    }
    if (strcmp(name, "header") == 0)
        out->tpl = c->header;
    return 0;
}

static void test_compiled_partials(void **state)
{
    (void)state;
    cache_t c = {hr_tpl_compile("<h1>{{title}}</h1>", 18, NULL), 0};
    assert_non_null(c.header);
    hr_tpl_t *t = hr_tpl_compile("{{>header}}{{>header}}{{>missing}}!", 35, NULL);
    assert_non_null(t);
    json_t *data = json_pack("{s:s}", "title", "Hi");
    hr_buf_t b = HR_BUF_INIT;
    hr_tpl_error_t err;
    assert_int_equal(hr_tpl_render(t, data, cached_lookup, &c, &b, &err), 0);
    assert_string_equal(b.data, "<h1>Hi</h1><h1>Hi</h1>!");
    assert_int_equal(c.calls, 3);
    hr_buf_free(&b);
    hr_tpl_free(t);

    /* A failing lookup aborts the render with its message, or a default one. */
    t = hr_tpl_compile("a{{>broken}}", 12, NULL);
    assert_int_equal(hr_tpl_render(t, data, cached_lookup, &c, &b, &err), -1);
    assert_string_equal(err.msg, "storage is down");
    hr_tpl_free(t);
    t = hr_tpl_compile("a{{>silent}}", 12, NULL);
    assert_int_equal(hr_tpl_render(t, data, cached_lookup, &c, &b, &err), -1);
    assert_string_equal(err.msg, "lookup of partial 'silent' failed");
    hr_tpl_free(t);

    /* A partial that does not compile names itself and its error position. */
    t = hr_tpl_compile("{{>bad}}", 8, NULL);
    assert_int_equal(hr_tpl_render(t, data, cached_lookup, &c, &b, &err), -1);
    assert_string_equal(err.msg, "partial 'bad': unclosed section 'x'");
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 1);
    hr_tpl_free(t);

    /* Source partials are compiled once per render, whatever the repeats. */
    c.calls = 0;
    json_t *parts = json_pack("{s:s}", "p", "{{#l}}{{>p}}{{/l}}");
    json_t *d2 = json_pack("{s:[i,i]}", "l", 1, 2);
    t = hr_tpl_compile("{{>p}}", 6, NULL);
    hr_tpl_limits_t lim = {.max_depth = 5};
    assert_int_equal(hr_tpl_render_ex(t, d2, json_lookup, parts, &lim, &b, &err), -1);
    hr_tpl_free(t);
    json_decref(parts);
    json_decref(d2);

    hr_buf_free(&b);
    json_decref(data);
    hr_tpl_free(c.header);
    assert_int_equal(hr_tpl_render(NULL, NULL, NULL, NULL, &b, &err), -1);
}

/* no_escape: plain-text parts (subjects, SMS) interpolate {{x}} unescaped. */
static void test_no_escape(void **state)
{
    (void)state;
    const char *src = "{{a}}|{{{a}}}|{{&a}}|{{>p}}";
    hr_tpl_t *t = hr_tpl_compile(src, strlen(src), NULL);
    assert_non_null(t);
    json_t *data = json_pack("{s:s}", "a", "<Tom & \"Jerry\">");
    json_t *partials = json_pack("{s:s}", "p", "{{a}}");
    hr_tpl_limits_t lim = {.no_escape = true};
    hr_buf_t b = HR_BUF_INIT;
    assert_int_equal(hr_tpl_render_ex(t, data, json_lookup, partials, &lim, &b, NULL), 0);
    assert_string_equal(b.data, "<Tom & \"Jerry\">|<Tom & \"Jerry\">|<Tom & \"Jerry\">|"
                                "<Tom & \"Jerry\">");
    hr_buf_free(&b);
    /* the default still escapes */
    assert_int_equal(hr_tpl_render(t, data, json_lookup, partials, &b, NULL), 0);
    assert_string_equal(b.data, "&lt;Tom &amp; &quot;Jerry&quot;&gt;|<Tom & \"Jerry\">|"
                                "<Tom & \"Jerry\">|&lt;Tom &amp; &quot;Jerry&quot;&gt;");
    hr_buf_free(&b);
    json_decref(data);
    json_decref(partials);
    hr_tpl_free(t);
}

int main(void)
{
    const char *dir = getenv("HR_MUSTACHE_SPEC_DIR");
    if (dir == NULL || dir[0] == '\0')
        fprintf(stderr, "test_tpl: HR_MUSTACHE_SPEC_DIR is not set; the spec tests will fail\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_comments),
        cmocka_unit_test(test_spec_delimiters),
        cmocka_unit_test(test_spec_interpolation),
        cmocka_unit_test(test_spec_inverted),
        cmocka_unit_test(test_spec_partials),
        cmocka_unit_test(test_spec_sections),
        cmocka_unit_test(test_spec_inheritance),
        cmocka_unit_test(test_spec_dynamic_names),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_self_including_partial),
        cmocka_unit_test(test_work_and_output_limits),
        cmocka_unit_test(test_html_escaping),
        cmocka_unit_test(test_values_and_truthiness),
        cmocka_unit_test(test_block_indentation),
        cmocka_unit_test(test_compiled_partials),
        cmocka_unit_test(test_no_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
