/*  audit_handlers - audit.append and, later, queries and verification */
#include "audit_handlers.h"
#include "audit_store.h"
#include "../../common/cm_service.h"

static cm_err_t
s_append (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    (void) ctx;
    cm_worker_db_t *worker = (cm_worker_db_t *) state;
    const proto_audit_append_req_t *req = (const proto_audit_append_req_t *) req_;
    proto_audit_append_rep_t *rep = (proto_audit_append_rep_t *) rep_;
    PGconn *db = cm_db_ensure (&worker->db, worker->cfg);
    if (!db || audit_store_append (db, req->events, req->events_count) < 0) {
        snprintf (info->message, sizeof info->message, "audit store unavailable");
        return CM_UNAVAILABLE;
    }
    //  Accepted means durable: the sender may now delete its copies
    rep->accepted = req->events_count;
    rep->has_accepted = true;
    return CM_OK;
}

const cm_route_t audit_routes [] = {
    { PROTO_MSG_audit_append, s_append, false, false },
};
const size_t audit_route_count = sizeof audit_routes / sizeof audit_routes [0];
