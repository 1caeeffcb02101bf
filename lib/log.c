/* log: structured JSON log lines on stderr, one per event. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_process = "herald";
static hr_log_level_t log_min = HR_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void hr_log_init(const char *process, hr_log_level_t level)
{
    log_process = process;
    log_min = level;
}

void hr_log_set_level(hr_log_level_t level)
{
    log_min = level;
}

int hr_log_level_parse(const char *s, hr_log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (hr_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

static void log_timestamp(char *buf, size_t len)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

void hr_log_json(hr_log_level_t level, const char *request_id, const char *msg, json_t *fields)
{
    if (level < log_min) {
        json_decref(fields);
        return;
    }
    char ts[40];
    log_timestamp(ts, sizeof ts);
    json_t *line = json_object();
    hr_assert(line != NULL);
    json_object_set_new(line, "time", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_set_new(line, "proc", json_string(log_process));
    json_object_set_new(line, "pid", json_integer(getpid()));
    if (request_id != NULL && request_id[0] != '\0')
        json_object_set_new(line, "request_id", json_string(request_id));
    if (msg != NULL)
        json_object_set_new(line, "msg", json_string(msg));
    if (fields != NULL) {
        json_object_update(line, fields);
        json_decref(fields);
    }
    char *text = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(9));
    json_decref(line);
    if (text == NULL)
        return;
    /* One write per line so concurrent processes do not interleave. */
    size_t n = strlen(text);
    text[n] = '\n';
    ssize_t rc = write(STDERR_FILENO, text, n + 1);
    (void)rc;
    free(text);
}

void hr_log(hr_log_level_t level, const char *request_id, const char *fmt, ...)
{
    if (level < log_min)
        return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    hr_log_json(level, request_id, buf, NULL);
}

void hr_panic(const char *file, int line, const char *what)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"proc\":\"%s\",\"msg\":\"assertion failed: %s\",\"at\":\"%s:%d\"}\n",
            log_process, what, file, line);
    abort();
}
