/* proc: start-up and signals common to the long-running Herald processes
 * (router, worker, sweeper): config loading, logging, SIGTERM/SIGHUP flags. */
#ifndef HR_PROC_H
#define HR_PROC_H

#include <signal.h>

#include "config.h"

extern volatile sig_atomic_t hr_proc_stop;   /* SIGTERM/SIGINT seen */
extern volatile sig_atomic_t hr_proc_reload; /* SIGHUP seen */

/* Loads the configuration named by -c/$HERALD_CONFIG into cfg, sets up
 * logging under name and installs the signal handlers. On a bad
 * configuration prints the reason and returns -1 (the caller exits 1). */
int hr_proc_start(const char *name, int argc, char **argv, hr_config_t *cfg,
                  const char **config_path) __attribute__((warn_unused_result));

/* If SIGHUP was seen, reloads cfg (keeping it on failure) and the log level. */
void hr_proc_check_reload(hr_config_t *cfg, const char *config_path);

/* Sleeps ms milliseconds, returning early when a stop is requested. */
void hr_proc_sleep_ms(long ms);

#endif
