/* herald-worker: sends one channel's deliveries (--channel NAME). */
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "proc.h"
#include "worker.h"

int main(int argc, char **argv)
{
    const char *channel = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--channel") == 0 && i + 1 < argc)
            channel = argv[++i];
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: herald-worker [-c FILE] --channel "
                   "email|sms|telegram|discord|whatsapp|slack|webhook|in_app\n");
            return 0;
        }
    }
    static hr_config_t cfg;
    static hr_worker_t w;
    if (channel == NULL || hr_channel_parse(channel, &w.channel) != 0) {
        fprintf(stderr, "herald-worker: --channel must name a channel "
                        "(email, sms, telegram, discord, whatsapp, slack, webhook, in_app)\n");
        return 2;
    }
    const char *path = NULL;
    static char name[64];
    snprintf(name, sizeof name, "herald-worker-%s", channel);
    if (hr_proc_start(name, argc, argv, &cfg, &path) != 0)
        return 1;
    if (sodium_init() < 0) {
        fprintf(stderr, "herald-worker: libsodium failed to initialise\n");
        return 1;
    }
    /* Integration credentials and webhook secrets are sealed with the master key. */
    if (cfg.security_master_key[0] != '\0' || cfg.security_master_key_file[0] != '\0') {
        char err[256];
        if (hr_crypto_load_master(&cfg, err, sizeof err) != 0) {
            fprintf(stderr, "herald-worker: %s\n", err);
            return 1;
        }
    } else {
        hr_log_warn("no master key configured: integrations and webhook endpoints cannot be used");
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    w.cfg = &cfg;
    int rc = hr_worker_run(&w, path);
    curl_global_cleanup();
    return rc;
}
