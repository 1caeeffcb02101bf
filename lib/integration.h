/* integration: an environment's provider configuration for one channel
 * (provider name, credentials opened from their sealed form, settings),
 * loaded for a whole batch with one query and cached by updated_at so the
 * credentials are decrypted once per change, not once per message. */
#ifndef HR_INTEGRATION_H
#define HR_INTEGRATION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "channel.h"
#include "db.h"
#include "ids.h"

typedef struct hr_integration {
    char environment_id[HR_UUID_STRLEN];
    hr_channel_t channel;
    char provider[32];      /* "smtp", "resend", "twilio", "telegram", … */
    json_t *credentials;    /* opened credentials (object) */
    json_t *settings;       /* object */
    char updated_at[48];
    char hook_secret[129];  /* secret of the provider's callback URL ("" none) */
    int refs;
} hr_integration_t;

/* Takes one more reference (a send in flight keeps its integration alive
 * while the cache moves on). */
hr_integration_t *hr_integration_ref(hr_integration_t *in);

/* Drops a reference; the last one wipes the credentials and frees. */
void hr_integration_unref(hr_integration_t *in);

/* A string of credentials or settings, or def. */
const char *hr_integration_cred(const hr_integration_t *in, const char *key, const char *def);
const char *hr_integration_setting(const hr_integration_t *in, const char *key, const char *def);
/* An integer setting, or def. */
long hr_integration_setting_int(const hr_integration_t *in, const char *key, long def);

#define HR_INTEGRATION_CACHE_MAX 1024

typedef struct hr_integration_cache {
    hr_channel_t channel;
    hr_integration_t *items[HR_INTEGRATION_CACHE_MAX];
    size_t n;
} hr_integration_cache_t;

void hr_integration_cache_init(hr_integration_cache_t *c, hr_channel_t ch);

/* Refreshes the entries of the given environments (one query). Rows whose
 * updated_at is unchanged keep their opened credentials; environments with
 * no row lose theirs. A row whose credentials cannot be opened (wrong
 * master key) is logged and treated as absent. Returns 0, or -1 with err
 * (database unreachable: the cache is unchanged). */
int hr_integration_cache_load(hr_integration_cache_t *c, hr_db_t *db, const char *const *envs,
                              size_t n, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The cached integration of env (borrowed: take a reference to keep it past
 * the next load), or NULL. */
hr_integration_t *hr_integration_cache_get(hr_integration_cache_t *c, const char *env);

/* Drops every entry. */
void hr_integration_cache_free(hr_integration_cache_t *c);

#endif
