/*  missions_store - the missions service's SQL

    Only parameterised statements. Every function runs its own transaction
    acting for the user (cm_db_begin_as: row-level security sees only that
    user's rows) and filters by the same user id explicitly as well. Writes
    record their audit event in the outbox inside that transaction.
    Returns: 0 done, a positive MISSIONS_STORE_* outcome, or -1 (database
    down or a statement failed, logged).
*/
#ifndef MISSIONS_STORE_H_INCLUDED
#define MISSIONS_STORE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>
#include "../../common/cm_ctx.h"

#define MISSIONS_STORE_NOT_FOUND    1   //  no such mission of this user
#define MISSIONS_STORE_REPLAYED     2   //  create: the key's first mission, answered again
#define MISSIONS_STORE_KEY_REUSED   3   //  create: the key came with another request

typedef struct {
    char id [37];                   //  lower-case UUID
    char *title;                    //  owned
    char *description;              //  owned, NULL when none
    int64_t duration_minutes;       //  1..480
    char status [16];               //  pending, in_progress or completed
    char created_at [41];           //  RFC 3339 UTC
    char updated_at [41];           //  RFC 3339 UTC
    int64_t created_us;             //  created_at in epoch microseconds (the cursor key)
} missions_store_row_t;

//  The fields of a new mission, already validated and normalised
typedef struct {
    const char *title;              //  trimmed
    const char *description;        //  NULL when none
    int64_t duration_minutes;       //  1..480
    const char *status;             //  with its default applied
    const char *idempotency_key;    //  NULL when the client sent none
    const char *request_hash;       //  hex SHA-256 of the above; with a key only
} missions_store_new_t;

//  The changes of an update; NULL / false fields stay as they are
typedef struct {
    const char *title;              //  trimmed, NULL: unchanged
    const char *description;        //  NULL: unchanged (see clear_description)
    bool clear_description;         //  set description to NULL
    bool has_duration;              //  whether duration_minutes changes
    int64_t duration_minutes;       //  1..480
    const char *status;             //  NULL: unchanged
} missions_store_change_t;

//  ----------------------------------------------------------------------
//  Free the strings of a row and zero it. Safe on a zeroed row.
void
    missions_store_row_clear (missions_store_row_t *row);

//  ----------------------------------------------------------------------
//  Create a mission for ctx->uid into row, with a mission.created event.
//  With an idempotency key: a key seen in the last 24 h gives
//  MISSIONS_STORE_REPLAYED and its mission in row when request_hash is the
//  same, else MISSIONS_STORE_KEY_REUSED; nothing new is created then.
int
    missions_store_create (PGconn *db, const cm_ctx_t *ctx, const missions_store_new_t *mission,
                           missions_store_row_t *row);

//  ----------------------------------------------------------------------
//  The user's mission id into row, or MISSIONS_STORE_NOT_FOUND
int
    missions_store_get (PGconn *db, const char *user_id, const char *id, missions_store_row_t *row);

//  ----------------------------------------------------------------------
//  Up to limit of the user's missions, newest first (created_at, then id,
//  both descending), strictly after (after_us, after_id) when after_id is
//  not NULL. rows has room for limit; *count receives how many were filled.
int
    missions_store_list (PGconn *db, const char *user_id, int64_t limit, int64_t after_us,
                         const char *after_id, missions_store_row_t *rows, int *count);

//  ----------------------------------------------------------------------
//  Apply change to the user's mission id, set updated_at, and put the
//  result in row; MISSIONS_STORE_NOT_FOUND when it is not theirs.
int
    missions_store_update (PGconn *db, const char *user_id, const char *id,
                           const missions_store_change_t *change, missions_store_row_t *row);

//  ----------------------------------------------------------------------
//  Delete ctx->uid's mission id with a mission.deleted event;
//  MISSIONS_STORE_NOT_FOUND when it is not theirs (or already gone).
int
    missions_store_delete (PGconn *db, const cm_ctx_t *ctx, const char *id);

//  ----------------------------------------------------------------------
//  Delete every mission of ctx->uid and their idempotency keys, audited as
//  missions.erased (privacy's deletion; the evidence service erases the
//  files itself). *erased receives the missions deleted; none is fine.
int
    missions_store_erase_user (PGconn *db, const cm_ctx_t *ctx, int64_t *erased);

#endif
