/* handlers: one function per route; each file under handlers/ serves one
 * resource. */
#ifndef HR_API_HANDLERS_H
#define HR_API_HANDLERS_H

#include "app.h"

typedef struct hr_route {
    const char *method;
    const char *pattern; /* "/v1/notifications/{id}": {name} matches one segment */
    void (*fn)(hr_req_t *r);
} hr_route_t;

/* Each handler file exports its routes, ended by an entry with method NULL;
 * routes.c lists the tables. */
extern const hr_route_t hr_routes_health[];
extern const hr_route_t hr_routes_notifications[];
extern const hr_route_t hr_routes_templates[];
extern const hr_route_t hr_routes_branding[];
extern const hr_route_t hr_routes_categories[];
extern const hr_route_t hr_routes_event_types[];
extern const hr_route_t hr_routes_events[];
extern const hr_route_t hr_routes_preferences[];
extern const hr_route_t hr_routes_team[];
extern const hr_route_t hr_routes_auth[];
extern const hr_route_t hr_routes_oauth[];
extern const hr_route_t hr_routes_projects[];
extern const hr_route_t hr_routes_keys[];
extern const hr_route_t hr_routes_users[];
extern const hr_route_t hr_routes_integrations[];
extern const hr_route_t hr_routes_endpoints[];
extern const hr_route_t hr_routes_hooks[];
extern const hr_route_t hr_routes_usage[];
extern const hr_route_t hr_routes_inbox[];

#endif
