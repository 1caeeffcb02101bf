/* smtp: email through an SMTP server with libcurl (smtp:// or smtps://,
 * STARTTLS when offered, AUTH when a user is set). One easy handle per
 * worker, so the connection is reused across messages. */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mime.h"
#include "provider.h"

typedef struct smtp_state {
    CURL *curl;
    const hr_config_t *cfg;
    bool fresh; /* the last transfer failed: do not reuse its connection */
} smtp_state_t;

typedef struct smtp_upload {
    const char *data;
    size_t len, off;
} smtp_upload_t;

static size_t smtp_read(char *dst, size_t size, size_t nmemb, void *ud)
{
    smtp_upload_t *u = ud;
    size_t n = size * nmemb;
    if (n > u->len - u->off)
        n = u->len - u->off;
    memcpy(dst, u->data + u->off, n);
    u->off += n;
    return n;
}

static int smtp_open(void **state, const hr_config_t *cfg, hr_channel_t ch, char *err,
                     size_t errlen)
{
    smtp_state_t *s = calloc(1, sizeof *s);
    hr_assert(s != NULL);
    s->cfg = cfg;
    s->curl = curl_easy_init();
    if (s->curl == NULL) {
        snprintf(err, errlen, "curl_easy_init failed");
        free(s);
        return -1;
    }
    *state = s;
    return 0;
}

/* SMTP replies: 5xx is permanent (bad mailbox, rejected), 4xx and transport
 * errors are transient. */
static void smtp_classify(CURLcode rc, long code, hr_send_result_t *res)
{
    res->response_code = code;
    if (rc == CURLE_OK) {
        res->outcome = HR_SEND_OK;
        return;
    }
    res->outcome = code >= 500 && code < 600 ? HR_SEND_PERMANENT : HR_SEND_TRANSIENT;
}

static void smtp_send(void *state, const hr_message_t *m, hr_send_result_t *res)
{
    smtp_state_t *s = state;
    const hr_config_t *cfg = s->cfg;
    char from_addr[256], rcpt[300], errbuf[CURL_ERROR_SIZE] = "";
    hr_mime_address(cfg->email_from, from_addr, sizeof from_addr);
    snprintf(rcpt, sizeof rcpt, "<%s>", m->address);
    char *msg = hr_mime_email(m, cfg->email_from, res->provider_message_id,
                              sizeof res->provider_message_id);
    smtp_upload_t up = {msg, strlen(msg), 0};
    struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
    char from[300];
    snprintf(from, sizeof from, "<%s>", from_addr);

    CURL *c = s->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, cfg->email_smtp_url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, smtp_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, cfg->email_timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, cfg->email_timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    if (cfg->email_smtp_user[0]) {
        curl_easy_setopt(c, CURLOPT_USERNAME, cfg->email_smtp_user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->email_smtp_password);
    }
    curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, s->fresh ? 1L : 0L);
    CURLcode rc = curl_easy_perform(c);
    s->fresh = rc != CURLE_OK;
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    smtp_classify(rc, code, res);
    if (rc != CURLE_OK)
        snprintf(res->error, sizeof res->error, "smtp: %.400s (%ld)",
                 errbuf[0] ? errbuf : curl_easy_strerror(rc), code);
    curl_slist_free_all(rcpts);
    free(msg);
}

static void smtp_close(void *state)
{
    smtp_state_t *s = state;
    if (s == NULL)
        return;
    curl_easy_cleanup(s->curl);
    free(s);
}

const hr_provider_ops_t hr_provider_smtp = {"smtp", smtp_open, smtp_send, smtp_close};
