/* slack: Block Kit message (header with the title, a mrkdwn section with the
 * body, a fields section with the data) to an incoming webhook URL (the
 * user's address; answers "ok" or an error word) or through chat.postMessage
 * with the integration's bot token (answers {"ok","ts","channel"} or
 * {"ok":false,"error"} with HTTP 200). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "log.h"
#include "provider.h"

/* Slack's mrkdwn needs only &, < and > escaped. */
static char *slack_escape(const char *s)
{
    hr_buf_t b = HR_BUF_INIT;
    hr_buf_puts(&b, "");
    for (; *s; s++) {
        switch (*s) {
        case '&': hr_buf_puts(&b, "&amp;"); break;
        case '<': hr_buf_puts(&b, "&lt;"); break;
        case '>': hr_buf_puts(&b, "&gt;"); break;
        default: hr_buf_append(&b, s, 1);
        }
    }
    return hr_buf_steal(&b);
}

static void slack_section(json_t *blocks, const char *text)
{
    char *t = slack_escape(text);
    json_array_append_new(blocks, json_pack("{s:s, s:{s:s, s:s%}}", "type", "section", "text", "type",
                                            "mrkdwn", "text", t, hr_provider_utf8_cut(t, 3000)));
    free(t);
}

/* The tenant's whole chat text as one section when its template has one;
 * else a header with the title, the body, then the event fields and data. */
static json_t *slack_blocks(const hr_message_t *m)
{
    json_t *blocks = json_array();
    const char *own = hr_provider_template_text(m);
    if (own != NULL) {
        slack_section(blocks, own);
        return blocks;
    }
    json_array_append_new(blocks, json_pack("{s:s, s:{s:s, s:s%, s:b}}", "type", "header", "text",
                                            "type", "plain_text", "text", m->title,
                                            hr_provider_utf8_cut(m->title, 150), "emoji", 1));
    if (m->body[0])
        slack_section(blocks, m->body);
    json_t *pairs = hr_provider_fields(m, 10);
    if (json_array_size(pairs) > 0) {
        json_t *fields = json_array();
        size_t i;
        json_t *p;
        json_array_foreach(pairs, i, p) {
            char *k = slack_escape(hr_json_str(p, "name")), *val = slack_escape(hr_json_str(p, "value"));
            char *f = NULL;
            if (asprintf(&f, "*%s*\n%s", k, val) < 0)
                f = NULL;
            hr_assert(f != NULL);
            json_array_append_new(fields, json_pack("{s:s, s:s}", "type", "mrkdwn", "text", f));
            free(f);
            free(k);
            free(val);
        }
        json_array_append_new(blocks, json_pack("{s:s, s:o}", "type", "section", "fields", fields));
    }
    json_decref(pairs);
    return blocks;
}

static int slack_prepare(hr_job_t *job, hr_send_result_t *res)
{
    const hr_message_t *m = &job->msg;
    const char *addr = m->address;
    const char *own = hr_provider_template_text(m);
    json_t *doc = json_pack("{s:s, s:o}", "text", own != NULL ? own : m->title, "blocks",
                            slack_blocks(m));
    hr_assert(doc != NULL);
    job->rate_per_s = hr_integration_setting_int(job->integ, "rate_per_s",
                                                 job->cfg->providers_rate_slack);
    if (strncmp(addr, "https://", 8) == 0 || strncmp(addr, "http://", 7) == 0) {
        hr_http_begin(job, "POST", addr, hr_json_dump(doc), "application/json");
        json_decref(doc);
        job->step = 0;
        snprintf(job->gate_key, sizeof job->gate_key, "slack:%.240s", addr);
        return 0;
    }
    const char *token = hr_integration_cred(job->integ, "bot_token", NULL);
    if (token == NULL) {
        json_decref(doc);
        hr_provider_fail(res, HR_SEND_PERMANENT, "not_configured: the integration has no bot_token");
        return -1;
    }
    json_object_set_new(doc, "channel", json_string(addr));
    char base[512], url[1024];
    hr_http_base(job, "https://slack.com/api", base, sizeof base);
    snprintf(url, sizeof url, "%s/chat.postMessage", base);
    hr_http_begin(job, "POST", url, hr_json_dump(doc), "application/json; charset=utf-8");
    json_decref(doc);
    hr_http_header(job, "Authorization: Bearer %s", token);
    job->step = 1;
    snprintf(job->gate_key, sizeof job->gate_key, "slack:%.200s/%.16s", base, token);
    return 0;
}

static int slack_finish(hr_job_t *job, CURLcode rc, long status, hr_send_result_t *res)
{
    if (job->step == 0) {
        /* Incoming webhooks answer plain text: "ok", or an error word. */
        hr_http_classify(job, rc, status, res);
        if (rc != CURLE_OK || job->guard.blocked)
            return 0;
        if (res->outcome == HR_SEND_OK)
            snprintf(res->provider_message_id, sizeof res->provider_message_id, "webhook:%s",
                     job->msg.delivery_id);
        else
            hr_provider_fail(res, res->outcome, "slack_%ld: %.300s", status, res->excerpt);
        return 0;
    }
    json_t *doc = hr_http_finish_json(job, rc, status, res);
    if (doc == NULL)
        return 0;
    if (res->outcome == HR_SEND_OK && json_is_true(json_object_get(doc, "ok"))) {
        snprintf(res->provider_message_id, sizeof res->provider_message_id, "%s:%s",
                 hr_json_str(doc, "channel") ? hr_json_str(doc, "channel") : job->msg.address,
                 hr_json_str(doc, "ts") ? hr_json_str(doc, "ts") : "");
    } else {
        const char *e = hr_json_str(doc, "error");
        bool rate = e != NULL && strcmp(e, "ratelimited") == 0;
        bool server = e != NULL && (strcmp(e, "internal_error") == 0 ||
                                    strcmp(e, "service_unavailable") == 0 ||
                                    strcmp(e, "request_timeout") == 0);
        hr_send_outcome_t o = rate || server ? HR_SEND_TRANSIENT
                              : res->outcome == HR_SEND_OK ? HR_SEND_PERMANENT : res->outcome;
        hr_provider_fail(res, o, "slack_%s: HTTP %ld", e ? e : "error", status);
    }
    json_decref(doc);
    return 0;
}

const hr_provider_ops_t hr_provider_slack = {
    .name = "slack", .prepare = slack_prepare, .finish = slack_finish};
