/* notification: validation of a send request (POST /v1/notifications) into
 * the normalised form that goes on the ingest log. */
#ifndef HR_NOTIFICATION_H
#define HR_NOTIFICATION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "channel.h"

/* Why a request was refused: HTTP status, error code, message and field. */
typedef struct hr_reject {
    int status;           /* 400, 422, … */
    const char *code;     /* "invalid_json", "validation_failed" */
    char message[256];
    char field[128];      /* empty when the whole body is at fault */
} hr_reject_t;

/* Parses and validates a request body. On success returns the normalised
 * request (caller decrefs): {"user":{id,email?,phone?},"type","title","body",
 * "data","channels":[...]} with defaults filled in, and the idempotency key
 * (if the body had one) left in "idempotencyKey". On failure returns NULL
 * and fills rej. */
json_t *hr_notification_parse(const char *body, size_t len, hr_reject_t *rej);

/* Same checks on an already-parsed object (batch items use it); field names
 * in rej are prefixed with prefix (e.g. "notifications[3]."). obj is not
 * stolen. */
json_t *hr_notification_validate(const json_t *obj, const char *prefix, hr_reject_t *rej);

/* Address checks shared with other modules. */
bool hr_valid_email(const char *s);
bool hr_valid_e164(const char *s);

#endif
