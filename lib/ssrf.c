/* ssrf: address classes (RFC 1918, loopback, link-local, CGNAT, ULA,
 * multicast, reserved) and the libcurl connect-time guard. */
#include "ssrf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

hr_ssrf_policy_t hr_ssrf_policy_parse(const char *s)
{
    if (s != NULL && strcmp(s, "allow") == 0)
        return HR_SSRF_ALLOW;
    if (s != NULL && strcmp(s, "loopback") == 0)
        return HR_SSRF_LOOPBACK;
    return HR_SSRF_DENY;
}

typedef enum { ADDR_PUBLIC, ADDR_LOOPBACK, ADDR_PRIVATE } addr_class_t;

static addr_class_t class_v4(uint32_t a, const char **name)
{
    static const struct {
        uint32_t net, mask;
        addr_class_t cls;
        const char *name;
    } nets[] = {
        {0x7f000000, 0xff000000, ADDR_LOOPBACK, "loopback"},
        {0x00000000, 0xff000000, ADDR_PRIVATE, "unspecified"},
        {0x0a000000, 0xff000000, ADDR_PRIVATE, "private"},
        {0xac100000, 0xfff00000, ADDR_PRIVATE, "private"},
        {0xc0a80000, 0xffff0000, ADDR_PRIVATE, "private"},
        {0x64400000, 0xffc00000, ADDR_PRIVATE, "shared (CGNAT)"},
        {0xa9fe0000, 0xffff0000, ADDR_PRIVATE, "link-local"},
        {0xc0000000, 0xffffff00, ADDR_PRIVATE, "IETF reserved"},
        {0xc6120000, 0xfffe0000, ADDR_PRIVATE, "benchmarking"},
        {0xe0000000, 0xf0000000, ADDR_PRIVATE, "multicast"},
        {0xf0000000, 0xf0000000, ADDR_PRIVATE, "reserved"},
    };
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++)
        if ((a & nets[i].mask) == nets[i].net) {
            *name = nets[i].name;
            return nets[i].cls;
        }
    *name = "public";
    return ADDR_PUBLIC;
}

static addr_class_t class_v6(const unsigned char *b, const char **name)
{
    static const unsigned char loop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char zero[16] = {0};
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(b, loop, 16) == 0) {
        *name = "loopback";
        return ADDR_LOOPBACK;
    }
    if (memcmp(b, zero, 16) == 0) {
        *name = "unspecified";
        return ADDR_PRIVATE;
    }
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, zero, 12) == 0) {
        uint32_t a = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
        return class_v4(a, name);
    }
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
        *name = "link-local";
        return ADDR_PRIVATE;
    }
    if ((b[0] & 0xfe) == 0xfc) {
        *name = "unique local";
        return ADDR_PRIVATE;
    }
    if (b[0] == 0xff) {
        *name = "multicast";
        return ADDR_PRIVATE;
    }
    *name = "public";
    return ADDR_PUBLIC;
}

bool hr_ssrf_addr_allowed(const struct sockaddr *sa, hr_ssrf_policy_t policy, char *why,
                          size_t whylen)
{
    const char *name = "unknown";
    addr_class_t cls;
    char text[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        cls = class_v4(ntohl(in->sin_addr.s_addr), &name);
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        cls = class_v6(in6->sin6_addr.s6_addr, &name);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    } else {
        if (why != NULL)
            snprintf(why, whylen, "address family %d is not allowed", sa->sa_family);
        return false;
    }
    if (cls == ADDR_PUBLIC || policy == HR_SSRF_ALLOW ||
        (cls == ADDR_LOOPBACK && policy == HR_SSRF_LOOPBACK))
        return true;
    if (why != NULL)
        snprintf(why, whylen, "target address %s is %s: refused (SSRF guard)", text, name);
    return false;
}

int hr_ssrf_check_url(const char *url, hr_ssrf_policy_t policy, char *err, size_t errlen)
{
    int rc = -1;
    char *scheme = NULL, *host = NULL;
    CURLU *u = curl_url();
    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        snprintf(err, errlen, "not a valid URL");
        goto fail;
    }
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        snprintf(err, errlen, "the URL must be http or https");
        goto fail;
    }
    /* Literal addresses (IPv6 comes bracketed) and localhost names. */
    char lit[INET6_ADDRSTRLEN + 2];
    snprintf(lit, sizeof lit, "%s", host);
    size_t n = strlen(lit);
    if (n > 2 && lit[0] == '[' && lit[n - 1] == ']') {
        memmove(lit, lit + 1, n - 2);
        lit[n - 2] = '\0';
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&ss;
    bool literal = false;
    if (inet_pton(AF_INET, lit, &in->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        literal = true;
    } else if (inet_pton(AF_INET6, lit, &in6->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
        literal = true;
    } else if (strcasecmp(lit, "localhost") == 0 ||
               (n > 10 && strcasecmp(lit + n - 10, ".localhost") == 0)) {
        ss.ss_family = AF_INET;
        in->sin_addr.s_addr = htonl(0x7f000001);
        literal = true;
    }
    if (literal && !hr_ssrf_addr_allowed((struct sockaddr *)&ss, policy, err, errlen))
        goto fail;
    rc = 0;
fail:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

static curl_socket_t ssrf_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    hr_ssrf_guard_t *g = clientp;
    (void)purpose;
    if (!hr_ssrf_addr_allowed(&a->addr, g->policy, g->why, sizeof g->why)) {
        g->blocked = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

void hr_ssrf_guard(CURL *easy, hr_ssrf_guard_t *g)
{
    g->blocked = false;
    g->why[0] = '\0';
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, ssrf_open);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, g);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_PROXY, ""); /* never through an environment proxy */
}
