/* channel: channel names and stream keys. */
#include "channel.h"

#include <stdio.h>
#include <string.h>

static const char *const channel_names[HR_CHANNEL_COUNT] = {
    "email", "sms", "telegram", "discord", "whatsapp", "slack", "webhook", "in_app",
};

const char *hr_channel_name(hr_channel_t ch)
{
    return (unsigned)ch < HR_CHANNEL_COUNT ? channel_names[ch] : NULL;
}

int hr_channel_parse(const char *name, hr_channel_t *out)
{
    for (int i = 0; i < HR_CHANNEL_COUNT; i++) {
        if (strcmp(name, channel_names[i]) == 0) {
            *out = (hr_channel_t)i;
            return 0;
        }
    }
    return -1;
}

void hr_channel_stream(hr_channel_t ch, char *buf, unsigned len)
{
    snprintf(buf, len, "herald:deliveries:%s", hr_channel_name(ch));
}
