/* oauth: the authorization-code flow against GitHub and Google (endpoints
 * from [oauth] in the configuration, so tests point them at a loopback fake):
 * the authorize URL, the code exchange and the user's identity (libcurl). */
#ifndef HR_OAUTH_H
#define HR_OAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

typedef struct hr_oauth_provider {
    const char *name;           /* "github" or "google" */
    const char *client_id;
    const char *client_secret;
    const char *authorize_url;
    const char *token_url;
    const char *userinfo_url;
    const char *scope;
} hr_oauth_provider_t;

typedef struct hr_oauth_identity {
    char subject[128];          /* the provider's stable user id */
    char email[256];
    bool email_verified;
    char name[256];
} hr_oauth_identity_t;

/* Fills p for provider name from cfg (pointers into cfg). Returns 0, or -1
 * when the provider is unknown or has no client id configured. */
int hr_oauth_provider(const hr_config_t *cfg, const char *name, hr_oauth_provider_t *p)
    __attribute__((warn_unused_result));

/* The URL to send the browser to (caller frees), or NULL on out-of-memory. */
char *hr_oauth_authorize_url(const hr_oauth_provider_t *p, const char *redirect_uri,
                             const char *state);

/* Exchanges code for an access token, then reads the user's identity.
 * Returns 0, or -1 with the reason in err (never containing a secret). */
int hr_oauth_exchange(const hr_oauth_provider_t *p, const char *code, const char *redirect_uri,
                      long timeout_ms, hr_oauth_identity_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
