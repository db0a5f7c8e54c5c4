/*  cm_audit - audit events from any service to the audit service

    cm_audit_record writes an event to the service's own outbox table, in
    whatever transaction the caller has open, so the event exists exactly
    when the change it describes does. The shipper actor delivers outbox
    rows in batches and deletes them only after the audit service has
    acknowledged them; while audit is down they wait, with backoff. The
    audit service ignores ids it already holds, so redelivery is harmless.

    Under load the costs are per batch, not per event: the commit of the
    change wakes the shipper (a notification on this service's channel),
    a busy shipper lets a batch gather for a moment, audit stores a batch
    in one transaction, and its rows leave the outbox in one delete.
*/
#ifndef CM_AUDIT_H_INCLUDED
#define CM_AUDIT_H_INCLUDED

#include <czmq.h>
#include <libpq-fe.h>
#include "cm_config.h"
#include "cm_ctx.h"
#include "cm_db.h"

//  ----------------------------------------------------------------------
//  Record one event. user_id NULL takes the context's user; ctx may be
//  NULL. detail is JSON text or NULL. Returns 0 or -1 (logged).
int
    cm_audit_record (PGconn *db, const cm_ctx_t *ctx, const char *type,
                     const char *outcome, const char *user_id, const char *detail);

//  The same outbox row as a statement for cm_db_exec_all_as, so that it
//  goes in one round trip and one transaction with the change it describes.
//  Arguments as for cm_audit_record; stmt borrows them.
void
    cm_audit_stmt (cm_db_stmt_t *stmt, const cm_ctx_t *ctx, const char *type,
                   const char *outcome, const char *user_id, const char *detail);

//  ----------------------------------------------------------------------
//  Start the shipper of this service's outbox. NULL on failure.
zactor_t *
    cm_audit_shipper_new (const cm_config_t *cfg, zcert_t *cert);

#endif
