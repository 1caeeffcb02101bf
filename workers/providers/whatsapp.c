/* whatsapp: WhatsApp Business Cloud API — POST {base}/{phone_number_id}/messages
 * with a bearer token. A plain text message by default; an approved template
 * when the notification's data has "whatsapp_template": {"name", "language",
 * "parameters": [...]} (body parameters). Errors: {"error":{"message","type",
 * "code","error_subcode","fbtrace_id"}}; throttling codes are transient. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "log.h"
#include "provider.h"
#include "render.h"

static json_t *wa_message(const hr_message_t *m)
{
    const char *to = m->address[0] == '+' ? m->address + 1 : m->address;
    const json_t *tpl = json_object_get(m->data, "whatsapp_template");
    if (json_is_object(tpl) && hr_json_str(tpl, "name") != NULL) {
        json_t *params = json_array();
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(tpl, "parameters"), i, p) {
            char *t = hr_provider_data_text(p);
            json_array_append_new(params, json_pack("{s:s, s:s}", "type", "text", "text", t));
            free(t);
        }
        const char *lang = hr_json_str(tpl, "language");
        json_t *t = json_pack("{s:s, s:{s:s}}", "name", hr_json_str(tpl, "name"), "language", "code",
                              lang ? lang : "en_US");
        if (json_array_size(params) > 0)
            json_object_set_new(t, "components",
                                json_pack("[{s:s, s:o}]", "type", "body", "parameters", params));
        else
            json_decref(params);
        return json_pack("{s:s, s:s, s:s, s:o}", "messaging_product", "whatsapp", "to", to, "type",
                         "template", "template", t);
    }
    hr_buf_t b = HR_BUF_INIT;
    const hr_rendered_t *rd = m->rendered;
    if (rd != NULL && rd->text != NULL && rd->text[0] != '\0') {
        hr_buf_puts(&b, rd->text); /* the whole message, as rendered */
    } else {
        hr_buf_printf(&b, "*%s*", m->title);
        if (m->body[0])
            hr_buf_printf(&b, "\n%s", m->body);
    }
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:b}}", "messaging_product", "whatsapp",
                            "recipient_type", "individual", "to", to, "type", "text", "text", "body",
                            b.data, "preview_url", 0);
    hr_buf_free(&b);
    return doc;
}

static int wa_prepare(hr_job_t *job, hr_send_result_t *res)
{
    const char *token = hr_integration_cred(job->integ, "access_token", NULL);
    const char *pnid = hr_integration_setting(job->integ, "phone_number_id", NULL);
    if (token == NULL || pnid == NULL) {
        hr_provider_fail(res, HR_SEND_PERMANENT,
                         "not_configured: the integration needs access_token and phone_number_id");
        return -1;
    }
    char base[512], url[1024];
    hr_http_base(job, "https://graph.facebook.com/v19.0", base, sizeof base);
    snprintf(url, sizeof url, "%s/%s/messages", base, pnid);
    json_t *doc = wa_message(&job->msg);
    hr_assert(doc != NULL);
    hr_http_begin(job, "POST", url, hr_json_dump(doc), "application/json");
    json_decref(doc);
    hr_http_header(job, "Authorization: Bearer %s", token);
    snprintf(job->gate_key, sizeof job->gate_key, "whatsapp:%.200s/%.40s", base, pnid);
    job->rate_per_s = hr_integration_setting_int(job->integ, "rate_per_s",
                                                 job->cfg->providers_rate_whatsapp);
    return 0;
}

static int wa_finish(hr_job_t *job, CURLcode rc, long status, hr_send_result_t *res)
{
    json_t *doc = hr_http_finish_json(job, rc, status, res);
    if (doc == NULL)
        return 0;
    if (res->outcome == HR_SEND_OK) {
        hr_http_message_id(res, hr_json_str(json_array_get(json_object_get(doc, "messages"), 0), "id"));
    } else {
        const json_t *e = json_object_get(doc, "error");
        long long code = (long long)json_integer_value(json_object_get(e, "code"));
        /* 4, 80007, 130429, 131048, 131056: rate limits; 1, 2, 131000: server side. */
        bool transient = code == 4 || code == 80007 || code == 130429 || code == 131048 ||
                         code == 131056 || code == 1 || code == 2 || code == 131000;
        const char *msg = hr_json_str(e, "message");
        hr_provider_fail(res, transient ? HR_SEND_TRANSIENT : res->outcome, "whatsapp_%lld: %.400s",
                         code, msg ? msg : res->excerpt);
    }
    json_decref(doc);
    return 0;
}

const hr_provider_ops_t hr_provider_whatsapp = {
    .name = "whatsapp", .prepare = wa_prepare, .finish = wa_finish};
