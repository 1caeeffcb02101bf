/* prefs: user preferences applied by the router, one query per batch. */
#ifndef HR_PREFS_H
#define HR_PREFS_H

#include <jansson.h>
#include <stddef.h>

#include "db.h"

/* Marks `skipped` with error "preference" every queued delivery of delivs
 * whose user turned its channel off for the notification's event type or
 * the type's category, unless the type is critical. notifs holds the
 * notification rows ({id, environment_id, user_id, type, ...}) the
 * deliveries belong to. Returns 0, or -1 with err (retry the batch). */
int hr_prefs_apply(hr_db_t *db, const json_t *notifs, json_t *delivs, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
