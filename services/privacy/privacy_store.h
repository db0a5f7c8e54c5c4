/*  privacy_store - the privacy service's SQL: preferences, deletion jobs

    Only parameterised statements. A user's statements run in their own
    transaction acting for the user (cm_db_begin_as: row-level security);
    the deletion worker's with app.deletion_worker set, which shows it every
    job. Changes write their audit event into the outbox in their
    transaction. Returns: 0 done, a positive PRIVACY_STORE_* outcome, or -1
    (database down or a statement failed, logged).
*/
#ifndef PRIVACY_STORE_H_INCLUDED
#define PRIVACY_STORE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>
#include "../../common/cm_ctx.h"

#define PRIVACY_STORE_NOT_FOUND 1

typedef struct {
    bool tab_monitoring_enabled;
    bool emotion_tracking_enabled;
} privacy_prefs_t;

//  The steps of a deletion, in the order they run
typedef enum {
    PRIVACY_STEP_SESSIONS,          //  auth.revoke_all: tokens refused at once, no new sign-in
    PRIVACY_STEP_MISSIONS,          //  missions.erase_user
    PRIVACY_STEP_EVIDENCE,          //  evidence.erase_user: rows, files, the user's data key
    PRIVACY_STEP_AUTH,              //  auth.erase_user: the account and all hanging off it
    PRIVACY_STEP_AUDIT,             //  audit.erase_user: personal data of the user's events
    PRIVACY_STEP_PRIVACY,           //  our own rows (preferences), with the completion
    PRIVACY_STEP_COUNT
} privacy_step_t;

typedef struct {
    char id [37];                   //  deletion id
    char user_id [37];              //  "" once completed
    char status [16];               //  pending or completed
    char request_id [65];           //  of the request that asked, for every step's calls
    bool done [PRIVACY_STEP_COUNT]; //  which steps were acknowledged
} privacy_deletion_t;

//  Wire name of a step ("sessions", ...)
const char *
    privacy_store_step_name (privacy_step_t step);

//  ----------------------------------------------------------------------
//  The user's preferences (the defaults when they never set any)
int
    privacy_store_prefs_get (PGconn *db, const char *user_id, privacy_prefs_t *prefs);

//  Set the given preferences (NULL: unchanged) for ctx->uid, audited as
//  privacy.preferences.updated; the result into prefs
int
    privacy_store_prefs_put (PGconn *db, const cm_ctx_t *ctx, const bool *tab_monitoring,
                             const bool *emotion_tracking, privacy_prefs_t *prefs);

//  ----------------------------------------------------------------------
//  The pending deletion of ctx->uid, made (with its steps and a
//  privacy.deletion.requested event) when there is none; *created says
//  which. job receives it with its steps.
int
    privacy_store_deletion_open (PGconn *db, const cm_ctx_t *ctx, privacy_deletion_t *job,
                                 bool *created);

//  Up to max pending jobs whose next attempt is due, oldest first
int
    privacy_store_deletions_due (PGconn *db, privacy_deletion_t *jobs, int max, int *count);

//  Reload one job and its steps (NOT_FOUND when it is gone or completed)
int
    privacy_store_deletion_get (PGconn *db, const char *id, privacy_deletion_t *job);

//  Take the job for this connection (a session advisory lock, dropped with
//  the connection if the process dies): true when no one else has it
bool
    privacy_store_deletion_lock (PGconn *db, const char *id);
void
    privacy_store_deletion_unlock (PGconn *db, const char *id);

//  A step was acknowledged with erased rows or files
int
    privacy_store_step_done (PGconn *db, const char *id, privacy_step_t step, int64_t erased);

//  A step failed: counted with its error, and the job's next attempt put
//  off with exponential backoff (0.5 s doubling, at most 30 s)
int
    privacy_store_step_failed (PGconn *db, const char *id, privacy_step_t step, const char *error);

//  The last step, in one transaction: the user's preferences go, the job
//  is completed and forgets the user, privacy.deletion.completed is
//  recorded. *erased receives the preference rows removed.
int
    privacy_store_deletion_complete (PGconn *db, const cm_ctx_t *ctx, const privacy_deletion_t *job,
                                     int64_t *erased);

#endif
