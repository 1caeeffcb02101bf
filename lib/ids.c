/* ids: UUIDv7 generation and deterministic derivation (libsodium randomness
 * and BLAKE2b). */
#include "ids.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void ids_format(const unsigned char b[16], char out[HR_UUID_STRLEN])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

static int ids_parse(const char *s, unsigned char b[16])
{
    if (!hr_uuid_valid(s))
        return -1;
    size_t n = 0;
    for (const char *p = s; *p && n < 32; p++) {
        if (*p == '-')
            continue;
        int v = isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10);
        if (n % 2 == 0)
            b[n / 2] = (unsigned char)(v << 4);
        else
            b[n / 2] |= (unsigned char)v;
        n++;
    }
    return 0;
}

void hr_uuid7_at(uint64_t ms, char out[HR_UUID_STRLEN])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (b[6] & 0x0f));
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
    ids_format(b, out);
}

void hr_uuid7(char out[HR_UUID_STRLEN])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    hr_uuid7_at((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u, out);
}

void hr_uuid_derive(const char *parent, const char *label, char out[HR_UUID_STRLEN])
{
    unsigned char p[16] = {0}, h[16];
    (void)ids_parse(parent, p);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, p, sizeof p);
    crypto_generichash_update(&st, (const unsigned char *)label, strlen(label));
    crypto_generichash_final(&st, h, sizeof h);
    memcpy(h, p, 6); /* keep the parent's time so children sort with it */
    h[6] = (unsigned char)(0x80 | (h[6] & 0x0f)); /* version 8: custom */
    h[8] = (unsigned char)(0x80 | (h[8] & 0x3f));
    ids_format(h, out);
}

bool hr_uuid_valid(const char *s)
{
    if (s == NULL || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

uint64_t hr_uuid7_time(const char *s)
{
    unsigned char b[16];
    if (ids_parse(s, b) != 0)
        return 0;
    uint64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = (ms << 8) | b[i];
    return ms;
}
