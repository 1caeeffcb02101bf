/* whevent: the outcome events of a delivery (notification.sent, .failed,
 * .delivered) as webhook deliveries to every endpoint of the environment
 * subscribed to them, stored with derived ids (a repeat inserts nothing)
 * and queued on the webhook channel's stream. */
#ifndef HR_WHEVENT_H
#define HR_WHEVENT_H

#include "db.h"
#include "redis.h"

/* What the event says about one delivery. Strings are borrowed; the
 * optional ones may be NULL. */
typedef struct hr_whevent {
    const char *environment_id;
    const char *notification_id;
    const char *delivery_id;
    const char *channel;             /* channel name: "sms", "telegram", … */
    const char *status;              /* "sent", "failed", "delivered": the event is notification.<status> */
    const char *address;             /* optional */
    int attempts;
    const char *provider_message_id; /* optional */
    const char *error;               /* optional */
} hr_whevent_t;

/* Stores notification.<status> for each subscribed, enabled endpoint (only
 * endpoints that list the event type: one with no types gets notifications,
 * not outcome events) and XADDs each new one to herald:deliveries:webhook.
 * Events about webhook deliveries are never made. Returns 0 when stored and
 * queued (or nothing to do); 1 when stored but not queued now (err says why:
 * the sweeper queues them after [sweeper] requeue_after_s); -1 when not
 * stored (err: PostgreSQL refused or is down). *stored, when not NULL, is
 * the number of new events. */
int hr_whevent_emit(hr_db_t *db, hr_redis_t *redis, const hr_whevent_t *ev, int *stored,
                    char *err, size_t errlen) __attribute__((warn_unused_result));

/* hr_whevent_emit of the n events evs in one statement (a turn of a
 * worker's send loop); the same answers, for them all. */
int hr_whevent_emit_many(hr_db_t *db, hr_redis_t *redis, const hr_whevent_t *evs, size_t n,
                         int *stored, char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
