/* rt_load: the realtime benchmark's load tool (not a test). Two modes:
 *
 *   rt_load hold  --port P --conns N --users U ...  opens N WebSocket
 *       connections (users round-robin, so N/U tabs each), from source
 *       addresses spread over 127.0.0.0/8, to herald-realtime (--proto herald,
 *       user tokens minted with the environment's signing secret) or to a
 *       socket.io server (--proto sio, engine.io v4 over WebSocket); answers
 *       pings; for every event frame carrying "t":<µs> records the latency
 *       from that send time; prints one JSON line of figures at the end.
 *       --sched-batch: runs as SCHED_BATCH (see hold()). --split: also splits
 *       each latency at the frame's arrival in the socket (SO_TIMESTAMPNS).
 *       --series FILE: per 100 ms of send time, frames and slow frames.
 *   rt_load publish --redis-port R --env E --users U --rate EPS --seconds S
 *       XADDs events to herald:rt (the fan-out stream every gateway reads, the
 *       same entry shape lib/rtpub writes), each with its send time.
 *
 * One thread, epoll, non-blocking sockets. Build: make tests/bench/rt_load. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 8192
#define NBUCKETS 64 /* powers of two of µs */
#define HIST_SUB 16 /* buckets per power of two */

enum { C_CONNECTING, C_HANDSHAKE, C_OPEN, C_DEAD };

typedef struct conn {
    int fd;
    int state;
    int user;
    int greeted;
    size_t len;
    char buf[BUF];
} conn_t;

static struct {
    const char *host, *path, *proto, *env, *prefix, *srcs;
    int port, nports, conns, users, offset, seconds, inflight_max, ports[16];
    unsigned char secret[64];
    size_t secretlen;
} opt = {"127.0.0.1", NULL, "herald", "", "bench-", "127.0.0.2-127.0.0.20", 0, 0, 1000, 100, 0, 30, 256, {0}, {0}, 0};

static uint64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

/* Latency histograms: buckets of powers of 2^(1/HIST_SUB) µs (4.4 % wide),
 * so that a percentile, read as its bucket's upper bound, is at most 4.4 %
 * above the truth; the bench merges the clients' hist (--json "hist") to
 * take percentiles over every frame. hist is send ->
 * frame read; with --split, hist_net is send -> the frame's arrival in the
 * client's socket (the kernel's receive timestamp: the gateway's side) and
 * hist_cli arrival -> read (the load client's own delay). A read that takes
 * several segments carries the first one's timestamp. */
typedef struct lat_hist {
    unsigned long long b[NBUCKETS * HIST_SUB];
    uint64_t max;
} lat_hist_t;
static lat_hist_t hist, hist_net, hist_cli;
static unsigned long long received, events, failed, closed_early;
static uint64_t first_us, last_us;
static int split;            /* --split: SO_TIMESTAMPNS on every socket */
static int sched_batch;      /* --sched-batch: SCHED_BATCH (see hold()) */
static uint64_t arrival_us;  /* receive timestamp of the current read (0: none) */

/* --series FILE: per SERIES_MS of send time, frames, the slowest and how
 * many took over 50 ms (where in the run the slow frames were sent). */
#define SERIES_MS 100
#define SERIES_N 1200
static const char *series_path;
static uint64_t series_t0;
static struct {
    unsigned long long n, slow, net_slow;
    uint64_t max, net_max;
} series[SERIES_N];

/* Lower bounds of the sub-buckets of one power of two: 2^(k/HIST_SUB). */
static double hist_sub_lo[HIST_SUB];

static void hist_init(void)
{
    for (int k = 0; k < HIST_SUB; k++)
        hist_sub_lo[k] = pow(2.0, (double)k / HIST_SUB);
}

static void record(lat_hist_t *h, uint64_t us)
{
    /* bucket = floor(HIST_SUB * log2(us)): the bit length, then which
     * sub-power of two the rest reaches (no logarithm per frame). */
    int b = 0;
    if (us > 1) {
        int e = 63 - __builtin_clzll(us);
        double f = (double)us / (double)(1ull << e);
        int k = HIST_SUB - 1;
        while (k > 0 && f < hist_sub_lo[k])
            k--;
        b = HIST_SUB * e + k;
    }
    if (b > NBUCKETS * HIST_SUB - 1)
        b = NBUCKETS * HIST_SUB - 1;
    h->b[b]++;
    if (us > h->max)
        h->max = us;
}

static double pct(const lat_hist_t *h, double p)
{
    unsigned long long n = 0, total = 0;
    uint64_t lat_max = h->max;
    for (int i = 0; i < NBUCKETS * HIST_SUB; i++)
        total += h->b[i];
    if (total == 0)
        return 0;
    for (int i = 0; i < NBUCKETS * HIST_SUB; i++) {
        n += h->b[i];
        if ((double)n >= p * (double)total) {
            double up = pow(2.0, (double)(i + 1) / HIST_SUB);
            up = up < (double)lat_max ? up : (double)lat_max;
            return up / 1000.0; /* ms, upper bound of the bucket (at most the max) */
        }
    }
    return (double)lat_max / 1000.0;
}

static void b64url(const unsigned char *in, size_t n, char *out, size_t outlen)
{
    sodium_bin2base64(out, outlen, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* An HS256 user token {typ:user, sub, env, iat, exp}. */
static void mint(int user, char *out, size_t len)
{
    char hdr[64], body[512], claims[400], sig[64];
    const char *h = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    long now = (long)time(NULL);
    snprintf(claims, sizeof claims,
             "{\"env\":\"%s\",\"exp\":%ld,\"iat\":%ld,\"sub\":\"%s%d\",\"typ\":\"user\"}", opt.env,
             now + 86400, now, opt.prefix, user);
    b64url((const unsigned char *)h, strlen(h), hdr, sizeof hdr);
    b64url((const unsigned char *)claims, strlen(claims), body, sizeof body);
    char signing[600];
    snprintf(signing, sizeof signing, "%s.%s", hdr, body);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, opt.secret, opt.secretlen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)signing, strlen(signing));
    crypto_auth_hmacsha256_final(&st, mac);
    b64url(mac, sizeof mac, sig, sizeof sig);
    snprintf(out, len, "%s.%s", signing, sig);
}

static int set_nb(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Source addresses A-B (last octet) of 127.0.0.0/8. */
static uint32_t src_lo, src_hi;

static int open_conn(conn_t *c, int i, int ep)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    set_nb(fd);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(src_lo + (uint32_t)i % (src_hi - src_lo + 1));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
        close(fd);
        return -1;
    }
    struct sockaddr_in dst = {.sin_family = AF_INET};
    dst.sin_port = htons((uint16_t)opt.ports[i % opt.nports]);
    inet_pton(AF_INET, opt.host, &dst.sin_addr);
    if (split)
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->state = C_CONNECTING;
    c->len = 0;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

static void send_all(conn_t *c, const void *p, size_t n)
{
    /* Tiny writes on a fresh socket: the kernel takes them whole. */
    if (write(c->fd, p, n) != (ssize_t)n)
        c->state = C_DEAD;
}

/* A masked client frame (opcode op) carrying payload. */
static void send_frame(conn_t *c, int op, const char *payload, size_t n)
{
    unsigned char f[600];
    if (n > 500)
        return;
    f[0] = (unsigned char)(0x80 | op);
    f[1] = (unsigned char)(0x80 | n);
    unsigned char mask[4] = {1, 2, 3, 4};
    memcpy(f + 2, mask, 4);
    for (size_t i = 0; i < n; i++)
        f[6 + i] = (unsigned char)payload[i] ^ mask[i % 4];
    send_all(c, f, 6 + n);
}

static void handshake(conn_t *c)
{
    char tok[700], req[1500];
    mint(c->user, tok, sizeof tok);
    if (strcmp(opt.proto, "sio") == 0)
        snprintf(req, sizeof req,
                 "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    else
        snprintf(req, sizeof req,
                 "GET %s?token=%s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 opt.path, tok);
    send_all(c, req, strlen(req));
    c->state = C_HANDSHAKE;
}

static unsigned long long opened;
static int proto_sio;
static volatile sig_atomic_t stop_now;

static void on_term(int sig)
{
    (void)sig;
    stop_now = 1;
}

/* The send time of an event frame, 0 when it has none. The publisher's
 * frames end with "t":<µs>} (herald) or "t":<µs>}] (socket.io): a scan back
 * from the end finds it without reading the frame, which keeps the client's
 * cost per frame small. Others (the API path's notification.created, where
 * "t" sits in item.data) are searched whole. */
static uint64_t frame_stamp(const char *p, size_t n)
{
    size_t i = n;
    while (i > 0 && (p[i - 1] == '}' || p[i - 1] == ']'))
        i--;
    size_t end = i;
    while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9')
        i--;
    if (i == end || i < 4 || memcmp(p + i - 4, "\"t\":", 4) != 0) {
        const char *t = memmem(p, n, "\"t\":", 4);
        return t != NULL ? strtoull(t + 4, NULL, 10) : 0;
    }
    uint64_t v = 0;
    for (size_t k = i; k < end; k++)
        v = v * 10 + (uint64_t)(p[k] - '0');
    return v;
}

static void on_text(conn_t *c, const char *p, size_t n)
{
    received++;
    if (proto_sio) {
        if (n >= 1 && p[0] == '2') { /* engine.io ping */
            send_frame(c, 1, "3", 1);
            return;
        }
        if (n >= 1 && p[0] == '0') { /* engine.io open: connect to "/" with the token */
            char tok[700], msg[800];
            mint(c->user, tok, sizeof tok);
            snprintf(msg, sizeof msg, "40{\"token\":\"%s\"}", tok);
            size_t ml = strlen(msg);
            /* Longer than a 7-bit length: use the 16-bit form. */
            unsigned char f[900];
            f[0] = 0x81;
            f[1] = 0x80 | 126;
            f[2] = (unsigned char)(ml >> 8);
            f[3] = (unsigned char)ml;
            unsigned char mask[4] = {9, 8, 7, 6};
            memcpy(f + 4, mask, 4);
            for (size_t i = 0; i < ml; i++)
                f[8 + i] = (unsigned char)msg[i] ^ mask[i % 4];
            send_all(c, f, 8 + ml);
            return;
        }
        if (n >= 2 && p[0] == '4' && p[1] == '0') {
            opened++;
            c->greeted = 1;
            return;
        }
    } else if (!c->greeted && memmem(p, n < 60 ? n : 60, "\"connected\"", 11) != NULL) {
        opened++;
        c->greeted = 1;
        return;
    }
    uint64_t sent = frame_stamp(p, n);
    if (sent != 0) {
        uint64_t now = now_us();
        events++;
        if (first_us == 0)
            first_us = now;
        last_us = now;
        uint64_t lat = now > sent ? now - sent : 0;
        record(&hist, lat);
        uint64_t net = 0;
        if (arrival_us != 0) {
            net = arrival_us > sent ? arrival_us - sent : 0;
            record(&hist_net, net);
            record(&hist_cli, now > arrival_us ? now - arrival_us : 0);
        }
        if (series_path != NULL) {
            if (series_t0 == 0)
                series_t0 = sent;
            uint64_t k = sent > series_t0 ? (sent - series_t0) / (SERIES_MS * 1000) : 0;
            if (k < SERIES_N) {
                series[k].n++;
                series[k].slow += lat > 50000;
                series[k].net_slow += net > 50000;
                if (lat > series[k].max)
                    series[k].max = lat;
                if (net > series[k].net_max)
                    series[k].net_max = net;
            }
        }
    }
}

/* Consumes complete frames from c->buf. */
static void parse_frames(conn_t *c)
{
    size_t off = 0;
    for (;;) {
        if (c->len - off < 2)
            break;
        unsigned char *b = (unsigned char *)c->buf + off;
        int op = b[0] & 0x0f;
        size_t plen = b[1] & 0x7f, hl = 2;
        if (plen == 126) {
            if (c->len - off < 4)
                break;
            plen = (size_t)b[2] << 8 | b[3];
            hl = 4;
        } else if (plen == 127) {
            if (c->len - off < 10)
                break;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = plen << 8 | b[2 + i];
            hl = 10;
        }
        if (plen + hl > BUF) { /* too big for us: skip it */
            c->state = C_DEAD;
            return;
        }
        if (c->len - off < hl + plen)
            break;
        const char *payload = (const char *)b + hl;
        if (op == 1)
            on_text(c, payload, plen);
        else if (op == 9)
            send_frame(c, 10, payload, plen);
        else if (op == 8) {
            c->state = C_DEAD;
            closed_early++;
            return;
        }
        off += hl + plen;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

static void on_readable(conn_t *c)
{
    for (;;) {
        size_t room = BUF - c->len;
        ssize_t n;
        if (split) {
            char cbuf[CMSG_SPACE(sizeof(struct timespec))];
            struct iovec iov = {c->buf + c->len, room};
            struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                                .msg_controllen = sizeof cbuf};
            n = recvmsg(c->fd, &mh, 0);
            arrival_us = 0;
            for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); n > 0 && cm != NULL;
                 cm = CMSG_NXTHDR(&mh, cm))
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_TIMESTAMPNS) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(cm), sizeof ts);
                    arrival_us = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
                }
        } else
            n = read(c->fd, c->buf + c->len, room);
        if (n == 0) {
            c->state = C_DEAD;
            closed_early++;
            return;
        }
        if (n < 0) {
            if (errno != EAGAIN)
                c->state = C_DEAD;
            return;
        }
        c->len += (size_t)n;
        if (c->state == C_HANDSHAKE) {
            char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (end == NULL)
                continue;
            if (strncmp(c->buf, "HTTP/1.1 101", 12) != 0) {
                failed++;
                c->state = C_DEAD;
                return;
            }
            size_t hl = (size_t)(end + 4 - c->buf);
            memmove(c->buf, c->buf + hl, c->len - hl);
            c->len -= hl;
            c->state = C_OPEN;
        }
        if (c->state == C_OPEN)
            parse_frames(c);
        if (c->state == C_DEAD)
            return;
        /* A short read emptied the socket: no second read() just to see
         * EAGAIN (epoll reports the next data). */
        if ((size_t)n < room && c->state == C_OPEN)
            return;
    }
}

/* CPU seconds (user + system) this process used so far. */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

static int hold(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    conn_t *cs = calloc((size_t)opt.conns, sizeof *cs);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
    /* The clients stand in for browsers on other machines, yet here they
     * share the gateways' two cores. As normal tasks every frame a gateway
     * sends wakes a client that preempts the gateway mid-burst (thousands of
     * switches a second, each client read taking one frame); as SCHED_BATCH
     * a client does not preempt on wake-up and reads what piled up when it
     * runs. Its delay stays in the measured latency. */
    if (sched_batch) {
        struct sched_param sp = {0};
        if (sched_setscheduler(0, SCHED_BATCH, &sp) != 0)
            fprintf(stderr, "rt_load: SCHED_BATCH: %s\n", strerror(errno));
    }
    int ep = epoll_create1(0);
    struct epoll_event evs[1024];
    int next = 0, inflight = 0;
    uint64_t t0 = now_us(), connected_at = 0;
    while (1) {
        while (next < opt.conns && inflight < opt.inflight_max) {
            cs[next].user = opt.offset + next % opt.users;
            if (open_conn(&cs[next], next, ep) != 0) {
                failed++;
                cs[next].state = C_DEAD;
            } else
                inflight++;
            next++;
        }
        int n = epoll_wait(ep, evs, 1024, 100);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            int was = c->state;
            if (c->state == C_CONNECTING && (evs[i].events & (EPOLLOUT | EPOLLERR))) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err != 0) {
                    c->state = C_DEAD;
                    failed++;
                } else {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                    handshake(c);
                }
            }
            if ((evs[i].events & (EPOLLIN | EPOLLHUP)) && c->state != C_DEAD &&
                c->state != C_CONNECTING)
                on_readable(c);
            if (was != C_OPEN && (c->state == C_OPEN || c->state == C_DEAD))
                inflight--;
            if (c->state == C_DEAD && c->fd > 0) {
                close(c->fd);
                c->fd = -1;
            }
        }
        if (connected_at == 0 && next == opt.conns && inflight <= 0) {
            connected_at = now_us();
            fprintf(stderr, "rt_load: %llu open, %llu failed in %.1f s\n", opened, failed,
                    (double)(connected_at - t0) / 1e6);
        }
        if (stop_now ||
            (connected_at != 0 && now_us() - connected_at > (uint64_t)opt.seconds * 1000000))
            break;
    }
    long open_now = 0;
    for (int i = 0; i < opt.conns; i++)
        open_now += cs[i].state == C_OPEN;
    printf("{\"proto\":\"%s\",\"conns\":%d,\"open\":%ld,\"greeted\":%llu,\"failed\":%llu,"
           "\"closed_early\":%llu,\"connect_s\":%.2f,\"events\":%llu,\"p50_ms\":%.2f,"
           "\"p99_ms\":%.2f,\"max_ms\":%.2f,\"client_rss_kb\":%ld,\"first_us\":%llu,"
           "\"last_us\":%llu}\n",
           opt.proto, opt.conns, open_now, opened, failed, closed_early,
           (double)(connected_at - t0) / 1e6, events, pct(&hist, 0.5), pct(&hist, 0.99),
           (double)hist.max / 1000.0, rss_kb(), (unsigned long long)first_us,
           (unsigned long long)last_us);
    /* the same figures' histogram, for the bench to merge: [bucket, count] pairs */
    printf("{\"hist_sub\":%d,\"max_us\":%llu,\"hist\":[", HIST_SUB,
           (unsigned long long)hist.max);
    for (int i = 0, first = 1; i < NBUCKETS * HIST_SUB; i++)
        if (hist.b[i] > 0) {
            printf("%s[%d,%llu]", first ? "" : ",", i, hist.b[i]);
            first = 0;
        }
    printf("]}\n");
    if (split)
        fprintf(stderr,
                "rt_load: send -> arrival in the client's socket p50 %.2f p99 %.2f max %.2f ms; "
                "arrival -> read p50 %.2f p99 %.2f max %.2f ms\n",
                pct(&hist_net, 0.5), pct(&hist_net, 0.99), (double)hist_net.max / 1000.0,
                pct(&hist_cli, 0.5), pct(&hist_cli, 0.99), (double)hist_cli.max / 1000.0);
    FILE *sf = series_path != NULL ? fopen(series_path, "w") : NULL;
    for (int k = 0; sf != NULL && k < SERIES_N; k++)
        if (series[k].n > 0)
            fprintf(sf, "%d %llu %llu %.2f %llu %.2f\n", k * SERIES_MS, series[k].n, series[k].slow,
                    (double)series[k].max / 1000.0, series[k].net_slow,
                    (double)series[k].net_max / 1000.0);
    if (sf != NULL)
        fclose(sf);
    fflush(stdout);
    return 0;
}

static int publish(int redis_port, double rate, int seconds, int batch)
{
    redisContext *r = redisConnect("127.0.0.1", redis_port);
    if (r == NULL || r->err) {
        fprintf(stderr, "rt_load: redis: %s\n", r ? r->errstr : "oom");
        return 1;
    }
    uint64_t t0 = now_us(), sent = 0, seq = 0;
    int pending = 0;
    uint64_t total = (uint64_t)(rate * seconds);
    char user[128], id[64], ev[256], ms[32];
    snprintf(ms, sizeof ms, "%llu", (unsigned long long)(t0 / 1000 + 1));
    while (sent < total) {
        uint64_t due = t0 + (uint64_t)((double)sent / rate * 1e6);
        uint64_t now = now_us();
        if (now < due) {
            usleep((useconds_t)(due - now));
            continue;
        }
        for (int i = 0; i < batch && sent < total; i++, sent++) {
            snprintf(user, sizeof user, "%s%d", opt.prefix, opt.offset + (int)(sent % (uint64_t)opt.users));
            snprintf(id, sizeof id, "%s-%llu", ms, (unsigned long long)++seq);
            snprintf(ev, sizeof ev, "{\"type\":\"bench\",\"unread_count\":1,\"t\":%llu}",
                     (unsigned long long)now_us());
            redisAppendCommand(r, "XADD herald:rt MAXLEN ~ 100000 * e %s u %s id %s ev %s", opt.env,
                               user, id, ev);
            pending++;
        }
        while (pending > 0) {
            redisReply *rep = NULL;
            if (redisGetReply(r, (void **)&rep) != REDIS_OK)
                return 1;
            freeReplyObject(rep);
            pending--;
        }
    }
    double secs = (double)(now_us() - t0) / 1e6;
    printf("{\"published\":%llu,\"seconds\":%.2f,\"rate\":%.0f,\"cpu_s\":%.2f}\n",
           (unsigned long long)sent, secs, (double)sent / secs, cpu_s());
    redisFree(r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || sodium_init() < 0) {
        fprintf(stderr, "usage: rt_load hold|publish [options] (see the comment atop rt_load.c)\n");
        return 2;
    }
    const char *mode = argv[1];
    hist_init();
    static const struct option lo[] = {
        {"host", 1, 0, 'h'},   {"port", 1, 0, 'p'},    {"conns", 1, 0, 'n'},
        {"users", 1, 0, 'u'},  {"offset", 1, 0, 'o'},  {"seconds", 1, 0, 's'},
        {"proto", 1, 0, 'P'},  {"env", 1, 0, 'e'},     {"secret", 1, 0, 'k'},
        {"prefix", 1, 0, 'x'}, {"src", 1, 0, 'a'},     {"path", 1, 0, 'w'},
        {"rate", 1, 0, 'r'},   {"redis-port", 1, 0, 'R'}, {"inflight", 1, 0, 'i'},
        {"batch", 1, 0, 'b'},  {"split", 0, 0, 'S'},   {"series", 1, 0, 'T'},
        {"sched-batch", 0, 0, 'B'},
        {0, 0, 0, 0}};
    double rate = 1000;
    int redis_port = 6379, batch = 50, c;
    opt.path = "/v1/realtime";
    optind = 2;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'h': opt.host = optarg; break;
        case 'p': {
            char *s = strdup(optarg), *tok, *save = NULL;
            for (tok = strtok_r(s, ",", &save); tok && opt.nports < 16; tok = strtok_r(NULL, ",", &save))
                opt.ports[opt.nports++] = atoi(tok);
            free(s);
            break;
        }
        case 'n': opt.conns = atoi(optarg); break;
        case 'u': opt.users = atoi(optarg); break;
        case 'o': opt.offset = atoi(optarg); break;
        case 's': opt.seconds = atoi(optarg); break;
        case 'P': opt.proto = optarg; break;
        case 'e': opt.env = optarg; break;
        case 'k': {
            size_t n = 0;
            sodium_hex2bin(opt.secret, sizeof opt.secret, optarg, strlen(optarg), NULL, &n, NULL);
            opt.secretlen = n;
            break;
        }
        case 'x': opt.prefix = optarg; break;
        case 'a': opt.srcs = optarg; break;
        case 'w': opt.path = optarg; break;
        case 'r': rate = atof(optarg); break;
        case 'R': redis_port = atoi(optarg); break;
        case 'i': opt.inflight_max = atoi(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 'S': split = 1; break;
        case 'T': series_path = optarg; break;
        case 'B': sched_batch = 1; break;
        default: return 2;
        }
    }
    unsigned a = 2, b = 20;
    sscanf(opt.srcs, "127.0.0.%u-127.0.0.%u", &a, &b);
    src_lo = (127u << 24) | a;
    src_hi = (127u << 24) | b;
    proto_sio = strcmp(opt.proto, "sio") == 0;
    if (strcmp(mode, "publish") == 0)
        return publish(redis_port, rate, opt.seconds, batch);
    if (strcmp(mode, "hold") == 0 && opt.nports > 0)
        return hold();
    fprintf(stderr, "rt_load: hold needs --port\n");
    return 2;
}
