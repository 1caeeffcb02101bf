/* projects: a member's projects and their environments —
 * GET|POST /v1/projects, GET|PATCH|DELETE /v1/projects/{id}, and
 * POST /v1/environments/{id}/signing-secret/rotate. Everything is scoped to
 * the member's tenant: another tenant's project is 404. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "handlers.h"
#include "keyrevoke.h"
#include "log.h"
#include "member_auth.h"
#include "tenancy.h"
#include "usertoken.h"

#define PROJECT_NAME_MAX 200

static const char *const project_sql =
    "SELECT json_build_object('id', p.id, 'name', p.name, 'created_at', herald_ts(p.created_at),"
    " 'environments', (SELECT json_agg(json_build_object('id', e.id, 'kind', e.kind,"
    "   'created_at', herald_ts(e.created_at)) ORDER BY e.kind) FROM environments e"
    "   WHERE e.project_id = p.id))::text"
    " FROM projects p WHERE p.tenant_id = $1 AND ($2::uuid IS NULL OR p.id = $2::uuid)"
    " ORDER BY p.created_at, p.id";

/* The {id} parameter lower-cased if it is a UUID, else NULL (a 404). */
static const char *project_param_id(hr_req_t *r)
{
    if (!hr_uuid_valid(r->params[0]))
        return NULL;
    char *id = hr_arena_strndup(r->arena, r->params[0], strlen(r->params[0]));
    for (char *c = id; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return id;
}

static void project_not_found(hr_req_t *r)
{
    hr_req_error(r, 404, "not_found", "no such project", NULL);
}

/* Answers the project(s) of the tenant: one (id) or all (id NULL). */
static void project_reply(hr_req_t *r, const char *tenant, const char *id, int status)
{
    char err[256];
    const char *p[2] = {tenant, id};
    PGresult *res = hr_db_exec(&r->app->db, project_sql, 2, p, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "project read", err);
        return;
    }
    json_t *list = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(list, json_loads(PQgetvalue(res, i, 0), 0, NULL));
    PQclear(res);
    if (id == NULL) {
        hr_req_reply(r, status, json_pack("{s:o}", "data", list), NULL);
        return;
    }
    if (json_array_size(list) != 1) {
        json_decref(list);
        project_not_found(r);
        return;
    }
    json_t *one = json_incref(json_array_get(list, 0));
    json_decref(list);
    hr_req_reply(r, status, one, NULL);
}

static void project_list(hr_req_t *r)
{
    hr_session_t s;
    if (hr_req_member(r, &s) != 0)
        return;
    project_reply(r, s.tenant_id, NULL, 200);
}

static void project_get(hr_req_t *r)
{
    hr_session_t s;
    if (hr_req_member(r, &s) != 0)
        return;
    const char *id = project_param_id(r);
    if (id == NULL) {
        project_not_found(r);
        return;
    }
    project_reply(r, s.tenant_id, id, 200);
}

/* POST /v1/projects {"name"}: the project, its two environments and one key
 * each (shown only in this answer). */
static void project_create(hr_req_t *r)
{
    static const char *const fields[] = {"name", NULL};
    hr_session_t s;
    const char *name = NULL;
    char err[256];
    if (hr_req_member(r, &s) != 0)
        return;
    json_t *body = hr_req_json_object(r, false);
    if (body == NULL || hr_req_only_fields(r, body, fields) != 0 ||
        hr_req_string_field(r, body, "name", true, PROJECT_NAME_MAX, &name) != 0)
        goto done;
    if (hr_db_run(&r->app->db, "BEGIN", 0, NULL, err, sizeof err) != 0) {
        hr_req_db_failed(r, "project create", err);
        goto done;
    }
    json_t *p = hr_project_create_tx(&r->app->db, s.tenant_id, name, err, sizeof err);
    if (p == NULL || hr_db_run(&r->app->db, "COMMIT", 0, NULL, err, sizeof err) != 0) {
        hr_db_rollback(&r->app->db);
        json_decref(p);
        hr_req_db_failed(r, "project create", err);
        goto done;
    }
    hr_req_reply(r, 201, p, NULL);
done:
    json_decref(body);
}

static void project_update(hr_req_t *r)
{
    static const char *const fields[] = {"name", NULL};
    hr_session_t s;
    const char *name = NULL;
    char err[256];
    if (hr_req_member(r, &s) != 0)
        return;
    const char *id = project_param_id(r);
    json_t *body = hr_req_json_object(r, false);
    if (body == NULL || hr_req_only_fields(r, body, fields) != 0)
        goto done;
    if (id == NULL) {
        project_not_found(r);
        goto done;
    }
    if (hr_req_string_field(r, body, "name", true, PROJECT_NAME_MAX, &name) != 0)
        goto done;
    const char *p[3] = {id, s.tenant_id, name};
    PGresult *res = hr_db_exec(&r->app->db,
                               "UPDATE projects SET name = $3 WHERE id = $1 AND tenant_id = $2"
                               " RETURNING id",
                               3, p, err, sizeof err);
    if (res == NULL) {
        hr_req_db_failed(r, "project update", err);
        goto done;
    }
    int n = PQntuples(res);
    PQclear(res);
    if (n != 1)
        project_not_found(r);
    else
        project_reply(r, s.tenant_id, id, 200);
done:
    json_decref(body);
}

/* DELETE /v1/projects/{id}: the project with its environments, keys and
 * data. Its keys stop working at once in every process. */
static void project_delete(hr_req_t *r)
{
    hr_session_t s;
    char err[256];
    if (hr_req_member(r, &s) != 0)
        return;
    const char *id = project_param_id(r);
    if (id == NULL) {
        project_not_found(r);
        return;
    }
    const char *p[2] = {id, s.tenant_id};
    PGresult *keys = hr_db_exec(&r->app->db,
                                "SELECT k.id FROM api_keys k JOIN environments e"
                                " ON e.id = k.environment_id JOIN projects p ON p.id = e.project_id"
                                " WHERE p.id = $1 AND p.tenant_id = $2",
                                2, p, err, sizeof err);
    if (keys == NULL) {
        hr_req_db_failed(r, "project delete", err);
        return;
    }
    PGresult *res = hr_db_exec(&r->app->db,
                               "DELETE FROM projects WHERE id = $1 AND tenant_id = $2 RETURNING id",
                               2, p, err, sizeof err);
    if (res == NULL) {
        PQclear(keys);
        hr_req_db_failed(r, "project delete", err);
        return;
    }
    int n = PQntuples(res);
    PQclear(res);
    if (n != 1) {
        PQclear(keys);
        project_not_found(r);
        return;
    }
    /* Deleted: its keys must stop working in every process now, not when
     * their cache entries lapse. */
    if (hr_keys_mark_revoked(r, keys, 0, 0, err, sizeof err) != 0)
        hr_log(HR_LOG_ERROR, r->request_id,
               "project deleted, but its keys may work until the caches lapse: %s", err);
    PQclear(keys);
    hr_req_reply(r, 204, NULL, NULL);
}

/* POST /v1/environments/{id}/signing-secret/rotate {"grace_seconds"?}: a new
 * secret for end-user tokens; tokens signed with the old one keep working
 * for the grace period (default [accounts] key_grace_s). */
static void environment_rotate_secret(hr_req_t *r)
{
    static const char *const fields[] = {"grace_seconds", NULL};
    hr_session_t s;
    char err[256];
    if (hr_req_member(r, &s) != 0)
        return;
    json_t *body = hr_req_json_object(r, true);
    if (body == NULL || hr_req_only_fields(r, body, fields) != 0)
        goto done;
    long grace;
    if (hr_req_grace_seconds(r, body, &grace) != 0)
        goto done;
    const char *id = project_param_id(r);
    const char *p[2] = {id, s.tenant_id};
    PGresult *res = id == NULL ? NULL
                               : hr_db_exec(&r->app->db,
                                            "SELECT 1 FROM environments WHERE id = $1 AND tenant_id = $2",
                                            2, p, err, sizeof err);
    if (id != NULL && res == NULL) {
        hr_req_db_failed(r, "environment read", err);
        goto done;
    }
    int n = res != NULL ? PQntuples(res) : 0;
    PQclear(res);
    if (n != 1) {
        hr_req_error(r, 404, "not_found", "no such environment", NULL);
        goto done;
    }
    if (!hr_crypto_ready()) {
        hr_req_error(r, 503, "not_ready", "no master key is configured", NULL);
        goto done;
    }
    if (hr_usertoken_rotate(&r->app->db, id, grace, err, sizeof err) != 0) {
        hr_req_db_failed(r, "signing secret rotation", err);
        goto done;
    }
    hr_req_reply(r, 200,
                 json_pack("{s:s, s:I}", "environment_id", id, "grace_seconds", (json_int_t)grace),
                 NULL);
done:
    json_decref(body);
}

const hr_route_t hr_routes_projects[] = {
    {"GET", "/v1/projects", project_list},
    {"POST", "/v1/projects", project_create},
    {"GET", "/v1/projects/{id}", project_get},
    {"PATCH", "/v1/projects/{id}", project_update},
    {"DELETE", "/v1/projects/{id}", project_delete},
    {"POST", "/v1/environments/{id}/signing-secret/rotate", environment_rotate_secret},
    {NULL, NULL, NULL},
};
