/* tenancy: creating tenants with their default project, environments and
 * API keys (used by herald-admin now, by sign-up later). */
#ifndef HR_TENANCY_H
#define HR_TENANCY_H

#include <jansson.h>
#include <stddef.h>

#include "db.h"

/* Creates a tenant named name, a project "Default" with a development and a
 * production environment, and one API key for each, in one transaction.
 * Returns {"tenant_id","project_id","environments":{"development":{"id",
 * "api_key"},"production":{...}}} (caller decrefs; it holds the only copy of
 * the keys), or NULL with the reason in err. */
json_t *hr_tenant_create(hr_db_t *db, const char *name, char *err, size_t errlen);

/* Like hr_tenant_create, inside the caller's open transaction (sign-up adds
 * its member in the same one). Same result; on failure the caller rolls back. */
json_t *hr_tenant_create_tx(hr_db_t *db, const char *name, char *err, size_t errlen);

/* Creates a project named name for tenant, with its two environments and one
 * API key each, inside the caller's open transaction. Returns {"id","name",
 * "environments":{"development":{"id","api_key"},"production":{...}}} (caller
 * decrefs; the only copy of the keys), or NULL with err. */
json_t *hr_project_create_tx(hr_db_t *db, const char *tenant_id, const char *name, char *err,
                             size_t errlen);

#endif
