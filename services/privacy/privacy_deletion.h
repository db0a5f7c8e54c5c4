/*  privacy_deletion - account deletion as a durable job (a saga)

    A request writes the job to privacy's own table first (with its steps
    and a privacy.deletion.requested event), then ends the user's sessions
    at once (auth.revoke_all: tokens refused, no new sign-in) and answers
    202 with the job. The deletion worker, cm_service's tick on its own
    thread, takes each due job under a session advisory lock (dropped with
    the connection should this process die) and tells each service in turn
    to erase the user: missions, evidence (rows, files and the user's data
    key), auth (the account and all hanging off it), audit (the personal
    data of the user's events), then our own rows with the completion and
    privacy.deletion.completed. Each step is recorded once acknowledged; a
    step that fails is retried with backoff. Every erase is idempotent, so
    a step repeated after a crash or by two replicas does no harm, and a
    restart of any service only delays the job.
*/
#ifndef PRIVACY_DELETION_H_INCLUDED
#define PRIVACY_DELETION_H_INCLUDED

#include "privacy_handlers.h"
#include "privacy_store.h"

#define PRIVACY_DELETION_TICK_MS    500     //  how often the worker looks for due jobs
#define PRIVACY_DELETION_BATCH      16      //  jobs one tick takes at most

//  ----------------------------------------------------------------------
//  privacy.delete for ctx->uid: the pending job (made if there is none)
//  into job, sessions revoked at once when they were not yet. Returns
//  CM_ACCEPTED, or the failure with a message in info.
cm_err_t
    privacy_deletion_request (privacy_worker_t *self, const cm_ctx_t *ctx, privacy_deletion_t *job,
                              cm_reply_info_t *info);

//  ----------------------------------------------------------------------
//  cm_service's tick: state is the tick thread's privacy_worker_t. Runs
//  every due job as far as it gets.
void
    privacy_deletion_tick (void *state);

#endif
