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

json_t *hr_tenant_create(hr_db_t *db, const char *name, char *err, size_t errlen)
{
    char tenant[HR_UUID_STRLEN], project[HR_UUID_STRLEN];
    hr_uuid7(tenant);
    hr_uuid7(project);
    json_t *envs = json_object();
    hr_assert(envs != NULL);
    if (hr_db_run(db, "BEGIN", 0, NULL, err, errlen) != 0)
        goto fail;
    const char *p1[2] = {tenant, name};
    const char *p2[2] = {project, tenant};
    if (hr_db_run(db, "INSERT INTO tenants (id, name) VALUES ($1, $2)", 2, p1, err, errlen) != 0 ||
        hr_db_run(db, "INSERT INTO projects (id, tenant_id, name) VALUES ($1, $2, 'Default')", 2,
                  p2, err, errlen) != 0 ||
        tenancy_env(db, tenant, project, false, envs, err, errlen) != 0 ||
        tenancy_env(db, tenant, project, true, envs, err, errlen) != 0 ||
        hr_db_run(db, "COMMIT", 0, NULL, err, errlen) != 0)
        goto rollback;
    json_t *out = json_pack("{s:s, s:s, s:o}", "tenant_id", tenant, "project_id", project,
                            "environments", envs);
    hr_assert(out != NULL);
    return out;
rollback:
    hr_db_rollback(db);
fail:
    json_decref(envs);
    return NULL;
}
