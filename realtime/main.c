/* herald-realtime: the realtime gateway process (WebSocket and SSE to end
 * users' tabs). A thin main over gateway.c: options, configuration, master
 * key, logging and signals. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "gateway.h"
#include "log.h"
#include "proc.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: herald-realtime [-c FILE]\n"
               "  -c, --config FILE   configuration file (default: $HERALD_CONFIG)\n"
               "  -h, --help          this text\n"
               "Listens on [realtime] bind:port; HERALD_REALTIME_PORT overrides the port.\n");
}

static void on_stop(int sig)
{
    (void)sig;
    hr_rt_stop = 1;
    hr_rt_wake();
}

static void on_hup(int sig)
{
    (void)sig;
    hr_rt_reload = 1;
    hr_rt_wake();
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
    static hr_config_t cfg;
    char err[512];
    const char *path = NULL;
    if (hr_proc_start("herald-realtime", argc, argv, &cfg, &path) != 0)
        return 1;
    /* User tokens are signed with secrets sealed by the master key. */
    if (hr_crypto_load_master(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "herald-realtime: %s\n", err);
        return 1;
    }
    /* Handlers of its own instead of hr_proc_start's: a signal must also
     * wake the event loop. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    return hr_rt_gateway_run(&cfg, path);
}
