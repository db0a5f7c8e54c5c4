/*  evidence_store - the evidence service's SQL: evidence rows, user keys

    Only parameterised statements. Functions for a user run their own
    transaction as that user (cm_db_begin_as: row-level security) and filter
    by user_id as well. An upload carries no user: its statements run inside
    evidence_store_upload_begin ... cm_db_end, which names the one row they
    may touch, and act for the row's user only once the caller has checked
    the upload's credential. The janitor's statements run with app.janitor
    set, which lets them look rows up by id and delete unfinished uploads.
    Changes write their audit event into the outbox in their transaction.
    Returns: 0 done, a positive EVIDENCE_STORE_* outcome, or -1 (database).
*/
#ifndef EVIDENCE_STORE_H_INCLUDED
#define EVIDENCE_STORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>
#include "../../common/cm_ctx.h"
#include "evidence_magic.h"

#define EVIDENCE_STORE_NOT_FOUND    1
#define EVIDENCE_STORE_FULL         2       //  the mission has its maximum of files

#define EVIDENCE_STORE_PER_MISSION  1000    //  evidence rows per mission
#define EVIDENCE_STORE_BATCH        256     //  ids per janitor statement

typedef struct {
    char id [37];
    char user_id [37];
    char mission_id [37];
    char filename [EVIDENCE_MAGIC_NAME_SIZE];
    char content_type [65];
    int64_t size_bytes;
    char sha256 [65];               //  hex, "" until stored
    char status [16];               //  pending, uploading or stored
    char upload_key [129];          //  "" unless uploading
    char created_at [41];           //  RFC 3339 UTC
} evidence_row_t;

typedef char evidence_id_t [37];

//  ----------------------------------------------------------------------
//  For a user. A new pending row (at most EVIDENCE_STORE_PER_MISSION per
//  mission: FULL), and the user's data key wrapped_hex if they have none yet.
int
    evidence_store_create (PGconn *db, const char *user_id, const char *mission_id,
                           const char *filename, const char *content_type, int64_t size_bytes,
                           const char *wrapped_hex, evidence_row_t *row);

int
    evidence_store_get (PGconn *db, const char *user_id, const char *id, evidence_row_t *row);

//  The rows of a mission, newest first, into *rows_p (caller frees)
int
    evidence_store_list (PGconn *db, const char *user_id, const char *mission_id,
                         evidence_row_t **rows_p, uint32_t *count);

//  A row and its owner's wrapped data key (hex, "" when they have none)
int
    evidence_store_content (PGconn *db, const char *user_id, const char *id, evidence_row_t *row,
                            char *wrapped_hex, size_t size);

//  Delete a row (any state); the caller removes its files after this
int
    evidence_store_delete (PGconn *db, const cm_ctx_t *ctx, const char *user_id, const char *id);

//  Delete every row of a mission; their ids into *ids_p (caller frees)
int
    evidence_store_purge (PGconn *db, const cm_ctx_t *ctx, const char *user_id,
                          const char *mission_id, evidence_id_t **ids_p, uint32_t *count);

//  ----------------------------------------------------------------------
//  For privacy. Up to limit of the user's rows of every mission, newest
//  first (created_at, then id), strictly after (after_us, after_id) when
//  after_id is not NULL; each row's created_at in epoch microseconds into
//  created_us (same index). *rows_p and *created_p: caller frees.
int
    evidence_store_list_user (PGconn *db, const char *user_id, int64_t after_us, const char *after_id,
                              uint32_t limit, evidence_row_t **rows_p, int64_t **created_p,
                              uint32_t *count);

//  The ids of every row of the user, in any state (caller frees *ids_p)
int
    evidence_store_user_ids (PGconn *db, const char *user_id, evidence_id_t **ids_p, uint32_t *count);

//  Delete every row of the user and the user's data key in one
//  transaction, audited as evidence.erased; the deleted ids into *ids_p
//  (caller frees, then removes their files)
int
    evidence_store_erase_user (PGconn *db, const cm_ctx_t *ctx, const char *user_id,
                               evidence_id_t **ids_p, uint32_t *count, bool *had_key);

//  ----------------------------------------------------------------------
//  Uploads. BEGIN a transaction that may see row id only; true on success.
bool
    evidence_store_upload_begin (PGconn *db, const char *id);

//  The row, locked until the transaction ends (uploads of one row queue)
int
    evidence_store_lock (PGconn *db, const char *id, evidence_row_t *row);

//  From now on in this transaction, act for user_id (after the credential)
int
    evidence_store_act_for (PGconn *db, const char *user_id);

//  The user's wrapped data key as hex into wrapped_hex (NOT_FOUND: none)
int
    evidence_store_user_key (PGconn *db, const char *user_id, char *wrapped_hex, size_t size);

//  pending -> uploading with upload_key (NOT_FOUND: no longer pending)
int
    evidence_store_uploading (PGconn *db, const char *id, const char *upload_key);

//  A chunk arrived: the upload is alive
int
    evidence_store_touch (PGconn *db, const char *id);

//  uploading -> stored with sha256, audited as evidence.uploaded; row
//  receives the result
int
    evidence_store_stored (PGconn *db, const cm_ctx_t *ctx, const char *id, const char *user_id,
                           const char *sha256, evidence_row_t *row);

//  Drop the row of a failed or aborted upload
int
    evidence_store_remove (PGconn *db, const char *id);

//  ----------------------------------------------------------------------
//  Janitor. Delete up to EVIDENCE_STORE_BATCH unfinished uploads idle for
//  more than idle_s seconds; their ids into ids [EVIDENCE_STORE_BATCH].
int
    evidence_store_expire (PGconn *db, int64_t idle_s, evidence_id_t *ids, uint32_t *count);

//  The status of each of count ids (at most EVIDENCE_STORE_BATCH) into
//  states ("" when there is no such row)
int
    evidence_store_states (PGconn *db, const evidence_id_t *ids, uint32_t count,
                           char (*states) [16]);

#endif
