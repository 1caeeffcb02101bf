/* gateway: herald-realtime's libwebsockets server. WebSocket at /v1/realtime
 * and SSE at /v1/stream for end users holding a user token; rooms per
 * environment + user; events from the fan-out reader pushed to every tab;
 * replay from the user's stream; keep-alive; bounded queues; drain on SIGTERM. */
#ifndef HR_RT_GATEWAY_H
#define HR_RT_GATEWAY_H

#include <signal.h>

#include "config.h"

/* Set by the signal handlers of main.c; the loop acts on them. */
extern volatile sig_atomic_t hr_rt_stop, hr_rt_reload;

/* Wakes the lws loop (async-signal-safe enough: one write to lws's pipe). */
void hr_rt_wake(void);

/* Runs the gateway until SIGTERM has drained it. cfg is owned by the
 * caller and reloaded in place on SIGHUP. Returns the exit code. */
int hr_rt_gateway_run(hr_config_t *cfg, const char *config_path);

#endif
