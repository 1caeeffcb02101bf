/* webhook: tenant webhook endpoints as the worker sends to them, and the
 * Standard Webhooks signature: webhook-signature: v1,<base64 HMAC-SHA256 of
 * "<webhook-id>.<webhook-timestamp>.<body>"> keyed by the base64 part of a
 * "whsec_…" secret. During a rotation both secrets sign (space-separated). */
#ifndef HR_WEBHOOK_H
#define HR_WEBHOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "ids.h"

#define HR_WEBHOOK_SECRET_LEN 52 /* "whsec_" + base64 of 32 bytes + NUL */
#define HR_WEBHOOK_SIG_LEN 64    /* "v1," + base64 of 32 bytes + NUL */

/* Writes a new random secret "whsec_<base64 of 32 bytes>" into out. */
void hr_webhook_secret_new(char out[HR_WEBHOOK_SECRET_LEN]);

/* Signs one message with secret (with or without the whsec_ prefix) into
 * out as "v1,<base64>". Returns 0, or -1 when the secret is not base64. */
int hr_webhook_sign(const char *secret, const char *msg_id, long long ts, const char *body,
                    size_t len, char out[HR_WEBHOOK_SIG_LEN]) __attribute__((warn_unused_result));

typedef struct hr_webhook_endpoint {
    char id[HR_UUID_STRLEN];
    char environment_id[HR_UUID_STRLEN];
    char *url;
    char *secret;           /* opened */
    char *previous_secret;  /* opened, NULL outside a rotation overlap */
    bool strict;            /* private_targets = 'deny' for this endpoint */
    bool disabled;
    int refs;
} hr_webhook_endpoint_t;

hr_webhook_endpoint_t *hr_webhook_endpoint_ref(hr_webhook_endpoint_t *e);
void hr_webhook_endpoint_unref(hr_webhook_endpoint_t *e);

/* Loads the endpoints named in ids (a PostgreSQL uuid[] literal "{a,b}")
 * with one query. Returns a NULL-terminated array of endpoints (caller
 * unrefs each and frees the array), or NULL with err. */
hr_webhook_endpoint_t **hr_webhook_endpoints_load(hr_db_t *db, const char *ids, char *err,
                                                  size_t errlen);

#endif
