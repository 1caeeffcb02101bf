/* ids: time-ordered UUIDv7 identifiers, ids derived deterministically from a
 * parent id, and UUID text validation. */
#ifndef HR_IDS_H
#define HR_IDS_H

#include <stdbool.h>
#include <stdint.h>

#define HR_UUID_STRLEN 37 /* 36 characters and the NUL */

/* Writes a new UUIDv7 (48-bit Unix milliseconds, random rest) to out. */
void hr_uuid7(char out[HR_UUID_STRLEN]);

/* Writes the UUIDv7 for the given millisecond time (tests use this). */
void hr_uuid7_at(uint64_t unix_ms, char out[HR_UUID_STRLEN]);

/* Derives a stable id from parent (a UUID string) and label, so that replaying
 * the same work yields the same child id. The result keeps the parent's
 * 48-bit time prefix, so children sort with their parent. */
void hr_uuid_derive(const char *parent, const char *label, char out[HR_UUID_STRLEN]);

/* True if s is a canonical lower- or upper-case hyphenated UUID. */
bool hr_uuid_valid(const char *s);

/* Milliseconds since the Unix epoch stored in a UUIDv7 string, or 0. */
uint64_t hr_uuid7_time(const char *s);

#endif
