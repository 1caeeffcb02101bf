/* address: what counts as an address of each channel, for the addresses a
 * tenant stores for its users (PUT /v1/users/{id}) and the ones it sends to
 * directly (integration test sends). One set of rules for both. */
#ifndef HR_ADDRESS_H
#define HR_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "channel.h"
#include "ssrf.h"

typedef enum {
    HR_ADDR_ANY = 0, /* a webhook URL where the channel takes one, its id otherwise */
    HR_ADDR_ID,      /* the channel's own id form only (chat id, user id, channel id) */
    HR_ADDR_URL,     /* a webhook URL only (discord, slack) */
} hr_addr_form_t;

/* Checks addr as an address of channel ch (email, sms, whatsapp, telegram,
 * discord, slack) in the given form; webhook URLs must be http(s) and pass
 * the SSRF rules of policy. Returns true, or false with why completing
 * "<field> ..." (e.g. "is not a valid email address"). */
bool hr_address_valid(hr_channel_t ch, hr_addr_form_t form, const char *addr,
                      hr_ssrf_policy_t policy, char *why, size_t whylen);

#endif
