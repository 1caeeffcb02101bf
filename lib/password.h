/* password: Argon2id password hashes (libsodium crypto_pwhash_str) for
 * dashboard members, and the length rules of a new password. */
#ifndef HR_PASSWORD_H
#define HR_PASSWORD_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>

#define HR_PASSWORD_HASHLEN crypto_pwhash_STRBYTES
#define HR_PASSWORD_MAX 1024 /* bytes: bounds the work of one hash */

/* Hashes password into out (an "$argon2id$…" string). Returns 0, or -1 when
 * the hash could not be computed (out of memory). */
int hr_password_hash(const char *password, char out[HR_PASSWORD_HASHLEN])
    __attribute__((warn_unused_result));

/* True when password matches hash. A NULL hash (unknown email, OAuth-only
 * member) is checked against a dummy hash so the answer takes as long as a
 * real one, then refused. */
bool hr_password_verify(const char *hash, const char *password);

/* Checks a new password: at least min_chars characters (UTF-8), at most
 * HR_PASSWORD_MAX bytes. Returns NULL when fine, else the reason. */
const char *hr_password_check(const char *password, long min_chars);

#endif
