/* webhook: a notification POSTed to a tenant endpoint as
 * {"id","type","timestamp","data"} with the Standard Webhooks headers
 * webhook-id, webhook-timestamp and webhook-signature (one "v1,<sig>" per
 * active secret, space-separated, during a rotation). Any 2xx is success;
 * 410 Gone is permanent; everything else is retried with backoff. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonutil.h"
#include "log.h"
#include "provider.h"

static int webhook_prepare(hr_job_t *job, hr_send_result_t *res)
{
    const hr_message_t *m = &job->msg;
    const hr_webhook_endpoint_t *e = job->endpoint;
    if (e == NULL) {
        hr_provider_fail(res, HR_SEND_PERMANENT, "endpoint_deleted: the webhook endpoint no longer exists");
        return -1;
    }
    if (e->disabled) {
        hr_provider_fail(res, HR_SEND_PERMANENT, "endpoint_disabled: the webhook endpoint is disabled");
        return -1;
    }
    json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "notification_id",
                             m->notification_id, "user_id", m->user_id, "type", m->type, "title",
                             m->title, "body", m->body, "data", m->data);
    /* An outcome event (notification.sent, …) names its own type and adds
     * the delivery it reports on. */
    const char *type = m->type;
    json_t *ev = m->webhook_event != NULL && m->webhook_event[0] ? json_loads(m->webhook_event, 0, NULL)
                                                                  : NULL;
    if (json_is_string(json_object_get(ev, "type"))) {
        type = json_string_value(json_object_get(ev, "type"));
        json_object_set(data, "delivery", json_object_get(ev, "delivery"));
    }
    json_t *doc = json_pack("{s:s, s:s, s:s, s:o}", "id", m->delivery_id, "type", type,
                            "timestamp", m->created_at, "data", data);
    json_decref(ev);
    hr_assert(doc != NULL);
    char *body = hr_json_dump(doc);
    json_decref(doc);
    long long ts = (long long)time(NULL);
    char sig[HR_WEBHOOK_SIG_LEN], sig2[HR_WEBHOOK_SIG_LEN] = "";
    if (hr_webhook_sign(e->secret, m->delivery_id, ts, body, strlen(body), sig) != 0 ||
        (e->previous_secret != NULL &&
         hr_webhook_sign(e->previous_secret, m->delivery_id, ts, body, strlen(body), sig2) != 0)) {
        free(body);
        hr_provider_fail(res, HR_SEND_PERMANENT, "bad_secret: the endpoint secret is not valid");
        return -1;
    }
    hr_http_begin(job, "POST", e->url, body, "application/json");
    hr_http_header(job, "webhook-id: %s", m->delivery_id);
    hr_http_header(job, "webhook-timestamp: %lld", ts);
    hr_http_header(job, "webhook-signature: %s%s%s", sig, sig2[0] ? " " : "", sig2);
    /* The gate is per endpoint: one failing receiver does not stop another. */
    snprintf(job->gate_key, sizeof job->gate_key, "webhook:%s", e->id);
    job->rate_per_s = job->cfg->providers_rate_webhook;
    return 0;
}

static int webhook_finish(hr_job_t *job, CURLcode rc, long status, hr_send_result_t *res)
{
    hr_http_classify(job, rc, status, res);
    if (res->outcome == HR_SEND_PERMANENT && !job->guard.blocked && status != 410)
        res->outcome = HR_SEND_TRANSIENT; /* receivers come back: retry any status */
    return 0;
}

const hr_provider_ops_t hr_provider_webhook = {
    .name = "webhook", .prepare = webhook_prepare, .finish = webhook_finish};
