/* db: one PostgreSQL connection per process (libpq), reconnected when it
 * breaks; parameterised statements only. */
#ifndef HR_DB_H
#define HR_DB_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define HR_DB_SEND_PREPARED 4 /* statements hr_db_send_prepared keeps per connection */

typedef struct hr_db {
    PGconn *conn;
    char conninfo[512];
    /* run at the start of every session (the first connection and each
     * reconnection) before anything else; NULL: nothing. A string that
     * outlives db. */
    const char *session_sql;
    int session_pid; /* the session (backend pid) the fields below are about */
    /* what hr_db_send_prepared prepared in it */
    struct {
        const char *name;
        bool prepared;
    } sent_prep[HR_DB_SEND_PREPARED];
} hr_db_t;

/* Opens the connection. Returns 0, or -1 with the reason in err. */
int hr_db_open(hr_db_t *db, const char *conninfo, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Reconnects if the connection is broken, and runs session_sql in a new
 * session. Returns 0 if usable, else -1. */
int hr_db_ensure(hr_db_t *db, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Runs one parameterised statement (text parameters, NULL = SQL NULL).
 * Returns the result (caller frees with PQclear) when it succeeded, or NULL
 * with the reason in err. */
PGresult *hr_db_exec(hr_db_t *db, const char *sql, int nparams, const char *const *params,
                     char *err, size_t errlen) __attribute__((warn_unused_result));

/* hr_db_exec with one parameter: arg as JSON text (arg is borrowed). */
PGresult *hr_db_exec_json(hr_db_t *db, const char *sql, const json_t *arg, char *err,
                          size_t errlen) __attribute__((warn_unused_result));

/* hr_db_exec of a statement prepared once per session under name: for hot
 * queries whose planning costs more than their run (partitioned tables).
 * The first use in a session prepares it; inside a transaction block it
 * runs unprepared (a failed first try would abort the transaction). */
PGresult *hr_db_exec_prepared(hr_db_t *db, const char *name, const char *sql, int nparams,
                              const char *const *params, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Opens a transaction and runs sql in it, in one round trip (libpq pipeline
 * mode). Returns the statement's result (caller frees with PQclear) with the
 * transaction left open for the caller to COMMIT, or NULL with err and no
 * transaction open. */
PGresult *hr_db_begin_exec(hr_db_t *db, const char *sql, int nparams, const char *const *params,
                           char *err, size_t errlen) __attribute__((warn_unused_result));

/* hr_db_begin_exec of a statement prepared once per session under name
 * (as hr_db_exec_prepared). */
PGresult *hr_db_begin_exec_prepared(hr_db_t *db, const char *name, const char *sql, int nparams,
                                    const char *const *params, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Sends a parameterised statement without waiting for its answer (one at a
 * time per connection; nothing else may run on db until hr_db_answer gave
 * it). Returns 0, or -1 with err when it could not be sent. */
int hr_db_send(hr_db_t *db, const char *sql, int nparams, const char *const *params, char *err,
               size_t errlen) __attribute__((warn_unused_result));

/* hr_db_send of a statement prepared once per session under name (a
 * string that outlives db; see hr_db_exec_prepared): the first send in a
 * session prepares it, synchronously. At most HR_DB_SEND_PREPARED names
 * per connection. */
int hr_db_send_prepared(hr_db_t *db, const char *name, const char *sql, int nparams,
                        const char *const *params, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The answer to hr_db_send or hr_db_send_prepared. Without wait, reads
 * what has arrived (wait for PQsocket to be readable) and returns 0 while
 * the answer is incomplete; with wait, blocks for it. Returns 1 once it is
 * in: *res is the result (caller frees with PQclear), or NULL with err. */
int hr_db_answer(hr_db_t *db, bool wait, PGresult **res, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Runs a statement that returns no rows; 0 or -1 with err. */
int hr_db_run(hr_db_t *db, const char *sql, int nparams, const char *const *params, char *err,
              size_t errlen) __attribute__((warn_unused_result));

/* Whether err (as filled in above) names a refusal that running the same
 * statement again will not change: a constraint, data or syntax error on a
 * working connection. Lost connections, serialization failures, deadlocks,
 * shutdowns and resource shortages are worth retrying. */
bool hr_db_err_lasting(const char *err);

/* Rolls back the open transaction, if any; errors are ignored (a broken
 * connection has no transaction left to roll back). */
void hr_db_rollback(hr_db_t *db);

void hr_db_close(hr_db_t *db);

#endif
