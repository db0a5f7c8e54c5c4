/*  evidence_handlers - typed handlers of the evidence service

    Each worker thread has an evidence_worker_t: its own database
    connection; the keys are process-wide (loaded once, read-only after).
    upload_url, get, list, content, delete and purge_mission act for the
    verified user of the envelope. upload_begin, upload_chunk and
    upload_abort carry no user: the signed URL, then the upload key it
    buys, is their credential, checked in constant time against the row.
*/
#ifndef EVIDENCE_HANDLERS_H_INCLUDED
#define EVIDENCE_HANDLERS_H_INCLUDED

#include <libpq-fe.h>
#include "../../common/cm_server.h"
#include "evidence_keys.h"
#include "evidence_store.h"

typedef struct {
    const cm_config_t *cfg;             //  borrowed
    PGconn *db;                         //  owned, reconnected on loss
    const evidence_keys_t *keys;        //  borrowed, process-wide
} evidence_worker_t;

extern const cm_route_t evidence_routes [];
extern const size_t evidence_route_count;

//  ----------------------------------------------------------------------
//  Worker state for cm_service; the first call loads the keys. NULL when
//  they cannot be loaded: the service refuses to start.
void *
    evidence_worker_new (const cm_config_t *cfg, zcert_t *cert, int index);
void
    evidence_worker_destroy (void **state_p);

//  The worker's connection, reconnected first if it was lost; NULL when down
PGconn *
    evidence_worker_db (evidence_worker_t *self);

//  The reply form of a row (a client sees 'uploading' as 'pending')
void
    evidence_handlers_fill (proto_evidence_t *evidence, const evidence_row_t *row);

//  ----------------------------------------------------------------------
//  Start-up check for cm_service: the keys load and EVIDENCE_DIR (with
//  tmp/ and files/) exists. 0, or -1 (logged): the service does not start.
int
    evidence_on_start (const cm_config_t *cfg, PGconn *db);

#endif
