/* e2e_load: an open-loop load generator for the end-to-end benchmark. It
 * POSTs one notification every 1/RATE s (on schedule, whatever the answers
 * do; libcurl multi, at most 1,024 requests in flight) for SECONDS seconds,
 * then prints the achieved send rate and the 202 latencies.
 * usage: e2e_load BASE_URL API_KEY RATE SECONDS [CA_FILE] [CHANNEL] */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOAD_MAX_INFLIGHT 1024

typedef struct load_req {
    CURL *easy;
    struct curl_slist *headers; /* owned */
    char body[512];
    double started_ms;
} load_req_t;

static double load_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static size_t load_discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static int load_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double load_pct(const double *v, size_t n, double p)
{
    return n == 0 ? 0 : v[(size_t)(p / 100.0 * (double)(n - 1) + 0.5)];
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: e2e_load BASE_URL API_KEY RATE SECONDS [CA_FILE] [CHANNEL]\n");
        return 2;
    }
    const char *base = argv[1], *key = argv[2], *ca = argc > 5 ? argv[5] : "";
    const char *channel = argc > 6 ? argv[6] : "email";
    double rate = atof(argv[3]), secs = atof(argv[4]);
    if (rate <= 0 || secs <= 0) {
        fprintf(stderr, "e2e_load: RATE and SECONDS must be positive\n");
        return 2;
    }
    size_t total = (size_t)(rate * secs);
    char url[1024], auth[512];
    snprintf(url, sizeof url, "%s/v1/notifications", base);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)LOAD_MAX_INFLIGHT);
    load_req_t *pool = calloc(LOAD_MAX_INFLIGHT, sizeof *pool);
    load_req_t **idle = calloc(LOAD_MAX_INFLIGHT, sizeof *idle);
    double *lat = calloc(total + 1, sizeof *lat);
    if (multi == NULL || pool == NULL || idle == NULL || lat == NULL) {
        fprintf(stderr, "e2e_load: out of memory at %s:%d\n", __FILE__, __LINE__);
        return 1;
    }
    size_t nidle = 0;
    for (size_t i = 0; i < LOAD_MAX_INFLIGHT; i++) {
        load_req_t *r = &pool[i];
        r->easy = curl_easy_init();
        r->headers = curl_slist_append(NULL, "Content-Type: application/json");
        r->headers = curl_slist_append(r->headers, auth);
        r->headers = curl_slist_append(r->headers, "Expect:");
        curl_easy_setopt(r->easy, CURLOPT_URL, url);
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
        curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, load_discard);
        curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
        curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, 30000L);
        if (ca[0] != '\0')
            curl_easy_setopt(r->easy, CURLOPT_CAINFO, ca);
        idle[nidle++] = r;
    }

    size_t sent = 0, done = 0, accepted = 0, other = 0, failed = 0, behind = 0, nlat = 0;
    double t0 = load_now_ms(), interval = 1000.0 / rate, last_send = t0;
    unsigned seed = (unsigned)time(NULL);
    while (done < total) {
        double now = load_now_ms();
        /* Every request whose time has come goes out now. */
        while (sent < total && t0 + (double)sent * interval <= now) {
            if (nidle == 0) {
                behind++; /* more than LOAD_MAX_INFLIGHT outstanding: counted, sent late */
                break;
            }
            load_req_t *r = idle[--nidle];
            snprintf(r->body, sizeof r->body,
                     "{\"user\":{\"id\":\"e2e-%u-%zu\",\"email\":\"e2e-%zu@example.com\"},"
                     "\"type\":\"bench.e2e\",\"title\":\"e2e %zu\",\"body\":\"end to end\","
                     "\"channels\":[\"%s\"]}",
                     seed, sent, sent, sent, channel);
            curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
            r->started_ms = now;
            curl_multi_add_handle(multi, r->easy);
            sent++;
            last_send = now;
        }
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            load_req_t *r;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
            long code = 0;
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            if (m->data.result != CURLE_OK)
                failed++;
            else if (code == 202) {
                accepted++;
                lat[nlat++] = load_now_ms() - r->started_ms;
            } else
                other++;
            curl_multi_remove_handle(multi, m->easy_handle);
            idle[nidle++] = r;
            done++;
        }
        double next = t0 + (double)sent * interval - load_now_ms();
        int wait = sent < total ? (next > 0 ? (int)next : 0) : 100;
        if (wait > 0)
            curl_multi_poll(multi, NULL, 0, wait, NULL);
    }
    /* The send rate over the sending phase: sent - 1 intervals. */
    double send_s = (last_send - t0) / 1000.0;
    qsort(lat, nlat, sizeof *lat, load_cmp);
    printf("RESULT sent=%zu accepted=%zu other=%zu failed=%zu seconds=%.2f rate=%.1f "
           "api_p50_ms=%.2f api_p99_ms=%.2f late_ticks=%zu\n",
           sent, accepted, other, failed, send_s, send_s > 0 ? (double)(sent - 1) / send_s : 0,
           load_pct(lat, nlat, 50), load_pct(lat, nlat, 99), behind);
    for (size_t i = 0; i < LOAD_MAX_INFLIGHT; i++) {
        curl_easy_cleanup(pool[i].easy);
        curl_slist_free_all(pool[i].headers);
    }
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    free(pool);
    free(idle);
    free(lat);
    return accepted == total ? 0 : 1;
}
