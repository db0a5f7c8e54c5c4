/*  auth_admin - admin handlers */
#include "auth_admin.h"
#include "auth_redis.h"
#include "../../common/cm_db.h"
#include "../../common/cm_log.h"

//  locked: 1 lock, 0 unlock, -1 end sessions only
static cm_err_t
s_act (auth_worker_t *self, const cm_ctx_t *ctx, const char *user_id, int locked, cm_reply_info_t *info)
{
    if (!cm_ctx_has_role (ctx, "admin"))
        return cm_server_fail (info, CM_FORBIDDEN, "admin role required");
    if (!ctx->auth_time || zclock_time () / 1000 - ctx->auth_time > self->cfg->reauth_max_age_s)
        return cm_server_fail (info, CM_REAUTH_REQUIRED, "sign in again to administer accounts");
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    char ended [256][37];
    int count = 0;
    int rc = db? auth_store_admin_set (db, ctx, user_id, locked, ended, 256, &count): -1;
    if (rc == AUTH_STORE_NOT_FOUND)
        return cm_server_fail (info, CM_NOT_FOUND, "no such user");
    if (rc)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    bool published = true;
    for (int i = 0; i < count; i++)
        published = auth_redis_revoke (self->redis, ended [i], self->cfg->access_token_ttl_s + 60) == 0
                 && published;
    if (locked == 0) {
        auth_user_row_t user;
        if (auth_store_user_by_id (db, user_id, &user) == 0)
            auth_redis_succeeded (self->redis, user.email);
    }
    if (!published)
        return cm_server_fail (info, CM_UNAVAILABLE, "sessions ended but not yet at the gateway: retry");
    return CM_NO_CONTENT;
}

cm_err_t
auth_admin_lock (void *state, const cm_ctx_t *ctx, const void *req_, void *rep, cm_reply_info_t *info)
{
    (void) rep;
    const proto_auth_admin_lock_req_t *req = (const proto_auth_admin_lock_req_t *) req_;
    return s_act ((auth_worker_t *) state, ctx, req->id, req->locked? 1: 0, info);
}

cm_err_t
auth_admin_revoke (void *state, const cm_ctx_t *ctx, const void *req_, void *rep, cm_reply_info_t *info)
{
    (void) rep;
    const proto_auth_admin_revoke_req_t *req = (const proto_auth_admin_revoke_req_t *) req_;
    return s_act ((auth_worker_t *) state, ctx, req->id, -1, info);
}
