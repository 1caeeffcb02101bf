/* resolve: the router's address resolution from stored data — end users'
 * addresses (PUT /v1/users/{id}) fill the channels the request gave no
 * address for, and a webhook delivery becomes one delivery per enabled
 * endpoint of the environment subscribed to the notification's type. One
 * query per batch. */
#ifndef HR_RESOLVE_H
#define HR_RESOLVE_H

#include <jansson.h>
#include <stddef.h>

#include "db.h"

/* notifs: the batch's notification rows ({id, environment_id, user_id, type,
 * ...}); delivs: the planned deliveries, changed in place: a delivery
 * skipped for "no_address" gets the stored address (queued), a webhook
 * delivery is replaced by one per endpoint (skipped "not_configured" when
 * there is none). Returns 0, or -1 with err (retry the batch). */
int hr_resolve_addresses(hr_db_t *db, const json_t *notifs, json_t *delivs, char *err,
                         size_t errlen) __attribute__((warn_unused_result));

/* The part that needs no database, for unit tests: applies users
 * ([{environment_id, user_id, email, phone, telegram, discord, whatsapp,
 * slack}]) and endpoints ([{id, environment_id, event_types}]) to delivs. */
void hr_resolve_apply(const json_t *notifs, json_t *delivs, const json_t *users,
                      const json_t *endpoints);

#endif
