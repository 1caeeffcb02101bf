/* sink: the embedded default provider. With no provider configured, email
 * goes to a Maildir (<sink>/email/Maildir/new/ as .eml files) and every other channel
 * to one JSON line per message in <sink>/<channel>.jsonl. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonutil.h"
#include "log.h"
#include "mime.h"
#include "provider.h"

typedef struct sink_state {
    const hr_config_t *cfg;
    hr_channel_t channel;
} sink_state_t;

static int mkdirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int sink_open(void **state, const hr_config_t *cfg, hr_channel_t ch, char *err,
                     size_t errlen)
{
    sink_state_t *s = calloc(1, sizeof *s);
    hr_assert(s != NULL);
    s->cfg = cfg;
    s->channel = ch;
    *state = s;
    return 0;
}

/* Maildir delivery: write under tmp/, then rename into new/ (atomic). */
static void sink_email(sink_state_t *s, const hr_message_t *m, hr_send_result_t *res)
{
    char dir[700], tmp[900], dst[900];
    snprintf(dir, sizeof dir, "%s/email/Maildir", s->cfg->sink_dir);
    char sub[760];
    for (int i = 0; i < 3; i++) {
        static const char *const subs[] = {"tmp", "new", "cur"};
        snprintf(sub, sizeof sub, "%s/%s", dir, subs[i]);
        if (mkdirs(sub) != 0) {
            res->outcome = HR_SEND_TRANSIENT;
            snprintf(res->error, sizeof res->error, "sink: mkdir %.300s: %.100s", sub, strerror(errno));
            return;
        }
    }
    char *msg = hr_mime_email(m, s->cfg->email_from, res->provider_message_id,
                              sizeof res->provider_message_id);
    snprintf(tmp, sizeof tmp, "%s/tmp/%s.%d.eml", dir, m->delivery_id, m->attempt);
    snprintf(dst, sizeof dst, "%s/new/%s.%d.eml", dir, m->delivery_id, m->attempt);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int ok = fd >= 0 && write_all(fd, msg, strlen(msg)) == 0 && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (ok && m->handover != NULL && m->handover(m->handover_ctx) != 0) {
        unlink(tmp);
        res->outcome = HR_SEND_TRANSIENT;
        snprintf(res->error, sizeof res->error, "sink: handover not recorded");
    } else if (!ok || rename(tmp, dst) != 0) {
        res->outcome = HR_SEND_TRANSIENT;
        snprintf(res->error, sizeof res->error, "sink: %.300s: %.100s", tmp, strerror(errno));
    } else {
        res->outcome = HR_SEND_OK;
    }
    free(msg);
}

static void sink_line(sink_state_t *s, const hr_message_t *m, hr_send_result_t *res)
{
    char path[900];
    if (mkdirs(s->cfg->sink_dir) != 0) {
        res->outcome = HR_SEND_TRANSIENT;
        snprintf(res->error, sizeof res->error, "sink: mkdir %.300s: %.100s", s->cfg->sink_dir,
                 strerror(errno));
        return;
    }
    snprintf(path, sizeof path, "%s/%s.jsonl", s->cfg->sink_dir, hr_channel_name(m->channel));
    json_t *line = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:i}", "delivery_id",
                             m->delivery_id, "notification_id", m->notification_id, "channel",
                             hr_channel_name(m->channel), "to", m->address, "type", m->type,
                             "title", m->title, "body", m->body, "data", m->data, "attempt",
                             m->attempt);
    hr_assert(line != NULL);
    char *text = hr_json_dump(line);
    json_decref(line);
    size_t n = strlen(text);
    char *withnl = realloc(text, n + 2);
    hr_assert(withnl != NULL);
    withnl[n] = '\n';
    withnl[n + 1] = '\0';
    /* O_APPEND and a single write keep concurrent writers' lines whole. */
    /* The line is complete only with its newline: that last byte waits for
     * the handover. */
    if (m->handover != NULL && m->handover(m->handover_ctx) != 0) {
        res->outcome = HR_SEND_TRANSIENT;
        snprintf(res->error, sizeof res->error, "sink: handover not recorded");
        free(withnl);
        return;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int ok = fd >= 0 && write_all(fd, withnl, n + 1) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (!ok) {
        res->outcome = HR_SEND_TRANSIENT;
        snprintf(res->error, sizeof res->error, "sink: %.300s: %.100s", path, strerror(errno));
    } else {
        res->outcome = HR_SEND_OK;
        snprintf(res->provider_message_id, sizeof res->provider_message_id, "sink:%s",
                 m->delivery_id);
    }
    free(withnl);
}

static void sink_send(void *state, const hr_message_t *m, hr_send_result_t *res)
{
    sink_state_t *s = state;
    if (m->channel == HR_CHANNEL_EMAIL)
        sink_email(s, m, res);
    else
        sink_line(s, m, res);
}

static void sink_close(void *state)
{
    free(state);
}

const hr_provider_ops_t hr_provider_sink = {"sink", sink_open, sink_send, sink_close};
