/* event: ids, framing and the per-connection queue. */
#include "event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "log.h"

static int id_num(const char *s, const char **end, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    char *e = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (errno != 0 || e - s > 20)
        return -1;
    *out = v;
    *end = e;
    return 0;
}

int hr_rt_id_parse(const char *s, hr_rt_id_t *out)
{
    const char *e = NULL;
    hr_rt_id_t id = {0, 0};
    if (s == NULL || id_num(s, &e, &id.ms) != 0)
        return -1;
    if (*e == '-') {
        if (id_num(e + 1, &e, &id.seq) != 0)
            return -1;
    }
    if (*e != '\0')
        return -1;
    *out = id;
    return 0;
}

int hr_rt_id_cmp(hr_rt_id_t a, hr_rt_id_t b)
{
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq)
        return a.seq < b.seq ? -1 : 1;
    return 0;
}

/* Decimal digits of v at out (no terminator); returns how many. */
static size_t id_digits(uint64_t v, char *out)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* Every event is framed with its id: formatted by hand, as snprintf's
 * format parsing cost more than the framing itself. */
void hr_rt_id_format(hr_rt_id_t id, char *out, size_t len)
{
    char buf[42];
    size_t n = id_digits(id.ms, buf);
    buf[n++] = '-';
    n += id_digits(id.seq, buf + n);
    if (len == 0)
        return;
    if (n >= len)
        n = len - 1;
    memcpy(out, buf, n);
    out[n] = '\0';
}

hr_rt_msg_t *hr_rt_msg_new(const char *id, const char *payload, size_t len, size_t pre)
{
    while (len > 0 && (payload[len - 1] == '\n' || payload[len - 1] == ' '))
        len--;
    if (len < 2 || payload[0] != '{' || payload[len - 1] != '}' || memchr(payload, '\n', len))
        return NULL;
    hr_rt_id_t pid = {0, 0};
    if (id != NULL && hr_rt_id_parse(id, &pid) != 0)
        return NULL;
    char idtext[48] = "";
    if (id != NULL)
        hr_rt_id_format(pid, idtext, sizeof idtext);
    size_t idlen = strlen(idtext);
    /* WebSocket text: {"id":"<id>", + the payload after its '{' (or the
     * payload itself when there is no id). */
    bool empty = len == 2;
    size_t ws_len = id != NULL ? 8 + idlen + (empty ? 0 : 1) + (len - 1) : len;
    /* SSE: [id: <id>\n]data: <payload>\n\n */
    size_t sse_len = (id != NULL ? 5 + idlen : 0) + 6 + len + 2;
    hr_rt_msg_t *m = malloc(sizeof *m + pre + ws_len + 1 + pre + sse_len + 1);
    hr_assert(m != NULL);
    m->refs = 1;
    m->flags = 0;
    m->id = pid;
    m->ws = m->mem + pre;
    m->ws_len = ws_len;
    m->sse = m->ws + ws_len + 1 + pre;
    m->sse_len = sse_len;
    char *w = (char *)m->ws;
    if (id != NULL) {
        memcpy(w, "{\"id\":\"", 7);
        memcpy(w + 7, idtext, idlen);
        w += 7 + idlen;
        *w++ = '"';
        if (!empty)
            *w++ = ',';
        memcpy(w, payload + 1, len - 1);
        w += len - 1;
    } else {
        memcpy(w, payload, len);
        w += len;
    }
    *w = '\0';
    char *s = (char *)m->sse;
    if (id != NULL) {
        memcpy(s, "id: ", 4);
        memcpy(s + 4, idtext, idlen);
        s[4 + idlen] = '\n';
        s += 5 + idlen;
    }
    memcpy(s, "data: ", 6);
    s += 6;
    memcpy(s, payload, len);
    s += len;
    memcpy(s, "\n\n", 3);
    hr_assert((size_t)(w - (char *)m->ws) == ws_len);
    hr_assert((size_t)(s + 2 - (char *)m->sse) == sse_len);
    return m;
}

hr_rt_msg_t *hr_rt_msg_json(const char *id, const json_t *event, size_t pre)
{
    char *text = hr_json_dump(event);
    hr_rt_msg_t *m = hr_rt_msg_new(id, text, strlen(text), pre);
    free(text);
    return m;
}

void hr_rt_msg_ref(hr_rt_msg_t *m)
{
    m->refs++;
}

void hr_rt_msg_unref(hr_rt_msg_t *m)
{
    if (m != NULL && --m->refs == 0)
        free(m);
}

int hr_rt_queue_push(hr_rt_queue_t *q, hr_rt_msg_t *m, unsigned max)
{
    if (max > 0 && q->len >= max)
        return -1;
    hr_rt_qnode_t *n = malloc(sizeof *n);
    hr_assert(n != NULL);
    n->next = NULL;
    n->msg = m;
    hr_rt_msg_ref(m);
    if (q->tail != NULL)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    q->len++;
    return 0;
}

hr_rt_msg_t *hr_rt_queue_peek(const hr_rt_queue_t *q)
{
    return q->head != NULL ? q->head->msg : NULL;
}

void hr_rt_queue_pop(hr_rt_queue_t *q)
{
    hr_rt_qnode_t *n = q->head;
    if (n == NULL)
        return;
    q->head = n->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->len--;
    hr_rt_msg_unref(n->msg);
    free(n);
}

void hr_rt_queue_clear(hr_rt_queue_t *q)
{
    while (q->head != NULL)
        hr_rt_queue_pop(q);
}

/* The text right after pat ("\"key\":") in payload, or NULL. The payloads
 * are rtpub's compact jansson output, whose top-level keys come first. */
static const char *peek_key(const char *payload, const char *pat)
{
    const char *p = strstr(payload, pat);
    return p != NULL ? p + strlen(pat) : NULL;
}

void hr_rt_payload_peek(const char *payload, char *type, size_t typelen, long *unread)
{
    type[0] = '\0';
    *unread = -1;
    const char *t = peek_key(payload, "\"type\":");
    if (t != NULL && *t == '"') {
        size_t n = strcspn(t + 1, "\"\\");
        if (n < typelen) {
            memcpy(type, t + 1, n);
            type[n] = '\0';
        }
    }
    const char *u = peek_key(payload, "\"unread_count\":");
    if (u != NULL && *u >= '0' && *u <= '9')
        *unread = strtol(u, NULL, 10);
}
