/* alert: tells a tenant's members about something that needs them (a webhook
 * endpoint Herald disabled, …) by email, sent by Herald's own pipeline in the
 * environment concerned: a notification of the team (no end user) with one
 * email delivery per member, queued like any other. */
#ifndef HR_ALERT_H
#define HR_ALERT_H

#include <jansson.h>
#include <stddef.h>

#include "db.h"
#include "redis.h"

/* Stores the notification (type, title, body, data; strings borrowed, data
 * may be NULL) in environment_id with an email delivery to every member of
 * the environment's tenant, and queues them. Returns the number of members
 * told (0 when the tenant has none), or -1 with err (nothing stored). A
 * Redis failure after the rows are stored is no error: the sweeper queues
 * them later. */
int hr_alert_members(hr_db_t *db, hr_redis_t *redis, const char *environment_id, const char *type,
                     const char *title, const char *body, const json_t *data, char *err,
                     size_t errlen) __attribute__((warn_unused_result));

#endif
