/* provider: the interface every channel provider implements, and the
 * message, job and result types the worker passes through it. Synchronous
 * providers (the local sink) implement send; network providers implement
 * prepare/finish around one libcurl easy handle that the worker runs, with
 * many others, through the multi interface. */
#ifndef HR_PROVIDER_H
#define HR_PROVIDER_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "channel.h"
#include "config.h"
#include "integration.h"
#include "ssrf.h"
#include "webhook.h"

typedef struct hr_message {
    const char *delivery_id;
    const char *notification_id;
    const char *request_id;
    const char *environment_id;
    const char *user_id;
    hr_channel_t channel;
    const char *address; /* email address, phone number, chat id, endpoint id … */
    const char *type;
    const char *title;
    const char *body;
    const json_t *data;
    const char *created_at; /* ISO 8601 of the notification */
    const char *webhook_event; /* webhook channel: {"type","delivery"} JSON of an
                                * outcome event, or "" for the notification itself */
    /* What the message says on this channel (lib/render.h: template or
     * built-in layout; title and body above already hold its title and
     * body), or NULL when not rendered. */
    const struct hr_rendered *rendered;
    int attempt;
    /* The point of no return of a synchronous send (the sink): the
     * provider calls it just before the message becomes complete at its
     * destination; it records that (deliveries.handed_over_at) and returns
     * 0, or -1 when it could not, and then the provider must not complete
     * the send. NULL: nobody asks. Network sends (SMTP, HTTP) do not block
     * here: see hr_job_t.handover. */
    int (*handover)(void *ctx);
    void *handover_ctx;
} hr_message_t;

typedef enum {
    HR_SEND_OK = 0,
    HR_SEND_TRANSIENT, /* worth retrying: timeouts, 5xx, 429, connection errors */
    HR_SEND_PERMANENT, /* will never work: invalid address, rejected content */
} hr_send_outcome_t;

typedef struct hr_send_result {
    hr_send_outcome_t outcome;
    long response_code;            /* provider status (HTTP or SMTP), 0 if none */
    long retry_after_ms;           /* provider asked to wait this long, or -1 */
    char provider_message_id[256];
    char error[512];               /* "<provider code>: <provider message>" */
    char excerpt[512];             /* first bytes of the response */
    bool breaker_neutral;          /* says nothing about the provider's health */
} hr_send_result_t;

#define HR_JOB_MAX_RESPONSE 65536

/* The handover of a network send: its upload pauses before its end (HTTP,
 * http.c: the last byte of the body, so the Content-Length is not reached;
 * SMTP, smtp.c: the end of DATA), so the provider cannot act on the message
 * until the worker has marked the point of no return
 * (deliveries.handed_over_at). */
typedef enum {
    HR_HANDOVER_OFF = 0, /* no body, or a preliminary request that delivers nothing */
    HR_HANDOVER_ARMED,   /* the upload will pause before its last byte */
    HR_HANDOVER_WANTED,  /* paused there: waiting for the worker's record */
    HR_HANDOVER_DONE,    /* recorded: the last byte may go */
    HR_HANDOVER_REFUSED, /* not recorded: the upload aborts, the byte never goes */
} hr_handover_state_t;

/* One send through libcurl: built by a provider's prepare, run by the worker,
 * read by the provider's finish. Owned by the worker. */
typedef struct hr_job {
    hr_message_t msg;
    const hr_config_t *cfg;
    hr_integration_t *integ;           /* referenced, or NULL */
    hr_webhook_endpoint_t *endpoint;   /* webhook channel: referenced, or NULL */
    const struct hr_provider_ops *ops;
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *rcpts;          /* SMTP */
    char *req_body;                    /* malloc'd */
    size_t req_len, req_off;
    hr_handover_state_t handover;      /* set by hr_http_begin, smtp's prepare */
    /* Set by the worker, called by the read callback when the upload
     * paused before its last byte (state WANTED). The worker records the
     * handover, sets DONE or REFUSED and resumes the transfer
     * (curl_easy_pause CONT). NULL: no handover, the body goes at once. */
    void (*handover_wait)(struct hr_job *job);
    struct hr_job *handover_next;      /* worker: waiting for the record */
    hr_buf_t resp;                     /* capped at HR_JOB_MAX_RESPONSE */
    long retry_after_ms;               /* Retry-After header, or -1 */
    hr_ssrf_guard_t guard;
    char errbuf[CURL_ERROR_SIZE];
    char gate_key[256];                /* provider endpoint: breaker, bulkhead, rate */
    long rate_per_s;                   /* 0: unlimited */
    char scratch[256];                 /* provider's own (e.g. Discord DM step) */
    int step;                          /* provider's own multi-request state */
    /* worker bookkeeping */
    CURLcode lane_rc;                  /* a job run in a lane (lanes.h): its result */
    long lane_status;
    const char *stream_id;
    long long started_ms;
    struct timespec t0;
    struct hr_job *next;
} hr_job_t;

typedef struct hr_provider_ops {
    const char *name;
    /* Synchronous providers. *state is owned by the provider, released by close. */
    int (*open)(void **state, const hr_config_t *cfg, hr_channel_t ch, char *err, size_t errlen);
    void (*send)(void *state, const hr_message_t *m, hr_send_result_t *res);
    void (*close)(void *state);
    /* Network providers: set up job->easy (and gate_key, rate_per_s).
     * Returns 0, or -1 with res filled when it failed before sending
     * (missing credentials, invalid address). */
    int (*prepare)(hr_job_t *job, hr_send_result_t *res);
    /* Reads the finished transfer into res. Returns 1 when the provider set
     * up a follow-up request on job->easy (to be run again), else 0. */
    int (*finish)(hr_job_t *job, CURLcode rc, long status, hr_send_result_t *res);
    /* libcurl blocks inside curl_multi_perform at the end of this
     * provider's transfers (SMTP waits for the reply to the end of DATA):
     * they run in a lane of their own (workers/lanes.h). */
    bool blocking_end;
} hr_provider_ops_t;

extern const hr_provider_ops_t hr_provider_smtp;     /* email through an SMTP server */
extern const hr_provider_ops_t hr_provider_resend;   /* email through an HTTP API (Resend) */
extern const hr_provider_ops_t hr_provider_twilio;   /* SMS, Twilio Messages API */
extern const hr_provider_ops_t hr_provider_telegram; /* Telegram Bot API */
extern const hr_provider_ops_t hr_provider_discord;  /* Discord webhooks and bot DMs */
extern const hr_provider_ops_t hr_provider_whatsapp; /* WhatsApp Business Cloud API */
extern const hr_provider_ops_t hr_provider_slack;    /* Slack incoming webhooks, chat.postMessage */
extern const hr_provider_ops_t hr_provider_webhook;  /* tenant endpoints, signed */
extern const hr_provider_ops_t hr_provider_sink;     /* local files under [sink] dir */

/* ---- helpers shared by the HTTP providers (http.c) ---- */

/* Sets up job->easy for one request: method ("GET"/"POST"), URL, body
 * (malloc'd, stolen; NULL for none) with its content type, timeouts,
 * response capture, Retry-After capture and the SSRF guard. A body is sent
 * with its Content-Length through a read callback that holds its last byte
 * back for the handover (job->handover ARMED); a request without a body
 * has nothing to hold back and no handover (OFF). */
void hr_http_begin(hr_job_t *job, const char *method, const char *url, char *body,
                   const char *content_type);

/* Marks the request just begun as preliminary (it delivers nothing, e.g.
 * opening a Discord DM channel): no handover, its body goes at once. */
void hr_http_preliminary(hr_job_t *job);

/* Adds one request header (printf-style). */
void hr_http_header(hr_job_t *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Generic outcome of an HTTP transfer: 2xx ok; 408, 425, 429 and 5xx and
 * transport errors transient (Retry-After kept); other 4xx permanent; a
 * connect refused by the SSRF guard permanent. Fills the excerpt and, for
 * failures, a default error. */
void hr_http_classify(hr_job_t *job, CURLcode rc, long status, hr_send_result_t *res);

/* The response parsed as JSON (caller decrefs), or NULL when it is not. */
json_t *hr_http_json(const hr_job_t *job);

/* The base URL of a provider: the integration's "base_url" setting, else def
 * (without a trailing slash) — tests and self-hosted gateways override it. */
const char *hr_http_base(const hr_job_t *job, const char *def, char *out, size_t len);

/* The SSRF policy for this job: the configured one, tightened to deny by an
 * endpoint that asks for it. */
hr_ssrf_policy_t hr_http_policy(const hr_job_t *job);

/* Text of a data value: strings as they are, the rest as JSON (caller frees). */
char *hr_provider_data_text(const json_t *v);

/* The start of an HTTP provider's finish: classifies the answer into res and
 * returns its JSON object body to read the provider's details from (caller
 * decrefs), or NULL when there is none to read — a transport error, an SSRF
 * refusal, or a body that is not a JSON object (a success then says so in
 * res->error: the message was accepted all the same). */
json_t *hr_http_finish_json(hr_job_t *job, CURLcode rc, long status, hr_send_result_t *res);

/* A success's message id into res, or the bad_response warning when the
 * provider gave none (the send still counts). */
void hr_http_message_id(hr_send_result_t *res, const char *id);

/* TLS trust for the job's transfer: the system's CAs, plus [providers]
 * ca_file when set. */
void hr_provider_tls(hr_job_t *job);

/* What a chat message lists as name/value pairs: the event's fields (as
 * rendered), then the notification's data members ("color" styles a message
 * and is not shown); at most max. A new array of {"name","value"} with
 * string values (caller decrefs). */
json_t *hr_provider_fields(const hr_message_t *m, size_t max);

/* The whole message as the tenant's template wrote it (its chat text
 * part), or NULL when only the built-in layout has one: the provider then
 * builds its own rich form from title, body and fields. */
const char *hr_provider_template_text(const hr_message_t *m);

/* The length of the longest prefix of s of at most max bytes that does not
 * split a UTF-8 character (for providers' field limits). */
size_t hr_provider_utf8_cut(const char *s, size_t max);

/* Sets res to a permanent failure with a printf-style message. */
void hr_provider_fail(hr_send_result_t *res, hr_send_outcome_t outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
