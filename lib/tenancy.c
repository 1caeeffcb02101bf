/* tenancy: tenant creation in one transaction. */
#include "tenancy.h"

#include <stdbool.h>
#include <stdio.h>

#include "apikey.h"
#include "ids.h"
#include "log.h"

static int tenancy_env(hr_db_t *db, const char *tenant, const char *project, bool live,
                       json_t *envs, char *err, size_t errlen)
{
    char env_id[HR_UUID_STRLEN], key_id[HR_UUID_STRLEN];
    hr_uuid7(env_id);
    hr_uuid7(key_id);
    const char *kind = live ? "production" : "development";
    const char *p1[4] = {env_id, project, tenant, kind};
    if (hr_db_run(db,
                  "INSERT INTO environments (id, project_id, tenant_id, kind) VALUES ($1, $2, $3, $4)",
                  4, p1, err, errlen) != 0)
        return -1;
    hr_apikey_t key;
    hr_apikey_generate(live, &key);
    const char *p2[5] = {key_id, env_id, key.hash, key.prefix, key.last4};
    int rc = hr_db_run(db,
                       "INSERT INTO api_keys (id, environment_id, key_hash, prefix, last4) "
                       "VALUES ($1, $2, $3, $4, $5)",
                       5, p2, err, errlen);
    if (rc == 0)
        json_object_set_new(envs, kind, json_pack("{s:s, s:s}", "id", env_id, "api_key", key.key));
    hr_apikey_wipe(&key);
    return rc;
}

json_t *hr_project_create_tx(hr_db_t *db, const char *tenant_id, const char *name, char *err,
                             size_t errlen)
{
    char project[HR_UUID_STRLEN];
    hr_uuid7(project);
    json_t *envs = json_object();
    hr_assert(envs != NULL);
    const char *p[3] = {project, tenant_id, name};
    if (hr_db_run(db, "INSERT INTO projects (id, tenant_id, name) VALUES ($1, $2, $3)", 3, p, err,
                  errlen) != 0 ||
        tenancy_env(db, tenant_id, project, false, envs, err, errlen) != 0 ||
        tenancy_env(db, tenant_id, project, true, envs, err, errlen) != 0) {
        json_decref(envs);
        return NULL;
    }
    json_t *out = json_pack("{s:s, s:s, s:o}", "id", project, "name", name, "environments", envs);
    hr_assert(out != NULL);
    return out;
}

json_t *hr_tenant_create_tx(hr_db_t *db, const char *name, char *err, size_t errlen)
{
    char tenant[HR_UUID_STRLEN];
    hr_uuid7(tenant);
    const char *p1[2] = {tenant, name};
    if (hr_db_run(db, "INSERT INTO tenants (id, name) VALUES ($1, $2)", 2, p1, err, errlen) != 0)
        return NULL;
    json_t *project = hr_project_create_tx(db, tenant, "Default", err, errlen);
    if (project == NULL)
        return NULL;
    json_t *out = json_pack("{s:s, s:O, s:O}", "tenant_id", tenant, "project_id",
                            json_object_get(project, "id"), "environments",
                            json_object_get(project, "environments"));
    hr_assert(out != NULL);
    json_decref(project);
    return out;
}

json_t *hr_tenant_create(hr_db_t *db, const char *name, char *err, size_t errlen)
{
    if (hr_db_run(db, "BEGIN", 0, NULL, err, errlen) != 0)
        return NULL;
    json_t *out = hr_tenant_create_tx(db, name, err, errlen);
    if (out == NULL || hr_db_run(db, "COMMIT", 0, NULL, err, errlen) != 0) {
        hr_db_rollback(db);
        json_decref(out);
        return NULL;
    }
    return out;
}
