/* db: libpq connection handling and statement helpers. */
#include "db.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "log.h"

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

/* An idle connection has nothing to read unless the server went away (a
 * restart sends "terminating connection" and closes): reconnect at once
 * rather than fail the next statement. */
static void db_check_idle(hr_db_t *db)
{
    struct pollfd p = {.fd = PQsocket(db->conn), .events = POLLIN | POLLRDHUP};
    if (p.fd < 0 || poll(&p, 1, 0) <= 0 || p.revents == 0)
        return;
    if (PQconsumeInput(db->conn) == 0 || (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) ||
        PQstatus(db->conn) != CONNECTION_OK) {
        PQreset(db->conn);
        return;
    }
    /* Anything else read here is a notice or notification: drop it. */
    PGnotify *n;
    while ((n = PQnotifies(db->conn)) != NULL)
        PQfreemem(n);
}

/* A new session (told apart by backend pid): runs db->session_sql in it and
 * forgets what hr_db_send_prepared prepared in the last one. */
static int db_session(hr_db_t *db, char *err, size_t errlen)
{
    int pid = PQbackendPID(db->conn);
    if (pid == db->session_pid)
        return 0;
    if (db->session_sql != NULL) {
        PGresult *res = PQexec(db->conn, db->session_sql);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok)
            db_errmsg(db, res, err, errlen);
        PQclear(res);
        if (!ok)
            return -1;
    }
    for (size_t i = 0; i < HR_DB_SEND_PREPARED; i++)
        db->sent_prep[i].prepared = false;
    db->session_pid = pid;
    return 0;
}

int hr_db_ensure(hr_db_t *db, char *err, size_t errlen)
{
    if (db->conn == NULL)
        return hr_db_open(db, db->conninfo, err, errlen) == 0 ? db_session(db, err, errlen) : -1;
    if (PQstatus(db->conn) == CONNECTION_OK)
        db_check_idle(db);
    if (PQstatus(db->conn) != CONNECTION_OK)
        PQreset(db->conn);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        db_errmsg(db, NULL, err, errlen);
        return -1;
    }
    return db_session(db, err, errlen);
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

PGresult *hr_db_exec_json(hr_db_t *db, const char *sql, const json_t *arg, char *err,
                          size_t errlen)
{
    char *text = hr_json_dump(arg);
    const char *p[1] = {text};
    PGresult *res = hr_db_exec(db, sql, 1, p, err, errlen);
    free(text);
    return res;
}

/* Prepares sql under name in this session: 0, or -1 with err. */
static int db_prepare(hr_db_t *db, const char *name, const char *sql, int nparams, char *err,
                      size_t errlen)
{
    PGresult *res = PQprepare(db->conn, name, sql, nparams, NULL);
    int rc = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc != 0)
        db_errmsg(db, res, err, errlen);
    PQclear(res);
    return rc;
}

PGresult *hr_db_exec_prepared(hr_db_t *db, const char *name, const char *sql, int nparams,
                              const char *const *params, char *err, size_t errlen)
{
    if (hr_db_ensure(db, err, errlen) != 0)
        return NULL;
    if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
        return hr_db_exec(db, sql, nparams, params, err, errlen);
    for (int attempt = 0;; attempt++) {
        PGresult *res = PQexecPrepared(db->conn, name, nparams, params, NULL, NULL, 0);
        ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
            return res;
        /* 26000: not prepared in this session (first use, or reconnected) */
        const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (attempt > 0 || state == NULL || strcmp(state, "26000") != 0) {
            db_errmsg(db, res, err, errlen);
            PQclear(res);
            return NULL;
        }
        PQclear(res);
        if (db_prepare(db, name, sql, nparams, err, errlen) != 0)
            return NULL;
    }
}

/* The next result of a pipeline, which must have status want (or, for a
 * statement, also PGRES_TUPLES_OK), and the NULL that ends it. Returns the
 * result, or NULL with err (the result's own error when it has one). */
static PGresult *db_pipeline_next(hr_db_t *db, ExecStatusType want, char *err, size_t errlen)
{
    PGresult *res = PQgetResult(db->conn);
    if (res == NULL) { /* the connection broke: nothing more will come */
        db_errmsg(db, NULL, err, errlen);
        return NULL;
    }
    ExecStatusType st = PQresultStatus(res);
    /* NULL follows each statement's result (not the sync's); anything else
     * left unread makes leaving pipeline mode fail, and the session reset */
    if (st != PGRES_PIPELINE_SYNC)
        PQclear(PQgetResult(db->conn));
    if (st == want || (want == PGRES_COMMAND_OK && st == PGRES_TUPLES_OK))
        return res;
    db_errmsg(db, res, err, errlen);
    PQclear(res);
    return NULL;
}

/* hr_db_begin_exec of sql, or (name not NULL) of the statement prepared
 * under name in this session. */
static PGresult *db_begin_exec(hr_db_t *db, const char *name, const char *sql, int nparams,
                               const char *const *params, char *err, size_t errlen)
{
    if (hr_db_ensure(db, err, errlen) != 0)
        return NULL;
    if (PQenterPipelineMode(db->conn) != 1 ||
        PQsendQueryParams(db->conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) != 1 ||
        (name != NULL
             ? PQsendQueryPrepared(db->conn, name, nparams, params, NULL, NULL, 0)
             : PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0)) != 1 ||
        PQpipelineSync(db->conn) != 1) {
        db_errmsg(db, NULL, err, errlen);
        PQreset(db->conn); /* whatever was sent is dropped with the session */
        return NULL;
    }
    char berr[256] = "";
    PGresult *begin = db_pipeline_next(db, PGRES_COMMAND_OK, berr, sizeof berr);
    PGresult *res = db_pipeline_next(db, PGRES_COMMAND_OK, err, errlen);
    PGresult *sync = db_pipeline_next(db, PGRES_PIPELINE_SYNC, err, errlen);
    bool ok = begin != NULL && res != NULL && sync != NULL;
    if (begin == NULL)
        snprintf(err, errlen, "%s", berr);
    PQclear(begin);
    PQclear(sync);
    if (PQexitPipelineMode(db->conn) != 1) {
        /* results left unread: the session cannot be trusted any more */
        if (ok)
            db_errmsg(db, NULL, err, errlen);
        PQclear(res);
        PQreset(db->conn);
        return NULL;
    }
    if (!ok) {
        PQclear(res);
        hr_db_rollback(db);
        return NULL;
    }
    return res;
}

PGresult *hr_db_begin_exec(hr_db_t *db, const char *sql, int nparams, const char *const *params,
                           char *err, size_t errlen)
{
    return db_begin_exec(db, NULL, sql, nparams, params, err, errlen);
}

PGresult *hr_db_begin_exec_prepared(hr_db_t *db, const char *name, const char *sql, int nparams,
                                    const char *const *params, char *err, size_t errlen)
{
    for (int attempt = 0;; attempt++) {
        PGresult *res = db_begin_exec(db, name, sql, nparams, params, err, errlen);
        /* 26000: not prepared in this session (first use, or reconnected);
         * the failed try left no transaction open */
        if (res != NULL || attempt > 0 || strncmp(err, "26000", 5) != 0)
            return res;
        if (db_prepare(db, name, sql, nparams, err, errlen) != 0)
            return NULL;
    }
}

int hr_db_send(hr_db_t *db, const char *sql, int nparams, const char *const *params, char *err,
               size_t errlen)
{
    if (hr_db_ensure(db, err, errlen) != 0)
        return -1;
    if (PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0) != 1) {
        db_errmsg(db, NULL, err, errlen);
        return -1;
    }
    return 0;
}

int hr_db_send_prepared(hr_db_t *db, const char *name, const char *sql, int nparams,
                        const char *const *params, char *err, size_t errlen)
{
    if (hr_db_ensure(db, err, errlen) != 0)
        return -1;
    /* name's slot, or the first free one (slots fill in order) */
    size_t slot = 0;
    while (slot < HR_DB_SEND_PREPARED && db->sent_prep[slot].name != NULL &&
           strcmp(db->sent_prep[slot].name, name) != 0)
        slot++;
    hr_assert(slot < HR_DB_SEND_PREPARED);
    /* 42P05: prepared already in this session (a mark forgotten after an
     * error): as good */
    if (!db->sent_prep[slot].prepared && db_prepare(db, name, sql, nparams, err, errlen) != 0 &&
        strncmp(err, "42P05", 5) != 0)
        return -1;
    db->sent_prep[slot].name = name;
    db->sent_prep[slot].prepared = true;
    if (PQsendQueryPrepared(db->conn, name, nparams, params, NULL, NULL, 0) != 1) {
        db_errmsg(db, NULL, err, errlen);
        return -1;
    }
    return 0;
}

int hr_db_answer(hr_db_t *db, bool wait, PGresult **res, char *err, size_t errlen)
{
    *res = NULL;
    if (!wait && PQconsumeInput(db->conn) == 1 && PQisBusy(db->conn))
        return 0;
    PGresult *r = PQgetResult(db->conn); /* NULL: the connection broke */
    for (PGresult *more; r != NULL && (more = PQgetResult(db->conn)) != NULL;)
        PQclear(more);
    ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        *res = r;
        return 1;
    }
    db_errmsg(db, r, err, errlen);
    PQclear(r);
    /* 26000: a statement hr_db_send_prepared thought prepared is not (a new
     * session that got the old one's pid): start this one over */
    if (strncmp(err, "26000", 5) == 0)
        db->session_pid = 0;
    return 1;
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

bool hr_db_err_lasting(const char *err)
{
    /* db_errmsg puts the five-character SQLSTATE first when there is one */
    if (strlen(err) < 7 || err[5] != ':' || err[6] != ' ')
        return false;
    for (int i = 0; i < 5; i++)
        if (!((err[i] >= '0' && err[i] <= '9') || (err[i] >= 'A' && err[i] <= 'Z')))
            return false;
    static const char *const passing[] = {"08", "40", "53", "55", "57", "58", "XX"};
    for (size_t i = 0; i < sizeof passing / sizeof passing[0]; i++)
        if (strncmp(err, passing[i], 2) == 0)
            return false;
    return true;
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
