/* events: the router's side of events — the event type of each entry of a
 * batch (created on first use with the environment's default channels),
 * which decides an event's channels, and the team destinations of events
 * without a user. One query per batch. */
#ifndef HR_EVENTS_H
#define HR_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "db.h"

/* For each row of notifs ({id, environment_id, type, ...}) and its
 * normalised payload ns[i]: creates missing event types; for an event with
 * a user sets ns[i].channels to its type's channels; for an event without
 * one (event.team) stores the type's channels and the environment's team
 * destinations in ns[i].event. Returns 0, or -1 with err (retry the batch). */
int hr_events_resolve(hr_db_t *db, const json_t *notifs, json_t *ns, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Plans the deliveries of an event without a user: one per channel of its
 * type that has a team destination (queued to that address), the others
 * skipped as not_configured; in_app is never planned. Returns false (and
 * plans nothing) when n is not such an event. Pure. */
bool hr_events_plan_team(const char *notification_id, const char *environment_id, const json_t *n,
                         json_t *delivs);

#endif
