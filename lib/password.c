/* password: Argon2id hashing with libsodium's interactive limits. */
#include "password.h"

#include <string.h>

/* What an unknown email (or a member without a password) is verified
 * against, so the answer costs the same time as for a known one: an Argon2id
 * hash, with the parameters hr_password_hash uses, of a random password that
 * was thrown away. Matching it would change nothing: the answer is "no". */
static const char dummy_hash[HR_PASSWORD_HASHLEN] =
    "$argon2id$v=19$m=65536,t=2,p=1$iN8TDPoYWf2Ol4E2KTdpXg$28Ymx/N1c3cFsB9L2Uqde9RXuoY5WD8LfaFRpGkMYCM";

int hr_password_hash(const char *password, char out[HR_PASSWORD_HASHLEN])
{
    return crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0
               ? 0
               : -1;
}

bool hr_password_verify(const char *hash, const char *password)
{
    size_t n = strlen(password);
    if (hash == NULL || hash[0] == '\0' || n > HR_PASSWORD_MAX) {
        if (crypto_pwhash_str_verify(dummy_hash, password, n > HR_PASSWORD_MAX ? 0 : n) == 0)
            return false; /* the thrown-away password was guessed: still no */
        return false;
    }
    return crypto_pwhash_str_verify(hash, password, n) == 0;
}

const char *hr_password_check(const char *password, long min_chars)
{
    size_t bytes = strlen(password), chars = 0;
    for (const char *p = password; *p; p++)
        if (((unsigned char)*p & 0xc0) != 0x80)
            chars++;
    if ((long)chars < min_chars)
        return "is too short";
    if (bytes > HR_PASSWORD_MAX)
        return "is too long";
    return NULL;
}
