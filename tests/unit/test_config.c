/* Unit tests of config: defaults, INI files, HERALD_<SECTION>_<NAME> overrides,
 * error messages that name the setting and its source, reload, the config
 * path and the sample file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

extern char **environ;

/* make check may run with HERALD_* set; every test starts from a clean slate. */
static void clear_herald_env(void)
{
    bool again = true;
    while (again) {
        again = false;
        for (char **e = environ; *e != NULL; e++) {
            if (strncmp(*e, "HERALD_", 7) == 0) {
                char name[128];
                size_t n = strcspn(*e, "=");
                snprintf(name, sizeof name, "%.*s", (int)n, *e);
                unsetenv(name);
                again = true;
                break;
            }
        }
    }
}

static int setup(void **state)
{
    (void)state;
    clear_herald_env();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    clear_herald_env();
    return 0;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", needle, haystack);
}

static void assert_starts_with(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("expected \"%s\" to start with \"%s\"", s, prefix);
}

/* Writes text to a new file under /tmp; path receives its name. */
static void write_temp(const char *text, char path[64])
{
    snprintf(path, 64, "/tmp/herald-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Loads text as a config file (removed again before returning). */
static int load_text(const char *text, hr_config_t *cfg, char *err, size_t errlen, char path[64])
{
    write_temp(text, path);
    int rc = hr_config_load(cfg, path, err, errlen);
    unlink(path);
    return rc;
}

static char *repeat_char(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_defaults_without_file(void **state)
{
    (void)state;
    hr_config_t cfg;
    char err[256] = "";
    assert_int_equal(hr_config_load(&cfg, NULL, err, sizeof err), 0);
    assert_string_equal(cfg.api_socket, "run/api.sock");
    assert_int_equal(cfg.api_workers, 16);
    assert_int_equal(cfg.api_max_body, 1048576);
    assert_int_equal(cfg.api_key_cache_ttl, 30);
    assert_string_equal(cfg.redis_host, "127.0.0.1");
    assert_int_equal(cfg.redis_port, 6379);
    assert_string_equal(cfg.redis_socket, "");
    assert_string_equal(cfg.pg_conninfo, "dbname=herald");
    assert_string_equal(cfg.log_level, "info");
    assert_string_equal(cfg.email_smtp_url, "");
    assert_string_equal(cfg.email_from, "Herald <herald@localhost>");
    assert_int_equal(cfg.worker_max_attempts, 8);
    assert_int_equal(cfg.worker_retry_base_ms, 1000);
    assert_int_equal(cfg.worker_retry_factor, 2);
    assert_int_equal(cfg.worker_retry_cap_ms, 3600000);
    assert_int_equal(cfg.sweeper_retention_days, 90);
}

static void test_file_overrides_defaults(void **state)
{
    (void)state;
    hr_config_t cfg;
    char err[256] = "", path[64];
    const char *text = "; a comment\n"
                       "# another comment\n"
                       "[api]\n"
                       "workers = 16\n"
                       "socket=/run/herald/api.sock\n"
                       "max_body = 2048 ; inline comment\n"
                       "\n"
                       "[redis]\n"
                       "  host = redis.internal  \n"
                       "port = 6380\n"
                       "[log]\n"
                       "level = debug\n"
                       "[email]\n"
                       "from = Alerts <alerts@example.com>\n"
                       "smtp_password =\n";
    assert_int_equal(load_text(text, &cfg, err, sizeof err, path), 0);
    assert_int_equal(cfg.api_workers, 16);
    assert_string_equal(cfg.api_socket, "/run/herald/api.sock");
    assert_int_equal(cfg.api_max_body, 2048);
    assert_string_equal(cfg.redis_host, "redis.internal");
    assert_int_equal(cfg.redis_port, 6380);
    assert_string_equal(cfg.log_level, "debug");
    assert_string_equal(cfg.email_from, "Alerts <alerts@example.com>");
    assert_string_equal(cfg.email_smtp_password, "");
    /* Settings the file does not name keep their defaults. */
    assert_int_equal(cfg.api_backlog, 1024);
    assert_string_equal(cfg.pg_conninfo, "dbname=herald");
}

static void test_env_overrides_file(void **state)
{
    (void)state;
    hr_config_t cfg;
    char err[256] = "", path[64];
    setenv("HERALD_API_WORKERS", "32", 1);
    setenv("HERALD_REDIS_HOST", "from-env", 1);
    setenv("HERALD_LOG_LEVEL", "error", 1);
    setenv("HERALD_WORKER_RETRY_CAP_MS", "5000", 1);
    setenv("HERALD_EMAIL_SMTP_URL", "", 1);
    const char *text = "[api]\nworkers = 8\n[redis]\nhost = from-file\nport = 7000\n"
                       "[email]\nsmtp_url = smtp://mail:25\n";
    assert_int_equal(load_text(text, &cfg, err, sizeof err, path), 0);
    assert_int_equal(cfg.api_workers, 32);
    assert_string_equal(cfg.redis_host, "from-env");
    assert_string_equal(cfg.log_level, "error");
    assert_int_equal(cfg.worker_retry_cap_ms, 5000);
    /* An empty variable is a value too: it clears the file's setting. */
    assert_string_equal(cfg.email_smtp_url, "");
    /* The file still applies where no variable is set. */
    assert_int_equal(cfg.redis_port, 7000);
}

static void test_env_without_file(void **state)
{
    (void)state;
    hr_config_t cfg;
    char err[256] = "";
    setenv("HERALD_SWEEPER_RETENTION_DAYS", "7", 1);
    setenv("HERALD_POSTGRES_CONNINFO", "host=/run/pg dbname=h", 1);
    setenv("HERALD_NOT_A_SETTING", "ignored", 1);
    assert_int_equal(hr_config_load(&cfg, NULL, err, sizeof err), 0);
    assert_int_equal(cfg.sweeper_retention_days, 7);
    assert_string_equal(cfg.pg_conninfo, "host=/run/pg dbname=h");
}

static void test_bounds_are_inclusive(void **state)
{
    (void)state;
    hr_config_t cfg;
    char err[256] = "", path[64];
    assert_int_equal(load_text("[redis]\nport = 1\n[api]\nworkers = 256\n", &cfg, err,
                               sizeof err, path),
                     0);
    assert_int_equal(cfg.redis_port, 1);
    assert_int_equal(cfg.api_workers, 256);
    assert_int_equal(load_text("[redis]\nport = 65535\n[api]\nkey_cache_ttl = 0\n", &cfg, err,
                               sizeof err, path),
                     0);
    assert_int_equal(cfg.redis_port, 65535);
    assert_int_equal(cfg.api_key_cache_ttl, 0);
}

/* One refused configuration: a file (NULL: none) and/or one variable. */
typedef struct bad_case {
    const char *name;
    const char *file;
    const char *env_name;
    const char *env_value;
    const char *want; /* expected in the message after the source */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {"unknown setting", "[api]\nnickname = x\n", NULL, NULL, "unknown setting [api] nickname"},
    {"unknown section", "[nosuch]\nworkers = 4\n", NULL, NULL, "unknown setting [nosuch] workers"},
    {"setting outside a section", "workers = 4\n", NULL, NULL, "unknown setting [] workers"},
    {"word for integer", "[api]\nworkers = four\n", NULL, NULL,
     "[api] workers = 'four' is not an integer"},
    {"trailing junk", "[api]\nworkers = 4x\n", NULL, NULL,
     "[api] workers = '4x' is not an integer"},
    {"empty integer", "[api]\nworkers =\n", NULL, NULL, "[api] workers = '' is not an integer"},
    {"decimal", "[redis]\ntimeout_ms = 1.5\n", NULL, NULL,
     "[redis] timeout_ms = '1.5' is not an integer"},
    {"integer overflow", "[redis]\nport = 99999999999999999999999\n", NULL, NULL, "[redis] port"},
    {"below range", "[api]\nworkers = 0\n", NULL, NULL,
     "[api] workers = 0 is out of range [1, 256]"},
    {"above range", "[api]\nworkers = 257\n", NULL, NULL,
     "[api] workers = 257 is out of range [1, 256]"},
    {"negative", "[api]\nkey_cache_ttl = -1\n", NULL, NULL,
     "[api] key_cache_ttl = -1 is out of range [0, 3600]"},
    {"bad log level", "[log]\nlevel = verbose\n", NULL, NULL,
     "[log] level = 'verbose' must be debug, info, warn or error"},
    {"syntax error line", "[api]\nworkers = 4\nno equals sign here\n", NULL, NULL,
     "syntax error at line 3"},
    {"broken section header", "[api]\nworkers = 4\n[redis\n", NULL, NULL, "syntax error at line 3"},
    {"first error wins", "[api]\nworkers = x\n[redis]\nport = y\n", NULL, NULL,
     "[api] workers = 'x' is not an integer"},
    {"env word for integer", NULL, "HERALD_API_WORKERS", "lots",
     "[api] workers = 'lots' is not an integer"},
    {"env out of range", NULL, "HERALD_REDIS_PORT", "70000",
     "[redis] port = 70000 is out of range [1, 65535]"},
    {"env bad log level", NULL, "HERALD_LOG_LEVEL", "loud",
     "[log] level = 'loud' must be debug, info, warn or error"},
    {"env checked after a good file", "[api]\nworkers = 4\n", "HERALD_WORKER_BATCH", "0",
     "[worker] batch = 0 is out of range [1, 10000]"},
};

static void test_refusals_name_setting_and_source(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case_t *c = &bad_cases[i];
        hr_config_t cfg;
        char err[512] = "", path[64] = "", source[128];
        if (c->env_name != NULL)
            setenv(c->env_name, c->env_value, 1);
        int rc = c->file != NULL ? load_text(c->file, &cfg, err, sizeof err, path)
                                 : hr_config_load(&cfg, NULL, err, sizeof err);
        if (c->env_name != NULL)
            unsetenv(c->env_name);
        /* The source is the variable when one is set, else the file. */
        snprintf(source, sizeof source, "%s: ", c->env_name != NULL ? c->env_name : path);
        if (rc != -1 || strncmp(err, source, strlen(source)) != 0 || strstr(err, c->want) == NULL)
            fail_msg("%s: rc %d, \"%s\"; want -1, \"%s...%s\"", c->name, rc, err, source,
                     c->want);
    }
}

static void test_missing_file(void **state)
{
    (void)state;
    hr_config_t cfg;
    char err[256] = "";
    const char *path = "/tmp/herald-test-config-does-not-exist.ini";
    unlink(path);
    assert_int_equal(hr_config_load(&cfg, path, err, sizeof err), -1);
    assert_string_equal(err, "/tmp/herald-test-config-does-not-exist.ini: cannot open config file");
}

static void test_string_length_limit_from_env(void **state)
{
    (void)state;
    hr_config_t cfg;
    char err[256] = "";
    char *longest = repeat_char('h', HR_CFG_STRLEN - 1);
    char *too_long = repeat_char('h', HR_CFG_STRLEN);
    setenv("HERALD_REDIS_HOST", longest, 1);
    assert_int_equal(hr_config_load(&cfg, NULL, err, sizeof err), 0);
    assert_string_equal(cfg.redis_host, longest);
    setenv("HERALD_REDIS_HOST", too_long, 1);
    assert_int_equal(hr_config_load(&cfg, NULL, err, sizeof err), -1);
    assert_string_equal(err, "HERALD_REDIS_HOST: [redis] host is too long (at most 511 bytes)");
    free(longest);
    free(too_long);
}

/* A value the table allows (under HR_CFG_STRLEN bytes) must be settable from
 * the file too, e.g. a long libpq conninfo with a password. */
static void test_long_value_from_file(void **state)
{
    (void)state;
    hr_config_t cfg;
    char err[256] = "", path[64];
    char value[400], text[512];
    /* About 300 bytes, written on an indented continuation line (inih cuts
     * single lines at 200 bytes). */
    char pw[200];
    snprintf(pw, sizeof pw, "password=%0180d", 0);
    snprintf(value, sizeof value, "host=db.example.com user=herald dbname=herald %s", pw);
    snprintf(text, sizeof text, "[postgres]\nconninfo = host=db.example.com user=herald dbname=herald\n    %s\n", pw);
    int rc = load_text(text, &cfg, err, sizeof err, path);
    if (rc != 0)
        fail_msg("a %zu-byte conninfo was refused: %s", strlen(value), err);
    assert_string_equal(cfg.pg_conninfo, value);
}

static void test_too_long_value_from_file(void **state)
{
    (void)state;
    hr_config_t cfg;
    char err[256] = "", path[64], want[128];
    /* Three continuation lines of 180 bytes: over the 511-byte limit. */
    char *value = repeat_char('a', 180);
    char *text = malloc(4 * strlen(value) + 64);
    assert_non_null(text);
    sprintf(text, "[sink]\ndir = %s\n  %s\n  %s\n", value, value, value);
    int rc = load_text(text, &cfg, err, sizeof err, path);
    assert_int_equal(rc, -1);
    snprintf(want, sizeof want, "%s: [sink] dir is too long (at most 511 bytes)", path);
    assert_string_equal(err, want);
    /* One line over inih's limit is refused by its number, not misread. */
    char *line = repeat_char('b', 250);
    sprintf(text, "[sink]\ndir = %s\n", line);
    rc = load_text(text, &cfg, err, sizeof err, path);
    free(line);
    free(value);
    free(text);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "line 2 is longer than 199 characters"));
}

static void test_reload_changes_only_reloadable(void **state)
{
    (void)state;
    hr_config_t cfg;
    char err[256] = "", path[64];
    const char *first = "[api]\nworkers = 4\nmax_body = 2048\nsocket = /run/a.sock\n"
                        "[redis]\nhost = redis-a\n[log]\nlevel = info\n"
                        "[worker]\nmax_attempts = 5\n";
    const char *second = "[api]\nworkers = 8\nmax_body = 4096\nsocket = /run/b.sock\n"
                         "[redis]\nhost = redis-b\n[log]\nlevel = debug\n[email]\nfrom = b@x.org\n";
    assert_int_equal(load_text(first, &cfg, err, sizeof err, path), 0);
    write_temp(second, path);
    int rc = hr_config_reload(&cfg, path, err, sizeof err);
    unlink(path);
    assert_int_equal(rc, 0);
    /* Reloadable: take the new file's values. */
    assert_int_equal(cfg.api_max_body, 4096);
    assert_string_equal(cfg.log_level, "debug");
    assert_string_equal(cfg.email_from, "b@x.org");
    /* Reloadable and no longer in the file: back to the default. */
    assert_int_equal(cfg.worker_max_attempts, 8);
    /* Not reloadable: unchanged until restart. */
    assert_int_equal(cfg.api_workers, 4);
    assert_string_equal(cfg.api_socket, "/run/a.sock");
    assert_string_equal(cfg.redis_host, "redis-a");
}

static void test_reload_applies_env(void **state)
{
    (void)state;
    hr_config_t cfg;
    char err[256] = "";
    assert_int_equal(hr_config_load(&cfg, NULL, err, sizeof err), 0);
    setenv("HERALD_SWEEPER_INTERVAL_MS", "250", 1);
    setenv("HERALD_REDIS_PORT", "7777", 1);
    assert_int_equal(hr_config_reload(&cfg, NULL, err, sizeof err), 0);
    assert_int_equal(cfg.sweeper_interval_ms, 250);
    assert_int_equal(cfg.redis_port, 6379);
}

static void test_failed_reload_keeps_old_config(void **state)
{
    (void)state;
    hr_config_t cfg, before;
    char err[256] = "", path[64], want[128];
    assert_int_equal(load_text("[api]\nmax_body = 2048\n[log]\nlevel = warn\n", &cfg, err,
                               sizeof err, path),
                     0);
    memcpy(&before, &cfg, sizeof cfg);

    /* The good setting before the bad one must not leak into cfg. */
    write_temp("[api]\nmax_body = 4096\n[log]\nlevel = loud\n", path);
    int rc = hr_config_reload(&cfg, path, err, sizeof err);
    unlink(path);
    assert_int_equal(rc, -1);
    snprintf(want, sizeof want, "%s: [log] level = 'loud' must be debug, info, warn or error",
             path);
    assert_string_equal(err, want);
    assert_memory_equal(&cfg, &before, sizeof cfg);

    assert_int_equal(hr_config_reload(&cfg, "/tmp/herald-test-config-gone.ini", err, sizeof err),
                     -1);
    assert_contains(err, "cannot open config file");
    assert_memory_equal(&cfg, &before, sizeof cfg);

    setenv("HERALD_API_MAX_BODY", "1", 1);
    assert_int_equal(hr_config_reload(&cfg, NULL, err, sizeof err), -1);
    assert_contains(err, "HERALD_API_MAX_BODY: [api] max_body = 1 is out of range");
    assert_memory_equal(&cfg, &before, sizeof cfg);
}

/* hr_config_path takes main's argv: the arguments, copied into writable
 * storage, then NULL. The result is valid until the next call. */
static const char *path_of(const char *const args[])
{
    static char store[8][64];
    static char *argv[9];
    int argc = 0;
    for (; args[argc] != NULL; argc++) {
        snprintf(store[argc], sizeof store[argc], "%s", args[argc]);
        argv[argc] = store[argc];
    }
    argv[argc] = NULL;
    return hr_config_path(argc, argv);
}

static void test_config_path(void **state)
{
    (void)state;
    const char *const with_c[] = {"herald-api", "-v", "-c", "/etc/herald/a.ini", NULL};
    const char *const with_long[] = {"herald-api", "--config", "/etc/herald/b.ini", NULL};
    const char *const dangling[] = {"herald-api", "-c", NULL};
    const char *const none[] = {"herald-api", NULL};
    const char *const value_is_c[] = {"herald-api", "/x.ini", "-c", NULL};

    assert_string_equal(path_of(with_c), "/etc/herald/a.ini");
    assert_string_equal(path_of(with_long), "/etc/herald/b.ini");
    assert_null(path_of(dangling));
    assert_null(path_of(none));
    assert_null(path_of(value_is_c));

    setenv("HERALD_CONFIG", "/etc/herald/env.ini", 1);
    assert_string_equal(path_of(none), "/etc/herald/env.ini");
    assert_string_equal(path_of(dangling), "/etc/herald/env.ini");
    /* -c wins over the environment. */
    assert_string_equal(path_of(with_c), "/etc/herald/a.ini");
    setenv("HERALD_CONFIG", "", 1);
    assert_null(path_of(none));
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* The sample with every ";name = value" line uncommented. */
static char *uncomment_settings(const char *sample)
{
    char *out = malloc(strlen(sample) + 1);
    assert_non_null(out);
    char *o = out;
    for (const char *line = sample; *line != '\0';) {
        size_t n = strcspn(line, "\n");
        if (line[0] == ';' && line[1] >= 'a' && line[1] <= 'z') {
            line++;
            n--;
        }
        memcpy(o, line, n);
        o += n;
        line += n;
        if (*line == '\n')
            *o++ = *line++;
    }
    *o = '\0';
    return out;
}

static void test_sample_parses_back_to_defaults(void **state)
{
    (void)state;
    hr_config_t defaults, cfg;
    char err[256] = "", path[64];
    assert_int_equal(hr_config_load(&defaults, NULL, err, sizeof err), 0);

    snprintf(path, sizeof path, "/tmp/herald-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(hr_config_write_sample(path), 0);
    char *sample = read_all(path);

    /* As shipped (every setting commented out). */
    int rc = hr_config_load(&cfg, path, err, sizeof err);
    unlink(path);
    if (rc != 0) {
        free(sample);
        fail_msg("sample refused: %s", err);
    }
    assert_memory_equal(&cfg, &defaults, sizeof cfg);

    /* With every setting uncommented: each line is a known setting whose
     * shown value is its default. */
    char *active = uncomment_settings(sample);
    assert_contains(active, "\n; env HERALD_API_SOCKET\nsocket = run/api.sock\n");
    assert_contains(active, "\nfrom = Herald <herald@localhost>\n");
    rc = load_text(active, &cfg, err, sizeof err, path);
    free(active);
    if (rc != 0) {
        free(sample);
        fail_msg("uncommented sample refused: %s", err);
    }
    assert_memory_equal(&cfg, &defaults, sizeof cfg);
    free(sample);
}

/* Every setting in the sample names its variable ("; env HERALD_…"), and that
 * variable really overrides the setting. */
static void test_sample_env_names_work(void **state)
{
    (void)state;
    char path[64], section[32] = "", env[96] = "";
    size_t settings = 0;
    snprintf(path, sizeof path, "/tmp/herald-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(hr_config_write_sample(path), 0);
    char *sample = read_all(path);
    unlink(path);
    char *junk = repeat_char('x', HR_CFG_STRLEN + 10);

    for (char *line = strtok(sample, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (line[0] == '[') {
            snprintf(section, sizeof section, "%.*s", (int)strcspn(line + 1, "]"), line + 1);
        } else if (strncmp(line, "; env ", 6) == 0) {
            snprintf(env, sizeof env, "%.*s", (int)strcspn(line + 6, ","), line + 6);
        } else if (line[0] == ';' && line[1] >= 'a' && line[1] <= 'z') {
            char name[64], expect_env[160], want[320], err[512] = "";
            hr_config_t cfg;
            snprintf(name, sizeof name, "%.*s", (int)strcspn(line + 1, " ="), line + 1);
            snprintf(expect_env, sizeof expect_env, "HERALD_%s_%s", section, name);
            for (char *c = expect_env; *c; c++)
                if (*c >= 'a' && *c <= 'z')
                    *c = (char)(*c - 'a' + 'A');
            assert_string_equal(env, expect_env);
            /* A value no setting accepts: the refusal proves the variable is read. */
            setenv(env, junk, 1);
            int rc = hr_config_load(&cfg, NULL, err, sizeof err);
            unsetenv(env);
            assert_int_equal(rc, -1);
            snprintf(want, sizeof want, "%s: [%s] %s ", env, section, name);
            assert_starts_with(err, want);
            env[0] = '\0';
            settings++;
        }
    }
    free(junk);
    free(sample);
    assert_true(settings >= 30);
}

static void test_sample_to_unwritable_path(void **state)
{
    (void)state;
    assert_int_equal(hr_config_write_sample("/nonexistent-herald-dir/herald.ini"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_without_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_overrides_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_overrides_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_without_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounds_are_inclusive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_name_setting_and_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_length_limit_from_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_value_from_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_long_value_from_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_changes_only_reloadable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_applies_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_reload_keeps_old_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_parses_back_to_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_env_names_work, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_to_unwritable_path, setup, teardown),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
