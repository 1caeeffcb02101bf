/* render: template selection (locale fallback, per-part fallback to the
 * built-in branded layout), the variables templates see, and rendering. */
#include "render.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "jsonutil.h"
#include "log.h"
#include "tplstore.h"

/* Largest output of one part; a template that exceeds it fails to render. */
#define RENDER_MAX_OUTPUT ((size_t)1 << 20)
#define RENDER_MAX_PART 100000 /* bytes of template source per part */

enum { P_SUBJECT, P_HTML, P_TEXT, P_TITLE, P_BODY, P_ACTION_URL, P_COUNT };

static const char *const part_names[P_COUNT] = {"subject", "html", "text",
                                                "title",   "body", "action_url"};

/* The parts each channel's template may define. */
static bool part_allowed(hr_channel_t ch, int part)
{
    switch (ch) {
    case HR_CHANNEL_EMAIL:
        return part == P_SUBJECT || part == P_HTML || part == P_TEXT;
    case HR_CHANNEL_SMS:
    case HR_CHANNEL_WHATSAPP:
        return part == P_TEXT;
    case HR_CHANNEL_TELEGRAM:
    case HR_CHANNEL_DISCORD:
    case HR_CHANNEL_SLACK:
        return part == P_TEXT || part == P_TITLE || part == P_BODY;
    case HR_CHANNEL_IN_APP:
        return part == P_TITLE || part == P_BODY || part == P_ACTION_URL;
    case HR_CHANNEL_WEBHOOK:
        return part == P_TITLE || part == P_BODY;
    default:
        return false;
    }
}

/* ---- the built-in layout -------------------------------------------------- */

#define EMOJI_PREFIX "{{#category.emoji}}{{category.emoji}} {{/category.emoji}}"

/* The branded email layout; templates reach it as the parent "layout" and
 * override its blocks "content" and "footer". */
static const char layout_src[] =
    "<!doctype html><html><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width\"><title>{{title}}</title></head>"
    "<body style=\"margin:0;padding:0;background:#f4f4f5;font-family:Helvetica,Arial,sans-serif;"
    "color:#222\"><table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\">"
    "<tr><td align=\"center\" style=\"padding:24px\"><table role=\"presentation\" width=\"600\" "
    "cellpadding=\"0\" cellspacing=\"0\" style=\"max-width:600px;background:#ffffff;"
    "border-top:4px solid {{brand.primary_color}}\"><tr><td style=\"padding:24px\">"
    "{{#brand.logo_url}}<img src=\"{{brand.logo_url}}\" alt=\"{{brand.company_name}}\" "
    "style=\"max-height:40px;margin-bottom:16px\"><br>{{/brand.logo_url}}"
    "{{^brand.logo_url}}{{#brand.company_name}}<div style=\"font-weight:bold;font-size:16px;"
    "color:{{brand.primary_color}};margin-bottom:16px\">{{brand.company_name}}</div>"
    "{{/brand.company_name}}{{/brand.logo_url}}"
    "{{$content}}{{/content}}</td></tr>"
    "<tr><td style=\"padding:16px 24px;border-top:1px solid #eeeeee;font-size:12px;"
    "color:#71717a\">{{$footer}}{{#brand.footer_text}}<p style=\"margin:0 0 8px;"
    "white-space:pre-line\">{{brand.footer_text}}</p>{{/brand.footer_text}}"
    "{{#brand.support_email}}<p style=\"margin:0\">Questions? <a href=\"mailto:"
    "{{brand.support_email}}\" style=\"color:{{brand.primary_color}}\">{{brand.support_email}}"
    "</a></p>{{/brand.support_email}}{{/footer}}</td></tr></table></td></tr></table>"
    "</body></html>\n";

static const char email_html_src[] =
    "{{<layout}}{{$content}}<h1 style=\"margin:0 0 16px;font-size:20px\">{{title}}</h1>"
    "{{#body}}<p style=\"margin:0 0 16px;white-space:pre-line\">{{body}}</p>{{/body}}"
    "{{#has_fields}}<table style=\"border-collapse:collapse;margin:0 0 16px\">{{#field_list}}"
    "<tr><th style=\"text-align:left;padding:4px 12px 4px 0\">{{name}}</th>"
    "<td style=\"padding:4px 0\">{{value}}</td></tr>{{/field_list}}</table>{{/has_fields}}"
    "{{#has_data}}<table style=\"border-collapse:collapse\">{{#data_list}}"
    "<tr><th style=\"text-align:left;padding:4px 12px 4px 0\">{{name}}</th>"
    "<td style=\"padding:4px 0\">{{value}}</td></tr>{{/data_list}}</table>{{/has_data}}"
    "{{/content}}{{/layout}}";

static const char email_text_src[] =
    "{{title}}\n\n{{#body}}{{body}}\n{{/body}}"
    "{{#has_fields}}\n{{#field_list}}{{name}}: {{value}}\n{{/field_list}}{{/has_fields}}"
    "{{#has_data}}\n{{#data_list}}{{name}}: {{value}}\n{{/data_list}}{{/has_data}}"
    "{{#brand.footer_text}}\n--\n{{brand.footer_text}}\n{{/brand.footer_text}}"
    "{{#brand.support_email}}{{^brand.footer_text}}\n--\n{{/brand.footer_text}}"
    "{{brand.support_email}}\n{{/brand.support_email}}";

/* The built-in source of a part of a channel. */
static const char *builtin_src(hr_channel_t ch, int part)
{
    bool chat = ch == HR_CHANNEL_TELEGRAM || ch == HR_CHANNEL_DISCORD || ch == HR_CHANNEL_SLACK;
    switch (part) {
    case P_SUBJECT:
        return "{{title}}";
    case P_HTML:
        return ch == HR_CHANNEL_EMAIL ? email_html_src : "";
    case P_TEXT:
        if (ch == HR_CHANNEL_EMAIL)
            return email_text_src;
        if (chat)
            return EMOJI_PREFIX "{{title}}{{#body}}\n{{body}}{{/body}}"
                                "{{#field_list}}\n{{name}}: {{value}}{{/field_list}}";
        return "{{title}}{{#body}}\n{{body}}{{/body}}";
    case P_TITLE:
        return chat ? EMOJI_PREFIX "{{title}}" : "{{title}}";
    case P_BODY:
        return "{{body}}";
    case P_ACTION_URL:
        return ch == HR_CHANNEL_IN_APP ? "{{data.action_url}}" : "";
    default:
        return "";
    }
}

/* Built-in templates compiled once per process: [channel][part], plus the layout. */
static hr_tpl_t *builtin_tpls[HR_CHANNEL_COUNT][P_COUNT];
static hr_tpl_t *builtin_layout;
static bool builtin_atexit;

static void builtin_free(void)
{
    for (int c = 0; c < HR_CHANNEL_COUNT; c++)
        for (int p = 0; p < P_COUNT; p++) {
            hr_tpl_free(builtin_tpls[c][p]);
            builtin_tpls[c][p] = NULL;
        }
    hr_tpl_free(builtin_layout);
    builtin_layout = NULL;
}

static const hr_tpl_t *builtin_compiled(hr_tpl_t **slot, const char *src)
{
    if (!builtin_atexit) {
        atexit(builtin_free);
        builtin_atexit = true;
    }
    if (*slot == NULL) {
        hr_tpl_error_t e;
        *slot = hr_tpl_compile(src, strlen(src), &e);
        hr_assert(*slot != NULL); /* built-in templates always compile */
    }
    return *slot;
}

/* Partials and parents templates may use: the built-in layout. */
static int render_lookup(void *ud, const char *name, hr_tpl_partial_t *out, hr_tpl_error_t *err)
{
    (void)ud;
    (void)err;
    if (strcmp(name, "layout") == 0)
        out->tpl = builtin_compiled(&builtin_layout, layout_src);
    return 0;
}

/* ---- variables ------------------------------------------------------------ */

/* A value as display text: strings as they are, null as nothing, the rest as JSON. */
static json_t *display_value(const json_t *v)
{
    if (json_is_string(v))
        return json_incref((json_t *)v);
    if (v == NULL || json_is_null(v))
        return json_string("");
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    hr_assert(s != NULL);
    json_t *out = json_string(s);
    free(s);
    return out;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* [{"name","value"}] of an object's members, sorted by name: the order is
 * the same whether the object came from a request (preview) or from
 * PostgreSQL's jsonb (the worker), which reorders keys. */
static json_t *name_value_list(const json_t *obj)
{
    json_t *list = json_array();
    size_t n = json_object_size(obj), i = 0;
    if (n == 0)
        return list;
    const char **keys = malloc(n * sizeof *keys);
    hr_assert(keys != NULL);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) keys[i++] = k;
    qsort(keys, n, sizeof *keys, cmp_names);
    for (i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:s, s:o}", "name", keys[i], "value",
                                              display_value(json_object_get(obj, keys[i]))));
    free(keys);
    return list;
}

static void set_text(json_t *ctx, const char *key, const char *s)
{
    if (s != NULL && s[0] != '\0')
        json_object_set_new(ctx, key, json_string(s));
}

json_t *hr_render_context(const hr_render_in_t *in, const json_t *brand, const json_t *category,
                          const char *locale)
{
    json_t *ctx = json_object();
    hr_assert(ctx != NULL);
    const json_t *data = json_is_object(in->data) ? in->data : NULL;
    /* data members are variables too ({{order}} as well as {{data.order}});
     * the names below win over them. */
    if (data != NULL)
        json_object_update(ctx, (json_t *)data);
    set_text(ctx, "title", in->title);
    set_text(ctx, "body", in->body);
    set_text(ctx, "type", in->type);
    set_text(ctx, "channel", hr_channel_name(in->channel));
    set_text(ctx, "locale", locale);
    json_object_set_new(ctx, "data", data ? json_deep_copy(data) : json_object());
    json_object_set_new(ctx, "data_list", name_value_list(data));
    json_object_set_new(ctx, "has_data", json_boolean(data != NULL && json_object_size(data) > 0));
    const json_t *fields = json_object_get(in->event, "fields");
    if (!json_is_object(fields))
        fields = NULL;
    json_object_set_new(ctx, "fields", fields ? json_deep_copy(fields) : json_object());
    json_object_set_new(ctx, "field_list", name_value_list(fields));
    json_object_set_new(ctx, "has_fields",
                        json_boolean(fields != NULL && json_object_size(fields) > 0));
    set_text(ctx, "description", hr_json_str(in->event, "description"));
    json_object_set_new(ctx, "user",
                        json_is_object(in->user) ? json_deep_copy(in->user) : json_object());
    json_object_set_new(ctx, "brand", brand ? json_deep_copy(brand) : json_object());
    if (category != NULL)
        json_object_set_new(ctx, "category", json_deep_copy(category));
    return ctx;
}

/* ---- locales -------------------------------------------------------------- */

bool hr_render_locale_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 35)
        return false;
    size_t piece = 0;
    bool first = true;
    for (const char *p = s;; p++) {
        if (*p == '-' || *p == '\0') {
            if (piece == 0 || (first && (piece < 2 || piece > 3)) || piece > 8)
                return false;
            if (*p == '\0')
                return true;
            piece = 0;
            first = false;
            continue;
        }
        if (!isalnum((unsigned char)*p) || (first && !isalpha((unsigned char)*p)))
            return false;
        piece++;
    }
}

static bool chain_has(char out[][36], size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(out[i], s) == 0)
            return true;
    return false;
}

size_t hr_render_locale_chain(const char *user_locale, const char *default_locale, char out[][36],
                              size_t max)
{
    size_t n = 0;
    char tmp[36];
    if (user_locale != NULL && hr_render_locale_valid(user_locale)) {
        snprintf(tmp, sizeof tmp, "%s", user_locale);
        for (;;) {
            if (n < max && !chain_has(out, n, tmp))
                snprintf(out[n++], 36, "%s", tmp);
            char *dash = strrchr(tmp, '-');
            if (dash == NULL)
                break;
            *dash = '\0';
        }
    }
    if (default_locale != NULL && default_locale[0] != '\0' && n < max &&
        !chain_has(out, n, default_locale))
        snprintf(out[n++], 36, "%s", default_locale);
    if (n < max)
        out[n++][0] = '\0';
    return n;
}

/* The member of obj named key, compared without case; *name is its own key. */
static json_t *get_nocase(const json_t *obj, const char *key, const char **name)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) if (strcasecmp(k, key) == 0)
    {
        *name = k;
        return v;
    }
    return NULL;
}

/* The variant of content for channel ch along the locale chain; its locale
 * key goes to *locale ("" for the locale-less one). */
static const json_t *find_variant(const json_t *content, hr_channel_t ch, char chain[][36],
                                  size_t nchain, char *locale, size_t llen, char *path, size_t plen)
{
    const char *name = hr_channel_name(ch);
    for (size_t i = 0; i < nchain; i++) {
        const char *key = "";
        const json_t *set = chain[i][0] == '\0'
                                ? json_object_get(content, "channels")
                                : get_nocase(json_object_get(content, "locales"), chain[i], &key);
        const json_t *v = json_object_get(set, name);
        if (json_is_object(v)) {
            snprintf(locale, llen, "%.35s", key);
            if (chain[i][0] == '\0')
                snprintf(path, plen, "channels.%s", name);
            else
                snprintf(path, plen, "locales.%.35s.%.12s", key, name);
            return v;
        }
    }
    locale[0] = '\0';
    path[0] = '\0';
    return NULL;
}

/* ---- rendering ------------------------------------------------------------ */

void hr_rendered_free(hr_rendered_t *r)
{
    free(r->subject);
    free(r->html);
    free(r->text);
    free(r->title);
    free(r->body);
    free(r->action_url);
    free(r->emoji);
    free(r->color);
    json_decref(r->fields);
    memset(r, 0, sizeof *r);
}

void hr_rendered_title_body(const hr_rendered_t *r, hr_channel_t ch, const char **title,
                            const char **body)
{
    switch (ch) {
    case HR_CHANNEL_EMAIL:
        *title = r->subject;
        *body = r->text;
        break;
    case HR_CHANNEL_SMS:
    case HR_CHANNEL_WHATSAPP:
        *title = r->title;
        *body = r->text;
        break;
    default:
        *title = r->title;
        *body = r->body;
        break;
    }
}

static char **rendered_slot(hr_rendered_t *r, int part)
{
    switch (part) {
    case P_SUBJECT:
        return &r->subject;
    case P_HTML:
        return &r->html;
    case P_TEXT:
        return &r->text;
    case P_TITLE:
        return &r->title;
    case P_BODY:
        return &r->body;
    default:
        return &r->action_url;
    }
}

static char *dup_or_empty(const char *s)
{
    char *d = strdup(s ? s : "");
    hr_assert(d != NULL);
    return d;
}

/* Renders one part into *slot. */
static int render_part(const hr_tpl_t *t, const json_t *ctx, bool html, char **slot,
                       hr_tpl_error_t *terr)
{
    hr_tpl_limits_t lim = {.max_output = RENDER_MAX_OUTPUT, .no_escape = !html};
    hr_buf_t b = HR_BUF_INIT;
    if (hr_tpl_render_ex(t, ctx, render_lookup, NULL, &lim, &b, terr) != 0) {
        hr_buf_free(&b);
        return -1;
    }
    *slot = hr_buf_steal(&b);
    return 0;
}

/* hr_render with the built-in layout only when builtin_only. */
static int render_impl(hr_db_t *db, const hr_render_in_t *in, bool builtin_only, hr_rendered_t *out,
                       hr_render_error_t *err)
{
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    long long cv = in->content_version;
    if (cv < 0 && hr_tplstore_version(db, in->environment_id, &cv, err->msg, sizeof err->msg) != 0)
        return -1;
    hr_tplstore_env_t *env = hr_tplstore_env(db, in->environment_id, cv, err->msg, sizeof err->msg);
    if (env == NULL)
        return -1;
    hr_tplstore_type_t *type =
        hr_tplstore_type(db, env, in->type ? in->type : "", err->msg, sizeof err->msg);
    if (type == NULL)
        return -1;
    const json_t *content = in->draft != NULL ? in->draft : type->content;
    int version = in->draft != NULL ? in->draft_version : type->version;
    char chain[6][36], locale[36], path[64];
    path[0] = '\0';
    size_t nchain =
        hr_render_locale_chain(hr_json_str(in->user, "locale"), env->default_locale, chain, 6);
    const json_t *variant = NULL;
    if (!builtin_only && content != NULL)
        variant = find_variant(content, in->channel, chain, nchain, locale, sizeof locale, path,
                               sizeof path);
    if (variant == NULL)
        locale[0] = '\0';
    json_t *ctx = hr_render_context(in, env->brand, type->category, locale[0] ? locale : chain[0]);
    int rc = 0;
    for (int p = 0; p < P_COUNT && rc == 0; p++) {
        const char *src = hr_json_str(variant, part_names[p]);
        const hr_tpl_t *t;
        hr_tpl_t *own = NULL;
        if (src != NULL && part_allowed(in->channel, p)) {
            snprintf(err->part, sizeof err->part, "%.63s.%.12s", path, part_names[p]);
            if (in->draft != NULL)
                t = own = hr_tpl_compile(src, strlen(src), &err->tpl);
            else {
                char name[128];
                snprintf(name, sizeof name, "%.35s/%.12s/%.12s", locale,
                         hr_channel_name(in->channel), part_names[p]);
                t = hr_tplstore_part(type, name, src, &err->tpl);
            }
        } else {
            snprintf(err->part, sizeof err->part, "builtin.%s.%s", hr_channel_name(in->channel),
                     part_names[p]);
            t = builtin_compiled(&builtin_tpls[in->channel][p], builtin_src(in->channel, p));
        }
        if (p == P_TEXT)
            out->own_text = src != NULL && part_allowed(in->channel, p);
        if (t == NULL || render_part(t, ctx, p == P_HTML, rendered_slot(out, p), &err->tpl) != 0) {
            err->template_error = true;
            snprintf(err->msg, sizeof err->msg, "%s: %s", err->part, err->tpl.msg);
            rc = -1;
        }
        hr_tpl_free(own);
    }
    json_decref(ctx);
    if (rc != 0)
        return -1;
    err->part[0] = '\0';
    out->version = variant != NULL ? version : 0;
    snprintf(out->locale, sizeof out->locale, "%s", locale);
    out->emoji = dup_or_empty(hr_json_str(type->category, "emoji"));
    out->color = dup_or_empty(hr_json_str(type->category, "color"));
    out->fields = name_value_list(json_object_get(in->event, "fields"));
    return 0;
}

int hr_render(hr_db_t *db, const hr_render_in_t *in, hr_rendered_t *out, hr_render_error_t *err)
{
    if (in->channel >= HR_CHANNEL_COUNT) {
        memset(out, 0, sizeof *out);
        snprintf(err->msg, sizeof err->msg, "unknown channel");
        return -1;
    }
    return render_impl(db, in, false, out, err);
}

static const char *const message_sql =
    "SELECT " HR_RENDER_STORED_COLUMNS " FROM notifications n" HR_RENDER_STORED_JOIN
    " WHERE n.id = $1 AND n.environment_id = $2";

int hr_render_for_channel(hr_db_t *db, const char *environment_id, const char *notification_id,
                          hr_channel_t ch, const char *type, const char *title, const char *body,
                          const json_t *data, hr_rendered_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *p[2] = {notification_id, environment_id};
    PGresult *res = hr_db_exec_prepared(db, "herald_render_message", message_sql, 2, p, err, errlen);
    if (res == NULL)
        return -1;
    bool found = PQntuples(res) == 1;
    int rc = hr_render_stored(db, environment_id, notification_id, ch, type, title, body, data,
                              found ? PQgetvalue(res, 0, 0) : "", found ? PQgetvalue(res, 0, 1) : "",
                              found ? atoll(PQgetvalue(res, 0, 2)) : -1, out, err, errlen);
    PQclear(res);
    return rc;
}

int hr_render_stored(hr_db_t *db, const char *environment_id, const char *notification_id,
                     hr_channel_t ch, const char *type, const char *title, const char *body,
                     const json_t *data, const char *recipient, const char *event,
                     long long content_version, hr_rendered_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_t *user = recipient[0] ? json_loads(recipient, 0, NULL) : NULL;
    json_t *ev = event[0] ? json_loads(event, 0, NULL) : NULL;
    hr_render_in_t in = {
        .environment_id = environment_id,
        .channel = ch,
        .type = type,
        .title = title,
        .body = body,
        .data = data,
        .user = user,
        .event = ev,
        .content_version = content_version,
    };
    hr_render_error_t rerr;
    int rc = hr_render(db, &in, out, &rerr);
    if (rc != 0 && rerr.template_error) {
        /* A published template that fails at render time (a limit): the
         * message still goes out, in the built-in layout. */
        hr_log_json(HR_LOG_WARN, NULL, "template failed to render; built-in layout used",
                    json_pack("{s:s, s:s, s:s, s:s}", "notification_id", notification_id, "type",
                              type ? type : "", "part", rerr.part, "error", rerr.msg));
        hr_rendered_free(out);
        rc = render_impl(db, &in, true, out, &rerr);
    }
    if (rc != 0)
        snprintf(err, errlen, "render: %s", rerr.msg);
    json_decref(user);
    json_decref(ev);
    return rc;
}

/* ---- checking stored content ---------------------------------------------- */

static int check_fail(hr_render_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int check_fail(hr_render_error_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* Checks {CHANNEL: {PART: "source"}} at path. */
static int check_channels(const json_t *set, const char *path, hr_render_error_t *err)
{
    if (!json_is_object(set)) {
        snprintf(err->part, sizeof err->part, "%s", path);
        return check_fail(err, "%s must be an object of channel names", path);
    }
    const char *cname;
    json_t *variant;
    json_object_foreach((json_t *)set, cname, variant)
    {
        hr_channel_t ch;
        snprintf(err->part, sizeof err->part, "%s.%.40s", path, cname);
        if (hr_channel_parse(cname, &ch) != 0)
            return check_fail(err,
                              "%s is not a channel (email, sms, telegram, discord, "
                              "whatsapp, slack, webhook, in_app)",
                              err->part);
        if (!json_is_object(variant))
            return check_fail(err, "%s must be an object of template parts", err->part);
        const char *pname;
        json_t *src;
        json_object_foreach(variant, pname, src)
        {
            int p = 0;
            while (p < P_COUNT && strcmp(part_names[p], pname) != 0)
                p++;
            snprintf(err->part, sizeof err->part, "%s.%.40s.%.20s", path, cname, pname);
            if (p == P_COUNT || !part_allowed(ch, p))
                return check_fail(err, "%s is not a part of a %s template", err->part, cname);
            if (!json_is_string(src))
                return check_fail(err, "%s must be a string", err->part);
            size_t len = json_string_length(src);
            if (len > RENDER_MAX_PART)
                return check_fail(err, "%s must be at most %d bytes", err->part, RENDER_MAX_PART);
            hr_tpl_t *t = hr_tpl_compile(json_string_value(src), len, &err->tpl);
            if (t == NULL) {
                err->template_error = true;
                return check_fail(err, "%s does not parse at line %u, column %u: %s", err->part,
                                  err->tpl.line, err->tpl.col, err->tpl.msg);
            }
            hr_tpl_free(t);
        }
    }
    return 0;
}

int hr_render_check_content(const json_t *content, hr_render_error_t *err)
{
    memset(err, 0, sizeof *err);
    if (!json_is_object(content))
        return check_fail(err, "the template must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)content, key, v)
    {
        if (strcmp(key, "channels") == 0) {
            if (check_channels(v, "channels", err) != 0)
                return -1;
        } else if (strcmp(key, "locales") == 0) {
            if (!json_is_object(v)) {
                snprintf(err->part, sizeof err->part, "locales");
                return check_fail(err, "locales must be an object of locale tags");
            }
            const char *loc;
            json_t *set;
            json_object_foreach(v, loc, set)
            {
                char path[64];
                snprintf(path, sizeof path, "locales.%.40s", loc);
                if (!hr_render_locale_valid(loc)) {
                    snprintf(err->part, sizeof err->part, "%s", path);
                    return check_fail(err, "%s is not a locale tag such as en, fr or pt-BR", path);
                }
                if (check_channels(set, path, err) != 0)
                    return -1;
            }
        } else if (strcmp(key, "sample") == 0) {
            if (!json_is_object(v)) {
                snprintf(err->part, sizeof err->part, "sample");
                return check_fail(err, "sample must be an object");
            }
        } else {
            snprintf(err->part, sizeof err->part, "%.80s", key);
            return check_fail(err, "%.80s is not a known field (channels, locales, sample)", key);
        }
    }
    if (json_object_get(content, "channels") == NULL &&
        json_object_get(content, "locales") == NULL) {
        snprintf(err->part, sizeof err->part, "channels");
        return check_fail(err, "channels is required (or locales)");
    }
    return 0;
}
