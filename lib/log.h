/* log: one JSON line per event on stderr (time, level, process, pid,
 * request id, message and extra fields). */
#ifndef HR_LOG_H
#define HR_LOG_H

#include <jansson.h>

typedef enum { HR_LOG_DEBUG = 0, HR_LOG_INFO, HR_LOG_WARN, HR_LOG_ERROR } hr_log_level_t;

/* Sets the process name written in every line and the lowest level kept. */
void hr_log_init(const char *process, hr_log_level_t level);
void hr_log_set_level(hr_log_level_t level);

/* Parses "debug", "info", "warn" or "error"; returns -1 on anything else. */
int hr_log_level_parse(const char *s, hr_log_level_t *out) __attribute__((warn_unused_result));

/* Writes one line. request_id may be NULL. fields (may be NULL) is an object
 * whose members are merged into the line; the reference is stolen. */
void hr_log_json(hr_log_level_t level, const char *request_id, const char *msg, json_t *fields);

/* printf-style convenience over hr_log_json. */
void hr_log(hr_log_level_t level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define hr_log_info(...) hr_log(HR_LOG_INFO, NULL, __VA_ARGS__)
#define hr_log_warn(...) hr_log(HR_LOG_WARN, NULL, __VA_ARGS__)
#define hr_log_error(...) hr_log(HR_LOG_ERROR, NULL, __VA_ARGS__)

/* Broken invariants and out-of-memory: log file:line and abort. */
#define hr_assert(cond)                                                                   \
    do {                                                                                  \
        if (!(cond))                                                                      \
            hr_panic(__FILE__, __LINE__, #cond);                                          \
    } while (0)
void hr_panic(const char *file, int line, const char *what) __attribute__((noreturn));

#endif
