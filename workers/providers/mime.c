/* mime: notification email text. Non-ASCII headers are RFC 2047 encoded,
 * bodies are base64 so any UTF-8 survives any SMTP server. */
#include "mime.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "render.h"

static bool is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80 || *s == '\r' || *s == '\n')
            return false;
    return true;
}

/* Base64 of n bytes of s, lines of at most 76 characters. */
static void put_base64(hr_buf_t *b, const char *s, size_t n, bool wrap)
{
    size_t outlen = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *enc = malloc(outlen);
    hr_assert(enc != NULL);
    sodium_bin2base64(enc, outlen, (const unsigned char *)s, n, sodium_base64_VARIANT_ORIGINAL);
    size_t len = strlen(enc);
    for (size_t i = 0; i < len; i += 76) {
        size_t chunk = len - i < 76 ? len - i : 76;
        hr_buf_append(b, enc + i, chunk);
        if (wrap)
            hr_buf_puts(b, "\r\n");
    }
    free(enc);
}

/* A header value, as is when plain ASCII, else as RFC 2047 encoded words of
 * whole UTF-8 characters (at most 45 bytes each, so lines stay short). */
static void put_header_text(hr_buf_t *b, const char *s)
{
    if (is_ascii(s)) {
        hr_buf_puts(b, s);
        return;
    }
    size_t n = strlen(s), i = 0;
    bool first = true;
    while (i < n) {
        size_t chunk = n - i < 45 ? n - i : 45;
        while (i + chunk < n && ((unsigned char)s[i + chunk] & 0xc0) == 0x80)
            chunk--; /* never split a character */
        if (!first)
            hr_buf_puts(b, "\r\n ");
        hr_buf_puts(b, "=?UTF-8?B?");
        /* newlines have no place in a header: encoded as spaces */
        char tmp[64];
        memcpy(tmp, s + i, chunk);
        for (size_t k = 0; k < chunk; k++)
            if (tmp[k] == '\r' || tmp[k] == '\n')
                tmp[k] = ' ';
        put_base64(b, tmp, chunk, false);
        hr_buf_puts(b, "?=");
        i += chunk;
        first = false;
    }
}

static void put_html_escaped(hr_buf_t *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': hr_buf_puts(b, "&amp;"); break;
        case '<': hr_buf_puts(b, "&lt;"); break;
        case '>': hr_buf_puts(b, "&gt;"); break;
        case '"': hr_buf_puts(b, "&quot;"); break;
        case '\'': hr_buf_puts(b, "&#39;"); break;
        case '\n': hr_buf_puts(b, "<br>"); break;
        default: hr_buf_append(b, s, 1);
        }
    }
}

/* A data value as display text: strings as they are, the rest as JSON. */
static char *data_text(const json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

char *hr_mime_text(const hr_message_t *m)
{
    hr_buf_t b = HR_BUF_INIT;
    hr_buf_printf(&b, "%s\n\n", m->title);
    if (m->body[0])
        hr_buf_printf(&b, "%s\n", m->body);
    const char *key;
    json_t *v;
    if (json_object_size(m->data) > 0)
        hr_buf_puts(&b, "\n");
    json_object_foreach((json_t *)m->data, key, v) {
        char *t = data_text(v);
        hr_buf_printf(&b, "%s: %s\n", key, t ? t : "");
        free(t);
    }
    return hr_buf_steal(&b);
}

char *hr_mime_html(const hr_message_t *m)
{
    hr_buf_t b = HR_BUF_INIT;
    hr_buf_puts(&b, "<!doctype html><html><head><meta charset=\"utf-8\"><title>");
    put_html_escaped(&b, m->title);
    hr_buf_puts(&b, "</title></head><body style=\"font-family:sans-serif;color:#222\">"
                    "<h1 style=\"font-size:20px\">");
    put_html_escaped(&b, m->title);
    hr_buf_puts(&b, "</h1>");
    if (m->body[0]) {
        hr_buf_puts(&b, "<p>");
        put_html_escaped(&b, m->body);
        hr_buf_puts(&b, "</p>");
    }
    if (json_object_size(m->data) > 0) {
        hr_buf_puts(&b, "<table style=\"border-collapse:collapse\">");
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)m->data, key, v) {
            char *t = data_text(v);
            hr_buf_puts(&b, "<tr><th style=\"text-align:left;padding-right:12px\">");
            put_html_escaped(&b, key);
            hr_buf_puts(&b, "</th><td>");
            put_html_escaped(&b, t ? t : "");
            hr_buf_puts(&b, "</td></tr>");
            free(t);
        }
        hr_buf_puts(&b, "</table>");
    }
    hr_buf_puts(&b, "</body></html>\n");
    return hr_buf_steal(&b);
}

void hr_mime_address(const char *from, char *out, size_t len)
{
    const char *lt = strrchr(from, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (lt != NULL && gt != NULL)
        snprintf(out, len, "%.*s", (int)(gt - lt - 1), lt + 1);
    else
        snprintf(out, len, "%s", from);
}

/* "Name <addr>" with the name encoded when it is not plain ASCII. */
static void put_mailbox(hr_buf_t *b, const char *from)
{
    const char *lt = strrchr(from, '<');
    if (lt == NULL || lt == from) {
        hr_buf_puts(b, from);
        return;
    }
    size_t nlen = (size_t)(lt - from);
    while (nlen > 0 && from[nlen - 1] == ' ')
        nlen--;
    char *name = strndup(from, nlen);
    hr_assert(name != NULL);
    put_header_text(b, name);
    free(name);
    hr_buf_puts(b, " ");
    hr_buf_puts(b, lt);
}

const char *hr_mime_unsubscribe(const hr_message_t *m, const char *def)
{
    const json_t *u = json_object_get(m->data, "unsubscribe_url");
    if (json_is_string(u) && json_string_length(u) > 0)
        return json_string_value(u);
    return def != NULL && def[0] != '\0' ? def : NULL;
}

char *hr_mime_email(const hr_message_t *m, const char *from, char *msgid, size_t msgid_len)
{
    hr_mime_opts_t o = {from, NULL, hr_mime_unsubscribe(m, NULL)};
    return hr_mime_email_opts(m, &o, msgid, msgid_len);
}

/* A header value must not carry line breaks (header injection). */
static bool header_safe(const char *s)
{
    return s != NULL && s[0] != '\0' && strpbrk(s, "\r\n") == NULL;
}

char *hr_mime_email_opts(const hr_message_t *m, const hr_mime_opts_t *o, char *msgid,
                         size_t msgid_len)
{
    const char *from = o->from;
    char addr[256], date[64], boundary[64];
    hr_mime_address(from, addr, sizeof addr);
    const char *domain = strchr(addr, '@');
    snprintf(msgid, msgid_len, "<%s@%s>", m->delivery_id, domain ? domain + 1 : "herald.local");
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    snprintf(boundary, sizeof boundary, "=_herald_%.32s", m->delivery_id);

    /* The worker's rendering (template or built-in branded layout, see
     * lib/render.h) when it has one; else the plain layout above. */
    const hr_rendered_t *rd = m->rendered;
    char *text = rd != NULL && rd->text != NULL ? strdup(rd->text) : hr_mime_text(m);
    char *html = rd != NULL && rd->html != NULL && rd->html[0] ? strdup(rd->html) : hr_mime_html(m);
    hr_assert(text != NULL && html != NULL);
    hr_buf_t b = HR_BUF_INIT;
    hr_buf_puts(&b, "From: ");
    put_mailbox(&b, from);
    if (header_safe(o->reply_to)) {
        hr_buf_puts(&b, "\r\nReply-To: ");
        put_mailbox(&b, o->reply_to);
    }
    if (header_safe(o->list_unsubscribe)) {
        hr_buf_printf(&b, "\r\nList-Unsubscribe: <%s>", o->list_unsubscribe);
        if (strncmp(o->list_unsubscribe, "https:", 6) == 0)
            hr_buf_puts(&b, "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click");
    }
    hr_buf_printf(&b, "\r\nTo: %s\r\nSubject: ", m->address);
    put_header_text(&b, m->title);
    hr_buf_printf(&b,
                  "\r\nDate: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"
                  "X-Herald-Notification-Id: %s\r\nX-Herald-Delivery-Id: %s\r\n"
                  "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n"
                  "This is a multi-part message in MIME format.\r\n"
                  "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: base64\r\n\r\n",
                  date, msgid, m->notification_id, m->delivery_id, boundary, boundary);
    put_base64(&b, text, strlen(text), true);
    hr_buf_printf(&b,
                  "--%s\r\nContent-Type: text/html; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: base64\r\n\r\n",
                  boundary);
    put_base64(&b, html, strlen(html), true);
    hr_buf_printf(&b, "--%s--\r\n", boundary);
    free(text);
    free(html);
    return hr_buf_steal(&b);
}
