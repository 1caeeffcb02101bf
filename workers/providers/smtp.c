/* smtp: email through an SMTP server with libcurl (smtp:// with STARTTLS
 * when offered — required when a user is set — or smtps://; AUTH when a
 * user is set). The server is the environment's integration
 * (settings.smtp_url, credentials.user/password) or the global [email]
 * smtp_url. Transfers run in the worker's lanes (workers/lanes.h: libcurl
 * waits for the reply to the end of DATA inside its multi handle), each
 * of whose connection pools reuses a connection across messages. */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mime.h"
#include "provider.h"

/* Uploads the message. The end of data is the point of no return: libcurl
 * sends the terminating "." only after this callback says EOF, so there
 * the worker is told (WANTED). In a lane it marks the handover at once;
 * otherwise the upload pauses until it is marked. Marked (DONE): EOF, the
 * "." goes; not (REFUSED): the transfer aborts, and the server drops the
 * incomplete DATA. The size is not given to libcurl, so it always asks
 * for that EOF. */
static size_t smtp_read(char *dst, size_t size, size_t nmemb, void *ud)
{
    hr_job_t *job = ud;
    size_t n = size * nmemb;
    if (n > job->req_len - job->req_off)
        n = job->req_len - job->req_off;
    if (n == 0 && job->handover == HR_HANDOVER_ARMED) {
        job->handover = HR_HANDOVER_WANTED;
        job->handover_wait(job); /* in a lane: decided before it returns */
    }
    if (job->handover == HR_HANDOVER_REFUSED)
        return CURL_READFUNC_ABORT;
    if (n == 0 && job->handover == HR_HANDOVER_WANTED)
        return CURL_READFUNC_PAUSE;
    memcpy(dst, job->req_body + job->req_off, n);
    job->req_off += n;
    return n;
}

static int smtp_prepare(hr_job_t *job, hr_send_result_t *res)
{
    const hr_config_t *cfg = job->cfg;
    const hr_integration_t *in = job->integ;
    const char *url = in ? hr_integration_setting(in, "smtp_url", "") : cfg->email_smtp_url;
    const char *user = in ? hr_integration_cred(in, "user", "") : cfg->email_smtp_user;
    const char *pass = in ? hr_integration_cred(in, "password", "") : cfg->email_smtp_password;
    hr_mime_opts_t o = {
        .from = hr_integration_setting(in, "from", cfg->email_from),
        .reply_to = hr_integration_setting(in, "reply_to", NULL),
        .list_unsubscribe = hr_mime_unsubscribe(&job->msg,
                                                hr_integration_setting(in, "list_unsubscribe", NULL)),
    };
    if (url[0] == '\0') {
        hr_provider_fail(res, HR_SEND_PERMANENT, "not_configured: the integration has no smtp_url");
        return -1;
    }
    char from_addr[256], rcpt[300], from[300];
    hr_mime_address(o.from, from_addr, sizeof from_addr);
    snprintf(rcpt, sizeof rcpt, "<%s>", job->msg.address);
    snprintf(from, sizeof from, "<%s>", from_addr);
    job->req_body = hr_mime_email_opts(&job->msg, &o, res->provider_message_id,
                                       sizeof res->provider_message_id);
    /* finish() gets a fresh result: keep the Message-ID with the job. */
    snprintf(job->scratch, sizeof job->scratch, "%s", res->provider_message_id);
    job->req_len = strlen(job->req_body);
    job->req_off = 0;
    job->handover = job->handover_wait != NULL ? HR_HANDOVER_ARMED : HR_HANDOVER_OFF;
    job->rcpts = curl_slist_append(NULL, rcpt);
    hr_assert(job->rcpts != NULL);

    CURL *c = job->easy;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, job->rcpts);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, smtp_read);
    curl_easy_setopt(c, CURLOPT_READDATA, job);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, cfg->email_timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, cfg->email_timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, job->errbuf);
    /* Credentials never travel in clear: with a user, STARTTLS (or smtps://)
     * is required unless settings.tls says "try" (a trusted local relay). */
    const char *tls = hr_integration_setting(in, "tls", user[0] ? "require" : "try");
    curl_easy_setopt(c, CURLOPT_USE_SSL,
                     (long)(strcmp(tls, "require") == 0 ? CURLUSESSL_ALL : CURLUSESSL_TRY));
    curl_easy_setopt(c, CURLOPT_PRIVATE, job);
    hr_provider_tls(job);
    if (user[0]) {
        curl_easy_setopt(c, CURLOPT_USERNAME, user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, pass);
    }
    /* A tenant's server is a tenant-given address: guard it like a webhook. */
    if (in != NULL) {
        job->guard.policy = hr_http_policy(job);
        hr_ssrf_guard(c, &job->guard);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    }
    snprintf(job->gate_key, sizeof job->gate_key, "smtp:%.240s", url);
    job->rate_per_s = hr_integration_setting_int(in, "rate_per_s", cfg->providers_rate_smtp);
    return 0;
}

/* SMTP replies: 5xx is permanent (bad mailbox, rejected), 4xx and transport
 * errors are transient. */
static int smtp_finish(hr_job_t *job, CURLcode rc, long code, hr_send_result_t *res)
{
    res->response_code = code;
    snprintf(res->provider_message_id, sizeof res->provider_message_id, "%s", job->scratch);
    if (job->guard.blocked) {
        res->breaker_neutral = true;
        hr_provider_fail(res, HR_SEND_PERMANENT, "ssrf_refused: %s", job->guard.why);
        return 0;
    }
    if (rc == CURLE_OK) {
        res->outcome = HR_SEND_OK;
        return 0;
    }
    if (rc == CURLE_USE_SSL_FAILED) {
        /* The server offers no STARTTLS: fix the integration, not a retry. */
        res->breaker_neutral = true;
        hr_provider_fail(res, HR_SEND_PERMANENT,
                         "tls_required: the SMTP server offers no STARTTLS and TLS is required "
                         "(credentials are set; settings.tls \"try\" allows plain text)");
        return 0;
    }
    hr_provider_fail(res, code >= 500 && code < 600 ? HR_SEND_PERMANENT : HR_SEND_TRANSIENT,
                     "smtp_%ld: %.400s", code, job->errbuf[0] ? job->errbuf : curl_easy_strerror(rc));
    return 0;
}

const hr_provider_ops_t hr_provider_smtp = {
    .name = "smtp", .prepare = smtp_prepare, .finish = smtp_finish, .blocking_end = true};
