/* config: every setting of every Herald process in one table, read from an
 * INI file (inih) and overridden by HERALD_<SECTION>_<NAME> environment variables. */
#ifndef HR_CONFIG_H
#define HR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define HR_CFG_STRLEN 512

typedef struct hr_config {
    /* [api] */
    char api_socket[HR_CFG_STRLEN];
    long api_workers;
    long api_max_body;
    long api_key_cache_ttl;
    long api_backlog;
    long api_pending_ttl;
    /* [redis] */
    char redis_host[HR_CFG_STRLEN];
    long redis_port;
    char redis_socket[HR_CFG_STRLEN];
    long redis_timeout_ms;
    /* [postgres] */
    char pg_conninfo[HR_CFG_STRLEN];
    /* [log] */
    char log_level[16];
    /* [email] */
    char email_smtp_url[HR_CFG_STRLEN];
    char email_smtp_user[HR_CFG_STRLEN];
    char email_smtp_password[HR_CFG_STRLEN];
    char email_from[HR_CFG_STRLEN];
    long email_timeout_ms;
    /* [sink] */
    char sink_dir[HR_CFG_STRLEN];
    /* [router] */
    long router_batch;
    long router_block_ms;
    long router_claim_idle_ms;
    /* [worker] */
    long worker_batch;
    long worker_block_ms;
    long worker_lease_s;
    long worker_max_attempts;
    long worker_retry_base_ms;
    long worker_retry_factor;
    long worker_retry_cap_ms;
    long worker_claim_idle_ms;
    /* [security] */
    char security_master_key[HR_CFG_STRLEN];
    char security_master_key_file[HR_CFG_STRLEN];
    /* [sweeper] */
    long sweeper_interval_ms;
    long sweeper_requeue_after_s;
    long sweeper_retention_days;
} hr_config_t;

/* Fills cfg with defaults, then the file at path (NULL: no file), then the
 * environment. Returns 0, or -1 with a message naming the setting in err. */
int hr_config_load(hr_config_t *cfg, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Like hr_config_load but for SIGHUP: on failure cur is left untouched; on
 * success only settings marked reloadable change. */
int hr_config_reload(hr_config_t *cur, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Writes the commented sample configuration (every setting) to path, or
 * stdout when path is NULL. Returns 0 or -1. */
int hr_config_write_sample(const char *path);

/* The config file named by -c, else $HERALD_CONFIG, else NULL. */
const char *hr_config_path(int argc, char **argv);

#endif
