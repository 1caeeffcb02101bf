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

#endif
