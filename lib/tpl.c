/* tpl: Mustache engine. Compiling lexes the source, pairs tags, applies the
 * standalone-line and block-indentation rules and emits a flat node array;
 * rendering walks that array with an explicit frame stack (no C recursion). */
#include "tpl.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- compiled form ------------------------------------------------------ */

enum {
    N_TEXT,     /* str/len: bytes to output */
    N_ESC,      /* {{x}}: name */
    N_RAW,      /* {{{x}}}, {{&x}}: name */
    N_SECTION,  /* {{#x}}: name; children up to end */
    N_INVERTED, /* {{^x}}: name; children up to end */
    N_PARTIAL,  /* {{>x}}: name; ind */
    N_PARENT,   /* {{<x}}: name; ind; children are its N_BLOCK arguments */
    N_BLOCK,    /* {{$x}}: name; ind; children are the default content */
};

/* Node flags. DYNAMIC: the name is a dotted name whose value names the
 * partial. STANDALONE: the tag (partial, parent) or the closer (block) had
 * its own line. PAIR: a block outside a parent whose opener starts a line
 * and whose closer ends one; its override is re-indented. */
#define NF_DYNAMIC 0x1
#define NF_STANDALONE 0x2
#define NF_PAIR 0x4

/* Names are in the pool: lookup names (variables, sections, dynamic names) as
 * nseg NUL-terminated segments ("." has none), others as one string. */
typedef struct tpl_node {
    uint8_t type, flags;
    uint32_t end; /* index just past this node's children */
    uint32_t str, len;
    uint32_t nseg;
    uint32_t ind, ind_len; /* blanks prepended to each line of the expansion */
} tpl_node_t;

struct hr_tpl {
    tpl_node_t *nodes;
    uint32_t n;
    char *pool;
};

/* This module fails hard on out-of-memory by itself; besides libc and
 * jansson it needs only lib/buf (and its hr_assert) for the output, so the
 * unit test and fuzz driver link it almost alone. */
#define TPL_CHECK(cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            tpl_panic(__FILE__, __LINE__, #cond);                                                  \
    } while (0)

static void tpl_panic(const char *file, int line, const char *what) __attribute__((noreturn));

/* Templates larger than this are refused, so node and pool offsets fit in
 * 32 bits (the pool holds a few times the source at most). */
#define TPL_MAX_SOURCE ((size_t)1 << 28)
/* Set-delimiter strings longer than this are refused: delimiter search is
 * O(source * delimiter length). */
#define TPL_MAX_DELIM 32
#define NONE SIZE_MAX

/* Token kinds, in source order, before the node array is built. */
enum {
    T_TEXT,
    T_ESC,      /* {{x}} */
    T_RAW,      /* {{{x}}} or {{&x}} */
    T_SECTION,  /* {{#x}} */
    T_INVERTED, /* {{^x}} */
    T_CLOSE,    /* {{/x}} */
    T_PARTIAL,  /* {{>x}} */
    T_PARENT,   /* {{<x}} */
    T_BLOCK,    /* {{$x}} */
    T_COMMENT,  /* {{!x}} */
    T_DELIM,    /* {{=a b=}} */
};

typedef struct tok {
    uint8_t kind;
    bool dynamic;      /* partial, parent or close name started with '*' */
    bool cl, cr;       /* only blanks between the tag and the line start / line end */
    bool standalone;   /* the tag's own line was removed */
    size_t start, end; /* text: bytes kept (trimmed in place); tag: whole tag */
    size_t name, name_len;
    size_t mate; /* opener <-> its closing tag */
    size_t up;   /* enclosing opener, or NONE */
} tok_t;

typedef struct span {
    size_t off, len;
} span_t;

/* Compile state. strips holds the intrinsic indentation of each enclosing
 * block argument (spans of src), removed from the start of every line inside
 * it; the parameter block it overrides supplies the indentation instead. */
typedef struct cc {
    const char *src;
    size_t len;
    hr_tpl_error_t *err;
    tok_t *toks;
    size_t ntoks, tcap;
    tpl_node_t *nodes;
    size_t n, ncap;
    char *pool;
    size_t plen, pcap;
    span_t strips[HR_TPL_MAX_NESTING];
    size_t nstrips;
} cc_t;

static void tpl_panic(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: assertion failed (out of memory?): %s\n", file, line, what);
    abort();
}

/* Grows array p of elem-sized items so it holds need; returns it. */
static void *tpl_grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        TPL_CHECK(c <= SIZE_MAX / 2 / elem);
        c *= 2;
    }
    p = realloc(p, c * elem);
    TPL_CHECK(p != NULL);
    *cap = c;
    return p;
}

static void line_col(const char *src, size_t off, unsigned *line, unsigned *col)
{
    size_t l = 1, c = 1;
    for (size_t i = 0; i < off; i++) {
        if (src[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l > UINT32_MAX ? UINT32_MAX : (unsigned)l;
    *col = c > UINT32_MAX ? UINT32_MAX : (unsigned)c;
}

/* Formats the message into *err (may be NULL), with the line and column of
 * offset off in src, or none when src is NULL. */
static void tpl_set_error(hr_tpl_error_t *err, const char *src, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void tpl_set_error(hr_tpl_error_t *err, const char *src, size_t off, const char *fmt, ...)
{
    if (err == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->line = err->col = 0;
    if (src != NULL)
        line_col(src, off, &err->line, &err->col);
}

/* Names in messages are cut so the message keeps its tail. */
static int name_len_for_msg(size_t n)
{
    return n > 48 ? 48 : (int)n;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

/* First occurrence of pat (plen <= TPL_MAX_DELIM bytes) in s[from, len). */
static size_t find(const char *s, size_t from, size_t len, const char *pat, size_t plen)
{
    if (plen == 0 || from > len || len - from < plen)
        return NONE;
    size_t last = len - plen; /* last position a match can start at */
    for (size_t i = from; i <= last; i++) {
        const char *p = memchr(s + i, pat[0], last - i + 1);
        if (p == NULL)
            return NONE;
        i = (size_t)(p - s);
        if (memcmp(p, pat, plen) == 0)
            return i;
    }
    return NONE;
}

/* Position of sigil ch directly followed by ctag, at or after from. */
static size_t find_sigil_close(const cc_t *c, size_t from, char ch, const char *ctag, size_t clen)
{
    for (size_t i = from + 1;;) {
        size_t k = find(c->src, i, c->len, ctag, clen);
        if (k == NONE)
            return NONE;
        if (c->src[k - 1] == ch)
            return k - 1;
        i = k + 1;
    }
}

static tok_t *add_tok(cc_t *c, uint8_t kind, size_t start, size_t end)
{
    c->toks = tpl_grow(c->toks, &c->tcap, c->ntoks + 1, sizeof *c->toks);
    tok_t *t = &c->toks[c->ntoks++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->start = start;
    t->end = end;
    t->mate = t->up = NONE;
    return t;
}

/* A lookup name: "." or dot-separated non-empty segments. */
static bool valid_dotted(const char *s, size_t n)
{
    if (n == 1 && s[0] == '.')
        return true;
    if (s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 1; i < n; i++)
        if (s[i] == '.' && s[i - 1] == '.')
            return false;
    return true;
}

/* Parses "{{=open close=}}" content [a, b) into new delimiters. */
static int parse_delims(cc_t *c, size_t tag, size_t a, size_t b, const char **otag, size_t *olen,
                        const char **ctag, size_t *clen)
{
    const char *s = c->src;
    while (a < b && is_space(s[a]))
        a++;
    while (b > a && is_space(s[b - 1]))
        b--;
    size_t o0 = a;
    while (a < b && !is_space(s[a]))
        a++;
    size_t o1 = a;
    while (a < b && is_space(s[a]))
        a++;
    size_t c0 = a, c1 = b;
    bool ok = o1 > o0 && c1 > c0 && o1 - o0 <= TPL_MAX_DELIM && c1 - c0 <= TPL_MAX_DELIM &&
              memchr(s + o0, '=', o1 - o0) == NULL && memchr(s + c0, '=', c1 - c0) == NULL;
    for (size_t i = c0; ok && i < c1; i++)
        ok = !is_space(s[i]);
    if (!ok) {
        tpl_set_error(c->err, s, tag,
                      "invalid set-delimiter tag: want two delimiters without spaces or '=', "
                      "each 1 to %d bytes",
                      TPL_MAX_DELIM);
        return -1;
    }
    *otag = s + o0;
    *olen = o1 - o0;
    *ctag = s + c0;
    *clen = c1 - c0;
    return 0;
}

/* Splits the source into text and tag tokens, following set-delimiter tags. */
static int lex(cc_t *c)
{
    const char *s = c->src;
    const char *otag = "{{", *ctag = "}}";
    size_t olen = 2, clen = 2, pos = 0;
    while (pos < c->len) {
        size_t ts = find(s, pos, c->len, otag, olen);
        if (ts == NONE)
            ts = c->len;
        if (ts > pos)
            add_tok(c, T_TEXT, pos, ts);
        if (ts == c->len)
            break;
        size_t p = ts + olen;
        char sig = p < c->len ? s[p] : '\0';
        uint8_t kind = T_ESC;
        char closing = '\0'; /* sigil that must precede the closing delimiter */
        switch (sig) {
        case '!':
            kind = T_COMMENT;
            break;
        case '=':
            kind = T_DELIM;
            closing = '=';
            break;
        case '{':
            kind = T_RAW;
            closing = '}';
            break;
        case '&':
            kind = T_RAW;
            break;
        case '#':
            kind = T_SECTION;
            break;
        case '^':
            kind = T_INVERTED;
            break;
        case '/':
            kind = T_CLOSE;
            break;
        case '>':
            kind = T_PARTIAL;
            break;
        case '<':
            kind = T_PARENT;
            break;
        case '$':
            kind = T_BLOCK;
            break;
        default:
            break;
        }
        if (kind != T_ESC)
            p++;
        size_t ce =
            closing ? find_sigil_close(c, p, closing, ctag, clen) : find(s, p, c->len, ctag, clen);
        if (ce == NONE) {
            tpl_set_error(c->err, s, ts, "unclosed tag: no '%s%.*s' after '%.*s'",
                          closing == '}'   ? "}"
                          : closing == '=' ? "="
                                           : "",
                          (int)clen, ctag, (int)olen, otag);
            return -1;
        }
        size_t te = ce + (closing ? 1 : 0) + clen;
        pos = te;
        if (kind == T_COMMENT) {
            add_tok(c, kind, ts, te);
            continue;
        }
        if (kind == T_DELIM) {
            add_tok(c, kind, ts, te);
            if (parse_delims(c, ts, p, ce, &otag, &olen, &ctag, &clen) < 0)
                return -1;
            continue;
        }
        size_t a = p, b = ce;
        while (a < b && is_space(s[a]))
            a++;
        while (b > a && is_space(s[b - 1]))
            b--;
        bool dynamic = false;
        if ((kind == T_PARTIAL || kind == T_PARENT || kind == T_CLOSE) && a < b && s[a] == '*') {
            dynamic = true;
            for (a++; a < b && is_space(s[a]);)
                a++;
        }
        if (a == b) {
            tpl_set_error(c->err, s, ts, "empty tag name");
            return -1;
        }
        for (size_t i = a; i < b; i++) {
            if (is_space(s[i])) {
                tpl_set_error(c->err, s, ts, "invalid tag name '%.*s': contains whitespace",
                              name_len_for_msg(b - a), s + a);
                return -1;
            }
        }
        bool dotted =
            kind == T_ESC || kind == T_RAW || kind == T_SECTION || kind == T_INVERTED || dynamic;
        if (dotted && !valid_dotted(s + a, b - a)) {
            tpl_set_error(c->err, s, ts, "invalid tag name '%.*s': empty dotted segment",
                          name_len_for_msg(b - a), s + a);
            return -1;
        }
        tok_t *t = add_tok(c, kind, ts, te);
        t->dynamic = dynamic;
        t->name = a;
        t->name_len = b - a;
    }
    return 0;
}

static bool is_opener(uint8_t kind)
{
    return kind == T_SECTION || kind == T_INVERTED || kind == T_PARENT || kind == T_BLOCK;
}

static const char *kind_word(uint8_t kind)
{
    switch (kind) {
    case T_INVERTED:
        return "inverted section";
    case T_PARENT:
        return "parent";
    case T_BLOCK:
        return "block";
    default:
        return "section";
    }
}

/* Pairs each opener with its closing tag, bounding nesting depth. */
static int match(cc_t *c)
{
    size_t stack[HR_TPL_MAX_NESTING], depth = 0;
    for (size_t i = 0; i < c->ntoks; i++) {
        tok_t *t = &c->toks[i];
        t->up = depth ? stack[depth - 1] : NONE;
        if (is_opener(t->kind)) {
            if (depth == HR_TPL_MAX_NESTING) {
                tpl_set_error(c->err, c->src, t->start, "sections nested deeper than %d",
                              HR_TPL_MAX_NESTING);
                return -1;
            }
            stack[depth++] = i;
        } else if (t->kind == T_CLOSE) {
            if (depth == 0) {
                tpl_set_error(c->err, c->src, t->start, "closing tag '%s%.*s' without an opener",
                              t->dynamic ? "*" : "", name_len_for_msg(t->name_len),
                              c->src + t->name);
                return -1;
            }
            tok_t *o = &c->toks[stack[depth - 1]];
            if (o->dynamic != t->dynamic || o->name_len != t->name_len ||
                memcmp(c->src + o->name, c->src + t->name, t->name_len) != 0) {
                unsigned ol, oc;
                line_col(c->src, o->start, &ol, &oc);
                tpl_set_error(c->err, c->src, t->start,
                              "closing tag '%s%.*s' does not match %s '%s%.*s' opened at "
                              "line %u column %u",
                              t->dynamic ? "*" : "", name_len_for_msg(t->name_len),
                              c->src + t->name, kind_word(o->kind), o->dynamic ? "*" : "",
                              name_len_for_msg(o->name_len), c->src + o->name, ol, oc);
                return -1;
            }
            o->mate = i;
            t->mate = stack[--depth];
            t->up = depth ? stack[depth - 1] : NONE;
        }
    }
    if (depth > 0) {
        const tok_t *o = &c->toks[stack[depth - 1]];
        tpl_set_error(c->err, c->src, o->start, "unclosed %s '%s%.*s'", kind_word(o->kind),
                      o->dynamic ? "*" : "", name_len_for_msg(o->name_len), c->src + o->name);
        return -1;
    }
    return 0;
}

/* Only blanks between the line start (or the template start) and tag i. */
static bool clear_left(const cc_t *c, size_t i)
{
    if (i == 0)
        return true;
    const tok_t *p = &c->toks[i - 1];
    if (p->kind != T_TEXT)
        return false;
    size_t k = p->end;
    while (k > p->start && is_blank(c->src[k - 1]))
        k--;
    if (k > p->start)
        return c->src[k - 1] == '\n';
    return i == 1;
}

/* Only blanks between tag i and the line end (\n, \r\n or template end). */
static bool clear_right(const cc_t *c, size_t i)
{
    if (i + 1 == c->ntoks)
        return true;
    const tok_t *nx = &c->toks[i + 1];
    if (nx->kind != T_TEXT)
        return false;
    size_t k = nx->start;
    while (k < nx->end && is_blank(c->src[k]))
        k++;
    if (k == nx->end)
        return i + 2 == c->ntoks;
    if (c->src[k] == '\n')
        return true;
    return c->src[k] == '\r' && k + 1 < nx->end && c->src[k + 1] == '\n';
}

/* Drops the blanks before tag i (the text before it then ends a line). */
static void trim_before(cc_t *c, size_t i)
{
    if (i == 0 || c->toks[i - 1].kind != T_TEXT)
        return;
    tok_t *p = &c->toks[i - 1];
    while (p->end > p->start && is_blank(c->src[p->end - 1]))
        p->end--;
}

/* Drops the blanks and the line end after tag i. */
static void trim_after(cc_t *c, size_t i)
{
    if (i + 1 >= c->ntoks || c->toks[i + 1].kind != T_TEXT)
        return;
    tok_t *nx = &c->toks[i + 1];
    while (nx->start < nx->end && is_blank(c->src[nx->start]))
        nx->start++;
    if (nx->start < nx->end && c->src[nx->start] == '\r')
        nx->start++;
    if (nx->start < nx->end && c->src[nx->start] == '\n')
        nx->start++;
}

static bool is_argument(const cc_t *c, const tok_t *t)
{
    return t->kind == T_BLOCK && t->up != NONE && c->toks[t->up].kind == T_PARENT;
}

/* Standalone rules (the spec's whitespace.md): a non-interpolation tag alone
 * on its line loses the line; a parent element, and a block outside a
 * parent, whose opener starts its line and whose closer ends one, is
 * standalone as a pair; inside a parent, a block's opener at a line end
 * keeps that line end out of the argument and its closer drops the blanks
 * before it. */
static void trim_standalone(cc_t *c)
{
    for (size_t i = 0; i < c->ntoks; i++) {
        c->toks[i].cl = clear_left(c, i);
        c->toks[i].cr = clear_right(c, i);
    }
    for (size_t i = 0; i < c->ntoks; i++) {
        tok_t *t = &c->toks[i];
        const tok_t *o = t->kind == T_CLOSE ? &c->toks[t->mate] : t;
        if (o->kind == T_TEXT || o->kind == T_ESC || o->kind == T_RAW)
            continue;
        if (o->kind == T_PARENT) {
            if (t == o && t->cl && c->toks[t->mate].cr) {
                t->standalone = true;
                trim_before(c, i);
                trim_after(c, t->mate);
            }
        } else if (is_argument(c, o)) {
            if (t == o && t->cr)
                trim_after(c, i);
            else if (t != o && t->cl)
                trim_before(c, i);
        } else if (t->cl && t->cr) {
            t->standalone = true;
            trim_before(c, i);
            trim_after(c, i);
        }
    }
}

static uint32_t pool_add(cc_t *c, const char *s, size_t n)
{
    c->pool = tpl_grow(c->pool, &c->pcap, c->plen + n + 1, 1);
    uint32_t off = (uint32_t)c->plen;
    if (n > 0)
        memcpy(c->pool + c->plen, s, n);
    c->plen += n;
    return off;
}

static tpl_node_t *add_node(cc_t *c, uint8_t type)
{
    c->nodes = tpl_grow(c->nodes, &c->ncap, c->n + 1, sizeof *c->nodes);
    tpl_node_t *nd = &c->nodes[c->n++];
    memset(nd, 0, sizeof *nd);
    nd->type = type;
    nd->end = (uint32_t)c->n;
    return nd;
}

/* Stores tag t's name: dotted names as nseg NUL-terminated segments ("."
 * has none), others as one NUL-terminated string. */
static void set_name(cc_t *c, tpl_node_t *nd, const tok_t *t, bool dotted)
{
    const char *s = c->src + t->name;
    size_t n = t->name_len;
    if (t->dynamic)
        nd->flags |= NF_DYNAMIC;
    nd->str = (uint32_t)c->plen;
    if (!dotted) {
        pool_add(c, s, n);
        pool_add(c, "", 1);
        nd->len = (uint32_t)n;
        nd->nseg = 1;
        return;
    }
    if (n == 1 && s[0] == '.')
        return;
    for (size_t i = 0; i < n;) {
        const char *dot = memchr(s + i, '.', n - i);
        size_t seg = dot ? (size_t)(dot - s) - i : n - i;
        pool_add(c, s + i, seg);
        pool_add(c, "", 1);
        nd->nseg++;
        i += seg + 1;
    }
    nd->len = (uint32_t)(c->plen - nd->str);
}

/* Removes the enclosing arguments' intrinsic indentation, each in turn, from
 * the start of s (a run of blanks that begins a line). */
static span_t strip_span(const cc_t *c, span_t s)
{
    for (size_t k = 0; k < c->nstrips; k++) {
        span_t p = c->strips[k];
        if (s.len >= p.len && memcmp(c->src + s.off, c->src + p.off, p.len) == 0) {
            s.off += p.len;
            s.len -= p.len;
        }
    }
    return s;
}

/* Blanks from the line start up to off. */
static span_t leading_blanks(const cc_t *c, size_t off)
{
    size_t k = off;
    while (k > 0 && is_blank(c->src[k - 1]))
        k--;
    return (span_t){k, off - k};
}

/* Blanks starting the line after the line end that follows off. */
static span_t next_line_blanks(const cc_t *c, size_t off)
{
    const char *nl = memchr(c->src + off, '\n', c->len - off);
    if (nl == NULL)
        return (span_t){off, 0};
    size_t k = (size_t)(nl - c->src) + 1, e = k;
    while (e < c->len && is_blank(c->src[e]))
        e++;
    return (span_t){k, e - k};
}

/* Stores s (already stripped) as the node's indentation. */
static void set_indent(cc_t *c, tpl_node_t *nd, span_t s)
{
    nd->ind = pool_add(c, c->src + s.off, s.len);
    nd->ind_len = (uint32_t)s.len;
}

static void add_text(cc_t *c, size_t start, size_t end)
{
    if (start >= end)
        return;
    uint32_t off = (uint32_t)c->plen;
    if (c->nstrips == 0) {
        pool_add(c, c->src + start, end - start);
    } else {
        bool bol = start == 0 || c->src[start - 1] == '\n';
        for (size_t p = start; p < end;) {
            if (bol) {
                span_t s = {p, 0};
                while (s.off + s.len < end && is_blank(c->src[s.off + s.len]))
                    s.len++;
                p = strip_span(c, s).off;
            }
            const char *nl = memchr(c->src + p, '\n', end - p);
            size_t q = nl ? (size_t)(nl - c->src) + 1 : end;
            pool_add(c, c->src + p, q - p);
            p = q;
            bol = true;
        }
    }
    if (c->plen == off)
        return;
    tpl_node_t *nd = add_node(c, N_TEXT);
    nd->str = off;
    nd->len = (uint32_t)(c->plen - off);
}

/* Intrinsic indentation of block opener t: the blanks starting the line
 * after it, when it ends its line and is an argument or a standalone pair. */
static bool block_intrinsic(const cc_t *c, const tok_t *t, span_t *out)
{
    bool pair = t->cl && c->toks[t->mate].cr;
    if (!t->cr || !(is_argument(c, t) || pair))
        return false;
    *out = strip_span(c, next_line_blanks(c, t->end));
    return true;
}

typedef struct open_elem {
    size_t node; /* NONE when the element is ignored */
    uint8_t kind;
    size_t nstrips; /* strips to restore at its closer */
} open_elem_t;

/* Builds the node array. Inside a parent, only block arguments are kept:
 * other content is ignored, as the spec says. */
static void build(cc_t *c)
{
    open_elem_t st[HR_TPL_MAX_NESTING];
    size_t depth = 0;
    for (size_t i = 0; i < c->ntoks; i++) {
        const tok_t *t = &c->toks[i];
        if (t->kind == T_CLOSE) {
            depth--;
            c->nstrips = st[depth].nstrips;
            if (st[depth].node != NONE)
                c->nodes[st[depth].node].end = (uint32_t)c->n;
            continue;
        }
        if (depth > 0 && (st[depth - 1].node == NONE ||
                          (st[depth - 1].kind == T_PARENT && t->kind != T_BLOCK))) {
            if (is_opener(t->kind))
                st[depth++] = (open_elem_t){NONE, t->kind, c->nstrips};
            continue;
        }
        tpl_node_t *nd = NULL;
        span_t intrinsic = {0, 0};
        switch (t->kind) {
        case T_TEXT:
            add_text(c, t->start, t->end);
            break;
        case T_ESC:
        case T_RAW:
            nd = add_node(c, t->kind == T_ESC ? N_ESC : N_RAW);
            set_name(c, nd, t, true);
            break;
        case T_SECTION:
        case T_INVERTED:
            nd = add_node(c, t->kind == T_SECTION ? N_SECTION : N_INVERTED);
            set_name(c, nd, t, true);
            break;
        case T_PARTIAL:
        case T_PARENT:
            nd = add_node(c, t->kind == T_PARTIAL ? N_PARTIAL : N_PARENT);
            set_name(c, nd, t, t->dynamic);
            if (t->standalone) {
                nd->flags |= NF_STANDALONE;
                set_indent(c, nd, strip_span(c, leading_blanks(c, t->start)));
            }
            break;
        case T_BLOCK: {
            nd = add_node(c, N_BLOCK);
            set_name(c, nd, t, false);
            bool has_intrinsic = block_intrinsic(c, t, &intrinsic);
            const tok_t *close = &c->toks[t->mate];
            /* A standalone pair outside a parent re-indents its override. */
            if (!is_argument(c, t) && t->cl && close->cr) {
                nd->flags |= NF_PAIR;
                set_indent(c, nd,
                           has_intrinsic ? intrinsic : strip_span(c, leading_blanks(c, t->start)));
                if (close->standalone)
                    nd->flags |= NF_STANDALONE;
            }
            break;
        }
        default: /* comments and set-delimiter tags leave nothing */
            break;
        }
        if (is_opener(t->kind)) {
            st[depth++] = (open_elem_t){(size_t)(nd - c->nodes), t->kind, c->nstrips};
            if (intrinsic.len > 0 && is_argument(c, t))
                c->strips[c->nstrips++] = intrinsic;
        }
    }
}

hr_tpl_t *hr_tpl_compile(const char *src, size_t len, hr_tpl_error_t *err)
{
    cc_t c;
    memset(&c, 0, sizeof c);
    c.src = src != NULL ? src : "";
    c.len = src != NULL ? len : 0;
    c.err = err;
    hr_tpl_t *t = NULL;
    if (c.len > TPL_MAX_SOURCE) {
        tpl_set_error(err, NULL, 0, "template larger than %zu bytes", TPL_MAX_SOURCE);
        goto fail;
    }
    if (lex(&c) < 0 || match(&c) < 0)
        goto fail;
    trim_standalone(&c);
    build(&c);
    t = calloc(1, sizeof *t);
    TPL_CHECK(t != NULL);
    t->nodes = c.nodes;
    t->n = (uint32_t)c.n;
    t->pool = c.pool;
    free(c.toks);
    return t;
fail:
    free(c.toks);
    free(c.nodes);
    free(c.pool);
    return NULL;
}

void hr_tpl_free(hr_tpl_t *t)
{
    if (t == NULL)
        return;
    free(t->nodes);
    free(t->pool);
    free(t);
}

/* ---- rendering ------------------------------------------------------------ */

/* What happens to the "at line start" state when a frame ends. */
enum {
    EXIT_KEEP,   /* sections, block defaults: their text tracks it already */
    EXIT_BOL,    /* standalone expansion: the next text starts a source line */
    EXIT_INLINE, /* inline expansion: output, if any, left us mid-line */
};

/* One frame renders nodes [pc, end) of t. A list section repeats [body, end)
 * per element. A parent expansion also holds its arguments (args_t, node
 * args_node) as one scope of the block-override chain; chain is the
 * innermost scope visible here and scope_next the next outer one (frame
 * indices, -1 for none). */
typedef struct rframe {
    const hr_tpl_t *t;
    uint32_t pc, end, body;
    const json_t *list;
    size_t idx;
    size_t ctx_len, ind_start, ind_len, out_len; /* restored / compared at exit */
    const hr_tpl_t *args_t;
    uint32_t args_node;
    int scope_next, chain;
    unsigned depth; /* partial, parent and override expansions */
    uint8_t on_exit;
} rframe_t;

/* Partials compiled from source during this render, owned by it. */
typedef struct pcache {
    char *name;
    hr_tpl_t *t;
} pcache_t;

typedef struct rs {
    hr_tpl_partial_fn lookup;
    void *ud;
    hr_tpl_limits_t lim;
    hr_buf_t *out;
    size_t base; /* out->len when the render started */
    hr_tpl_error_t err;
    rframe_t *fr;
    size_t nfr, frcap;
    const json_t **ctx;
    size_t nctx, ctxcap;
    /* Indentation stack; ind[ind_start, nind) is prepended to each line of
     * template text. Inline expansions start an empty window above it. */
    char *ind;
    size_t ind_start, nind, indcap;
    pcache_t *cache;
    size_t ncache, cachecap;
    unsigned long steps;
    bool bol; /* at the start of a template line: indentation is due */
} rs_t;

static int rerr(rs_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rerr(rs_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err.msg, sizeof r->err.msg, fmt, ap);
    va_end(ap);
    r->err.line = r->err.col = 0;
    return -1;
}

static int spend(rs_t *r, unsigned long n)
{
    r->steps += n;
    if (r->steps > r->lim.max_steps)
        return rerr(r, "render exceeds %lu steps", r->lim.max_steps);
    return 0;
}

static int put(rs_t *r, const char *s, size_t n)
{
    hr_buf_t *b = r->out;
    if (n > r->lim.max_output - (b->len - r->base))
        return rerr(r, "output exceeds %zu bytes", r->lim.max_output);
    hr_buf_append(b, s, n);
    return 0;
}

static int put_indent(rs_t *r)
{
    r->bol = false;
    return r->nind > r->ind_start ? put(r, r->ind + r->ind_start, r->nind - r->ind_start) : 0;
}

/* Template text: indentation goes before every line that has content. */
static int emit_text(rs_t *r, const char *s, size_t n)
{
    while (n > 0) {
        bool empty_line = s[0] == '\n' || (s[0] == '\r' && n > 1 && s[1] == '\n');
        if (r->bol && !empty_line && put_indent(r) < 0)
            return -1;
        const char *nl = memchr(s, '\n', n);
        size_t k = nl ? (size_t)(nl - s) + 1 : n;
        if (put(r, s, k) < 0)
            return -1;
        r->bol = nl != NULL;
        s += k;
        n -= k;
    }
    return 0;
}

static int put_escaped(rs_t *r, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            continue;
        }
        if (put(r, s + run, i - run) < 0 || put(r, rep, strlen(rep)) < 0)
            return -1;
        run = i + 1;
    }
    return put(r, s + run, n - run);
}

/* Shortest "%g" form that reads back as the same double. */
static void format_real(double d, char *buf, size_t size)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

/* Interpolates v (NULL: missing). Data newlines never get indentation. */
static int emit_value(rs_t *r, const json_t *v, bool escape)
{
    char num[40];
    const char *s = NULL;
    size_t n = 0;
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        s = json_string_value(v);
        n = json_string_length(v);
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = num;
        n = strlen(num);
        break;
    case JSON_REAL:
        format_real(json_real_value(v), num, sizeof num);
        s = num;
        n = strlen(num);
        break;
    case JSON_TRUE:
        s = "true";
        n = 4;
        break;
    case JSON_FALSE:
        s = "false";
        n = 5;
        break;
    default: /* null, objects and arrays print nothing */
        break;
    }
    if (n == 0)
        return 0;
    if (r->bol && put_indent(r) < 0)
        return -1;
    return escape && !r->lim.no_escape ? put_escaped(r, s, n) : put(r, s, n);
}

static bool truthy(const json_t *v)
{
    if (v == NULL)
        return false;
    switch (json_typeof(v)) {
    case JSON_FALSE:
    case JSON_NULL:
        return false;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    default:
        return true;
    }
}

/* Resolves node nd's dotted name against the context stack: the first
 * segment in the innermost object that has it, the rest inside that value
 * only. *out is NULL on a miss. */
static int resolve(rs_t *r, const hr_tpl_t *t, const tpl_node_t *nd, const json_t **out)
{
    *out = NULL;
    if (nd->nseg == 0) {
        *out = r->ctx[r->nctx - 1];
        return 0;
    }
    const char *seg = t->pool + nd->str;
    const json_t *v = NULL;
    size_t i = r->nctx;
    while (i > 0 && v == NULL) {
        i--;
        if (json_is_object(r->ctx[i]))
            v = json_object_get(r->ctx[i], seg);
    }
    if (spend(r, (r->nctx - i) / 8) < 0)
        return -1;
    for (uint32_t k = 1; k < nd->nseg && v != NULL; k++) {
        seg += strlen(seg) + 1;
        v = json_is_object(v) ? json_object_get(v, seg) : NULL;
    }
    *out = v;
    return 0;
}

static void ctx_push(rs_t *r, const json_t *v)
{
    r->ctx = tpl_grow(r->ctx, &r->ctxcap, r->nctx + 1, sizeof *r->ctx);
    r->ctx[r->nctx++] = v;
}

static void ind_push(rs_t *r, const char *s, size_t n)
{
    if (n == 0)
        return;
    r->ind = tpl_grow(r->ind, &r->indcap, r->nind + n, 1);
    memcpy(r->ind + r->nind, s, n);
    r->nind += n;
}

/* Pushes a frame over t's nodes [pc, end); the caller fills in the rest.
 * Invalidates pointers into r->fr. */
static rframe_t *push_frame(rs_t *r, const hr_tpl_t *t, uint32_t pc, uint32_t end, int chain,
                            unsigned depth)
{
    r->fr = tpl_grow(r->fr, &r->frcap, r->nfr + 1, sizeof *r->fr);
    rframe_t *f = &r->fr[r->nfr++];
    memset(f, 0, sizeof *f);
    f->t = t;
    f->pc = f->body = pc;
    f->end = end;
    f->ctx_len = r->nctx;
    f->ind_start = r->ind_start;
    f->ind_len = r->nind;
    f->out_len = r->out->len;
    f->scope_next = -1;
    f->chain = chain;
    f->depth = depth;
    return f;
}

static void pop_frame(rs_t *r)
{
    const rframe_t *f = &r->fr[--r->nfr];
    r->nctx = f->ctx_len;
    r->ind_start = f->ind_start;
    r->nind = f->ind_len;
    if (f->on_exit == EXIT_BOL)
        r->bol = true;
    else if (f->on_exit == EXIT_INLINE && r->out->len != f->out_len)
        r->bol = false;
}

/* Finds the template of partial or parent `name`: from this render's cache,
 * else through the caller's lookup. *out is NULL when there is none. */
static int find_partial(rs_t *r, const char *name, const hr_tpl_t **out)
{
    *out = NULL;
    if (spend(r, r->ncache / 8) < 0)
        return -1;
    for (size_t i = 0; i < r->ncache; i++) {
        if (strcmp(r->cache[i].name, name) == 0) {
            *out = r->cache[i].t;
            return 0;
        }
    }
    if (r->lookup == NULL)
        return 0;
    hr_tpl_partial_t p = {NULL, NULL, 0};
    r->err.msg[0] = '\0';
    if (r->lookup(r->ud, name, &p, &r->err) != 0) {
        if (r->err.msg[0] == '\0')
            rerr(r, "lookup of partial '%.48s' failed", name);
        return -1;
    }
    if (p.tpl != NULL) {
        *out = p.tpl;
        return 0;
    }
    if (p.src == NULL)
        return 0;
    if (spend(r, p.len / 16) < 0) /* compiling is work too */
        return -1;
    hr_tpl_error_t e;
    hr_tpl_t *t = hr_tpl_compile(p.src, p.len, &e);
    if (t == NULL) {
        rerr(r, "partial '%.48s': %s", name, e.msg);
        r->err.line = e.line;
        r->err.col = e.col;
        return -1;
    }
    r->cache = tpl_grow(r->cache, &r->cachecap, r->ncache + 1, sizeof *r->cache);
    r->cache[r->ncache].name = strdup(name);
    TPL_CHECK(r->cache[r->ncache].name != NULL);
    r->cache[r->ncache++].t = t;
    *out = t;
    return 0;
}

/* Template named by partial or parent node nd (its dynamic name resolved in
 * the context); *out is NULL when it renders as nothing. */
static int partial_of(rs_t *r, const hr_tpl_t *t, const tpl_node_t *nd, unsigned depth,
                      const hr_tpl_t **out)
{
    *out = NULL;
    const char *name = t->pool + nd->str;
    if (nd->flags & NF_DYNAMIC) {
        const json_t *v;
        if (resolve(r, t, nd, &v) < 0)
            return -1;
        if (!json_is_string(v))
            return 0;
        name = json_string_value(v);
    }
    if (find_partial(r, name, out) < 0)
        return -1;
    if (*out != NULL && depth >= r->lim.max_depth)
        return rerr(r, "partial '%.48s' nested deeper than %u", name, r->lim.max_depth);
    return 0;
}

/* The argument overriding block `name` in the scope chain from frame index
 * chain outwards; the outermost one wins. */
static int find_override(rs_t *r, int chain, const char *name, const hr_tpl_t **ot, uint32_t *oi)
{
    *ot = NULL;
    for (int s = chain; s >= 0; s = r->fr[s].scope_next) {
        const hr_tpl_t *at = r->fr[s].args_t;
        uint32_t pn = r->fr[s].args_node;
        for (uint32_t i = pn + 1; i < at->nodes[pn].end; i = at->nodes[i].end) {
            if (spend(r, 1) < 0)
                return -1;
            if (strcmp(at->pool + at->nodes[i].str, name) == 0) {
                *ot = at;
                *oi = i;
            }
        }
    }
    return 0;
}

/* Starts expanding another template's nodes (partial, parent, override) in
 * frame nf, for node nd. An indented expansion adds nd's indentation to the
 * current one. An inline one belongs to the current line only: that line
 * gets its indentation now, and the expansion's own lines get none. */
static int enter_expansion(rs_t *r, rframe_t *nf, const hr_tpl_t *t, const tpl_node_t *nd,
                           bool indented)
{
    nf->on_exit = (nd->flags & NF_STANDALONE) ? EXIT_BOL : EXIT_INLINE;
    if (indented) {
        ind_push(r, t->pool + nd->ind, nd->ind_len);
        return 0;
    }
    if (r->bol && put_indent(r) < 0)
        return -1;
    r->ind_start = r->nind;
    return 0;
}

/* Renders one node of the top frame. */
static int step(rs_t *r)
{
    rframe_t *f = &r->fr[r->nfr - 1];
    const hr_tpl_t *t = f->t;
    uint32_t at = f->pc;
    const tpl_node_t *nd = &t->nodes[at];
    int chain = f->chain;
    unsigned depth = f->depth;
    f->pc = nd->end; /* past the children; f is not used after a push */
    const json_t *v;
    const hr_tpl_t *pt;
    rframe_t *nf;
    switch (nd->type) {
    case N_TEXT:
        return emit_text(r, t->pool + nd->str, nd->len);
    case N_ESC:
    case N_RAW:
        if (resolve(r, t, nd, &v) < 0)
            return -1;
        return emit_value(r, v, nd->type == N_ESC);
    case N_SECTION:
        if (resolve(r, t, nd, &v) < 0)
            return -1;
        if (!truthy(v))
            return 0;
        nf = push_frame(r, t, at + 1, nd->end, chain, depth);
        if (json_is_array(v)) {
            nf->list = v;
            v = json_array_get(v, 0);
        }
        ctx_push(r, v);
        return 0;
    case N_INVERTED:
        if (resolve(r, t, nd, &v) < 0)
            return -1;
        if (!truthy(v))
            push_frame(r, t, at + 1, nd->end, chain, depth);
        return 0;
    case N_PARTIAL:
    case N_PARENT:
        if (partial_of(r, t, nd, depth, &pt) < 0)
            return -1;
        if (pt == NULL)
            return 0;
        nf = push_frame(r, pt, 0, pt->n, chain, depth + 1);
        if (nd->type == N_PARENT) {
            nf->args_t = t;
            nf->args_node = at;
            nf->scope_next = chain;
            nf->chain = (int)(r->nfr - 1);
        }
        return enter_expansion(r, nf, t, nd, (nd->flags & NF_STANDALONE) != 0);
    case N_BLOCK: {
        uint32_t oi = 0;
        if (find_override(r, chain, t->pool + nd->str, &pt, &oi) < 0)
            return -1;
        if (pt == NULL) {
            push_frame(r, t, at + 1, nd->end, chain, depth);
            return 0;
        }
        if (depth >= r->lim.max_depth)
            return rerr(r, "block '%.48s' nested deeper than %u", t->pool + nd->str,
                        r->lim.max_depth);
        nf = push_frame(r, pt, oi + 1, pt->nodes[oi].end, chain, depth + 1);
        return enter_expansion(r, nf, t, nd, (nd->flags & NF_PAIR) != 0);
    }
    default:
        tpl_panic(__FILE__, __LINE__, "unknown node type");
    }
}

static int run(rs_t *r)
{
    while (r->nfr > 0) {
        rframe_t *f = &r->fr[r->nfr - 1];
        if (f->pc < f->end) {
            if (spend(r, 1) < 0 || step(r) < 0)
                return -1;
        } else if (f->list != NULL && f->idx + 1 < json_array_size(f->list)) {
            if (spend(r, 1) < 0)
                return -1;
            f->idx++;
            f->pc = f->body;
            r->nctx = f->ctx_len;
            ctx_push(r, json_array_get(f->list, f->idx));
        } else {
            pop_frame(r);
        }
    }
    return 0;
}

int hr_tpl_render_ex(const hr_tpl_t *t, const json_t *data, hr_tpl_partial_fn lookup, void *ud,
                     const hr_tpl_limits_t *limits, hr_buf_t *out, hr_tpl_error_t *err)
{
    rs_t r;
    memset(&r, 0, sizeof r);
    int rc = -1;
    if (t == NULL || out == NULL) {
        rerr(&r, "no template or no output buffer");
        goto done;
    }
    r.lookup = lookup;
    r.ud = ud;
    if (limits != NULL)
        r.lim = *limits;
    if (r.lim.max_depth == 0)
        r.lim.max_depth = HR_TPL_DEFAULT_MAX_DEPTH;
    if (r.lim.max_output == 0)
        r.lim.max_output = HR_TPL_DEFAULT_MAX_OUTPUT;
    if (r.lim.max_steps == 0)
        r.lim.max_steps = HR_TPL_DEFAULT_MAX_STEPS;
    r.out = out;
    r.base = out->len;
    hr_buf_append(out, "", 0); /* the output is a string even when nothing renders */
    r.bol = true;
    ctx_push(&r, data != NULL ? data : json_null());
    push_frame(&r, t, 0, t->n, -1, 0);
    rc = run(&r);
done:
    for (size_t i = 0; i < r.ncache; i++) {
        free(r.cache[i].name);
        hr_tpl_free(r.cache[i].t);
    }
    free(r.cache);
    free(r.fr);
    free(r.ctx);
    free(r.ind);
    if (rc < 0 && err != NULL)
        *err = r.err;
    return rc;
}

int hr_tpl_render(const hr_tpl_t *t, const json_t *data, hr_tpl_partial_fn lookup, void *ud,
                  hr_buf_t *out, hr_tpl_error_t *err)
{
    return hr_tpl_render_ex(t, data, lookup, ud, NULL, out, err);
}
