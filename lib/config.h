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
    char api_public_url[HR_CFG_STRLEN];
    /* [redis] */
    char redis_host[HR_CFG_STRLEN];
    long redis_port;
    char redis_socket[HR_CFG_STRLEN];
    long redis_timeout_ms;
    char redis_password[HR_CFG_STRLEN];
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
    long worker_max_inflight;
    long worker_provider_max_inflight;
    long worker_smtp_lanes;
    long worker_breaker_threshold;
    long worker_breaker_cooldown_ms;
    long worker_http_timeout_ms;
    char worker_channel_max_attempts[HR_CFG_STRLEN];
    /* [providers] per-second send rates per provider endpoint (0: unlimited) */
    long providers_rate_telegram;
    long providers_rate_discord;
    long providers_rate_slack;
    long providers_rate_twilio;
    long providers_rate_whatsapp;
    long providers_rate_resend;
    long providers_rate_smtp;
    long providers_rate_webhook;
    char providers_private_targets[16];
    char providers_ca_file[HR_CFG_STRLEN];
    /* [webhooks] */
    long webhooks_disable_after_s;
    long webhooks_secret_overlap_s;
    /* [security] */
    char security_master_key[HR_CFG_STRLEN];
    char security_master_key_file[HR_CFG_STRLEN];
    /* [sweeper] */
    long sweeper_interval_ms;
    long sweeper_requeue_after_s;
    long sweeper_retention_days;
    /* [accounts] */
    long accounts_access_ttl_s;
    long accounts_refresh_ttl_s;
    long accounts_password_min;
    long accounts_login_max_per_email;
    long accounts_login_max_per_ip;
    long accounts_login_window_s;
    long accounts_key_grace_s;
    long accounts_key_last_used_flush_s;
    /* [limits] */
    long limits_rate_window_s;
    long limits_free_rate;
    long limits_free_quota;
    long limits_pro_rate;
    long limits_pro_quota;
    long limits_custom_rate;
    long limits_custom_quota;
    /* [oauth] */
    char oauth_redirect_url[HR_CFG_STRLEN];
    long oauth_timeout_ms;
    char oauth_github_client_id[HR_CFG_STRLEN];
    char oauth_github_client_secret[HR_CFG_STRLEN];
    char oauth_github_authorize_url[HR_CFG_STRLEN];
    char oauth_github_token_url[HR_CFG_STRLEN];
    char oauth_github_userinfo_url[HR_CFG_STRLEN];
    char oauth_google_client_id[HR_CFG_STRLEN];
    char oauth_google_client_secret[HR_CFG_STRLEN];
    char oauth_google_authorize_url[HR_CFG_STRLEN];
    char oauth_google_token_url[HR_CFG_STRLEN];
    char oauth_google_userinfo_url[HR_CFG_STRLEN];
    /* [content] */
    long content_categories_free;
    long content_categories_pro;
    long content_categories_custom;
    /* [realtime] */
    char realtime_bind[HR_CFG_STRLEN];
    long realtime_port;
    long realtime_reuse_port;
    long realtime_max_per_user;
    long realtime_max_per_env;
    long realtime_queue_max;
    long realtime_replay_max;
    long realtime_replay_window_s;
    long realtime_fanout_maxlen;
    long realtime_ping_s;
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
