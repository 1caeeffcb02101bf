/* jsonutil: the JSON error body every Herald API error uses, and small
 * jansson helpers. */
#ifndef HR_JSONUTIL_H
#define HR_JSONUTIL_H

#include <jansson.h>

/* {"error": {"code", "message", "field"?}}; field may be NULL. Caller frees
 * the returned string with free(). */
char *hr_json_error_body(const char *code, const char *message, const char *field);

/* A string member of obj, or NULL when missing or not a string. */
const char *hr_json_str(const json_t *obj, const char *key);

/* Serialises compactly; caller frees with free(). Aborts on out-of-memory. */
char *hr_json_dump(const json_t *v);

#endif
