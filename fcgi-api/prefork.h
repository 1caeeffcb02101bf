/* prefork: the herald-api master. Opens the FastCGI socket, forks the
 * children, restarts any that die, reloads on SIGHUP and drains on SIGTERM. */
#ifndef HR_API_PREFORK_H
#define HR_API_PREFORK_H

#include <signal.h>

#include "app.h"

/* Runs the master until SIGTERM/SIGINT. child_main is called in each child
 * with the listening socket and must return the child's exit code. Returns the
 * master's exit code. */
int hr_prefork_run(hr_app_t *app, int (*child_main)(hr_app_t *app, int listen_fd));

/* Set by the child's signal handler; the request loop checks it. */
extern volatile sig_atomic_t hr_prefork_stop;
extern volatile sig_atomic_t hr_prefork_reload;
/* The child sets this while it handles a request. */
extern volatile sig_atomic_t hr_prefork_busy;

#endif
