/*  cm_db - connections and migrations */
#include <czmq.h>
#include <inttypes.h>
#include <poll.h>
#include <openssl/evp.h>
#include "cm_db.h"
#include "cm_hex.h"
#include "cm_log.h"

//  DATABASE_PREPARED_STATEMENTS: the same in every connection of a process
static bool s_use_prepared = true;

PGconn *
cm_db_connect (const cm_config_t *cfg)
{
    s_use_prepared = cfg->database_prepared != 0;
    char timeout [32], options [256];
    //  libpq wants whole seconds; round up so a short timeout is not zero
    snprintf (timeout, sizeof timeout, "%lld", (long long) (cfg->database_timeout_ms + 999) / 1000);
    snprintf (options, sizeof options,
              "-c search_path=%s -c statement_timeout=%lld -c idle_in_transaction_session_timeout=%lld",
              cm_svc_name (cfg->service), (long long) cfg->request_timeout_ms,
              (long long) cfg->request_timeout_ms * 2);
    const char *keys [] = { "dbname", "password", "connect_timeout", "application_name",
                            "options", NULL };
    const char *values [] = { cfg->database_url, cfg->database_password,
                              timeout, cm_svc_name (cfg->service), options, NULL };
    if (!cfg->database_password) {
        keys [1] = "connect_timeout";   //  no password: shift the rest down
        values [1] = timeout;
        keys [2] = "application_name";
        values [2] = cm_svc_name (cfg->service);
        keys [3] = "options";
        values [3] = options;
        keys [4] = NULL;
    }
    PGconn *db = PQconnectdbParams (keys, values, 1);
    if (!db || PQstatus (db) != CONNECTION_OK) {
        const char *message = db? PQerrorMessage (db): "out of memory";
        size_t len = strlen (message);
        cm_warn ("database connection failed: %.*s", (int) (len && message [len - 1] == '\n'? len - 1: len),
                 message);
        PQfinish (db);
        return NULL;
    }
    return db;
}

PGconn *
cm_db_connect_wait (const cm_config_t *cfg, int64_t wait_ms, bool (*give_up) (void))
{
    int64_t until = zclock_mono () + wait_ms;
    int delay = 100;
    while (true) {
        PGconn *db = cm_db_connect (cfg);
        if (db || zclock_mono () + delay > until || (give_up && give_up ()))
            return db;
        zclock_sleep (delay);
        delay = delay < 2000? delay * 2: 2000;
    }
}

//  Whether an idle connection is still there. A server that was stopped or
//  restarted sent it an error and closed it, which libpq learns only when
//  it next reads: read what is waiting now (a few rounds at most, so a
//  stream of notifications cannot hold us), so the request gets a fresh
//  connection instead of the old one's error
static bool
s_alive (PGconn *db)
{
    for (int round = 0; round < 4 && PQstatus (db) == CONNECTION_OK; round++) {
        struct pollfd item = { PQsocket (db), POLLIN, 0 };
        if (item.fd < 0 || poll (&item, 1, 0) <= 0)
            break;
        PQconsumeInput (db);
    }
    return PQstatus (db) == CONNECTION_OK;
}

PGconn *
cm_db_ensure (PGconn **db_p, const cm_config_t *cfg)
{
    PGconn *db = *db_p;
    //  Between requests a connection is idle, and can be checked
    if (db && (PQtransactionStatus (db) == PQTRANS_IDLE? s_alive (db): PQstatus (db) == CONNECTION_OK))
        return db;
    PQfinish (*db_p);
    *db_p = cm_db_connect (cfg);
    return *db_p;
}

//  Logs a result that is not what was wanted
static bool
s_result_is (PGresult *result, ExecStatusType want)
{
    if (result && PQresultStatus (result) == want)
        return true;
    const char *message = result? PQresultErrorMessage (result): "no result";
    size_t len = strlen (message);
    cm_warn ("database: %.*s", (int) (len && message [len - 1] == '\n'? len - 1: len), message);
    return false;
}

//  ---------------------------------------------------------------------
//  Prepared statements: a parameterised query is parsed and planned once per
//  connection, not on every call (that was ~40 % of PostgreSQL's time for a
//  missions read). Each thread keeps a registry of the statements prepared on
//  the connections it uses (a worker owns its own), a connection known by its
//  address and server process id, which a reset or reconnect changes. A
//  statement is named after a 64-bit hash of its text; the text is always
//  ours, never input. Bounded: beyond PREPARED_MAX a statement runs unnamed.

#define PREPARED_CONNS 4
#define PREPARED_MAX 64
#define PREPARED_NAME_MAX 24

typedef struct {
    const PGconn *db;
    int backend_pid;
    int count;
    uint64_t keys [PREPARED_MAX];
} s_prepared_t;

static __thread s_prepared_t s_prepared [PREPARED_CONNS];
static __thread unsigned s_prepared_next;

static uint64_t
s_sql_key (const char *sql)
{
    uint64_t hash = 14695981039346656037ULL;        //  FNV-1a
    for (const unsigned char *p = (const unsigned char *) sql; *p; p++)
        hash = (hash ^ *p) * 1099511628211ULL;
    return hash;
}

static s_prepared_t *
s_prepared_of (const PGconn *db)
{
    int pid = PQbackendPID (db);
    for (int i = 0; i < PREPARED_CONNS; i++)
        if (s_prepared [i].db == db && s_prepared [i].backend_pid == pid)
            return &s_prepared [i];
    s_prepared_t *entry = &s_prepared [s_prepared_next++ % PREPARED_CONNS];
    entry->db = db;
    entry->backend_pid = pid;
    entry->count = 0;
    return entry;
}

//  The name under which sql is prepared on db, preparing it now if needed;
//  NULL when it is to run unnamed (statements off, none to bind, registry
//  full, or the prepare failed: the unnamed run then reports the error)
static const char *
s_statement (PGconn *db, const char *sql, int count, char *name)
{
    if (!s_use_prepared || count == 0 || PQstatus (db) != CONNECTION_OK)
        return NULL;
    uint64_t key = s_sql_key (sql);
    snprintf (name, PREPARED_NAME_MAX, "cm_%016" PRIx64, key);
    s_prepared_t *known = s_prepared_of (db);
    for (int i = 0; i < known->count; i++)
        if (known->keys [i] == key)
            return name;
    if (known->count == PREPARED_MAX)
        return NULL;
    PGresult *result = PQprepare (db, name, sql, count, NULL);
    const char *state = PQresultErrorField (result, PG_DIAG_SQLSTATE);
    //  42P05: prepared already, by a registry this thread has since reused
    bool ok = PQresultStatus (result) == PGRES_COMMAND_OK || (state && streq (state, "42P05"));
    PQclear (result);
    if (!ok)
        return NULL;
    known->keys [known->count++] = key;
    return name;
}

//  A statement the server no longer knows (26000: a pooler in front that
//  hands out other sessions) makes this connection's registry start over
static void
s_statement_failed (const PGconn *db, const PGresult *result)
{
    const char *state = result? PQresultErrorField (result, PG_DIAG_SQLSTATE): NULL;
    if (state && streq (state, "26000"))
        s_prepared_of (db)->count = 0;
}

bool
cm_db_exec (PGconn *db, PGresult **result_p, ExecStatusType want,
            const char *sql, int count, const char *const *params)
{
    char name [PREPARED_NAME_MAX];
    const char *statement = s_statement (db, sql, count, name);
    PGresult *result = statement
        ? PQexecPrepared (db, statement, count, params, NULL, NULL, 0)
        : PQexecParams (db, sql, count, NULL, params, NULL, NULL, 0);
    bool ok = s_result_is (result, want);
    if (!ok && statement)
        s_statement_failed (db, result);
    if (result_p && ok)
        *result_p = result;
    else
        PQclear (result);
    return ok;
}

static void
s_sha256_hex (const char *text, char *hex)
{
    unsigned char digest [32];
    unsigned int len = 0;
    EVP_Digest (text, strlen (text), digest, &len, EVP_sha256 (), NULL);
    cm_hex_encode (digest, 32, hex);
}

static int
s_apply (PGconn *db, const char *component, const cm_migration_t *m)
{
    char version [16], checksum [65];
    snprintf (version, sizeof version, "%d", m->version);
    s_sha256_hex (m->sql, checksum);
    const char *key [] = { component, version };
    PGresult *result = NULL;
    if (!cm_db_exec (db, &result, PGRES_TUPLES_OK,
                     "SELECT checksum FROM schema_migrations WHERE component = $1 AND version = $2",
                     2, key))
        return -1;
    bool applied = PQntuples (result) == 1;
    bool same = applied && streq (PQgetvalue (result, 0, 0), checksum);
    PQclear (result);
    if (applied) {
        if (!same)
            cm_error ("migration %s/%s changed after it was applied: refusing to start",
                      component, m->name);
        return same? 0: -1;
    }
    if (!cm_db_exec (db, NULL, PGRES_COMMAND_OK, "BEGIN", 0, NULL))
        return -1;
    //  Migration text is ours, compiled in: plain PQexec runs all its statements
    PGresult *applied_result = PQexec (db, m->sql);
    bool ok = PQresultStatus (applied_result) == PGRES_COMMAND_OK
           || PQresultStatus (applied_result) == PGRES_TUPLES_OK;
    if (!ok)
        cm_error ("migration %s/%s failed: %s", component, m->name, PQresultErrorMessage (applied_result));
    PQclear (applied_result);
    const char *row [] = { component, version, m->name, checksum };
    ok = ok && cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                           "INSERT INTO schema_migrations (component, version, name, checksum)"
                           " VALUES ($1, $2, $3, $4)", 4, row);
    ok = cm_db_exec (db, NULL, PGRES_COMMAND_OK, ok? "COMMIT": "ROLLBACK", 0, NULL) && ok;
    if (ok)
        cm_info ("applied migration %s/%s", component, m->name);
    return ok? 0: -1;
}

int
cm_db_migrate (PGconn *db, const cm_migrations_t *const *sets, size_t set_count)
{
    //  One lock per schema: replicas starting together wait for each other
    if (!cm_db_exec (db, NULL, PGRES_TUPLES_OK,
                     "SELECT pg_advisory_lock (hashtext (current_schema () || '.migrations'))", 0, NULL))
        return -1;
    int rc = cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                         "CREATE TABLE IF NOT EXISTS schema_migrations ("
                         " component text NOT NULL, version integer NOT NULL, name text NOT NULL,"
                         " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now (),"
                         " PRIMARY KEY (component, version))", 0, NULL)? 0: -1;
    for (size_t s = 0; rc == 0 && s < set_count; s++)
        for (size_t i = 0; rc == 0 && i < sets [s]->count; i++)
            rc = s_apply (db, sets [s]->component, &sets [s]->items [i]);
    cm_db_exec (db, NULL, PGRES_TUPLES_OK,
                "SELECT pg_advisory_unlock (hashtext (current_schema () || '.migrations'))", 0, NULL);
    return rc;
}

bool
cm_db_begin (PGconn *db)
{
    return cm_db_exec (db, NULL, PGRES_COMMAND_OK, "BEGIN", 0, NULL);
}

bool
cm_db_begin_as (PGconn *db, const char *user_id)
{
    const char *params [] = { user_id };
    if (!cm_db_begin (db))
        return false;
    //  is_local = true: the setting ends with the transaction
    if (cm_db_exec (db, NULL, PGRES_TUPLES_OK, "SELECT set_config ('app.user_id', $1, true)", 1, params))
        return true;
    cm_db_exec (db, NULL, PGRES_COMMAND_OK, "ROLLBACK", 0, NULL);
    return false;
}

//  The next result of a pipeline, then the NULL that ends it (read away)
static PGresult *
s_pipeline_next (PGconn *db)
{
    PGresult *result = PQgetResult (db);
    if (result && PQresultStatus (result) != PGRES_PIPELINE_SYNC) {
        PGresult *extra;
        while ((extra = PQgetResult (db)))
            PQclear (extra);
    }
    return result;
}

bool
cm_db_exec_all_as (PGconn *db, const char *user_id, cm_db_stmt_t *stmts, int count)
{
    assert (stmts && count > 0 && count <= CM_DB_PIPELINE_MAX);
    for (int i = 0; i < count; i++)
        if (stmts [i].result_p)
            *stmts [i].result_p = NULL;
    //  Prepared (when new) before the pipeline, which cannot wait for them.
    //  These statements by key plan the same for every value: the plan made
    //  once is kept (PostgreSQL would otherwise plan each call anew, its
    //  estimate of a generic LIMIT $n being poor)
    static const char set_user [] = "SELECT set_config ('app.user_id', $1, true),"
                                    " set_config ('plan_cache_mode', 'force_generic_plan', true)";
    char set_name [PREPARED_NAME_MAX], names [CM_DB_PIPELINE_MAX][PREPARED_NAME_MAX];
    const char *set_statement = s_statement (db, set_user, 1, set_name);
    const char *statements [CM_DB_PIPELINE_MAX];
    for (int i = 0; i < count; i++) {
        assert (stmts [i].count >= 0 && stmts [i].count <= CM_DB_STMT_PARAMS);
        statements [i] = s_statement (db, stmts [i].sql, stmts [i].count, names [i]);
    }
    if (!PQenterPipelineMode (db))
        return false;
    const char *user [] = { user_id };
    bool sent = set_statement
              ? PQsendQueryPrepared (db, set_statement, 1, user, NULL, NULL, 0)
              : PQsendQueryParams (db, set_user, 1, NULL, user, NULL, NULL, 0);
    for (int i = 0; sent && i < count; i++)
        sent = statements [i]
             ? PQsendQueryPrepared (db, statements [i], stmts [i].count, stmts [i].params, NULL, NULL, 0)
             : PQsendQueryParams (db, stmts [i].sql, stmts [i].count, NULL, stmts [i].params,
                                  NULL, NULL, 0);
    sent = sent && PQpipelineSync (db);
    bool ok = false;
    if (sent) {
        //  A failed statement aborts those after it, and the transaction:
        //  only the first failure is worth a log line
        PGresult *set = s_pipeline_next (db);
        ok = s_result_is (set, PGRES_TUPLES_OK);
        if (!ok)
            s_statement_failed (db, set);
        PQclear (set);
        for (int i = 0; i < count; i++) {
            PGresult *answer = s_pipeline_next (db);
            if (ok && !s_result_is (answer, stmts [i].want)) {
                s_statement_failed (db, answer);
                ok = false;
            }
            if (ok && stmts [i].result_p) {
                *stmts [i].result_p = answer;
                answer = NULL;
            }
            PQclear (answer);
        }
        PGresult *sync = PQgetResult (db);
        ok = ok && sync && PQresultStatus (sync) == PGRES_PIPELINE_SYNC;
        PQclear (sync);
    }
    else
        cm_warn ("database: %s", PQerrorMessage (db));
    //  Results left unread (a broken connection) keep it in pipeline mode:
    //  then it is reset, as no later request could use it
    if (!PQexitPipelineMode (db)) {
        cm_warn ("database: pipeline left unfinished, resetting the connection");
        PQreset (db);
        ok = false;
    }
    for (int i = 0; !ok && i < count; i++)
        if (stmts [i].result_p) {
            PQclear (*stmts [i].result_p);
            *stmts [i].result_p = NULL;
        }
    return ok;
}

bool
cm_db_exec_as (PGconn *db, const char *user_id, PGresult **result_p, ExecStatusType want,
               const char *sql, int count, const char *const *params)
{
    assert (count >= 0 && count <= CM_DB_STMT_PARAMS);
    cm_db_stmt_t stmt = { .sql = sql, .count = count, .want = want, .result_p = result_p };
    for (int i = 0; i < count; i++)
        stmt.params [i] = params [i];
    return cm_db_exec_all_as (db, user_id, &stmt, 1);
}

int
cm_db_end (PGconn *db, int rc)
{
    bool ok = cm_db_exec (db, NULL, PGRES_COMMAND_OK, rc >= 0? "COMMIT": "ROLLBACK", 0, NULL);
    return ok || rc < 0? rc: -1;
}
