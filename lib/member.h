/* member: dashboard members of a tenant — sign-up (a tenant, its default
 * project and environments, and the first member, in one transaction), lookup
 * by email, and sign-in through an OAuth provider's identity. */
#ifndef HR_MEMBER_H
#define HR_MEMBER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "ids.h"
#include "password.h"

#define HR_MEMBER_EMAIL_MAX 254
#define HR_MEMBER_NAME_MAX 200

typedef struct hr_member {
    char id[HR_UUID_STRLEN];
    char tenant_id[HR_UUID_STRLEN];
    char email[HR_MEMBER_EMAIL_MAX + 1];
    char name[4 * HR_MEMBER_NAME_MAX + 1];
    char password_hash[HR_PASSWORD_HASHLEN]; /* "" when the member has none (OAuth only) */
} hr_member_t;

typedef enum {
    HR_MEMBER_OK = 0,
    HR_MEMBER_TAKEN,    /* the email belongs to a member already */
    HR_MEMBER_NOTFOUND,
    HR_MEMBER_ERROR,    /* database failure: err says why */
} hr_member_result_t;

/* Normalises an email address (trims blanks, lower-cases) into out and checks
 * it. Returns 0, or -1 when it is not a valid address. */
int hr_member_email_normalise(const char *in, char *out, size_t outlen)
    __attribute__((warn_unused_result));

/* Creates a tenant named name with its default project, environments and
 * keys, and its first member (email already normalised; password_hash may be
 * NULL for an OAuth member), in one transaction. On HR_MEMBER_OK *tenant is
 * hr_tenant_create's document (caller decrefs; it holds the only copy of the
 * keys) and out is filled. */
hr_member_result_t hr_member_signup(hr_db_t *db, const char *name, const char *email,
                                    const char *password_hash, hr_member_t *out, json_t **tenant,
                                    char *err, size_t errlen);

/* Finds the member with this (normalised) email. */
hr_member_result_t hr_member_by_email(hr_db_t *db, const char *email, hr_member_t *out, char *err,
                                      size_t errlen);

/* Finds the member with this id. */
hr_member_result_t hr_member_by_id(hr_db_t *db, const char *id, hr_member_t *out, char *err,
                                   size_t errlen);

/* Sign-in with a provider identity: the member already linked to
 * (provider, subject); else the member with this email when the provider
 * vouches for it (email_verified), who gets linked; else a new tenant and
 * member (sign-up). *tenant is set (caller decrefs) only when one was
 * created. */
hr_member_result_t hr_member_oauth(hr_db_t *db, const char *provider, const char *subject,
                                   const char *email, bool email_verified, const char *name,
                                   hr_member_t *out, json_t **tenant, char *err, size_t errlen);

#endif
