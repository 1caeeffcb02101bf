/* keyrevoke: telling every herald-api process at once that API keys stopped
 * working (revoked, or their project deleted), through Redis markers the
 * send path's script checks, since each process caches keys for a while. */
#ifndef HR_API_KEYREVOKE_H
#define HR_API_KEYREVOKE_H

#include "app.h"

/* Marks each key id of res's column col as ending after_s seconds from now
 * (0: revoked now), for as long as any process may still hold it in its
 * cache. Returns 0, or -1 with err. */
int hr_keys_mark_revoked(hr_req_t *r, PGresult *res, int col, long after_s, char *err,
                         size_t errlen) __attribute__((warn_unused_result));

#endif
