/* herald-api: prefork FastCGI responder. The master (prefork.c) forks the
 * children; each child runs the request loop below. */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "crypto.h"
#include "ids.h"
#include "log.h"
#include "prefork.h"
#include "routes.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: herald-api [-c FILE]\n"
               "  -c, --config FILE   configuration file (default: $HERALD_CONFIG)\n"
               "  -h, --help          this text\n");
}

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void api_handle(hr_app_t *app, FCGX_Request *fr, hr_arena_t *arena)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    hr_req_t r;
    memset(&r, 0, sizeof r);
    r.app = app;
    r.fcgx = fr;
    r.arena = arena;
    r.method = hr_req_param(&r, "REQUEST_METHOD");
    if (r.method == NULL)
        r.method = "GET";
    const char *uri = hr_req_param(&r, "DOCUMENT_URI");
    if (uri == NULL) {
        const char *full = hr_req_param(&r, "REQUEST_URI");
        full = full != NULL ? full : "/";
        uri = hr_arena_strndup(arena, full, strcspn(full, "?"));
    }
    r.path = uri;
    r.query = hr_req_param(&r, "QUERY_STRING");
    r.request_id = hr_req_param(&r, "REQUEST_ID");
    if (r.request_id == NULL || r.request_id[0] == '\0')
        r.request_id = hr_req_param(&r, "HTTP_X_REQUEST_ID");
    if (r.request_id == NULL || r.request_id[0] == '\0') {
        char *id = hr_arena_alloc(arena, HR_UUID_STRLEN);
        hr_uuid7(id);
        r.request_id = id;
    }
    r.content_type = hr_req_param(&r, "CONTENT_TYPE");
    const char *cl = hr_req_param(&r, "CONTENT_LENGTH");
    r.content_length = cl != NULL && cl[0] != '\0' ? strtol(cl, NULL, 10) : -1;
    hr_routes_dispatch(&r);
    hr_req_log(&r, elapsed_ms(&t0));
}

static int api_child(hr_app_t *app, int fd)
{
    char err[512];
    FCGX_Request fr;
    hr_arena_t arena;
    if (FCGX_InitRequest(&fr, fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
        return 1;
    hr_arena_init(&arena, 64 * 1024);
    if (hr_db_open(&app->db, app->cfg.pg_conninfo, err, sizeof err) != 0)
        hr_log_warn("postgres not reachable yet: %s", err);
    hr_redis_init(&app->redis, &app->cfg);
    if (hr_redis_ensure(&app->redis, err, sizeof err) != 0)
        hr_log_warn("redis not reachable yet: %s", err);

    while (!hr_prefork_stop) {
        hr_prefork_busy = 0;
        if (hr_prefork_stop)
            break;
        int rc = FCGX_Accept_r(&fr);
        hr_prefork_busy = 1;
        if (hr_prefork_reload) {
            hr_prefork_reload = 0;
            if (hr_config_reload(&app->cfg, app->config_path, err, sizeof err) != 0)
                hr_log_error("reload failed, keeping the old configuration: %s", err);
            hr_log_level_t lvl;
            if (hr_log_level_parse(app->cfg.log_level, &lvl) == 0)
                hr_log_set_level(lvl);
        }
        if (rc < 0) {
            if (errno == EINTR || rc == -EINTR)
                continue;
            hr_log_error("accept failed: %d", rc);
            break;
        }
        api_handle(app, &fr, &arena);
        FCGX_Finish_r(&fr);
        hr_arena_reset(&arena);
    }
    FCGX_Free(&fr, 1);
    hr_arena_free(&arena);
    hr_auth_flush_used(&app->keys, &app->db, 0, true);
    hr_db_close(&app->db);
    hr_redis_close(&app->redis);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'}, {0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (c != 'c') {
            usage(stderr);
            return 2;
        }
    }
    static hr_app_t app;
    char err[512];
    app.config_path = hr_config_path(argc, argv);
    if (hr_config_load(&app.cfg, app.config_path, err, sizeof err) != 0) {
        fprintf(stderr, "herald-api: %s\n", err);
        return 1;
    }
    hr_log_level_t lvl = HR_LOG_INFO;
    if (hr_log_level_parse(app.cfg.log_level, &lvl) != 0)
        return 1;
    hr_log_init("herald-api", lvl);
    if (sodium_init() < 0) {
        fprintf(stderr, "herald-api: libsodium failed to initialise\n");
        return 1;
    }
    if (app.cfg.security_master_key[0] != '\0' || app.cfg.security_master_key_file[0] != '\0') {
        if (hr_crypto_load_master(&app.cfg, err, sizeof err) != 0) {
            fprintf(stderr, "herald-api: %s\n", err);
            return 1;
        }
    } else {
        hr_log_warn("no master key configured: features that seal secrets answer 503");
    }
    return hr_prefork_run(&app, api_child);
}
