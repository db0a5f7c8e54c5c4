/*  auth_links - single-use links by mail */
#include "auth_links.h"
#include "auth_email.h"
#include "auth_password.h"
#include "auth_redis.h"
#include "auth_secret.h"
#include "../../common/cm_db.h"
#include "../../common/cm_log.h"

#define MAGIC_TTL_S   (15 * 60)
#define RESET_TTL_S   (30 * 60)
#define VERIFY_TTL_S  (24 * 3600)

//  Creates a token for user and mails its link; failures are logged only,
//  the caller's answer does not change
static void
s_send (auth_worker_t *self, const auth_user_row_t *user, const char *purpose, int64_t ttl_s,
        const char *path, const char *subject, const char *intro)
{
    if (auth_redis_mail_allowed (self->redis, user->email, self->cfg->mail_per_hour) != 1) {
        cm_info ("%s mail not sent: hourly limit reached or Redis down", purpose);
        return;
    }
    char token [AUTH_SECRET_TOKEN_SIZE], hash [AUTH_SECRET_HASH_SIZE];
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    if (!db || auth_secret_token (token, sizeof token) || auth_secret_hash (token, hash)
    ||  auth_store_token_create (db, user->id, purpose, hash, ttl_s)) {
        cm_warn ("%s token not created", purpose);
        return;
    }
    char body [2048];
    snprintf (body, sizeof body,
              "%s\n\n%s%s?token=%s\n\nThe link works once and expires in %lld minutes.\n"
              "If you did not ask for this, ignore this message.\n",
              intro, self->cfg->app_base_url, path, token, (long long) ttl_s / 60);
    if (auth_mail_send (self->mail, user->email, subject, body))
        cm_warn ("%s mail could not be sent", purpose);
    explicit_bzero (token, sizeof token);
    explicit_bzero (body, sizeof body);
}

//  The account for a submitted email, if any (normalised first)
static int
s_user_for (auth_worker_t *self, const char *email_in, auth_user_row_t *user)
{
    char email [255];
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    if (!db)
        return -1;
    if (auth_email_normalize (email_in, email, sizeof email))
        return AUTH_STORE_NOT_FOUND;
    return auth_store_user_by_email (db, email, user);
}

void
auth_links_send_verification (auth_worker_t *self, const auth_user_row_t *user)
{
    s_send (self, user, "email_verify", VERIFY_TTL_S, "/auth/verify-email",
            "Confirm your email address", "Confirm this address for your account:");
}

cm_err_t
auth_links_magic_send (void *state, const cm_ctx_t *ctx, const void *req_, void *rep, cm_reply_info_t *info)
{
    (void) ctx;
    (void) rep;
    (void) info;
    auth_worker_t *self = (auth_worker_t *) state;
    const proto_auth_magic_link_req_t *req = (const proto_auth_magic_link_req_t *) req_;
    auth_user_row_t user;
    if (s_user_for (self, req->email, &user) == 0 && !user.locked)
        s_send (self, &user, "magic_link", MAGIC_TTL_S, "/auth/magic-link", "Your sign-in link",
                "Use this link to sign in:");
    return CM_ACCEPTED;
}

cm_err_t
auth_links_magic_verify (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    auth_worker_t *self = (auth_worker_t *) state;
    const proto_auth_magic_verify_req_t *req = (const proto_auth_magic_verify_req_t *) req_;
    proto_auth_magic_verify_rep_t *rep = (proto_auth_magic_verify_rep_t *) rep_;
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    char hash [AUTH_SECRET_HASH_SIZE], user_id [37];
    auth_user_row_t user;
    if (!db || auth_secret_hash (req->token, hash))
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    int rc = auth_store_token_use (db, hash, "magic_link", user_id);
    if (rc == 0)
        rc = auth_store_user_by_id (db, user_id, &user);
    if (rc < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    if (rc || user.locked)
        return cm_server_fail (info, CM_INVALID_TOKEN, "the link is invalid, used or expired");
    //  An account with MFA needs its second factor, which a mail link is not
    if (user.mfa_enabled)
        return cm_server_fail (info, CM_MFA_REQUIRED, "this account signs in with a password and a code");
    return auth_sign_in (self, ctx, &user, "email", req->user_agent, &rep->tokens, info);
}

cm_err_t
auth_links_password_forgot (void *state, const cm_ctx_t *ctx, const void *req_, void *rep, cm_reply_info_t *info)
{
    (void) ctx;
    (void) rep;
    (void) info;
    auth_worker_t *self = (auth_worker_t *) state;
    const proto_auth_password_forgot_req_t *req = (const proto_auth_password_forgot_req_t *) req_;
    auth_user_row_t user;
    if (s_user_for (self, req->email, &user) == 0 && !user.locked)
        s_send (self, &user, "password_reset", RESET_TTL_S, "/auth/reset-password", "Reset your password",
                "Use this link to choose a new password:");
    return CM_ACCEPTED;
}

//  Hash new_password for user after the policy; ends sessions but keep_sid
static cm_err_t
s_set_password (auth_worker_t *self, const cm_ctx_t *ctx, const auth_user_row_t *user,
                const char *new_password, const char *keep_sid, cm_reply_info_t *info)
{
    cm_err_t policy = auth_new_password_check (self, new_password, user->email, "new_password", info);
    if (policy != CM_OK)
        return policy;
    char phc [AUTH_PASSWORD_PHC_SIZE];
    if (auth_password_hash (new_password, phc, sizeof phc))
        return cm_server_fail (info, CM_INTERNAL, "cannot hash the password");
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    char ended [64][37];
    int count = 0;
    if (!db || auth_store_password_set (db, ctx, user->id, phc, keep_sid, ended, 64, &count))
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    bool published = true;
    for (int i = 0; i < count; i++)
        published = auth_redis_revoke (self->redis, ended [i], self->cfg->access_token_ttl_s + 60) == 0
                 && published;
    if (!published)
        cm_warn ("password changed but not every ended session reached the gateway");
    auth_mail_send (self->mail, user->email, "Your password was changed",
                    "The password of your account was just changed, and your other sessions were ended.\n"
                    "If this was not you, reset your password at once.\n");
    return CM_NO_CONTENT;
}

cm_err_t
auth_links_password_reset (void *state, const cm_ctx_t *ctx, const void *req_, void *rep, cm_reply_info_t *info)
{
    (void) rep;
    auth_worker_t *self = (auth_worker_t *) state;
    const proto_auth_password_reset_req_t *req = (const proto_auth_password_reset_req_t *) req_;
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    char hash [AUTH_SECRET_HASH_SIZE], user_id [37];
    auth_user_row_t user;
    //  The policy is checked before the token is spent, so a weak choice
    //  does not burn the link
    if (auth_password_check (req->new_password, NULL) != AUTH_PASSWORD_OK)
        return cm_server_fail (info, CM_WEAK_PASSWORD, "%s",
                               auth_password_verdict_str (auth_password_check (req->new_password, NULL)));
    if (!db || auth_secret_hash (req->token, hash))
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    int rc = auth_store_token_use (db, hash, "password_reset", user_id);
    if (rc == 0)
        rc = auth_store_user_by_id (db, user_id, &user);
    if (rc < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    if (rc)
        return cm_server_fail (info, CM_INVALID_TOKEN, "the link is invalid, used or expired");
    return s_set_password (self, ctx, &user, req->new_password, NULL, info);
}

cm_err_t
auth_links_password_change (void *state, const cm_ctx_t *ctx, const void *req_, void *rep, cm_reply_info_t *info)
{
    (void) rep;
    auth_worker_t *self = (auth_worker_t *) state;
    const proto_auth_password_change_req_t *req = (const proto_auth_password_change_req_t *) req_;
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    auth_user_row_t user;
    int rc = db? auth_store_user_by_id (db, ctx->uid, &user): -1;
    if (rc)
        return cm_server_fail (info, rc < 0? CM_UNAVAILABLE: CM_UNAUTHORIZED, "account not available");
    if (!user.password_hash [0] || auth_password_verify (user.password_hash, req->current_password) != 0)
        return cm_server_fail (info, CM_INVALID_CREDENTIALS, "current_password: wrong password");
    return s_set_password (self, ctx, &user, req->new_password, ctx->sid, info);
}

cm_err_t
auth_links_email_verify (void *state, const cm_ctx_t *ctx, const void *req_, void *rep, cm_reply_info_t *info)
{
    (void) rep;
    auth_worker_t *self = (auth_worker_t *) state;
    const proto_auth_email_verify_req_t *req = (const proto_auth_email_verify_req_t *) req_;
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    char hash [AUTH_SECRET_HASH_SIZE], user_id [37];
    if (!db || auth_secret_hash (req->token, hash))
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    int rc = auth_store_token_use (db, hash, "email_verify", user_id);
    if (rc == 0)
        rc = auth_store_email_verified (db, ctx, user_id);
    if (rc < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    return rc? cm_server_fail (info, CM_INVALID_TOKEN, "the link is invalid, used or expired"): CM_NO_CONTENT;
}

cm_err_t
auth_links_email_resend (void *state, const cm_ctx_t *ctx, const void *req, void *rep, cm_reply_info_t *info)
{
    (void) req;
    (void) rep;
    (void) info;
    auth_worker_t *self = (auth_worker_t *) state;
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    auth_user_row_t user;
    if (db && auth_store_user_by_id (db, ctx->uid, &user) == 0 && !user.email_verified)
        auth_links_send_verification (self, &user);
    return CM_ACCEPTED;
}
