/* twilio: SMS through Twilio's Messages API — a form POST to
 * /2010-04-01/Accounts/{AccountSid}/Messages.json with basic auth (account
 * SID, auth token); From is the integration's number (or MessagingServiceSid).
 * Long texts are left to Twilio's segmentation; the answer's num_segments is
 * kept in the excerpt. Errors: {"code","message","more_info","status"}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "log.h"
#include "notification.h"
#include "provider.h"
#include "render.h"

static void form_add(hr_buf_t *b, CURL *c, const char *k, const char *v)
{
    char *e = curl_easy_escape(c, v, 0);
    hr_assert(e != NULL);
    hr_buf_printf(b, "%s%s=%s", b->len ? "&" : "", k, e);
    curl_free(e);
}

static int twilio_prepare(hr_job_t *job, hr_send_result_t *res)
{
    const char *sid = hr_integration_cred(job->integ, "account_sid", NULL);
    const char *token = hr_integration_cred(job->integ, "auth_token", NULL);
    const char *from = hr_integration_setting(job->integ, "from", NULL);
    const char *svc = hr_integration_setting(job->integ, "messaging_service_sid", NULL);
    if (sid == NULL || token == NULL || (from == NULL && svc == NULL)) {
        hr_provider_fail(res, HR_SEND_PERMANENT,
                         "not_configured: the integration needs account_sid, auth_token and from");
        return -1;
    }
    if (!hr_valid_e164(job->msg.address)) {
        hr_provider_fail(res, HR_SEND_PERMANENT, "invalid_address: %.100s is not E.164", job->msg.address);
        return -1;
    }
    char base[512], url[1024];
    hr_http_base(job, "https://api.twilio.com", base, sizeof base);
    char *esid = curl_easy_escape(job->easy, sid, 0);
    snprintf(url, sizeof url, "%s/2010-04-01/Accounts/%s/Messages.json", base, esid);
    curl_free(esid);
    hr_buf_t form = HR_BUF_INIT;
    hr_buf_t text = HR_BUF_INIT;
    /* The rendered text is the whole message (template or built-in layout). */
    const hr_rendered_t *rd = job->msg.rendered;
    if (rd != NULL && rd->text != NULL && rd->text[0] != '\0') {
        hr_buf_puts(&text, rd->text);
    } else {
        hr_buf_puts(&text, job->msg.title);
        if (job->msg.body[0])
            hr_buf_printf(&text, "\n%s", job->msg.body);
    }
    form_add(&form, job->easy, "To", job->msg.address);
    if (svc != NULL)
        form_add(&form, job->easy, "MessagingServiceSid", svc);
    else
        form_add(&form, job->easy, "From", from);
    form_add(&form, job->easy, "Body", text.data);
    hr_buf_free(&text);
    /* Delivery receipts: Twilio posts status changes to the integration's
     * hook (fcgi-api/handlers/hooks.c) when Herald knows its public URL. */
    const char *pub = job->cfg->api_public_url;
    size_t publen = strlen(pub);
    while (publen > 0 && pub[publen - 1] == '/')
        publen--;
    if (publen > 0 && job->integ->hook_secret[0] != '\0') {
        char cb[HR_CFG_STRLEN + 160];
        snprintf(cb, sizeof cb, "%.*s/v1/hooks/twilio/%s", (int)publen, pub, job->integ->hook_secret);
        form_add(&form, job->easy, "StatusCallback", cb);
    }
    hr_http_begin(job, "POST", url, hr_buf_steal(&form), "application/x-www-form-urlencoded");
    curl_easy_setopt(job->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(job->easy, CURLOPT_USERNAME, sid);
    curl_easy_setopt(job->easy, CURLOPT_PASSWORD, token);
    snprintf(job->gate_key, sizeof job->gate_key, "twilio:%.200s/%.40s", base, sid);
    job->rate_per_s = hr_integration_setting_int(job->integ, "rate_per_s",
                                                 job->cfg->providers_rate_twilio);
    return 0;
}

static int twilio_finish(hr_job_t *job, CURLcode rc, long status, hr_send_result_t *res)
{
    json_t *doc = hr_http_finish_json(job, rc, status, res);
    if (doc == NULL)
        return 0;
    if (res->outcome == HR_SEND_OK) {
        hr_http_message_id(res, hr_json_str(doc, "sid"));
    } else {
        long long code = (long long)json_integer_value(json_object_get(doc, "code"));
        /* Twilio's code says more than its status: 20429 (too many requests)
         * and 21611 (the sender's queue is full, answered with a 400) clear
         * by themselves; 20500 and 20503 are Twilio's own failures. */
        bool later = code == 20429 || code == 21611 || code == 20500 || code == 20503;
        const char *msg = hr_json_str(doc, "message");
        hr_provider_fail(res, later ? HR_SEND_TRANSIENT : res->outcome, "twilio_%lld: %.400s", code,
                         msg ? msg : res->excerpt);
    }
    json_decref(doc);
    return 0;
}

const hr_provider_ops_t hr_provider_twilio = {
    .name = "twilio", .prepare = twilio_prepare, .finish = twilio_finish};
