/*  privacy_deletion - the deletion job: request, steps, retries */
#include "privacy_deletion.h"
#include "../../common/cm_db.h"
#include "../../common/cm_log.h"

//  The messages of the steps that call another service
static const struct {
    cm_svc_t svc;
    int msg_id;
} s_calls [PRIVACY_STEP_PRIVACY] = {
    [PRIVACY_STEP_SESSIONS] = { CM_SVC_AUTH,     PROTO_MSG_auth_revoke_all },
    [PRIVACY_STEP_MISSIONS] = { CM_SVC_MISSIONS, PROTO_MSG_missions_erase_user },
    [PRIVACY_STEP_EVIDENCE] = { CM_SVC_EVIDENCE, PROTO_MSG_evidence_erase_user },
    [PRIVACY_STEP_AUTH]     = { CM_SVC_AUTH,     PROTO_MSG_auth_erase_user },
    [PRIVACY_STEP_AUDIT]    = { CM_SVC_AUDIT,    PROTO_MSG_audit_erase_user },
};

//  Run one step that calls a service, and record what came of it.
//  Returns 0 when acknowledged (and recorded), -1 otherwise.
static int
s_step (privacy_worker_t *self, PGconn *db, const cm_ctx_t *ctx, const privacy_deletion_t *job,
        privacy_step_t step)
{
    assert (step < PRIVACY_STEP_PRIVACY);
    const char *name = privacy_store_step_name (step);
    cm_reply_info_t info;
    int64_t erased = 0;
    cm_err_t status;
    //  Every erase answers the same shape; audit's takes the user in its body
    if (step == PRIVACY_STEP_AUDIT) {
        proto_audit_erase_user_req_t req = { .user_id = (char *) job->user_id };
        proto_audit_erase_user_rep_t rep = { 0 };
        status = privacy_worker_call (self, CM_SVC_AUDIT, ctx, PROTO_MSG_audit_erase_user, &req, &rep, &info);
        erased = rep.erased;
        proto_clear (&proto_audit_erase_user_rep_desc, &rep);
    }
    else {
        //  The other erase messages share one shape: an empty request
        //  (the user is the envelope's) and PROTO_PRIVACY_ERASE_REP
        proto_auth_erase_user_req_t req = { 0 };
        proto_auth_erase_user_rep_t rep = { 0 };
        status = privacy_worker_call (self, s_calls [step].svc, ctx, s_calls [step].msg_id, &req, &rep, &info);
        erased = rep.erased;
        proto_clear (proto_msgs [s_calls [step].msg_id].rep, &rep);
    }
    if (status == CM_OK) {
        char count [24];
        snprintf (count, sizeof count, "%lld", (long long) erased);
        cm_log_fields (CM_LOG_INFO, "deletion step acknowledged", "deletion_id", job->id, "step", name,
                       "erased", count, (const char *) NULL);
        return privacy_store_step_done (db, job->id, step, erased) == 0? 0: -1;
    }
    char error [512];
    snprintf (error, sizeof error, "%s: %.400s", cm_err_code (status), info.message);
    cm_log_fields (CM_LOG_WARN, "deletion step failed: will retry", "deletion_id", job->id, "step", name,
                   "code", cm_err_code (status), "message", info.message, (const char *) NULL);
    privacy_store_step_failed (db, job->id, step, error);
    return -1;
}

//  The context of a job's calls: the user, the request id of the request
//  that asked (every service's log and audit event can be found by it),
//  no client IP (nothing personal travels with the erase events)
static void
s_job_ctx (privacy_worker_t *self, const privacy_deletion_t *job, cm_ctx_t *ctx)
{
    memset (ctx, 0, sizeof *ctx);
    snprintf (ctx->rid, sizeof ctx->rid, "%s", job->request_id [0]? job->request_id: job->id);
    snprintf (ctx->uid, sizeof ctx->uid, "%s", job->user_id);
    ctx->deadline = zclock_mono () + self->cfg->request_timeout_ms;
}

cm_err_t
privacy_deletion_request (privacy_worker_t *self, const cm_ctx_t *ctx, privacy_deletion_t *job,
                          cm_reply_info_t *info)
{
    PGconn *db = privacy_worker_db (self);
    bool created = false;
    if (!db || privacy_store_deletion_open (db, ctx, job, &created)) {
        snprintf (info->message, sizeof info->message, "deletion store unavailable");
        return CM_UNAVAILABLE;
    }
    if (created)
        cm_log_fields (CM_LOG_INFO, "deletion requested", "deletion_id", job->id, (const char *) NULL);
    //  Sessions end now, before the answer: the client's tokens stop working
    //  with it. Should auth not answer, the worker keeps trying; the job is
    //  safe in the table either way.
    if (!job->done [PRIVACY_STEP_SESSIONS]) {
        cm_ctx_t call = *ctx;
        if (s_step (self, db, &call, job, PRIVACY_STEP_SESSIONS) == 0)
            job->done [PRIVACY_STEP_SESSIONS] = true;
    }
    return CM_ACCEPTED;
}

//  Run the steps of a job that are not done, in order, stopping at the
//  first that fails; complete the job when all are acknowledged
static void
s_run (privacy_worker_t *self, PGconn *db, const char *id)
{
    privacy_deletion_t job;
    //  Read again under the lock: another replica may have moved it on
    if (privacy_store_deletion_get (db, id, &job))
        return;
    for (int step = 0; step < PRIVACY_STEP_PRIVACY; step++) {
        if (job.done [step])
            continue;
        cm_ctx_t ctx;
        s_job_ctx (self, &job, &ctx);
        if (s_step (self, db, &ctx, &job, (privacy_step_t) step))
            return;
    }
    cm_ctx_t ctx;
    s_job_ctx (self, &job, &ctx);
    int64_t erased = 0;
    int rc = privacy_store_deletion_complete (db, &ctx, &job, &erased);
    if (rc == 0)
        cm_log_fields (CM_LOG_INFO, "deletion completed", "deletion_id", job.id, (const char *) NULL);
    else
    if (rc < 0)
        privacy_store_step_failed (db, job.id, PRIVACY_STEP_PRIVACY, "privacy store unavailable");
}

void
privacy_deletion_tick (void *state)
{
    privacy_worker_t *self = (privacy_worker_t *) state;
    PGconn *db = privacy_worker_db (self);
    if (!db)
        return;
    privacy_deletion_t jobs [PRIVACY_DELETION_BATCH];
    int count = 0;
    if (privacy_store_deletions_due (db, jobs, PRIVACY_DELETION_BATCH, &count))
        return;
    for (int i = 0; i < count; i++) {
        //  Another replica (or this one's request thread) has it: next tick
        if (!privacy_store_deletion_lock (db, jobs [i].id))
            continue;
        s_run (self, db, jobs [i].id);
        privacy_store_deletion_unlock (db, jobs [i].id);
    }
}
