/* ssrf: which network addresses Herald may send to. Webhook and provider
 * URLs come from tenants; a URL that resolves to a private, loopback or
 * link-local address is refused unless the operator allows it. The check is
 * made on the address libcurl is about to connect to (so DNS tricks do not
 * pass), and early on literal addresses and "localhost" when a URL is saved. */
#ifndef HR_SSRF_H
#define HR_SSRF_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef enum {
    HR_SSRF_DENY = 0, /* public addresses only */
    HR_SSRF_LOOPBACK, /* public addresses and loopback (test stacks) */
    HR_SSRF_ALLOW,    /* anything */
} hr_ssrf_policy_t;

/* "deny", "loopback" or "allow"; anything else is deny. */
hr_ssrf_policy_t hr_ssrf_policy_parse(const char *s);

/* True when policy lets Herald connect to sa. Otherwise why (may be NULL)
 * gets a short reason naming the address class. */
bool hr_ssrf_addr_allowed(const struct sockaddr *sa, hr_ssrf_policy_t policy, char *why,
                          size_t whylen);

/* Checks a target URL before it is stored: http or https only, a host, and
 * — when the host is a literal address or "localhost" — an allowed address.
 * Names are checked again at connect time. Returns 0, or -1 with err. */
int hr_ssrf_check_url(const char *url, hr_ssrf_policy_t policy, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* State of the guard of one transfer (see hr_ssrf_guard). */
typedef struct hr_ssrf_guard {
    hr_ssrf_policy_t policy;
    bool blocked;      /* a connect was refused */
    char why[128];
} hr_ssrf_guard_t;

/* Installs the guard on a libcurl easy handle: every socket libcurl opens is
 * checked first (CURLOPT_OPENSOCKETFUNCTION), redirects are not followed and
 * only http/https are spoken. g must outlive the transfer. */
void hr_ssrf_guard(CURL *easy, hr_ssrf_guard_t *g);

#endif
