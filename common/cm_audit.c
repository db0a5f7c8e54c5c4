/*  cm_audit - outbox writer and shipper actor */
#include "cm_audit.h"
#include "cm_client.h"
#include "cm_db.h"
#include "cm_log.h"

//  One channel per service: every schema shares the database, and a channel
//  of one name would wake every service's shipper on any service's event.
//  The schema is the service's name (its search_path), so both ends agree.
#define NOTIFY_CHANNEL "audit_outbox_"
//  How long a batch may gather while events keep coming (see s_linger)
#define LINGER_MS 20

void
cm_audit_stmt (cm_db_stmt_t *stmt, const cm_ctx_t *ctx, const char *type,
               const char *outcome, const char *user_id, const char *detail)
{
    assert (stmt);
    if (!user_id && ctx && ctx->uid [0])
        user_id = ctx->uid;
    //  The notification wakes this service's shipper at commit; no polling delay
    *stmt = (cm_db_stmt_t) {
        .sql = "WITH e AS (INSERT INTO audit_outbox (type, outcome, user_id, request_id, ip, detail)"
               " VALUES ($1, $2, $3, $4, $5, $6) RETURNING 1)"
               " SELECT pg_notify ('" NOTIFY_CHANNEL "' || current_schema (), '') FROM e",
        .count = 6,
        .params = {
            type, outcome, user_id,
            ctx && ctx->rid [0]? ctx->rid: NULL,
            ctx && ctx->ip [0]? ctx->ip: NULL,
            detail
        },
        .want = PGRES_TUPLES_OK
    };
}

int
cm_audit_record (PGconn *db, const cm_ctx_t *ctx, const char *type,
                 const char *outcome, const char *user_id, const char *detail)
{
    cm_db_stmt_t stmt;
    cm_audit_stmt (&stmt, ctx, type, outcome, user_id, detail);
    return cm_db_exec (db, NULL, stmt.want, stmt.sql, stmt.count, stmt.params)? 0: -1;
}

typedef struct {
    const cm_config_t *cfg;         //  borrowed
    zcert_t *cert;                  //  borrowed
    PGconn *db;                     //  own connection, LISTENing
    cm_client_t *audit;             //  link to the audit service
    int listening_pid;              //  backend pid of the connection LISTENing, 0: none
} shipper_t;

static char *
s_dup_or_null (PGresult *r, int row, int col)
{
    return PQgetisnull (r, row, col)? NULL: strdup (PQgetvalue (r, row, col));
}

//  The seq column of rows as an array literal, "{4,6,7}"; NULL when out of
//  memory. Values are digits only: PostgreSQL wrote them.
static char *
s_seq_array (PGresult *rows, int count)
{
    size_t size = 3;
    for (int i = 0; i < count; i++)
        size += (size_t) PQgetlength (rows, i, 0) + 1;
    char *text = (char *) malloc (size);
    if (!text)
        return NULL;
    size_t at = 0;
    text [at++] = '{';
    for (int i = 0; i < count; i++) {
        if (i)
            text [at++] = ',';
        size_t len = (size_t) PQgetlength (rows, i, 0);
        memcpy (text + at, PQgetvalue (rows, i, 0), len);
        at += len;
    }
    text [at++] = '}';
    text [at] = 0;
    return text;
}

//  Ships one batch. Returns rows shipped, 0 when the outbox is empty,
//  -1 when the database or the audit service failed
static int
s_ship_batch (shipper_t *self)
{
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    if (!db)
        return -1;
    //  A replaced connection (the server restarted) listens to nothing yet.
    //  Its deletes need not wait for the disk: one lost in a crash only
    //  sends its rows again, and audit keeps the first copy of each id,
    //  which it committed durably before acknowledging.
    if (self->listening_pid != PQbackendPID (db)) {
        char listen [64];
        snprintf (listen, sizeof listen, "LISTEN " NOTIFY_CHANNEL "%s", cm_svc_name (self->cfg->service));
        self->listening_pid = cm_db_exec (db, NULL, PGRES_COMMAND_OK, "SET synchronous_commit = off", 0, NULL)
                           && cm_db_exec (db, NULL, PGRES_COMMAND_OK, listen, 0, NULL)? PQbackendPID (db): 0;
    }

    char limit [16];
    snprintf (limit, sizeof limit, "%lld", (long long) self->cfg->audit_batch);
    const char *params [] = { limit };
    PGresult *rows = NULL;
    if (!cm_db_exec (db, &rows, PGRES_TUPLES_OK,
                     "SELECT seq, id, at_ms, type, outcome, user_id, request_id, ip, detail"
                     " FROM audit_outbox ORDER BY seq LIMIT $1", 1, params))
        return -1;
    int count = PQntuples (rows);
    if (count == 0) {
        PQclear (rows);
        return 0;
    }
    proto_audit_append_req_t req = { 0 };
    proto_audit_append_rep_t rep = { 0 };
    req.events = (proto_audit_event_t *) zmalloc (sizeof (proto_audit_event_t) * (size_t) count);
    req.events_count = (uint32_t) count;
    for (int i = 0; i < count; i++) {
        proto_audit_event_t *e = &req.events [i];
        e->id = s_dup_or_null (rows, i, 1);
        e->at_ms = atoll (PQgetvalue (rows, i, 2));
        e->has_at_ms = true;
        e->type = s_dup_or_null (rows, i, 3);
        e->service = strdup (cm_svc_name (self->cfg->service));
        e->outcome = s_dup_or_null (rows, i, 4);
        e->user_id = s_dup_or_null (rows, i, 5);
        e->request_id = s_dup_or_null (rows, i, 6);
        e->ip = s_dup_or_null (rows, i, 7);
        e->detail = s_dup_or_null (rows, i, 8);
    }
    cm_ctx_t ctx = { .rid = "audit-shipper" };
    cm_reply_info_t info;
    cm_err_t status = cm_client_call (self->audit, &ctx, PROTO_MSG_audit_append, &req, &rep, &info);
    int shipped = -1;
    if (status == CM_OK) {
        //  Delete exactly the rows acknowledged, never a range: a writer that
        //  took a seq inside it may commit only after we read, and its row
        //  would go unshipped
        char *seqs = s_seq_array (rows, count);
        const char *acked [] = { seqs };
        if (seqs && cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                                "DELETE FROM audit_outbox WHERE seq = ANY ($1::bigint[])", 1, acked))
            shipped = count;
        free (seqs);
    }
    else
        cm_debug ("audit not reachable (%s): %d events wait in the outbox", info.code, count);
    proto_clear (&proto_audit_append_req_desc, &req);
    proto_clear (&proto_audit_append_rep_desc, &rep);
    PQclear (rows);
    return shipped;
}

//  Reads away the notifications that came; how many
static int
s_drain_notifications (PGconn *db)
{
    if (!db)
        return 0;
    PQconsumeInput (db);
    int count = 0;
    PGnotify *note;
    while ((note = PQnotifies (db))) {
        PQfreemem (note);
        count++;
    }
    return count;
}

//  Waits for the pipe or the database's notifications up to timeout ms;
//  *notified counts those read. True when the pipe spoke.
static bool
s_wait (shipper_t *self, zsock_t *pipe, int timeout, int *notified)
{
    zmq_pollitem_t items [2] = {
        { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
        { NULL, self->db && self->listening_pid == PQbackendPID (self->db)? PQsocket (self->db): -1, ZMQ_POLLIN, 0 }
    };
    int count = items [1].fd >= 0? 2: 1;
    int rc = zmq_poll (items, count, timeout);
    if (rc > 0 && (items [0].revents & ZMQ_POLLIN))
        return true;
    if (count == 2 && (items [1].revents & ZMQ_POLLIN))
        *notified += s_drain_notifications (self->db);
    return false;
}

//  Events keep coming: give the next batch up to LINGER_MS to gather (each
//  commit that wrote one notifies), so that audit commits once for many
//  rather than once for each. True when the pipe spoke.
static bool
s_linger (shipper_t *self, zsock_t *pipe)
{
    int64_t until = zclock_mono () + LINGER_MS;
    int notified = s_drain_notifications (self->db);
    while (notified < self->cfg->audit_batch) {
        int64_t left = until - zclock_mono ();
        if (left <= 0)
            break;
        if (s_wait (self, pipe, (int) left, &notified))
            return true;
    }
    return false;
}

static void
s_shipper_actor (zsock_t *pipe, void *arg)
{
    shipper_t *self = (shipper_t *) arg;
    zsock_signal (pipe, 0);
    int backoff = 0;                    //  ms; grows while audit is away
    bool terminated = false;
    while (!terminated) {
        int shipped = s_ship_batch (self);
        if (shipped > 0) {
            backoff = 0;
            //  A full batch leaves more waiting: at once. After a part one,
            //  let the next gather; still look at the pipe between batches.
            //  A first event after a quiet spell went without waiting.
            if (shipped < self->cfg->audit_batch)
                terminated = s_linger (self, pipe);
            else {
                zmq_pollitem_t item = { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
                terminated = zmq_poll (&item, 1, 0) > 0;
            }
            continue;
        }
        if (shipped < 0)
            backoff = backoff? (backoff < 5000? backoff * 2: 5000): 200;
        //  Wait for a notification, the pipe, or the next retry
        int notified = 0;
        terminated = s_wait (self, pipe, shipped < 0? backoff: 1000, &notified);
    }
    //  Whatever is left stays in the outbox for the next start
    cm_client_destroy (&self->audit);
    PQfinish (self->db);
    free (self);
}

zactor_t *
cm_audit_shipper_new (const cm_config_t *cfg, zcert_t *cert)
{
    shipper_t *self = (shipper_t *) zmalloc (sizeof (shipper_t));
    self->cfg = cfg;
    self->cert = cert;
    self->audit = cm_client_new (cert, cfg->keys_dir, CM_SVC_AUDIT, cfg->endpoints [CM_SVC_AUDIT]);
    if (!self->audit) {
        free (self);
        return NULL;
    }
    cm_client_set_timeout (self->audit, 2000);
    return zactor_new (s_shipper_actor, self);
}
