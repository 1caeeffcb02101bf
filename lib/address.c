/* address: per-channel address rules. */
#include "address.h"

#include <stdio.h>
#include <string.h>

#include "notification.h"

/* min..max digits, with a leading '-' when sign allows it. */
static bool address_digits(const char *s, size_t min, size_t max, bool sign)
{
    if (sign && *s == '-')
        s++;
    size_t n = strlen(s);
    if (n < min || n > max)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static bool address_why(char *why, size_t whylen, const char *text)
{
    snprintf(why, whylen, "%s", text);
    return false;
}

bool hr_address_valid(hr_channel_t ch, hr_addr_form_t form, const char *addr,
                      hr_ssrf_policy_t policy, char *why, size_t whylen)
{
    for (const char *p = addr; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return address_why(why, whylen, "must not contain control characters");
    bool takes_url = ch == HR_CHANNEL_DISCORD || ch == HR_CHANNEL_SLACK;
    /* any scheme counts as a URL: the SSRF check refuses all but http(s) */
    bool url = form == HR_ADDR_URL || (form == HR_ADDR_ANY && takes_url && strstr(addr, "://"));
    if (url) {
        char ssrf[160];
        if (hr_ssrf_check_url(addr, policy, ssrf, sizeof ssrf) == 0)
            return true;
        return address_why(why, whylen, ssrf);
    }
    switch (ch) {
    case HR_CHANNEL_EMAIL:
        return hr_valid_email(addr) || address_why(why, whylen, "is not a valid email address");
    case HR_CHANNEL_SMS:
    case HR_CHANNEL_WHATSAPP:
        return hr_valid_e164(addr) ||
               address_why(why, whylen, "must be an E.164 number (+ and 8 to 15 digits)");
    case HR_CHANNEL_TELEGRAM:
        return address_digits(addr, 1, 20, true) ||
               (addr[0] == '@' && strlen(addr) >= 6 && strlen(addr) <= 33) ||
               address_why(why, whylen, "must be a numeric chat id or an @channel name");
    case HR_CHANNEL_DISCORD:
        return address_digits(addr, 15, 21, false) ||
               address_why(why, whylen,
                           form == HR_ADDR_ID
                               ? "must be a Discord user id (a snowflake of 15 to 21 digits)"
                               : "must be a Discord user id (a snowflake of 15 to 21 digits) or a "
                                 "webhook URL");
    case HR_CHANNEL_SLACK:
        return (addr[0] != '\0' && strlen(addr) <= 80 && strpbrk(addr, " ,") == NULL) ||
               address_why(why, whylen,
                           form == HR_ADDR_ID
                               ? "must be a channel or user id (no spaces)"
                               : "must be a Slack channel or user id (no spaces) or a webhook URL");
    default:
        return address_why(why, whylen, "is not an address this channel takes");
    }
}
