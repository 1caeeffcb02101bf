/* member: sign-up, lookups and OAuth linking of dashboard members. */
#include "member.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "notification.h"
#include "tenancy.h"

#define MEMBER_COLS "id, tenant_id, email, name, COALESCE(password_hash, '')"

int hr_member_email_normalise(const char *in, char *out, size_t outlen)
{
    while (*in == ' ' || *in == '\t')
        in++;
    size_t n = strlen(in);
    while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t'))
        n--;
    if (n == 0 || n > HR_MEMBER_EMAIL_MAX || n >= outlen)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[n] = '\0';
    return hr_valid_email(out) ? 0 : -1;
}

static void member_fill(PGresult *res, hr_member_t *out)
{
    snprintf(out->id, sizeof out->id, "%s", PQgetvalue(res, 0, 0));
    snprintf(out->tenant_id, sizeof out->tenant_id, "%s", PQgetvalue(res, 0, 1));
    snprintf(out->email, sizeof out->email, "%s", PQgetvalue(res, 0, 2));
    snprintf(out->name, sizeof out->name, "%s", PQgetvalue(res, 0, 3));
    snprintf(out->password_hash, sizeof out->password_hash, "%s", PQgetvalue(res, 0, 4));
}

static hr_member_result_t member_select(hr_db_t *db, const char *sql, const char *param,
                                        hr_member_t *out, char *err, size_t errlen)
{
    const char *p[1] = {param};
    PGresult *res = hr_db_exec(db, sql, 1, p, err, errlen);
    if (res == NULL)
        return HR_MEMBER_ERROR;
    hr_member_result_t rc = HR_MEMBER_NOTFOUND;
    if (PQntuples(res) == 1) {
        member_fill(res, out);
        rc = HR_MEMBER_OK;
    }
    PQclear(res);
    return rc;
}

hr_member_result_t hr_member_by_email(hr_db_t *db, const char *email, hr_member_t *out, char *err,
                                      size_t errlen)
{
    return member_select(db, "SELECT " MEMBER_COLS " FROM members WHERE email = $1", email, out,
                         err, errlen);
}

hr_member_result_t hr_member_by_id(hr_db_t *db, const char *id, hr_member_t *out, char *err,
                                   size_t errlen)
{
    if (!hr_uuid_valid(id))
        return HR_MEMBER_NOTFOUND;
    return member_select(db, "SELECT " MEMBER_COLS " FROM members WHERE id = $1", id, out, err,
                         errlen);
}

/* Inserts the member inside the open transaction; a taken email is
 * HR_MEMBER_TAKEN (the unique index decides, so two racing sign-ups cannot
 * both win). */
static hr_member_result_t member_insert(hr_db_t *db, const char *tenant_id, const char *name,
                                        const char *email, const char *password_hash,
                                        hr_member_t *out, char *err, size_t errlen)
{
    hr_uuid7(out->id);
    const char *p[5] = {out->id, tenant_id, email, name, password_hash};
    PGresult *res = hr_db_exec(db,
                               "INSERT INTO members (id, tenant_id, email, name, password_hash)"
                               " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (email) DO NOTHING"
                               " RETURNING id",
                               5, p, err, errlen);
    if (res == NULL)
        return HR_MEMBER_ERROR;
    bool inserted = PQntuples(res) == 1;
    PQclear(res);
    if (!inserted)
        return HR_MEMBER_TAKEN;
    snprintf(out->tenant_id, sizeof out->tenant_id, "%s", tenant_id);
    snprintf(out->email, sizeof out->email, "%s", email);
    snprintf(out->name, sizeof out->name, "%s", name);
    snprintf(out->password_hash, sizeof out->password_hash, "%s",
             password_hash ? password_hash : "");
    return HR_MEMBER_OK;
}

hr_member_result_t hr_member_signup(hr_db_t *db, const char *name, const char *email,
                                    const char *password_hash, hr_member_t *out, json_t **tenant,
                                    char *err, size_t errlen)
{
    *tenant = NULL;
    memset(out, 0, sizeof *out);
    if (hr_db_run(db, "BEGIN", 0, NULL, err, errlen) != 0)
        return HR_MEMBER_ERROR;
    json_t *t = hr_tenant_create_tx(db, name, err, errlen);
    if (t == NULL)
        goto fail;
    hr_member_result_t rc = member_insert(db, json_string_value(json_object_get(t, "tenant_id")), name, email, password_hash,
                                          out, err, errlen);
    if (rc != HR_MEMBER_OK) {
        hr_db_rollback(db);
        json_decref(t);
        return rc;
    }
    if (hr_db_run(db, "COMMIT", 0, NULL, err, errlen) != 0)
        goto fail;
    *tenant = t;
    return HR_MEMBER_OK;
fail:
    hr_db_rollback(db);
    json_decref(t);
    return HR_MEMBER_ERROR;
}

hr_member_result_t hr_member_oauth(hr_db_t *db, const char *provider, const char *subject,
                                   const char *email, bool email_verified, const char *name,
                                   hr_member_t *out, json_t **tenant, char *err, size_t errlen)
{
    *tenant = NULL;
    const char *p[2] = {provider, subject};
    PGresult *res = hr_db_exec(db,
                               "SELECT m.id, m.tenant_id, m.email, m.name,"
                               " COALESCE(m.password_hash, '') FROM oauth_identities o"
                               " JOIN members m ON m.id = o.member_id"
                               " WHERE o.provider = $1 AND o.subject = $2",
                               2, p, err, errlen);
    if (res == NULL)
        return HR_MEMBER_ERROR;
    if (PQntuples(res) == 1) {
        member_fill(res, out);
        PQclear(res);
        return HR_MEMBER_OK;
    }
    PQclear(res);
    hr_member_result_t rc = hr_member_by_email(db, email, out, err, errlen);
    if (rc == HR_MEMBER_ERROR)
        return rc;
    if (rc == HR_MEMBER_OK && !email_verified)
        return HR_MEMBER_TAKEN; /* an unverified address cannot take over an account */
    if (rc == HR_MEMBER_NOTFOUND) {
        rc = hr_member_signup(db, name, email, NULL, out, tenant, err, errlen);
        if (rc != HR_MEMBER_OK)
            return rc;
    }
    const char *p2[3] = {provider, subject, out->id};
    if (hr_db_run(db,
                  "INSERT INTO oauth_identities (provider, subject, member_id) VALUES ($1, $2, $3)"
                  " ON CONFLICT DO NOTHING",
                  3, p2, err, errlen) != 0) {
        json_decref(*tenant);
        *tenant = NULL;
        return HR_MEMBER_ERROR;
    }
    return HR_MEMBER_OK;
}
