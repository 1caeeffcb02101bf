/* migrate: schema migrations. Files are named NNN_description.sql; an
 * advisory lock keeps two migrators from racing. */
#include "migrate.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MIGRATE_LOCK "874211"

static int migrate_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *migrate_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf != NULL)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

static int migrate_one(hr_db_t *db, const char *dir, const char *name, char *err, size_t errlen)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *sql = migrate_read(path);
    if (sql == NULL) {
        snprintf(err, errlen, "%s: cannot read", path);
        return -1;
    }
    /* A migration file holds several statements: PQexec runs them as one
     * implicit transaction, wrapped here with its bookkeeping row. */
    int rc = -1;
    const char *p[1] = {name};
    if (hr_db_run(db, "BEGIN", 0, NULL, err, errlen) != 0)
        goto done;
    PGresult *res = PQexec(db->conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s: %s", name, PQresultErrorMessage(res));
        PQclear(res);
        goto rollback;
    }
    PQclear(res);
    if (hr_db_run(db, "INSERT INTO schema_migrations (name) VALUES ($1)", 1, p, err, errlen) != 0 ||
        hr_db_run(db, "COMMIT", 0, NULL, err, errlen) != 0)
        goto rollback;
    rc = 0;
    goto done;
rollback:
    hr_db_rollback(db);
done:
    free(sql);
    return rc;
}

json_t *hr_migrate(hr_db_t *db, const char *dir, char *err, size_t errlen)
{
    json_t *applied = json_array();
    char **names = NULL;
    size_t n = 0;
    hr_assert(applied != NULL);
    DIR *d = opendir(dir);
    if (d == NULL) {
        snprintf(err, errlen, "%s: cannot open migrations folder", dir);
        goto fail;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0 || e->d_name[0] < '0' ||
            e->d_name[0] > '9')
            continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        hr_assert(grown != NULL);
        names = grown;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, migrate_cmp);

    if (hr_db_run(db, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")", 0, NULL, err, errlen) != 0 ||
        hr_db_run(db,
                  "CREATE TABLE IF NOT EXISTS schema_migrations ("
                  " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                  0, NULL, err, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const char *p[1] = {names[i]};
        PGresult *res = hr_db_exec(db, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, p,
                                   err, errlen);
        if (res == NULL)
            goto fail;
        int done = PQntuples(res);
        PQclear(res);
        if (done)
            continue;
        if (migrate_one(db, dir, names[i], err, errlen) != 0)
            goto fail;
        json_array_append_new(applied, json_string(names[i]));
    }
    if (hr_db_run(db, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")", 0, NULL, err, errlen) != 0)
        hr_log_warn("migrate: unlock failed: %s", err);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return applied;
fail:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    json_decref(applied);
    return NULL;
}
