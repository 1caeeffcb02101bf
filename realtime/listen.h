/* listen: the gateway's own listening socket, with SO_REUSEPORT when asked
 * so that several gateway processes share one port (lws 4.1.6 does not set
 * it). An acceptor thread accepts and hands each connection to the lws
 * thread (lws_cancel_service), which adopts it with lws_adopt_socket(). */
#ifndef HR_RT_LISTEN_H
#define HR_RT_LISTEN_H

#include <pthread.h>
#include <stdbool.h>

struct lws_context;

typedef struct hr_rt_listen {
    int fd;
    pthread_t thread;
    bool started;
    volatile int stop;
    pthread_mutex_t mu;
    int *pending;           /* accepted, not yet adopted */
    unsigned npending, cap;
    struct lws_context *ctx;
} hr_rt_listen_t;

/* Binds and listens on addr:port (reuse_port: SO_REUSEPORT). Returns 0, or
 * -1 with errno set. */
int hr_rt_listen_open(hr_rt_listen_t *l, const char *addr, int port, bool reuse_port)
    __attribute__((warn_unused_result));

/* Starts accepting for ctx. Returns 0 or -1. */
int hr_rt_listen_start(hr_rt_listen_t *l, struct lws_context *ctx)
    __attribute__((warn_unused_result));

/* Adopts every accepted connection into ctx (lws thread). */
void hr_rt_listen_adopt(hr_rt_listen_t *l);

/* Stops accepting (closes the socket, joins the thread, closes what was
 * not adopted). */
void hr_rt_listen_close(hr_rt_listen_t *l);

#endif
