/* routes: the URL table of herald-api and its dispatcher. */
#ifndef HR_API_ROUTES_H
#define HR_API_ROUTES_H

#include "app.h"

/* Finds the handler for r->method and r->path and runs it; answers 404 or
 * 405 itself when none matches. Sets r->route and r->params. */
void hr_routes_dispatch(hr_req_t *r);

#endif
