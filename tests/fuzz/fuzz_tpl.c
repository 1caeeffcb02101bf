/* libFuzzer driver for tpl: compiles the input as a template and renders it
 * against a small fixed data set, with every partial and parent name
 * resolving to the input itself, to exercise the recursion and work limits. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct input {
    const char *src;
    size_t len;
    const hr_tpl_t *compiled; /* non-NULL: hand out this instead of the source */
} input_t;

static json_t *fixture;

/* Every name is the input; "none" is missing and "fail" fails the lookup. */
static int self_lookup(void *ud, const char *name, hr_tpl_partial_t *out, hr_tpl_error_t *err)
{
    const input_t *in = ud;
    (void)err;
    if (strcmp(name, "none") == 0)
        return 0;
    if (strcmp(name, "fail") == 0)
        return -1;
    if (in->compiled != NULL) {
        out->tpl = in->compiled;
    } else {
        out->src = in->src;
        out->len = in->len;
    }
    return 0;
}

static void free_fixture(void)
{
    json_decref(fixture);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fixture == NULL) {
        fixture = json_loads("{\"a\": {\"b\": \"x\", \"a\": [1, 2]}, \"l\": [1, {\"a\": 2}, [], "
                             "\"s\"], \"s\": \"<&>\\\"'\", \"t\": true, \"f\": false, \"n\": null, "
                             "\"i\": 42, \"r\": 1.5, \"e\": \"\", \"p\": \"self\", "
                             "\"q\": \"none\", \".\": \"dot\"}",
                             0, NULL);
        if (fixture == NULL)
            abort();
        atexit(free_fixture);
    }
    input_t in = {(const char *)data, size, NULL};
    hr_tpl_error_t err;
    hr_tpl_t *t = hr_tpl_compile(in.src, in.len, &err);
    if (t == NULL) {
        /* Errors always carry a message and a position inside the input. */
        if (err.msg[0] == '\0' || err.line == 0 || err.col == 0)
            abort();
        return 0;
    }
    /* Odd first byte: partials come back compiled (the caller-cache path). */
    if (size > 0 && (data[0] & 1))
        in.compiled = t;
    /* Tight limits keep each run short; the defaults are much larger. */
    hr_tpl_limits_t lim = {.max_depth = 16, .max_output = 1 << 16, .max_steps = 50000};
    hr_buf_t a = HR_BUF_INIT, b = HR_BUF_INIT;
    int ra = hr_tpl_render_ex(t, fixture, self_lookup, &in, &lim, &a, &err);
    int rb = hr_tpl_render_ex(t, fixture, self_lookup, &in, &lim, &b, NULL);
    /* Rendering is deterministic and always leaves a terminated string. */
    if (ra != rb || a.data == NULL || a.data[a.len] != '\0' ||
        (ra == 0 && (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)))
        abort();
    if (ra != 0 && err.msg[0] == '\0')
        abort();
    hr_buf_free(&a);
    hr_buf_free(&b);
    hr_tpl_free(t);
    return 0;
}
