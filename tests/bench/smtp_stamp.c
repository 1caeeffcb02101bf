/* smtp_stamp: an SMTP sink for the end-to-end benchmark. It accepts every
 * message, notes when its final "." arrived and which notification it carries
 * (X-Herald-Notification-Id, a UUIDv7 whose first 48 bits are the API's
 * accept time in ms), and on SIGTERM prints the accept → received latencies.
 * usage: smtp_stamp PORT [RECORD_FILE]   (RECORD_FILE: "recv_ms id" lines) */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STAMP_MAX_LINE 4096
#define STAMP_HEADER "X-Herald-Notification-Id: "

typedef struct stamp_conn {
    struct stamp_conn *prev, *next; /* every open connection, freed at exit */
    int fd;
    bool in_data;
    bool quitting;
    char *buf; /* unprocessed input; owned */
    size_t len, cap;
    size_t scanned; /* in DATA: bytes already searched for the terminator */
} stamp_conn_t;

static volatile sig_atomic_t stamp_stop;
static double *stamp_lat; /* latencies in ms; owned */
static size_t stamp_n, stamp_cap;
static unsigned long stamp_unmatched;
static double stamp_first_ms, stamp_last_ms;
static FILE *stamp_record;
static stamp_conn_t *stamp_conns;

static void stamp_on_signal(int sig)
{
    (void)sig;
    stamp_stop = 1;
}

static void *stamp_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL) {
        fprintf(stderr, "smtp_stamp: out of memory at %s:%d\n", __FILE__, __LINE__);
        abort();
    }
    return q;
}

static double stamp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Replies are a few bytes on a socket whose buffer is empty: one write. */
static void stamp_reply(stamp_conn_t *c, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(c->fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* The accept time in ms from a UUIDv7 text (first 12 hex digits), or -1. */
static double stamp_uuid_ms(const char *id)
{
    uint64_t ms = 0;
    int digits = 0;
    for (const char *p = id; *p != '\0' && digits < 12; p++) {
        if (*p == '-')
            continue;
        int v = (*p >= '0' && *p <= '9')   ? *p - '0'
                : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
                : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10
                                           : -1;
        if (v < 0)
            return -1;
        ms = ms << 4 | (uint64_t)v;
        digits++;
    }
    return digits == 12 ? (double)ms : -1;
}

/* One whole message (without the final ".") arrived at now. */
static void stamp_message(const char *msg, size_t len, double now)
{
    char id[64] = "";
    const char *end = msg + len;
    for (const char *p = msg; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t l = eol ? (size_t)(eol - p) : (size_t)(end - p);
        if (l <= 1) /* the empty line ends the header */
            break;
        if (l > strlen(STAMP_HEADER) && strncasecmp(p, STAMP_HEADER, strlen(STAMP_HEADER)) == 0) {
            size_t k = l - strlen(STAMP_HEADER);
            if (k >= sizeof id)
                k = sizeof id - 1;
            memcpy(id, p + strlen(STAMP_HEADER), k);
            id[k] = '\0';
            id[strcspn(id, "\r\n ")] = '\0';
            break;
        }
        p = eol ? eol + 1 : end;
    }
    double at = stamp_uuid_ms(id);
    if (at < 0) {
        stamp_unmatched++;
        return;
    }
    if (stamp_n == stamp_cap) {
        stamp_cap = stamp_cap ? stamp_cap * 2 : 65536;
        stamp_lat = stamp_xrealloc(stamp_lat, stamp_cap * sizeof *stamp_lat);
    }
    stamp_lat[stamp_n++] = now - at;
    if (stamp_first_ms == 0)
        stamp_first_ms = now;
    stamp_last_ms = now;
    if (stamp_record != NULL)
        fprintf(stamp_record, "%.3f %s\n", now, id);
}

static void stamp_command(stamp_conn_t *c, const char *line)
{
    if (strncasecmp(line, "EHLO", 4) == 0)
        stamp_reply(c, "250-smtp_stamp\r\n250 8BITMIME\r\n");
    else if (strncasecmp(line, "HELO", 4) == 0 || strncasecmp(line, "MAIL", 4) == 0 ||
             strncasecmp(line, "RCPT", 4) == 0 || strncasecmp(line, "RSET", 4) == 0 ||
             strncasecmp(line, "NOOP", 4) == 0)
        stamp_reply(c, "250 ok\r\n");
    else if (strncasecmp(line, "DATA", 4) == 0) {
        stamp_reply(c, "354 end with .\r\n");
        c->in_data = true;
        c->scanned = 0;
    } else if (strncasecmp(line, "QUIT", 4) == 0) {
        stamp_reply(c, "221 bye\r\n");
        c->quitting = true;
    } else
        stamp_reply(c, "502 not implemented\r\n");
}

/* Consumes what c->buf holds: commands, or the DATA up to "\r\n.\r\n". */
static void stamp_process(stamp_conn_t *c)
{
    size_t off = 0;
    while (off < c->len && !c->quitting) {
        if (c->in_data) {
            const char *s = c->buf + off;
            size_t avail = c->len - off;
            size_t from = c->scanned >= 4 ? c->scanned - 4 : 0;
            size_t mlen = 0, used = 0;
            /* A message may also be empty: ".\r\n" right after DATA. */
            if (c->scanned == 0 && avail >= 3 && memcmp(s, ".\r\n", 3) == 0)
                used = 3;
            for (size_t i = from; used == 0 && i + 5 <= avail; i++)
                if (s[i] == '\r' && memcmp(s + i, "\r\n.\r\n", 5) == 0) {
                    mlen = i + 2;
                    used = i + 5;
                }
            if (used == 0) {
                c->scanned = avail;
                break;
            }
            stamp_message(s, mlen, stamp_now_ms());
            stamp_reply(c, "250 ok queued\r\n");
            off += used;
            c->in_data = false;
            c->scanned = 0;
            continue;
        }
        char *eol = memchr(c->buf + off, '\n', c->len - off);
        if (eol == NULL)
            break;
        *eol = '\0';
        if (eol > c->buf + off && eol[-1] == '\r')
            eol[-1] = '\0';
        stamp_command(c, c->buf + off);
        off = (size_t)(eol - c->buf) + 1;
    }
    if (off > 0) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off; /* scanned counts from the start of the DATA, now buf */
    }
}

static void stamp_close(int ep, stamp_conn_t *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        stamp_conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->buf);
    free(c);
}

/* Reads what is there; returns false when the connection is over. */
static bool stamp_read(stamp_conn_t *c)
{
    for (;;) {
        if (c->cap - c->len < 16384) {
            c->cap = c->cap ? c->cap * 2 : 65536;
            c->buf = stamp_xrealloc(c->buf, c->cap);
        }
        ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (r > 0) {
            c->len += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return false; /* EOF or error */
    }
    stamp_process(c);
    if (!c->in_data && c->len > STAMP_MAX_LINE)
        return false; /* a command line that never ends */
    return !c->quitting;
}

static int stamp_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double stamp_pct(double p)
{
    if (stamp_n == 0)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(stamp_n - 1) + 0.5);
    return stamp_lat[i];
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: smtp_stamp PORT [RECORD_FILE]\n");
        return 2;
    }
    if (argc > 2 && (stamp_record = fopen(argv[2], "w")) == NULL) {
        perror(argv[2]);
        return 1;
    }
    struct sigaction sa = {.sa_handler = stamp_on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)atoi(argv[1])),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (ls < 0 || bind(ls, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(ls, 1024) != 0) {
        perror("smtp_stamp: listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);

    struct epoll_event evs[64];
    while (!stamp_stop) {
        int n = epoll_wait(ep, evs, 64, 200);
        for (int i = 0; i < n; i++) {
            stamp_conn_t *c = evs[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    c = calloc(1, sizeof *c);
                    if (c == NULL)
                        abort();
                    c->fd = fd;
                    c->next = stamp_conns;
                    if (stamp_conns != NULL)
                        stamp_conns->prev = c;
                    stamp_conns = c;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                    stamp_reply(c, "220 smtp_stamp ESMTP\r\n");
                }
                continue;
            }
            if (!stamp_read(c))
                stamp_close(ep, c);
        }
    }

    qsort(stamp_lat, stamp_n, sizeof *stamp_lat, stamp_cmp);
    double span = (stamp_last_ms - stamp_first_ms) / 1000.0;
    printf("RESULT received=%zu unmatched=%lu seconds=%.2f rate=%.0f p50_ms=%.1f p90_ms=%.1f "
           "p99_ms=%.1f max_ms=%.1f\n",
           stamp_n, stamp_unmatched, span, span > 0 ? (double)stamp_n / span : 0, stamp_pct(50),
           stamp_pct(90), stamp_pct(99), stamp_n ? stamp_lat[stamp_n - 1] : 0);
    fflush(stdout);
    if (stamp_record != NULL)
        fclose(stamp_record);
    while (stamp_conns != NULL)
        stamp_close(ep, stamp_conns);
    free(stamp_lat);
    close(ep);
    close(ls);
    return 0;
}
