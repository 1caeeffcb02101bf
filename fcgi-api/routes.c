/* routes: matches "/v1/notifications/{id}"-style patterns segment by segment. */
#include "routes.h"

#include <stdio.h>
#include <string.h>

#include "handlers/handlers.h"

/* Every resource's route table; add one line per handler file. */
static const hr_route_t *const route_tables[] = {
    hr_routes_health,
    hr_routes_notifications,
    hr_routes_templates,
    hr_routes_branding,
    hr_routes_categories,
    hr_routes_event_types,
    hr_routes_events,
    hr_routes_preferences,
    hr_routes_team,
    hr_routes_auth,
    hr_routes_oauth,
    hr_routes_projects,
    hr_routes_keys,
    hr_routes_users,
    hr_routes_integrations,
    hr_routes_endpoints,
    hr_routes_hooks,
    hr_routes_usage,
    hr_routes_inbox,
};

/* Matches path against pattern; {x} matches one non-empty segment, whose
 * start/length are stored in the arena-copied params. */
static int route_match(hr_req_t *r, const char *pattern, const char *path, const char **params)
{
    int np = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p == '{') {
            const char *pend = strchr(p, '}');
            size_t seg = strcspn(s, "/");
            if (pend == NULL || seg == 0 || np >= 4)
                return 0;
            params[np++] = hr_arena_strndup(r->arena, s, seg);
            p = pend + 1;
            s += seg;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    return *p == '\0' && *s == '\0';
}

void hr_routes_dispatch(hr_req_t *r)
{
    char allow[64] = "";
    for (size_t t = 0; t < sizeof route_tables / sizeof route_tables[0]; t++) {
        for (const hr_route_t *rt = route_tables[t]; rt->method != NULL; rt++) {
            const char *params[4] = {NULL};
            if (!route_match(r, rt->pattern, r->path, params))
                continue;
            if (strcmp(rt->method, r->method) != 0) {
                if (strstr(allow, rt->method) == NULL && strlen(allow) + strlen(rt->method) + 3 < sizeof allow)
                    snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s",
                             allow[0] ? ", " : "", rt->method);
                continue;
            }
            r->route = rt->pattern;
            memcpy(r->params, params, sizeof params);
            rt->fn(r);
            return;
        }
    }
    if (allow[0] != '\0') {
        char *headers = hr_arena_printf(r->arena, "Allow: %s\r\n", allow);
        json_t *e = json_pack("{s:s, s:s}", "code", "method_not_allowed", "message",
                              "this route does not accept that method");
        hr_req_reply(r, 405, json_pack("{s:o}", "error", e), headers);
    } else
        hr_req_error(r, 404, "not_found", "no such route", NULL);
}
