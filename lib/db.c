/* db: libpq connection handling and statement helpers. */
#include "db.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

static void db_errmsg(hr_db_t *db, PGresult *res, char *err, size_t errlen)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(db->conn);
    if (msg == NULL || msg[0] == '\0')
        msg = db->conn != NULL ? PQerrorMessage(db->conn) : "no connection";
    snprintf(err, errlen, "%s%s%.*s", state ? state : "", state ? ": " : "",
             (int)strcspn(msg, "\n"), msg);
}

/* Server notices ("relation already exists, skipping") are not errors. */
static void db_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int hr_db_open(hr_db_t *db, const char *conninfo, char *err, size_t errlen)
{
    if (conninfo != db->conninfo)
        snprintf(db->conninfo, sizeof db->conninfo, "%s", conninfo);
    if (db->conn != NULL)
        PQfinish(db->conn);
    db->conn = PQconnectdb(db->conninfo);
    if (db->conn != NULL)
        PQsetNoticeProcessor(db->conn, db_ignore_notice, NULL);
    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
        db_errmsg(db, NULL, err, errlen);
        return -1;
    }
    return 0;
}

/* An idle connection has nothing to read unless the server went away (or
 * sent a notice): let libpq consume it and look at the status again. */
static void db_check_idle(hr_db_t *db)
{
    struct pollfd p = {.fd = PQsocket(db->conn), .events = POLLIN | POLLRDHUP};
    if (p.fd >= 0 && poll(&p, 1, 0) > 0 && p.revents != 0)
        PQconsumeInput(db->conn);
}

int hr_db_ensure(hr_db_t *db, char *err, size_t errlen)
{
    if (db->conn == NULL)
        return hr_db_open(db, db->conninfo, err, errlen);
    if (PQstatus(db->conn) == CONNECTION_OK)
        db_check_idle(db);
    if (PQstatus(db->conn) == CONNECTION_OK)
        return 0;
    PQreset(db->conn);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        db_errmsg(db, NULL, err, errlen);
        return -1;
    }
    return 0;
}

PGresult *hr_db_exec(hr_db_t *db, const char *sql, int nparams, const char *const *params,
                     char *err, size_t errlen)
{
    if (hr_db_ensure(db, err, errlen) != 0)
        return NULL;
    PGresult *res = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    db_errmsg(db, res, err, errlen);
    PQclear(res);
    return NULL;
}

int hr_db_run(hr_db_t *db, const char *sql, int nparams, const char *const *params, char *err,
              size_t errlen)
{
    PGresult *res = hr_db_exec(db, sql, nparams, params, err, errlen);
    if (res == NULL)
        return -1;
    PQclear(res);
    return 0;
}

void hr_db_rollback(hr_db_t *db)
{
    if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
        PQclear(PQexec(db->conn, "ROLLBACK"));
}

void hr_db_close(hr_db_t *db)
{
    if (db->conn != NULL)
        PQfinish(db->conn);
    db->conn = NULL;
}
