/*  auth_mfa - TOTP handlers */
#include <ctype.h>
#include "auth_mfa.h"
#include "../../common/cm_crypt.h"
#include "../../common/cm_hex.h"
#include "auth_secret.h"
#include "auth_store.h"
#include "auth_totp.h"
#include "../../common/cm_db.h"

#define TOTP_WINDOW 1                   //  steps either side: clock drift

//  The user's TOTP key, unsealed; -1 when there is none or it does not open
static int
s_key (auth_worker_t *self, PGconn *db, const char *user_id, uint8_t *key, size_t *key_len,
       bool *enabled)
{
    char sealed_hex [256];
    uint8_t sealed [128];
    char secret [AUTH_TOTP_SECRET_SIZE + 1];
    if (auth_store_mfa_get (db, user_id, sealed_hex, sizeof sealed_hex, enabled) != 0 || !*sealed_hex)
        return -1;
    size_t sealed_len = strlen (sealed_hex) / 2;
    if (sealed_len > sizeof sealed || cm_hex_decode (sealed_hex, sealed, sealed_len)
    ||  sealed_len <= CM_CRYPT_OVERHEAD || sealed_len - CM_CRYPT_OVERHEAD >= sizeof secret
    ||  cm_crypt_open (self->data_key, user_id, sealed, sealed_len, (uint8_t *) secret))
        return -1;
    secret [sealed_len - CM_CRYPT_OVERHEAD] = 0;
    int len = auth_totp_base32_decode (secret, key, 64);
    explicit_bzero (secret, sizeof secret);
    if (len <= 0)
        return -1;
    *key_len = (size_t) len;
    return 0;
}

//  Tells the account holder that MFA changed, whoever did it
static void
s_notify (auth_worker_t *self, PGconn *db, const char *user_id, bool enabled)
{
    auth_user_row_t user;
    if (auth_store_user_by_id (db, user_id, &user) != 0)
        return;
    auth_mail_send (self->mail, user.email,
                    enabled? "Two-step sign-in is on": "Two-step sign-in was turned off",
                    enabled? "Two-step sign-in with an authenticator app is now on for your account.\n"
                           : "Two-step sign-in was just turned off for your account.\n"
                             "If this was not you, reset your password and turn it on again.\n");
}

//  A 6-digit code accepted once, or -1 (wrong or replayed)
static int
s_use_code (auth_worker_t *self, PGconn *db, const char *user_id, const char *code)
{
    uint8_t key [64];
    size_t key_len;
    bool enabled;
    int64_t step;
    int rc = -1;
    if (s_key (self, db, user_id, key, &key_len, &enabled) == 0
    &&  auth_totp_verify (key, key_len, code, zclock_time () / 1000, TOTP_WINDOW, &step) == 0
    &&  auth_store_mfa_use_step (db, user_id, step) == 0)
        rc = 0;
    explicit_bzero (key, sizeof key);
    return rc;
}

cm_err_t
auth_mfa_check (auth_worker_t *self, const char *user_id, const char *otp)
{
    if (!otp || !*otp)
        return CM_MFA_REQUIRED;
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    if (!db)
        return CM_UNAVAILABLE;
    if (strlen (otp) == 6)
        return s_use_code (self, db, user_id, otp) == 0? CM_OK: CM_MFA_REQUIRED;
    char normalized [AUTH_TOTP_RECOVERY_LEN], hash [AUTH_SECRET_HASH_SIZE];
    if (auth_totp_recovery_normalize (otp, normalized) != 0 || auth_secret_hash (normalized, hash) != 0)
        return CM_MFA_REQUIRED;
    int rc = auth_store_mfa_use_recovery (db, user_id, hash);
    return rc < 0? CM_UNAVAILABLE: rc? CM_MFA_REQUIRED: CM_OK;
}

cm_err_t
auth_mfa_enroll (void *state, const cm_ctx_t *ctx, const void *req, void *rep_, cm_reply_info_t *info)
{
    (void) req;
    auth_worker_t *self = (auth_worker_t *) state;
    proto_auth_mfa_enroll_rep_t *rep = (proto_auth_mfa_enroll_rep_t *) rep_;
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    auth_user_row_t user;
    int rc = db? auth_store_user_by_id (db, ctx->uid, &user): -1;
    if (rc)
        return cm_server_fail (info, rc < 0? CM_UNAVAILABLE: CM_UNAUTHORIZED, "account not available");

    char secret [AUTH_TOTP_SECRET_SIZE];
    char codes [AUTH_TOTP_RECOVERY_COUNT][AUTH_TOTP_RECOVERY_LEN];
    char hashes [AUTH_TOTP_RECOVERY_COUNT][65];
    uint8_t sealed [AUTH_TOTP_SECRET_SIZE + CM_CRYPT_OVERHEAD];
    char sealed_hex [2 * sizeof sealed + 1];
    size_t secret_len = 0;
    bool ok = auth_totp_secret_new (secret) == 0 && auth_totp_recovery_codes (codes) == 0;
    if (ok) {
        secret_len = strlen (secret);
        ok = cm_crypt_seal (self->data_key, user.id, (const uint8_t *) secret, secret_len, sealed) == 0;
    }
    for (int i = 0; ok && i < AUTH_TOTP_RECOVERY_COUNT; i++)
        ok = auth_secret_hash (codes [i], hashes [i]) == 0;
    if (!ok)
        return cm_server_fail (info, CM_INTERNAL, "cannot create the secret");
    cm_hex_encode (sealed, secret_len + CM_CRYPT_OVERHEAD, sealed_hex);
    rc = auth_store_mfa_begin (db, user.id, sealed_hex, (const char (*) [65]) hashes, AUTH_TOTP_RECOVERY_COUNT);
    if (rc == AUTH_STORE_TAKEN)
        return cm_server_fail (info, CM_CONFLICT, "MFA is already on: turn it off first");
    if (rc)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");

    char uri [1024];
    if (auth_totp_uri (uri, sizeof uri, self->cfg->totp_issuer, user.email, secret) < 0)
        return cm_server_fail (info, CM_INTERNAL, "cannot build the otpauth URI");
    rep->secret = strdup (secret);
    rep->otpauth_uri = strdup (uri);
    rep->recovery_codes = (char **) zmalloc (sizeof (char *) * AUTH_TOTP_RECOVERY_COUNT);
    for (int i = 0; i < AUTH_TOTP_RECOVERY_COUNT; i++)
        rep->recovery_codes [i] = strdup (codes [i]);
    rep->recovery_codes_count = AUTH_TOTP_RECOVERY_COUNT;
    explicit_bzero (secret, sizeof secret);
    explicit_bzero (codes, sizeof codes);
    return CM_CREATED;
}

cm_err_t
auth_mfa_verify (void *state, const cm_ctx_t *ctx, const void *req_, void *rep, cm_reply_info_t *info)
{
    (void) rep;
    auth_worker_t *self = (auth_worker_t *) state;
    const proto_auth_mfa_verify_req_t *req = (const proto_auth_mfa_verify_req_t *) req_;
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    if (!db)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    if (s_use_code (self, db, ctx->uid, req->code) != 0)
        return cm_server_fail (info, CM_INVALID_CODE, "code: not a valid code for the enrolled secret");
    int rc = auth_store_mfa_set (db, ctx, ctx->uid, true);
    if (rc == AUTH_STORE_NOT_FOUND)
        return cm_server_fail (info, CM_CONFLICT, "MFA is already on");
    if (rc)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    s_notify (self, db, ctx->uid, true);
    return CM_NO_CONTENT;
}

cm_err_t
auth_mfa_disable (void *state, const cm_ctx_t *ctx, const void *req_, void *rep, cm_reply_info_t *info)
{
    (void) rep;
    auth_worker_t *self = (auth_worker_t *) state;
    const proto_auth_mfa_disable_req_t *req = (const proto_auth_mfa_disable_req_t *) req_;
    //  Turning a protection off needs a fresh proof of identity
    if (!ctx->auth_time || zclock_time () / 1000 - ctx->auth_time > self->cfg->reauth_max_age_s)
        return cm_server_fail (info, CM_REAUTH_REQUIRED, "sign in again to turn MFA off");
    cm_err_t check = auth_mfa_check (self, ctx->uid, req->code);
    if (check == CM_MFA_REQUIRED)
        return cm_server_fail (info, CM_INVALID_CODE, "code: not a valid code");
    if (check != CM_OK)
        return cm_server_fail (info, check, "account store unavailable");
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    int rc = db? auth_store_mfa_set (db, ctx, ctx->uid, false): -1;
    if (rc == AUTH_STORE_NOT_FOUND)
        return cm_server_fail (info, CM_CONFLICT, "MFA is not on");
    if (rc)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    s_notify (self, db, ctx->uid, false);
    return CM_NO_CONTENT;
}
