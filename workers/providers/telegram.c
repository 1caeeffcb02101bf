/* telegram: Bot API sendMessage with parse_mode HTML. The title is bold,
 * the body follows, data members are "<b>key</b>: value" lines; every text
 * is escaped for Telegram's HTML (&, <, >). Errors: {"ok":false,
 * "error_code","description","parameters":{"retry_after"}}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "log.h"
#include "provider.h"

static void tg_escape(hr_buf_t *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': hr_buf_puts(b, "&amp;"); break;
        case '<': hr_buf_puts(b, "&lt;"); break;
        case '>': hr_buf_puts(b, "&gt;"); break;
        case '"': hr_buf_puts(b, "&quot;"); break;
        default: hr_buf_append(b, s, 1);
        }
    }
}

/* The tenant's chat text when its template has one (escaped: it is text,
 * not markup); else the title in bold, the body, then the fields. */
static char *tg_text(const hr_message_t *m)
{
    hr_buf_t b = HR_BUF_INIT;
    const char *own = hr_provider_template_text(m);
    if (own != NULL) {
        hr_buf_puts(&b, "");
        tg_escape(&b, own);
        return hr_buf_steal(&b);
    }
    hr_buf_puts(&b, "<b>");
    tg_escape(&b, m->title);
    hr_buf_puts(&b, "</b>");
    if (m->body[0]) {
        hr_buf_puts(&b, "\n");
        tg_escape(&b, m->body);
    }
    json_t *fields = hr_provider_fields(m, 50);
    if (json_array_size(fields) > 0)
        hr_buf_puts(&b, "\n");
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) {
        hr_buf_puts(&b, "\n<b>");
        tg_escape(&b, hr_json_str(f, "name"));
        hr_buf_puts(&b, "</b>: ");
        tg_escape(&b, hr_json_str(f, "value"));
    }
    json_decref(fields);
    return hr_buf_steal(&b);
}

static int tg_prepare(hr_job_t *job, hr_send_result_t *res)
{
    const char *token = hr_integration_cred(job->integ, "bot_token", NULL);
    if (token == NULL) {
        hr_provider_fail(res, HR_SEND_PERMANENT, "not_configured: the integration has no bot_token");
        return -1;
    }
    char base[512], url[1024];
    hr_http_base(job, "https://api.telegram.org", base, sizeof base);
    snprintf(url, sizeof url, "%s/bot%s/sendMessage", base, token);
    char *text = tg_text(&job->msg);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:b}", "chat_id", job->msg.address, "text", text,
                            "parse_mode", "HTML", "disable_web_page_preview", 1);
    free(text);
    hr_assert(doc != NULL);
    hr_http_begin(job, "POST", url, hr_json_dump(doc), "application/json");
    json_decref(doc);
    /* Telegram's limits are per bot: the bot id is the token's first part. */
    snprintf(job->gate_key, sizeof job->gate_key, "telegram:%.200s/bot%.*s", base,
             (int)strcspn(token, ":"), token);
    job->rate_per_s = hr_integration_setting_int(job->integ, "rate_per_s",
                                                 job->cfg->providers_rate_telegram);
    return 0;
}

static int tg_finish(hr_job_t *job, CURLcode rc, long status, hr_send_result_t *res)
{
    json_t *doc = hr_http_finish_json(job, rc, status, res);
    if (doc == NULL)
        return 0;
    if (res->outcome == HR_SEND_OK && json_is_true(json_object_get(doc, "ok"))) {
        const json_t *r = json_object_get(doc, "result");
        json_int_t mid = json_integer_value(json_object_get(r, "message_id"));
        snprintf(res->provider_message_id, sizeof res->provider_message_id, "%s:%lld",
                 job->msg.address, (long long)mid);
    } else {
        json_int_t code = json_integer_value(json_object_get(doc, "error_code"));
        const char *desc = hr_json_str(doc, "description");
        const json_t *ra = json_object_get(json_object_get(doc, "parameters"), "retry_after");
        if (json_is_integer(ra))
            res->retry_after_ms = (long)json_integer_value(ra) * 1000;
        hr_send_outcome_t o = res->outcome == HR_SEND_OK ? HR_SEND_PERMANENT : res->outcome;
        hr_provider_fail(res, o, "telegram_%lld: %.400s", (long long)(code ? code : status),
                         desc ? desc : "error without description");
    }
    json_decref(doc);
    return 0;
}

const hr_provider_ops_t hr_provider_telegram = {
    .name = "telegram", .prepare = tg_prepare, .finish = tg_finish};
