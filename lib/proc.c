/* proc: process start-up and signal flags. */
#include "proc.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

volatile sig_atomic_t hr_proc_stop = 0;
volatile sig_atomic_t hr_proc_reload = 0;

static void proc_on_signal(int sig)
{
    if (sig == SIGHUP)
        hr_proc_reload = 1;
    else
        hr_proc_stop = 1;
}

int hr_proc_start(const char *name, int argc, char **argv, hr_config_t *cfg,
                  const char **config_path)
{
    char err[512];
    *config_path = hr_config_path(argc, argv);
    if (hr_config_load(cfg, *config_path, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", name, err);
        return -1;
    }
    hr_log_level_t lvl = HR_LOG_INFO;
    if (hr_log_level_parse(cfg->log_level, &lvl) != 0)
        return -1;
    hr_log_init(name, lvl);
    if (sodium_init() < 0) {
        fprintf(stderr, "%s: libsodium failed to initialise\n", name);
        return -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = proc_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

void hr_proc_check_reload(hr_config_t *cfg, const char *config_path)
{
    if (!hr_proc_reload)
        return;
    hr_proc_reload = 0;
    char err[512];
    if (hr_config_reload(cfg, config_path, err, sizeof err) != 0) {
        hr_log_error("reload failed, keeping the old configuration: %s", err);
        return;
    }
    hr_log_level_t lvl;
    if (hr_log_level_parse(cfg->log_level, &lvl) == 0)
        hr_log_set_level(lvl);
    hr_log_info("configuration reloaded");
}

void hr_proc_sleep_ms(long ms)
{
    while (ms > 0 && !hr_proc_stop) {
        long step = ms > 100 ? 100 : ms;
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}
