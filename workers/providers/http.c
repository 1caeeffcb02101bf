/* http: what every HTTP provider shares — request set-up on a libcurl easy
 * handle, response capture, Retry-After, generic status classification. */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "jsonutil.h"
#include "log.h"
#include "provider.h"
#include "render.h"

static size_t http_write(char *p, size_t size, size_t nmemb, void *ud)
{
    hr_job_t *job = ud;
    size_t n = size * nmemb;
    if (job->resp.len < HR_JOB_MAX_RESPONSE) {
        size_t keep = n < HR_JOB_MAX_RESPONSE - job->resp.len ? n : HR_JOB_MAX_RESPONSE - job->resp.len;
        hr_buf_append(&job->resp, p, keep);
    }
    return n;
}

/* Uploads the request body. While the handover is armed the last byte is
 * held back: the upload pauses there (WANTED) and the worker is told; it
 * resumes the transfer once the handover is recorded (DONE: the byte goes)
 * or could not be (REFUSED: the transfer aborts, and the provider, holding
 * fewer bytes than the Content-Length, never saw a complete request). */
static size_t http_read(char *dst, size_t size, size_t nmemb, void *ud)
{
    hr_job_t *job = ud;
    size_t left = job->req_len - job->req_off, n = size * nmemb;
    if (job->handover == HR_HANDOVER_REFUSED)
        return CURL_READFUNC_ABORT;
    bool hold = job->handover == HR_HANDOVER_ARMED || job->handover == HR_HANDOVER_WANTED;
    if (hold && left == 1) {
        if (job->handover == HR_HANDOVER_ARMED) { /* not after a rewind: told once */
            job->handover = HR_HANDOVER_WANTED;
            job->handover_wait(job);
        }
        return CURL_READFUNC_PAUSE;
    }
    if (hold)
        left--;
    if (n > left)
        n = left;
    memcpy(dst, job->req_body + job->req_off, n);
    job->req_off += n;
    return n;
}

/* Rewinds the body when libcurl sends the request again (a reused
 * connection found dead). A recorded handover stays recorded: the body then
 * goes whole, as the first copy may already have. */
static int http_seek(void *ud, curl_off_t offset, int origin)
{
    hr_job_t *job = ud;
    if (origin != SEEK_SET || offset < 0 || offset > (curl_off_t)job->req_len)
        return CURL_SEEKFUNC_CANTSEEK;
    job->req_off = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* Retry-After: delay-seconds or an HTTP-date. */
static long parse_retry_after(const char *v)
{
    while (*v == ' ')
        v++;
    if (isdigit((unsigned char)*v)) {
        double s = strtod(v, NULL);
        return s > 86400 ? 86400000L : (long)(s * 1000);
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (strptime(v, "%a, %d %b %Y %H:%M:%S", &tm) == NULL)
        return -1;
    time_t when = timegm(&tm), now = time(NULL);
    return when > now ? (long)(when - now) * 1000 : 0;
}

static size_t http_header(char *p, size_t size, size_t nmemb, void *ud)
{
    hr_job_t *job = ud;
    size_t n = size * nmemb;
    if (n > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        char v[128];
        size_t k = n - 12 < sizeof v - 1 ? n - 12 : sizeof v - 1;
        memcpy(v, p + 12, k);
        v[k] = '\0';
        job->retry_after_ms = parse_retry_after(v);
    }
    return n;
}

hr_ssrf_policy_t hr_http_policy(const hr_job_t *job)
{
    if (job->endpoint != NULL && job->endpoint->strict)
        return HR_SSRF_DENY;
    if (strcmp(hr_integration_setting(job->integ, "private_targets", ""), "deny") == 0)
        return HR_SSRF_DENY;
    return hr_ssrf_policy_parse(job->cfg->providers_private_targets);
}

void hr_http_begin(hr_job_t *job, const char *method, const char *url, char *body,
                   const char *content_type)
{
    CURL *c = job->easy;
    curl_easy_reset(c);
    curl_slist_free_all(job->headers);
    job->headers = NULL;
    free(job->req_body);
    job->req_body = body;
    job->req_len = body ? strlen(body) : 0;
    job->req_off = 0;
    /* Without a body (GET, an empty POST) there is no last byte to hold
     * back: such a request is complete once its headers are sent. */
    job->handover = job->req_len > 0 && job->handover_wait != NULL ? HR_HANDOVER_ARMED
                                                                    : HR_HANDOVER_OFF;
    hr_buf_free(&job->resp);
    job->retry_after_ms = -1;
    job->errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, job->cfg->worker_http_timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, job->cfg->worker_http_timeout_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, job->errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, job);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, job);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "Herald/1.0");
    hr_provider_tls(job);
    curl_easy_setopt(c, CURLOPT_PRIVATE, job);
    job->guard.policy = hr_http_policy(job);
    hr_ssrf_guard(c, &job->guard);
    if (body != NULL) {
        /* Through the read callback, with the Content-Length announced (not
         * chunked): the receiver cannot act before the last byte arrives. */
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, http_read);
        curl_easy_setopt(c, CURLOPT_READDATA, job);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, http_seek);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, job);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)job->req_len);
        hr_http_header(job, "Content-Type: %s", content_type);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    /* No "Expect: 100-continue" round trip. */
    hr_http_header(job, "Expect:");
}

void hr_http_preliminary(hr_job_t *job)
{
    job->handover = HR_HANDOVER_OFF;
}

void hr_http_header(hr_job_t *job, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    job->headers = curl_slist_append(job->headers, line);
    hr_assert(job->headers != NULL);
    curl_easy_setopt(job->easy, CURLOPT_HTTPHEADER, job->headers);
}

/* Provider bytes go into PostgreSQL text and JSON: replace every byte that
 * is not part of a well-formed UTF-8 character (truncation can split one)
 * with '?'. */
static void utf8_sanitize(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && !(len == 2 && *p < 0xc2) && !(len == 4 && *p > 0xf4);
        for (int i = 1; ok && i < len; i++)
            ok = (p[i] & 0xc0) == 0x80;
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += len;
    }
}

void hr_provider_fail(hr_send_result_t *res, hr_send_outcome_t outcome, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof res->error, fmt, ap);
    va_end(ap);
    utf8_sanitize(res->error);
    res->outcome = outcome;
}

void hr_http_classify(hr_job_t *job, CURLcode rc, long status, hr_send_result_t *res)
{
    res->response_code = status;
    res->retry_after_ms = job->retry_after_ms;
    size_t n = job->resp.len < sizeof res->excerpt - 1 ? job->resp.len : sizeof res->excerpt - 1;
    memcpy(res->excerpt, job->resp.data ? job->resp.data : "", n);
    res->excerpt[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (res->excerpt[i] == '\0')
            res->excerpt[i] = ' '; /* a NUL would cut the text short */
    utf8_sanitize(res->excerpt);
    if (job->guard.blocked) {
        res->breaker_neutral = true;
        hr_provider_fail(res, HR_SEND_PERMANENT, "ssrf_refused: %s", job->guard.why);
        return;
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK && job->handover == HR_HANDOVER_REFUSED) {
        res->breaker_neutral = true; /* says nothing about the provider */
        hr_provider_fail(res, HR_SEND_TRANSIENT,
                         "handover_not_recorded: stopped before the last byte");
        return;
    }
    if (rc != CURLE_OK) {
        hr_provider_fail(res, HR_SEND_TRANSIENT, "%s: %s",
                         rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "transport",
                         job->errbuf[0] ? job->errbuf : curl_easy_strerror(rc));
        return;
    }
    if (status >= 200 && status < 300) {
        res->outcome = HR_SEND_OK;
        return;
    }
    bool transient = status == 408 || status == 425 || status == 429 || status >= 500 || status < 200;
    hr_provider_fail(res, transient ? HR_SEND_TRANSIENT : HR_SEND_PERMANENT, "http_%ld: %.300s",
                     status, res->excerpt);
}

json_t *hr_http_json(const hr_job_t *job)
{
    if (job->resp.data == NULL)
        return NULL;
    return json_loadb(job->resp.data, job->resp.len, 0, NULL);
}

const char *hr_http_base(const hr_job_t *job, const char *def, char *out, size_t len)
{
    const char *b = hr_integration_setting(job->integ, "base_url", def);
    snprintf(out, len, "%s", b);
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
    return out;
}

char *hr_provider_data_text(const json_t *v)
{
    char *s = json_is_string(v) ? strdup(json_string_value(v))
                                : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    hr_assert(s != NULL);
    return s;
}

json_t *hr_http_finish_json(hr_job_t *job, CURLcode rc, long status, hr_send_result_t *res)
{
    hr_http_classify(job, rc, status, res);
    if (rc != CURLE_OK || job->guard.blocked)
        return NULL;
    json_t *doc = hr_http_json(job);
    if (json_is_object(doc))
        return doc;
    json_decref(doc);
    if (res->outcome == HR_SEND_OK)
        snprintf(res->error, sizeof res->error,
                 "bad_response: HTTP %ld with a body that is not JSON (treated as sent)", status);
    return NULL;
}

void hr_http_message_id(hr_send_result_t *res, const char *id)
{
    if (id == NULL)
        snprintf(res->error, sizeof res->error, "bad_response: no message id (treated as sent)");
    else
        snprintf(res->provider_message_id, sizeof res->provider_message_id, "%s", id);
}

void hr_provider_tls(hr_job_t *job)
{
    /* libcurl keeps its CA path (the system's, /etc/ssl/certs) when only the
     * file is set */
    const char *ca = job->cfg->providers_ca_file;
    if (ca[0] != '\0')
        curl_easy_setopt(job->easy, CURLOPT_CAINFO, ca);
}

json_t *hr_provider_fields(const hr_message_t *m, size_t max)
{
    json_t *out = json_array();
    const hr_rendered_t *rd = m->rendered;
    size_t i;
    json_t *f;
    if (rd != NULL)
        json_array_foreach(rd->fields, i, f) {
            if (json_array_size(out) == max)
                return out;
            char *t = hr_provider_data_text(json_object_get(f, "value"));
            json_array_append_new(out, json_pack("{s:s, s:s}", "name", hr_json_str(f, "name"),
                                                 "value", t));
            free(t);
        }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)m->data, key, v) {
        if (json_array_size(out) == max)
            break;
        if (strcmp(key, "color") == 0)
            continue;
        char *t = hr_provider_data_text(v);
        json_array_append_new(out, json_pack("{s:s, s:s}", "name", key, "value", t));
        free(t);
    }
    return out;
}

const char *hr_provider_template_text(const hr_message_t *m)
{
    const hr_rendered_t *rd = m->rendered;
    return rd != NULL && rd->own_text && rd->text != NULL && rd->text[0] ? rd->text : NULL;
}

size_t hr_provider_utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--; /* s[max] continues a character: cut before it starts */
    return max;
}
