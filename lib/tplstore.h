/* tplstore: the per-process cache of each environment's content — branding,
 * event types with their category, published templates and the parts of
 * them compiled so far — invalidated by the environment's content version
 * (content_versions, bumped by triggers on every change that alters how a
 * message renders). */
#ifndef HR_TPLSTORE_H
#define HR_TPLSTORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "tpl.h"

/* Environments kept at once; the least recently used is dropped beyond it. */
#define HR_TPLSTORE_MAX_ENVS 256

/* What is cached for one event type (or template key) of an environment.
 * Pointers into the store stay valid until a later hr_tplstore_env call
 * (which may drop or evict entries). */
typedef struct hr_tplstore_type {
    char *key;
    int version;      /* published template version; 0: no template */
    json_t *content;  /* that version's content, or NULL */
    json_t *category; /* {"key","name","emoji","color"} (non-empty values), or NULL */
    bool critical;
    struct tplstore_part *parts; /* compiled parts, by "locale/channel/part" */
    size_t nparts, partcap;
} hr_tplstore_type_t;

typedef struct hr_tplstore_env {
    char id[40];
    long long version; /* content version the entry reflects */
    json_t *brand;     /* non-empty branding values (company_name, logo_url, ...) */
    char default_locale[36];
    hr_tplstore_type_t **types;
    size_t ntypes, typecap;
    unsigned long long used; /* LRU clock */
} hr_tplstore_env_t;

/* The content version of env: *version is 0 when nothing was ever stored.
 * Returns 0 or -1 with err (database unreachable). */
int hr_tplstore_version(hr_db_t *db, const char *env, long long *version, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The cache entry of env reflecting content version `version` (from
 * hr_tplstore_version or a query that read it): an older entry is dropped
 * and branding reloaded. Returns NULL with err when the database fails.
 * Owned by the store. */
hr_tplstore_env_t *hr_tplstore_env(hr_db_t *db, const char *env, long long version, char *err,
                                   size_t errlen);

/* The cached type `key` of e, loading its event type, category and published
 * template on first use. Returns NULL with err when the database fails.
 * Owned by the store. */
hr_tplstore_type_t *hr_tplstore_type(hr_db_t *db, hr_tplstore_env_t *e, const char *key, char *err,
                                     size_t errlen);

/* The compiled template of source src (a part of t's content) under name
 * (e.g. "fr/email/html"), compiled on first use. Returns NULL with *err when
 * it does not compile. Owned by the store. */
const hr_tpl_t *hr_tplstore_part(hr_tplstore_type_t *t, const char *name, const char *src,
                                 hr_tpl_error_t *err);

/* Frees every cached environment (process exit; also registered atexit). */
void hr_tplstore_clear(void);

#endif
