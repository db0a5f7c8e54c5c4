/*  auth_erase - sessions ended and the account erased for privacy */
#include <time.h>
#include "auth_erase.h"
#include "auth_redis.h"
#include "../../common/cm_db.h"
#include "../../common/cm_log.h"

#define STORE_DOWN "account store unavailable"

static bool
s_from_privacy (const cm_ctx_t *ctx)
{
    return ctx->peer && streq (ctx->peer, cm_svc_name (CM_SVC_PRIVACY));
}

//  Tell the gateway about every session of the user an access token may
//  still be out for (whether it ended now or before: publishing twice is
//  harmless). 0, or -1 when the store or Redis failed.
static int
s_publish (auth_worker_t *self, PGconn *db, const char *user_id)
{
    int64_t ttl = self->cfg->access_token_ttl_s + 60;
    char (*ids) [37] = NULL;
    int count = 0;
    if (auth_store_sessions_recent (db, user_id, ttl, &ids, &count))
        return -1;
    int rc = 0;
    for (int i = 0; i < count && rc == 0; i++)
        rc = auth_redis_revoke (self->redis, ids [i], ttl);
    free (ids);
    return rc;
}

cm_err_t
auth_erase_revoke_all (void *state, const cm_ctx_t *ctx, const void *req, void *rep_, cm_reply_info_t *info)
{
    (void) req;
    auth_worker_t *self = (auth_worker_t *) state;
    proto_auth_revoke_all_rep_t *rep = (proto_auth_revoke_all_rep_t *) rep_;
    if (!s_from_privacy (ctx))
        return cm_server_fail (info, CM_FORBIDDEN, "only the privacy service ends all sessions for a deletion");
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    int ended = 0;
    if (!db || auth_store_revoke_all (db, ctx, ctx->uid, &ended))
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    //  Until the gateway knows, the access tokens still work: a failed
    //  publish is a failure, and privacy asks again
    if (s_publish (self, db, ctx->uid))
        return cm_server_fail (info, CM_UNAVAILABLE, "sessions ended but not yet at the gateway: retry");
    rep->erased = ended;
    rep->has_erased = true;
    return CM_OK;
}

//  The notice to the address the account had; a failure is logged only
static void
s_notice (auth_worker_t *self, const char *email)
{
    char day [16] = "";
    time_t now = time (NULL);
    struct tm tm;
    if (gmtime_r (&now, &tm))
        strftime (day, sizeof day, "%Y-%m-%d", &tm);
    char body [1024];
    snprintf (body, sizeof body,
              "Your account and everything in it (missions, evidence files, preferences and\n"
              "sessions) were deleted on %s (UTC), as requested from a signed-in session.\n\n"
              "Nothing of it can be restored. You may sign up again with this address at any time.\n\n"
              "If you did not ask for this, someone had access to your account: contact support.\n",
              day);
    if (auth_mail_send (self->mail, email, "Your account has been deleted", body))
        cm_warn ("the deletion notice could not be sent");
}

cm_err_t
auth_erase_user (void *state, const cm_ctx_t *ctx, const void *req, void *rep_, cm_reply_info_t *info)
{
    (void) req;
    auth_worker_t *self = (auth_worker_t *) state;
    proto_auth_erase_user_rep_t *rep = (proto_auth_erase_user_rep_t *) rep_;
    if (!s_from_privacy (ctx))
        return cm_server_fail (info, CM_FORBIDDEN, "only the privacy service erases a user");
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    if (!db)
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    //  Revocations first: the rows that name the sessions go next
    if (s_publish (self, db, ctx->uid))
        return cm_server_fail (info, CM_UNAVAILABLE, "sessions could not be ended at the gateway: retry");
    auth_user_row_t user;
    int64_t erased = 0;
    int rc = auth_store_erase_user (db, ctx, ctx->uid, &user, &erased);
    if (rc < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    if (rc == 0) {
        //  Failed sign-ins counted for the address go too; then the notice
        auth_redis_succeeded (self->redis, user.email);
        s_notice (self, user.email);
        explicit_bzero (&user, sizeof user);
    }
    rep->erased = erased;
    rep->has_erased = true;
    return CM_OK;
}
