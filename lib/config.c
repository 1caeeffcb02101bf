/* config: the settings table, INI parsing with inih, environment overrides
 * and validation. A bad value names the setting and the source it came from. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef enum { CFG_STR, CFG_INT, CFG_LEVEL } cfg_type_t;

typedef struct cfg_def {
    const char *section;
    const char *name;
    cfg_type_t type;
    const char *def;
    long min, max;
    bool reloadable;
    size_t offset;
    size_t size; /* for strings */
    const char *help;
} cfg_def_t;

#define S(sec, nm, field, dflt, reload, hlp)                                                     \
    {sec, nm, CFG_STR, dflt, 0, 0, reload, offsetof(hr_config_t, field),                         \
     sizeof(((hr_config_t *)0)->field), hlp}
#define I(sec, nm, field, dflt, lo, hi, reload, hlp)                                             \
    {sec, nm, CFG_INT, dflt, lo, hi, reload, offsetof(hr_config_t, field), 0, hlp}

static const cfg_def_t cfg_defs[] = {
    S("api", "socket", api_socket, "run/api.sock", false,
      "Unix socket the FastCGI pool listens on (nginx connects to it)."),
    I("api", "workers", api_workers, "16", 1, 256, false,
      "Number of prefork FastCGI children (each waits for Redis's fsync per send, so several per core)."),
    I("api", "max_body", api_max_body, "1048576", 1024, 67108864, true,
      "Largest request body accepted, in bytes (nginx enforces the same limit)."),
    I("api", "key_cache_ttl", api_key_cache_ttl, "30", 0, 3600, true,
      "Seconds an API key lookup is cached in each child (0 disables)."),
    I("api", "backlog", api_backlog, "1024", 16, 65535, false, "listen() backlog of the socket."),
    I("api", "pending_ttl", api_pending_ttl, "86400", 60, 604800, true,
      "Seconds an accepted-but-not-yet-stored notification stays visible from Redis."),
    S("api", "public_url", api_public_url, "", true,
      "Public base URL of the API as providers reach it (https://herald.example.com), for"
      " delivery-receipt callbacks; empty: none are requested."),
    S("redis", "host", redis_host, "127.0.0.1", false, "Redis host."),
    I("redis", "port", redis_port, "6379", 1, 65535, false, "Redis TCP port."),
    S("redis", "socket", redis_socket, "", false, "Redis unix socket; used instead of host/port when set."),
    I("redis", "timeout_ms", redis_timeout_ms, "2000", 10, 60000, false,
      "Connect and command timeout for Redis."),
    S("redis", "password", redis_password, "", false,
      "Password sent with AUTH on every Redis connection (Redis requirepass); empty: none."),
    S("postgres", "conninfo", pg_conninfo, "dbname=herald", false,
      "libpq connection string for PostgreSQL."),
    {"log", "level", CFG_LEVEL, "info", 0, 0, true, offsetof(hr_config_t, log_level),
     sizeof(((hr_config_t *)0)->log_level), "Lowest level logged: debug, info, warn or error."},
    S("email", "smtp_url", email_smtp_url, "", true,
      "smtp://host:port or smtps://host:port; empty delivers to the Maildir sink."),
    S("email", "smtp_user", email_smtp_user, "", true, "SMTP user name (empty: no AUTH)."),
    S("email", "smtp_password", email_smtp_password, "", true, "SMTP password."),
    S("email", "from", email_from, "Herald <herald@localhost>", true, "From address of emails."),
    I("email", "timeout_ms", email_timeout_ms, "10000", 100, 600000, true,
      "Timeout of one SMTP transaction."),
    S("sink", "dir", sink_dir, "run/sink", true,
      "Folder of the local sink used by channels with no provider configured."),
    I("router", "batch", router_batch, "256", 1, 10000, true, "Ingest entries stored per transaction."),
    I("router", "block_ms", router_block_ms, "1000", 10, 60000, true, "XREADGROUP BLOCK time."),
    I("router", "claim_idle_ms", router_claim_idle_ms, "30000", 1000, 3600000, true,
      "Ingest entries idle this long in another router are taken over."),
    I("worker", "batch", worker_batch, "64", 1, 10000, true,
      "Deliveries read per XREADGROUP; at most a quarter of max_inflight is used."),
    I("worker", "block_ms", worker_block_ms, "1000", 10, 60000, true, "XREADGROUP BLOCK time."),
    I("worker", "lease_s", worker_lease_s, "60", 5, 86400, true,
      "Seconds a claimed delivery stays leased to one worker."),
    I("worker", "max_attempts", worker_max_attempts, "8", 1, 100, true,
      "Attempts before a delivery is marked failed."),
    I("worker", "retry_base_ms", worker_retry_base_ms, "1000", 1, 3600000, true,
      "First retry delay (exponential backoff with full jitter)."),
    I("worker", "retry_factor", worker_retry_factor, "2", 1, 10, true, "Backoff growth factor."),
    I("worker", "retry_cap_ms", worker_retry_cap_ms, "3600000", 1, 86400000, true,
      "Longest retry delay."),
    I("worker", "claim_idle_ms", worker_claim_idle_ms, "60000", 1000, 3600000, true,
      "Stream entries idle this long in another worker are taken over."),
    I("worker", "max_inflight", worker_max_inflight, "256", 1, 10000, true,
      "Sends one worker process holds at once, in flight or waiting for their provider's "
      "gate (libcurl multi); one provider may take three quarters of them."),
    I("worker", "provider_max_inflight", worker_provider_max_inflight, "16", 1, 10000, true,
      "Bulkhead: sends in flight at once to one provider endpoint."),
    I("worker", "smtp_lanes", worker_smtp_lanes, "16", 1, 256, false,
      "SMTP sends one worker runs at once, each in a thread of its own with its own SMTP and "
      "PostgreSQL connections."),
    I("worker", "breaker_threshold", worker_breaker_threshold, "5", 1, 1000, true,
      "Circuit breaker: consecutive failures of a provider endpoint that open it."),
    I("worker", "breaker_cooldown_ms", worker_breaker_cooldown_ms, "60000", 10, 3600000, true,
      "Circuit breaker: how long it stays open before one probe is let through."),
    I("worker", "http_timeout_ms", worker_http_timeout_ms, "10000", 100, 600000, true,
      "Timeout of one provider HTTP request."),
    S("worker", "channel_max_attempts", worker_channel_max_attempts, "", true,
      "Per-channel attempts, e.g. 'webhook=12,sms=5' (others: max_attempts)."),
    I("providers", "rate_telegram", providers_rate_telegram, "30", 0, 100000, true,
      "Messages per second per Telegram bot (0: unlimited)."),
    I("providers", "rate_discord", providers_rate_discord, "5", 0, 100000, true,
      "Requests per second per Discord webhook or bot."),
    I("providers", "rate_slack", providers_rate_slack, "1", 0, 100000, true,
      "Messages per second per Slack webhook or workspace."),
    I("providers", "rate_twilio", providers_rate_twilio, "100", 0, 100000, true,
      "Messages per second per Twilio account."),
    I("providers", "rate_whatsapp", providers_rate_whatsapp, "80", 0, 100000, true,
      "Messages per second per WhatsApp phone number id."),
    I("providers", "rate_resend", providers_rate_resend, "10", 0, 100000, true,
      "Requests per second per HTTP email API key."),
    I("providers", "rate_smtp", providers_rate_smtp, "0", 0, 100000, true,
      "Messages per second per SMTP server."),
    I("providers", "rate_webhook", providers_rate_webhook, "0", 0, 100000, true,
      "Requests per second per webhook endpoint (0: unlimited; the bulkhead still caps "
      "requests in flight)."),
    S("providers", "private_targets", providers_private_targets, "deny", true,
      "SSRF guard for webhook and provider URLs: deny (private, loopback and link-local "
      "addresses refused), loopback (only loopback allowed) or allow."),
    S("providers", "ca_file", providers_ca_file, "", true,
      "A PEM file of CA certificates providers' TLS servers are also verified against (a "
      "self-hosted gateway or SMTP relay with a private CA); the system's stay trusted."),
    I("webhooks", "disable_after_s", webhooks_disable_after_s, "259200", 60, 31536000, true,
      "An endpoint failing without a success for this long is disabled."),
    I("webhooks", "secret_overlap_s", webhooks_secret_overlap_s, "86400", 0, 2592000, true,
      "After a secret rotation the previous secret also signs for this long."),
    S("security", "master_key_file", security_master_key_file, "", false,
      "File holding the master key (64 hex characters) that seals secrets at rest."),
    S("security", "master_key", security_master_key, "", false,
      "The master key itself (64 hex characters); prefer master_key_file."),
    I("sweeper", "interval_ms", sweeper_interval_ms, "1000", 100, 600000, true,
      "Time between sweeps."),
    I("sweeper", "requeue_after_s", sweeper_requeue_after_s, "60", 1, 86400, true,
      "A delivery queued this long without progress is put on its stream again."),
    I("sweeper", "retention_days", sweeper_retention_days, "90", 1, 3650, true,
      "Notifications older than this are dropped."),
    I("accounts", "access_ttl_s", accounts_access_ttl_s, "900", 60, 86400, true,
      "Lifetime of a member's access token (JWT)."),
    I("accounts", "refresh_ttl_s", accounts_refresh_ttl_s, "2592000", 300, 31536000, true,
      "Idle lifetime of a session: each refresh issues a token valid this long again."),
    I("accounts", "password_min", accounts_password_min, "10", 8, 128, true,
      "Shortest password accepted at sign-up."),
    I("accounts", "login_max_per_email", accounts_login_max_per_email, "10", 1, 100000, true,
      "Failed logins allowed per email address per login window."),
    I("accounts", "login_max_per_ip", accounts_login_max_per_ip, "50", 1, 1000000, true,
      "Failed logins allowed per client address per login window."),
    I("accounts", "login_window_s", accounts_login_window_s, "900", 1, 86400, true,
      "Window of the login throttles, in seconds."),
    I("accounts", "key_grace_s", accounts_key_grace_s, "86400", 0, 2592000, true,
      "Seconds a rotated API key (or signing secret) keeps working by default."),
    I("accounts", "key_last_used_flush_s", accounts_key_last_used_flush_s, "5", 1, 3600, true,
      "Each API child records keys' last use with one UPDATE at most this often."),
    I("limits", "rate_window_s", limits_rate_window_s, "1", 1, 3600, true,
      "Window of the per-environment rate limit, in seconds."),
    I("limits", "free_rate", limits_free_rate, "10000", 0, 100000000, true,
      "Send requests per window per environment on the free plan (0: unlimited)."),
    I("limits", "free_quota", limits_free_quota, "10000000", 0, 2000000000, true,
      "Notifications per calendar month (UTC) per tenant on the free plan (0: unlimited)."),
    I("limits", "pro_rate", limits_pro_rate, "50000", 0, 100000000, true,
      "Send requests per window per environment on the pro plan (0: unlimited)."),
    I("limits", "pro_quota", limits_pro_quota, "100000000", 0, 2000000000, true,
      "Notifications per month per tenant on the pro plan (0: unlimited)."),
    I("limits", "custom_rate", limits_custom_rate, "50000", 0, 100000000, true,
      "Rate of a custom-plan tenant without its own tenants.rate_limit (0: unlimited)."),
    I("limits", "custom_quota", limits_custom_quota, "100000000", 0, 2000000000, true,
      "Quota of a custom-plan tenant without its own tenants.monthly_quota (0: unlimited)."),
    S("oauth", "redirect_url", oauth_redirect_url, "", true,
      "Where providers send the browser back: https://HOST/v1/auth/oauth/{provider}/callback "
      "with {provider} left in; empty derives it from the request."),
    I("oauth", "timeout_ms", oauth_timeout_ms, "10000", 100, 60000, true,
      "Timeout of each request to an OAuth provider."),
    S("oauth", "github_client_id", oauth_github_client_id, "", true,
      "GitHub OAuth app client id (empty: GitHub sign-in off)."),
    S("oauth", "github_client_secret", oauth_github_client_secret, "", true,
      "GitHub OAuth app client secret."),
    S("oauth", "github_authorize_url", oauth_github_authorize_url,
      "https://github.com/login/oauth/authorize", true, "GitHub authorization endpoint."),
    S("oauth", "github_token_url", oauth_github_token_url,
      "https://github.com/login/oauth/access_token", true, "GitHub token endpoint."),
    S("oauth", "github_userinfo_url", oauth_github_userinfo_url, "https://api.github.com/user",
      true, "GitHub user endpoint (id, email)."),
    S("oauth", "google_client_id", oauth_google_client_id, "", true,
      "Google OAuth client id (empty: Google sign-in off)."),
    S("oauth", "google_client_secret", oauth_google_client_secret, "", true,
      "Google OAuth client secret."),
    S("oauth", "google_authorize_url", oauth_google_authorize_url,
      "https://accounts.google.com/o/oauth2/v2/auth", true, "Google authorization endpoint."),
    S("oauth", "google_token_url", oauth_google_token_url, "https://oauth2.googleapis.com/token",
      true, "Google token endpoint."),
    S("oauth", "google_userinfo_url", oauth_google_userinfo_url,
      "https://openidconnect.googleapis.com/v1/userinfo", true,
      "Google userinfo endpoint (sub, email, email_verified)."),
    I("content", "categories_free", content_categories_free, "3", 0, 100000, true,
      "Categories an environment of a free-plan tenant may have."),
    I("content", "categories_pro", content_categories_pro, "10", 0, 100000, true,
      "Categories an environment of a pro-plan tenant may have."),
    I("content", "categories_custom", content_categories_custom, "100", 0, 100000, true,
      "Categories an environment of a custom-plan tenant may have."),
    S("realtime", "bind", realtime_bind, "127.0.0.1", false,
      "Address herald-realtime (WebSocket /v1/realtime, SSE /v1/stream) listens on."),
    I("realtime", "port", realtime_port, "8090", 1, 65535, false, "TCP port of herald-realtime."),
    I("realtime", "reuse_port", realtime_reuse_port, "0", 0, 1, false,
      "1: listen with SO_REUSEPORT so several gateway processes share the port."),
    I("realtime", "max_per_user", realtime_max_per_user, "32", 1, 100000, true,
      "Connections (tabs) one user may hold on one gateway."),
    I("realtime", "max_per_env", realtime_max_per_env, "100000", 1, 10000000, true,
      "Connections one environment may hold on one gateway."),
    I("realtime", "queue_max", realtime_queue_max, "256", 4, 100000, true,
      "Events queued for one connection; a client that falls further behind gets resync and is closed."),
    I("realtime", "replay_max", realtime_replay_max, "1000", 10, 100000, true,
      "Events kept per user for replay (XADD MAXLEN ~)."),
    I("realtime", "replay_window_s", realtime_replay_window_s, "3600", 10, 604800, true,
      "How long events stay replayable; a client away longer gets resync."),
    I("realtime", "fanout_maxlen", realtime_fanout_maxlen, "100000", 1000, 100000000, true,
      "Length herald:rt (the fan-out stream every gateway reads) is trimmed to (MAXLEN ~)."),
    I("realtime", "ping_s", realtime_ping_s, "25", 2, 3600, false,
      "Keep-alive: WebSocket ping and SSE comment interval; a peer silent twice as long is dropped."),
};
#define CFG_N (sizeof cfg_defs / sizeof cfg_defs[0])

static const cfg_def_t *cfg_find(const char *section, const char *name)
{
    for (size_t i = 0; i < CFG_N; i++)
        if (strcmp(cfg_defs[i].section, section) == 0 && strcmp(cfg_defs[i].name, name) == 0)
            return &cfg_defs[i];
    return NULL;
}

static int cfg_set(hr_config_t *cfg, const cfg_def_t *d, const char *value, const char *origin,
                   char *err, size_t errlen)
{
    char *field = (char *)cfg + d->offset;
    switch (d->type) {
    case CFG_STR:
        if (strlen(value) >= d->size) {
            snprintf(err, errlen, "%s: [%s] %s is too long (at most %zu bytes)", origin,
                     d->section, d->name, d->size - 1);
            return -1;
        }
        snprintf(field, d->size, "%s", value);
        return 0;
    case CFG_LEVEL: {
        hr_log_level_t lvl;
        if (hr_log_level_parse(value, &lvl) != 0) {
            snprintf(err, errlen, "%s: [%s] %s = '%s' must be debug, info, warn or error", origin,
                     d->section, d->name, value);
            return -1;
        }
        snprintf(field, d->size, "%s", value);
        return 0;
    }
    case CFG_INT: {
        char *end = NULL;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0') {
            snprintf(err, errlen, "%s: [%s] %s = '%s' is not an integer", origin, d->section,
                     d->name, value);
            return -1;
        }
        if (v < d->min || v > d->max) {
            snprintf(err, errlen, "%s: [%s] %s = %ld is out of range [%ld, %ld]", origin,
                     d->section, d->name, v, d->min, d->max);
            return -1;
        }
        *(long *)(void *)field = v;
        return 0;
    }
    }
    return -1;
}

typedef struct cfg_parse {
    hr_config_t *cfg;
    const char *path;
    char *err;
    size_t errlen;
    int failed;
    const cfg_def_t *last;   /* setting of the previous line, for continuations */
    char joined[2 * HR_CFG_STRLEN];
} cfg_parse_t;

/* inih reports an indented continuation line as the same name again: such
 * values are joined with a space (how a long conninfo is written). */
static int cfg_ini_handler(void *user, const char *section, const char *name, const char *value)
{
    cfg_parse_t *p = user;
    if (p->failed)
        return 0;
    const cfg_def_t *d = cfg_find(section, name);
    if (d == NULL) {
        snprintf(p->err, p->errlen, "%s: unknown setting [%s] %s", p->path, section, name);
        p->failed = 1;
        return 0;
    }
    if (d == p->last && d->type == CFG_STR) {
        size_t n = strlen(p->joined);
        snprintf(p->joined + n, sizeof p->joined - n, " %s", value);
    } else {
        snprintf(p->joined, sizeof p->joined, "%s", value);
    }
    p->last = d;
    if (cfg_set(p->cfg, d, p->joined, p->path, p->err, p->errlen) != 0) {
        p->failed = 1;
        return 0;
    }
    return 1;
}

/* inih cuts lines at INI_MAX_LINE bytes and reads the rest as a new line:
 * refuse such lines by number instead of misreading them. */
#define CFG_MAX_LINE 199
static int cfg_check_lines(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0; /* ini_parse reports it */
    int line = 1, c;
    size_t len = 0;
    while ((c = fgetc(f)) != EOF) {
        if (c == '\n') {
            line++;
            len = 0;
        } else if (++len > CFG_MAX_LINE) {
            snprintf(err, errlen,
                     "%s: line %d is longer than %d characters; continue a long value on "
                     "indented lines",
                     path, line, CFG_MAX_LINE);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

static void cfg_env_name(const cfg_def_t *d, char *buf, size_t len)
{
    snprintf(buf, len, "HERALD_%s_%s", d->section, d->name);
    for (char *c = buf; *c; c++)
        *c = (char)toupper((unsigned char)*c);
}

static int cfg_load_into(hr_config_t *cfg, const char *path, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < CFG_N; i++)
        if (cfg_set(cfg, &cfg_defs[i], cfg_defs[i].def, "default", err, errlen) != 0)
            return -1;
    if (path != NULL) {
        cfg_parse_t p;
        memset(&p, 0, sizeof p);
        p.cfg = cfg;
        p.path = path;
        p.err = err;
        p.errlen = errlen;
        if (cfg_check_lines(path, err, errlen) != 0)
            return -1;
        int rc = ini_parse(path, cfg_ini_handler, &p);
        if (p.failed)
            return -1;
        if (rc < 0) {
            snprintf(err, errlen, "%s: cannot open config file", path);
            return -1;
        }
        if (rc > 0) {
            snprintf(err, errlen, "%s: syntax error at line %d", path, rc);
            return -1;
        }
    }
    for (size_t i = 0; i < CFG_N; i++) {
        char name[96];
        cfg_env_name(&cfg_defs[i], name, sizeof name);
        const char *v = getenv(name);
        if (v != NULL && cfg_set(cfg, &cfg_defs[i], v, name, err, errlen) != 0)
            return -1;
    }
    const char *pub = cfg->api_public_url;
    if (pub[0] != '\0' && ((strncmp(pub, "https://", 8) != 0 && strncmp(pub, "http://", 7) != 0) ||
                           strpbrk(pub, " ?#") != NULL)) {
        snprintf(err, errlen, "[api] public_url must be an http(s) URL without query: %s", pub);
        return -1;
    }
    return 0;
}

int hr_config_load(hr_config_t *cfg, const char *path, char *err, size_t errlen)
{
    return cfg_load_into(cfg, path, err, errlen);
}

int hr_config_reload(hr_config_t *cur, const char *path, char *err, size_t errlen)
{
    hr_config_t next;
    if (cfg_load_into(&next, path, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < CFG_N; i++) {
        const cfg_def_t *d = &cfg_defs[i];
        if (!d->reloadable)
            continue;
        size_t sz = d->type == CFG_INT ? sizeof(long) : d->size;
        memcpy((char *)cur + d->offset, (char *)&next + d->offset, sz);
    }
    return 0;
}

int hr_config_write_sample(const char *path)
{
    FILE *f = path != NULL ? fopen(path, "w") : stdout;
    if (f == NULL)
        return -1;
    fprintf(f, "; Herald configuration. Every setting is shown with its default.\n"
               "; Each can be overridden by the environment variable named beside it.\n");
    const char *section = "";
    for (size_t i = 0; i < CFG_N; i++) {
        const cfg_def_t *d = &cfg_defs[i];
        char env[96];
        cfg_env_name(d, env, sizeof env);
        if (strcmp(section, d->section) != 0) {
            section = d->section;
            fprintf(f, "\n[%s]\n", section);
        }
        fprintf(f, "; %s\n; env %s", d->help, env);
        if (d->type == CFG_INT)
            fprintf(f, ", %ld..%ld", d->min, d->max);
        fprintf(f, "%s\n;%s = %s\n", d->reloadable ? ", reloaded on SIGHUP" : "", d->name, d->def);
    }
    if (f != stdout)
        fclose(f);
    return 0;
}

const char *hr_config_path(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)
            return argv[i + 1];
    const char *env = getenv("HERALD_CONFIG");
    return env != NULL && env[0] != '\0' ? env : NULL;
}
