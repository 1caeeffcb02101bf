/* channel: the delivery channels Herald knows and their stream names. */
#ifndef HR_CHANNEL_H
#define HR_CHANNEL_H

typedef enum {
    HR_CHANNEL_EMAIL = 0,
    HR_CHANNEL_SMS,
    HR_CHANNEL_TELEGRAM,
    HR_CHANNEL_DISCORD,
    HR_CHANNEL_WHATSAPP,
    HR_CHANNEL_SLACK,
    HR_CHANNEL_WEBHOOK,
    HR_CHANNEL_IN_APP,
    HR_CHANNEL_COUNT
} hr_channel_t;

/* "email", "sms", … for a channel; NULL for an out-of-range value. */
const char *hr_channel_name(hr_channel_t ch);

/* Parses a channel name; returns -1 if unknown. */
int hr_channel_parse(const char *name, hr_channel_t *out) __attribute__((warn_unused_result));

/* Writes "herald:deliveries:<name>" into buf. */
void hr_channel_stream(hr_channel_t ch, char *buf, unsigned len);

#define HR_STREAM_INGEST "herald:ingest"
#define HR_GROUP_INGEST "routers"
#define HR_STREAM_DEAD "herald:dead"
#define HR_PENDING_PREFIX "herald:pending:"

#endif
