/* listen: listening socket and acceptor thread. */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

int hr_rt_listen_open(hr_rt_listen_t *l, const char *addr, int port, bool reuse_port)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        errno = EINVAL;
        return -1;
    }
    l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l->fd < 0)
        return -1;
    int one = 1;
    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuse_port && setsockopt(l->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        goto fail;
    if (bind(l->fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(l->fd, 4096) != 0)
        goto fail;
    return 0;
fail: {
    int e = errno;
    close(l->fd);
    l->fd = -1;
    errno = e;
    return -1;
}
}

static void *listen_main(void *arg)
{
    hr_rt_listen_t *l = arg;
    while (!l->stop) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (l->stop)
                break;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                usleep(50 * 1000); /* out of descriptors: the backlog waits */
            }
            continue;
        }
        pthread_mutex_lock(&l->mu);
        if (l->npending == l->cap) {
            unsigned cap = l->cap ? l->cap * 2 : 256;
            int *p = realloc(l->pending, cap * sizeof *p);
            hr_assert(p != NULL);
            l->pending = p;
            l->cap = cap;
        }
        l->pending[l->npending++] = fd;
        bool first = l->npending == 1;
        pthread_mutex_unlock(&l->mu);
        if (first)
            lws_cancel_service(l->ctx);
    }
    return NULL;
}

int hr_rt_listen_start(hr_rt_listen_t *l, struct lws_context *ctx)
{
    l->ctx = ctx;
    if (pthread_create(&l->thread, NULL, listen_main, l) != 0)
        return -1;
    l->started = true;
    return 0;
}

void hr_rt_listen_adopt(hr_rt_listen_t *l)
{
    int batch[256];
    for (;;) {
        unsigned n = 0;
        pthread_mutex_lock(&l->mu);
        while (n < 256 && l->npending > 0)
            batch[n++] = l->pending[--l->npending];
        pthread_mutex_unlock(&l->mu);
        if (n == 0)
            return;
        for (unsigned i = 0; i < n; i++)
            if (lws_adopt_socket(l->ctx, batch[i]) == NULL)
                hr_log_warn("could not adopt a connection"); /* lws closed it */
    }
}

void hr_rt_listen_close(hr_rt_listen_t *l)
{
    l->stop = 1;
    if (l->fd >= 0)
        shutdown(l->fd, SHUT_RDWR); /* wakes accept() */
    if (l->started) {
        pthread_join(l->thread, NULL);
        l->started = false;
    }
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    for (unsigned i = 0; i < l->npending; i++)
        close(l->pending[i]);
    free(l->pending);
    l->pending = NULL;
    l->npending = l->cap = 0;
    pthread_mutex_destroy(&l->mu);
}
