/*  cm_db - PostgreSQL as this service's own role, and its migrations

    A connection sets application_name, a statement timeout and the search
    path to the service's own schema. Migrations are SQL files compiled into
    the binary, applied at start-up under an advisory lock so replicas that
    start together apply each exactly once; an applied migration whose text
    changed stops the service.
*/
#ifndef CM_DB_H_INCLUDED
#define CM_DB_H_INCLUDED

#include <stdbool.h>
#include <libpq-fe.h>
#include "cm_config.h"

typedef struct {
    int version;                    //  from the file name, e.g. 1 for 001_init.sql
    const char *name;               //  file name
    const char *sql;                //  its text
} cm_migration_t;

typedef struct {
    const char *component;          //  "common" or the service name
    const cm_migration_t *items;
    size_t count;
} cm_migrations_t;

//  Migrations every service schema gets (the audit outbox)
extern const cm_migrations_t common_migrations;

//  ----------------------------------------------------------------------
//  Connect as cfg's role. NULL on failure (logged without secrets).
PGconn *
    cm_db_connect (const cm_config_t *cfg);

//  Connect, retrying with backoff for up to wait_ms (dependencies may
//  start after us) or until give_up () says stop. NULL when it never
//  succeeded.
PGconn *
    cm_db_connect_wait (const cm_config_t *cfg, int64_t wait_ms, bool (*give_up) (void));

//  The connection, reconnected first if it was lost (an idle one is checked
//  for a server that closed it meanwhile); NULL when down
PGconn *
    cm_db_ensure (PGconn **db_p, const cm_config_t *cfg);

//  ----------------------------------------------------------------------
//  Apply the sets in order. Returns 0, or -1 (logged) on any failure.
int
    cm_db_migrate (PGconn *db, const cm_migrations_t *const *sets, size_t set_count);

//  Run a parameterised command; true when it returned want (PGRES_*).
//  On failure logs the error. *result_p (optional) receives the result.
bool
    cm_db_exec (PGconn *db, PGresult **result_p, ExecStatusType want,
                const char *sql, int count, const char *const *params);

//  A timestamptz column as the API's RFC 3339 UTC text (milliseconds, Z)
#define CM_DB_TS(col) "to_char (" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

//  ----------------------------------------------------------------------
//  BEGIN a transaction; true on success.
bool
    cm_db_begin (PGconn *db);

//  BEGIN a transaction acting for user_id: sets app.user_id for this
//  transaction only, which the row-level security policies of user-owned
//  tables compare with (see CM_DB_RLS_USER). true on success.
bool
    cm_db_begin_as (PGconn *db, const char *user_id);

//  One read acting for user_id, in one round trip: app.user_id is set and
//  sql run in the same implicit transaction (a libpq pipeline), which ends
//  with it. As cm_db_exec otherwise. For single statements; anything that
//  needs several in one transaction uses cm_db_begin_as. The statement is
//  planned once per connection (a generic plan): for reads by key.
bool
    cm_db_exec_as (PGconn *db, const char *user_id, PGresult **result_p, ExecStatusType want,
                   const char *sql, int count, const char *const *params);

//  One statement of a pipeline (cm_db_exec_all_as, at most CM_DB_PIPELINE_MAX)
#define CM_DB_STMT_PARAMS 16
#define CM_DB_PIPELINE_MAX 8
typedef struct {
    const char *sql;                            //  borrowed
    int count;                                  //  params used
    const char *params [CM_DB_STMT_PARAMS];     //  borrowed; NULL is SQL NULL
    ExecStatusType want;                        //  PGRES_* it must return
    PGresult **result_p;                        //  optional: receives the result
} cm_db_stmt_t;

//  Several statements acting for user_id in one round trip and one
//  transaction: app.user_id is set and the statements run in order in the
//  implicit transaction of one libpq pipeline, which commits at its end,
//  or rolls back whole when any of them fails. true when every statement
//  returned its want and the transaction committed; then each result_p
//  given holds its result (caller clears), else each is NULL. Each
//  statement is planned once per connection (a generic plan): for
//  statements by key.
bool
    cm_db_exec_all_as (PGconn *db, const char *user_id, cm_db_stmt_t *stmts, int count);

//  COMMIT when rc >= 0, else ROLLBACK. Returns rc, or -1 when COMMIT failed.
int
    cm_db_end (PGconn *db, int rc);

//  The row-level security predicate of user-owned tables: a row is visible
//  only inside cm_db_begin_as for its owner; with app.user_id unset it
//  matches nothing (NULL), so a query that forgot its filter sees no rows
#define CM_DB_RLS_USER "user_id = NULLIF (current_setting ('app.user_id', true), '')::uuid"

#endif
