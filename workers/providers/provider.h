/* provider: the interface every channel provider implements, and the
 * message and result types the worker passes through it. */
#ifndef HR_PROVIDER_H
#define HR_PROVIDER_H

#include <jansson.h>
#include <stddef.h>

#include "channel.h"
#include "config.h"

typedef struct hr_message {
    const char *delivery_id;
    const char *notification_id;
    const char *request_id;
    const char *environment_id;
    const char *user_id;
    hr_channel_t channel;
    const char *address; /* email address, phone number, chat id … */
    const char *type;
    const char *title;
    const char *body;
    const json_t *data;
    int attempt;
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
    char error[512];
} hr_send_result_t;

typedef struct hr_provider_ops {
    const char *name;
    /* Prepares a provider for channel ch. *state is owned by the provider and
     * released by close. Returns 0 or -1 with err. */
    int (*open)(void **state, const hr_config_t *cfg, hr_channel_t ch, char *err, size_t errlen);
    /* Sends one message; always fills res. */
    void (*send)(void *state, const hr_message_t *m, hr_send_result_t *res);
    void (*close)(void *state);
} hr_provider_ops_t;

extern const hr_provider_ops_t hr_provider_smtp; /* email through an SMTP server */
extern const hr_provider_ops_t hr_provider_sink; /* local files under [sink] dir */

#endif
