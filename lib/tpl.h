/* tpl: Mustache templates (spec v1.4: interpolation, sections, partials,
 * delimiters, comments, inheritance, dynamic names; no lambdas), compiled
 * once into a node array and rendered against jansson data. */
#ifndef HR_TPL_H
#define HR_TPL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"

/* Sections, inverted sections, parents and blocks nested deeper than this in
 * one template are a parse error. */
#define HR_TPL_MAX_NESTING 256
/* Default limits of one render; see hr_tpl_limits_t. */
#define HR_TPL_DEFAULT_MAX_DEPTH 64
#define HR_TPL_DEFAULT_MAX_OUTPUT ((size_t)32 << 20)
#define HR_TPL_DEFAULT_MAX_STEPS 20000000UL

typedef struct hr_tpl hr_tpl_t;

/* Detail of a failed compile or render. line and col are 1-based (col counts
 * bytes); both are 0 when the error has no position in a template. */
typedef struct hr_tpl_error {
    char msg[200];
    unsigned line, col;
} hr_tpl_error_t;

/* What a partial lookup hands back: either a compiled template (tpl) or its
 * source (src, len). Leave both NULL when there is no such partial: it then
 * renders as the empty string, as the spec asks.
 * - tpl is borrowed: it must stay valid until hr_tpl_render returns. This is
 *   how callers cache compiled partials across renders.
 * - src is read during the callback's return only: the renderer compiles it
 *   at once, keeps the result for the rest of this render (the callback is
 *   not asked again for that name) and frees it before returning. */
typedef struct hr_tpl_partial {
    const hr_tpl_t *tpl;
    const char *src;
    size_t len;
} hr_tpl_partial_t;

/* Resolves a partial or parent name (already resolved if it was a dynamic
 * name) into *out, which comes zeroed. Returns 0, including when the name is
 * unknown, or -1 to abort the render (fill err->msg to say why). */
typedef int (*hr_tpl_partial_fn)(void *ud, const char *name, hr_tpl_partial_t *out,
                                 hr_tpl_error_t *err);

/* Bounds on one render; 0 in a field means its HR_TPL_DEFAULT_*.
 * max_depth: nested partial, parent and block-override expansions (a partial
 *   that includes itself stops here with an error).
 * max_output: bytes appended to the output buffer.
 * max_steps: work units (nodes visited plus context frames and block
 *   arguments searched), which bounds time even when nothing is output.
 * no_escape: {{x}} interpolates like {{{x}}} (plain-text output such as an
 *   email subject or an SMS, where HTML escaping would show as "&amp;"). */
typedef struct hr_tpl_limits {
    unsigned max_depth;
    size_t max_output;
    unsigned long max_steps;
    bool no_escape;
} hr_tpl_limits_t;

/* Compiles src (len bytes; need not be NUL-terminated; may contain NULs).
 * Returns a template the caller frees with hr_tpl_free, or NULL with *err
 * (may be NULL) set to the message and position of the first parse error:
 * unclosed tag or section, unexpected or mismatched closing tag, bad set
 * delimiters, empty or malformed name, nesting deeper than
 * HR_TPL_MAX_NESTING. The template does not point into src. */
hr_tpl_t *hr_tpl_compile(const char *src, size_t len, hr_tpl_error_t *err)
    __attribute__((warn_unused_result));

void hr_tpl_free(hr_tpl_t *t);

/* Renders t against data (NULL renders as an empty context) and appends the
 * result to out. lookup (may be NULL: no partials) resolves partials and
 * parents, with ud passed through. Variables are HTML-escaped (& < > " ');
 * {{{x}}} and {{&x}} are not. Falsy: false, null, missing, empty array (an
 * empty string and 0 are truthy). Strings, numbers (integers as such, reals
 * in their shortest round-trip form) and booleans interpolate; null, objects
 * and arrays interpolate as nothing. Where the spec is silent: the outermost
 * override of a block wins, overrides also reach blocks inside plain partials
 * of the parent, and indentation is not added to empty lines.
 * Returns 0, or -1 with *err set when a limit is exceeded, a partial fails
 * to compile or lookup fails; out then holds a partial result that the caller
 * must not use (it still owns and frees it). */
int hr_tpl_render(const hr_tpl_t *t, const json_t *data, hr_tpl_partial_fn lookup, void *ud,
                  hr_buf_t *out, hr_tpl_error_t *err) __attribute__((warn_unused_result));

/* hr_tpl_render with explicit limits (NULL: all defaults). */
int hr_tpl_render_ex(const hr_tpl_t *t, const json_t *data, hr_tpl_partial_fn lookup, void *ud,
                     const hr_tpl_limits_t *limits, hr_buf_t *out, hr_tpl_error_t *err)
    __attribute__((warn_unused_result));

#endif
