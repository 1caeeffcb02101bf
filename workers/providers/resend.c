/* resend: email through an HTTP email API in the style of Resend — POST
 * {base}/emails with a bearer key and {"from","to":[…],"subject","html",
 * "text","reply_to"?,"headers"?}; the answer's "id" is the message id.
 * Errors: {"statusCode","name","message"} (422 validation_error, 429
 * rate_limit_exceeded, …). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "log.h"
#include "mime.h"
#include "provider.h"

static int resend_prepare(hr_job_t *job, hr_send_result_t *res)
{
    const hr_message_t *m = &job->msg;
    const char *key = hr_integration_cred(job->integ, "api_key", NULL);
    if (key == NULL) {
        hr_provider_fail(res, HR_SEND_PERMANENT, "not_configured: the integration has no api_key");
        return -1;
    }
    char base[512], url[1024];
    hr_http_base(job, "https://api.resend.com", base, sizeof base);
    snprintf(url, sizeof url, "%s/emails", base);
    char *text = hr_mime_text(m), *html = hr_mime_html(m);
    json_t *doc = json_pack("{s:s, s:[s], s:s, s:s, s:s}", "from",
                            hr_integration_setting(job->integ, "from", job->cfg->email_from), "to",
                            m->address, "subject", m->title, "html", html, "text", text);
    free(text);
    free(html);
    hr_assert(doc != NULL);
    const char *reply = hr_integration_setting(job->integ, "reply_to", NULL);
    if (reply != NULL)
        json_object_set_new(doc, "reply_to", json_string(reply));
    const char *unsub = hr_mime_unsubscribe(m, hr_integration_setting(job->integ, "list_unsubscribe", NULL));
    if (unsub != NULL) {
        char *v = NULL;
        if (asprintf(&v, "<%s>", unsub) < 0)
            v = NULL;
        hr_assert(v != NULL);
        json_object_set_new(doc, "headers", json_pack("{s:s}", "List-Unsubscribe", v));
        free(v);
    }
    hr_http_begin(job, "POST", url, hr_json_dump(doc), "application/json");
    json_decref(doc);
    hr_http_header(job, "Authorization: Bearer %s", key);
    /* A retried send must not become a second email. */
    hr_http_header(job, "Idempotency-Key: %s", m->delivery_id);
    snprintf(job->gate_key, sizeof job->gate_key, "resend:%.200s/%.12s", base, key);
    job->rate_per_s = hr_integration_setting_int(job->integ, "rate_per_s",
                                                 job->cfg->providers_rate_resend);
    return 0;
}

static int resend_finish(hr_job_t *job, CURLcode rc, long status, hr_send_result_t *res)
{
    json_t *doc = hr_http_finish_json(job, rc, status, res);
    if (doc == NULL)
        return 0;
    if (res->outcome == HR_SEND_OK) {
        hr_http_message_id(res, hr_json_str(doc, "id"));
    } else {
        const char *name = hr_json_str(doc, "name"), *msg = hr_json_str(doc, "message");
        /* A 409 concurrent_idempotent_requests: a retry met its first request
         * (same Idempotency-Key) still in progress, and Resend asks to try
         * again later. It says nothing about Resend's health. */
        bool later = name != NULL && strcmp(name, "concurrent_idempotent_requests") == 0;
        if (later)
            res->breaker_neutral = true;
        hr_provider_fail(res, later ? HR_SEND_TRANSIENT : res->outcome, "resend_%s: %.400s",
                         name ? name : "error", msg ? msg : res->excerpt);
    }
    json_decref(doc);
    return 0;
}

const hr_provider_ops_t hr_provider_resend = {
    .name = "resend", .prepare = resend_prepare, .finish = resend_finish};
