/*  auth_handlers - registration, sign-in, token rotation, sessions, keys */
#include <pthread.h>
#include <strings.h>
#include "auth_handlers.h"
#include "auth_admin.h"
#include "auth_erase.h"
#include "../../common/cm_crypt.h"
#include "auth_email.h"
#include "auth_keys.h"
#include "auth_links.h"
#include "auth_mfa.h"
#include "auth_oauth.h"
#include "auth_password.h"
#include "auth_redis.h"
#include "auth_secret.h"
#include "auth_store.h"
#include "../../common/cm_audit.h"
#include "../../common/cm_db.h"
#include "../../common/cm_log.h"

//  The embedded common-password list (build/gen/auth_passwords.c)
extern const char auth_common_passwords [];
extern const size_t auth_common_passwords_len;

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static bool s_keys_loaded;
static uint8_t s_data_key [CM_CRYPT_KEY_BYTES];
static auth_mail_t *s_mail;
static auth_breach_t *s_breach;
static auth_oidc_t *s_oidc;
static bool s_data_key_loaded;
static const cm_config_t *s_cfg;

static void
s_load_shared (void)
{
    char dir [1024];
    snprintf (dir, sizeof dir, "%s/jwt", s_cfg->keys_dir);
    s_keys_loaded = auth_keys_init (dir) == 0;
    if (!s_keys_loaded)
        cm_error ("cannot load JWT signing keys from %s", dir);
    char path [1024];
    if (s_cfg->auth_data_key_file && *s_cfg->auth_data_key_file)
        snprintf (path, sizeof path, "%s", s_cfg->auth_data_key_file);
    else
        snprintf (path, sizeof path, "%s/secrets/auth_data.key", s_cfg->keys_dir);
    s_data_key_loaded = cm_crypt_load_key (path, s_data_key) == 0;
    if (!s_data_key_loaded)
        cm_error ("cannot load the data key %s (64 hex digits)", path);
    s_mail = auth_mail_new (s_cfg->smtp_url, s_cfg->smtp_user, s_cfg->smtp_password_file,
                            s_cfg->mail_from, s_cfg->mail_outbox_dir);
    if (!s_mail)
        cm_error ("mail is not configured correctly (SMTP_URL, MAIL_FROM, MAIL_OUTBOX_DIR)");
    s_breach = auth_breach_new (s_cfg->breached_range_url, NULL);
    if (!s_breach)
        cm_error ("BREACHED_PASSWORD_RANGE_URL is not usable");
    s_oidc = auth_oidc_new (s_cfg);
    if (!s_oidc)
        cm_error ("sign-in providers are not usable (OIDC_*)");
    if (auth_password_list_load (auth_common_passwords, auth_common_passwords_len) < 0)
        cm_error ("cannot load the common-password list");
    //  The dummy hash is computed on first use: do it now, so the first
    //  unknown-email sign-in takes no longer than the others
    auth_password_dummy_verify ("warm-up");
}

void *
auth_worker_new (const cm_config_t *cfg, zcert_t *cert, int index)
{
    (void) cert;
    (void) index;
    s_cfg = cfg;
    pthread_once (&s_once, s_load_shared);
    if (!s_keys_loaded || !s_data_key_loaded || !s_mail || !s_breach || !s_oidc)
        return NULL;                        //  no keys: refuse to start
    auth_worker_t *self = (auth_worker_t *) zmalloc (sizeof (auth_worker_t));
    self->cfg = cfg;
    self->data_key = s_data_key;
    self->mail = s_mail;
    self->breach = s_breach;
    self->oidc = s_oidc;
    self->db = cm_db_connect (cfg);
    self->redis = cm_redis_new (cfg);
    if (!self->redis) {
        free (self);
        return NULL;
    }
    return self;
}

void
auth_worker_destroy (void **state_p)
{
    auth_worker_t *self = (auth_worker_t *) *state_p;
    if (self) {
        PQfinish (self->db);
        cm_redis_destroy (&self->redis);
        free (self);
        *state_p = NULL;
    }
}

static PGconn *
s_db (auth_worker_t *self)
{
    return cm_db_ensure (&self->db, self->cfg);
}

//  The reply form of a user row
static proto_auth_user_t *
s_user_reply (const auth_user_row_t *row)
{
    proto_auth_user_t *user = (proto_auth_user_t *) zmalloc (sizeof (proto_auth_user_t));
    user->id = cm_server_dup (row->id);
    user->email = cm_server_dup (row->email);
    user->name = row->has_name? cm_server_dup (row->name): NULL;
    user->roles = (char **) zmalloc (sizeof (char *) * CM_MAX_ROLES);
    for (uint32_t i = 0; i < row->roles_count; i++)
        user->roles [i] = cm_server_dup (row->roles [i]);
    user->roles_count = row->roles_count;
    user->mfa_enabled = row->mfa_enabled;
    user->has_mfa_enabled = true;
    user->email_verified = row->email_verified;
    user->has_email_verified = true;
    user->created_at = cm_server_dup (row->created_at);
    return user;
}

static bool
s_is_admin_email (const char *admins, const char *email)
{
    char *items [64];
    int count = cm_config_split (admins, items, 64);
    bool found = false;
    for (int i = 0; i < count; i++) {
        char normalized [255];
        found = found || (auth_email_normalize (items [i], normalized, sizeof normalized) == 0
                          && strcasecmp (normalized, email) == 0);
        free (items [i]);
    }
    return found;
}

static cm_err_t
s_register (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    auth_worker_t *self = (auth_worker_t *) state;
    const proto_auth_register_req_t *req = (const proto_auth_register_req_t *) req_;
    proto_auth_register_rep_t *rep = (proto_auth_register_rep_t *) rep_;

    char email [255];
    if (auth_email_normalize (req->email, email, sizeof email))
        return cm_server_fail (info, CM_VALIDATION_FAILED, "email: not a valid email address");
    char name [256] = "";
    if (req->name) {
        //  Names are stored as given but trimmed; 200 characters at most
        const char *start = req->name;
        while (*start == ' ' || *start == '\t')
            start++;
        snprintf (name, sizeof name, "%s", start);
        size_t len = strlen (name);
        while (len && (name [len - 1] == ' ' || name [len - 1] == '\t'))
            name [--len] = 0;
        size_t chars = 0;
        for (size_t i = 0; i < strlen (req->name); i++)
            chars += ((unsigned char) req->name [i] & 0xC0) != 0x80;
        if (chars > 200)
            return cm_server_fail (info, CM_VALIDATION_FAILED, "name: at most 200 characters");
    }
    cm_err_t policy = auth_new_password_check (self, req->password, email, "password", info);
    if (policy != CM_OK)
        return policy;
    char phc [AUTH_PASSWORD_PHC_SIZE];
    if (auth_password_hash (req->password, phc, sizeof phc))
        return cm_server_fail (info, CM_INTERNAL, "cannot hash the password");
    PGconn *db = s_db (self);
    if (!db)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    const char *roles = s_is_admin_email (self->cfg->admin_emails, email)? "user,admin": "user";
    auth_user_row_t user;
    int rc = auth_store_user_insert (db, ctx, email, req->name? name: NULL, phc, roles, &user);
    if (rc == AUTH_STORE_TAKEN)
        return cm_server_fail (info, CM_EMAIL_TAKEN, "an account with this email already exists");
    if (rc)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    rep->user = s_user_reply (&user);
    auth_links_send_verification (self, &user);
    return CM_CREATED;
}

cm_err_t
auth_new_password_check (auth_worker_t *self, const char *password, const char *email,
                         const char *field, cm_reply_info_t *info)
{
    auth_password_verdict_t verdict = auth_password_check (password, email);
    if (verdict != AUTH_PASSWORD_OK) {
        snprintf (info->message, sizeof info->message, "%s: %s", field, auth_password_verdict_str (verdict));
        return CM_WEAK_PASSWORD;
    }
    if (auth_breach_check (self->breach, password) == AUTH_BREACH_FOUND) {
        snprintf (info->message, sizeof info->message, "%s: appears in a known data breach", field);
        return CM_WEAK_PASSWORD;
    }
    return CM_OK;
}

//  Signs an access token for a session and fills the token reply
static cm_err_t
s_issue (auth_worker_t *self, const auth_user_row_t *user, const auth_session_row_t *session,
         const char *refresh_token, proto_auth_tokens_t **tokens_p, cm_reply_info_t *info)
{
    cm_jwt_claims_t claims;
    memset (&claims, 0, sizeof claims);
    snprintf (claims.sub, sizeof claims.sub, "%s", user->id);
    snprintf (claims.sid, sizeof claims.sid, "%s", session->id);
    for (uint32_t i = 0; i < user->roles_count; i++)
        snprintf (claims.roles [i], sizeof claims.roles [i], "%s", user->roles [i]);
    claims.roles_count = user->roles_count;
    char amr [64];
    snprintf (amr, sizeof amr, "%s", session->amr);
    for (char *save = NULL, *method = strtok_r (amr, ",", &save); method && claims.amr_count < 4;
         method = strtok_r (NULL, ",", &save))
        snprintf (claims.amr [claims.amr_count++], sizeof claims.amr [0], "%s", method);
    claims.iat = claims.nbf = zclock_time () / 1000;
    claims.exp = claims.iat + self->cfg->access_token_ttl_s;
    claims.auth_time = session->auth_time;
    auth_secret_token (claims.jti, sizeof claims.jti);
    char *token = (char *) malloc (4096);
    if (auth_keys_sign (self->cfg->jwt_issuer, self->cfg->jwt_audience, &claims, token, 4096)) {
        free (token);
        return cm_server_fail (info, CM_INTERNAL, "cannot sign the access token");
    }
    proto_auth_tokens_t *tokens = (proto_auth_tokens_t *) zmalloc (sizeof (proto_auth_tokens_t));
    tokens->access_token = token;
    tokens->expires_in = self->cfg->access_token_ttl_s;
    tokens->has_expires_in = true;
    tokens->refresh_token = cm_server_dup (refresh_token);
    *tokens_p = tokens;
    return CM_OK;
}

static cm_err_t
s_login (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    auth_worker_t *self = (auth_worker_t *) state;
    const proto_auth_login_req_t *req = (const proto_auth_login_req_t *) req_;
    proto_auth_login_rep_t *rep = (proto_auth_login_rep_t *) rep_;
    PGconn *db = s_db (self);
    if (!db)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");

    //  Locked emails get the same answer whether or not the password is
    //  right, and no hash is computed for them
    int64_t locked_for = auth_redis_locked_for (self->redis, req->email);
    if (locked_for < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, "sign-in is unavailable right now");
    if (locked_for > 0) {
        info->retry_after_s = locked_for;
        return cm_server_fail (info, CM_ACCOUNT_LOCKED, "too many failed sign-ins: try again later");
    }
    //  Many failures from one client pause that client only
    int64_t paused_for = auth_redis_ip_paused_for (self->redis, ctx->ip, self->cfg->login_failures_per_ip);
    if (paused_for > 0) {
        info->retry_after_s = paused_for;
        return cm_server_fail (info, CM_RATE_LIMITED, "too many failed sign-ins from this address: try again later");
    }
    char email [255];
    auth_user_row_t user;
    int found = auth_email_normalize (req->email, email, sizeof email) == 0
              ? auth_store_user_by_email (db, email, &user): AUTH_STORE_NOT_FOUND;
    if (found < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    //  Unknown email and wrong password cost the same hash and get the
    //  same answer, so neither timing nor body tells which it was
    bool match = false;
    if (found == AUTH_STORE_NOT_FOUND || !user.password_hash [0])
        auth_password_dummy_verify (req->password);
    else
        match = auth_password_verify (user.password_hash, req->password) == 0;
    if (!match || user.locked) {
        auth_redis_failed (self->redis, req->email, ctx->ip, self->cfg->login_failures_per_ip);
        cm_audit_record (db, ctx, "auth.login.failure", "failure",
                         found == 0? user.id: NULL, found == 0? NULL: "{\"reason\":\"unknown_email\"}");
        return cm_server_fail (info, CM_INVALID_CREDENTIALS, "email or password is wrong");
    }
    const char *amr = "pwd";
    if (user.mfa_enabled) {
        cm_err_t mfa = auth_mfa_check (self, user.id, req->otp);
        if (mfa == CM_MFA_REQUIRED) {
            //  A wrong code counts towards the lock like a wrong password
            if (req->otp)
                auth_redis_failed (self->redis, req->email, ctx->ip, self->cfg->login_failures_per_ip);
            return cm_server_fail (info, CM_MFA_REQUIRED, "a valid one-time code is required");
        }
        if (mfa != CM_OK)
            return cm_server_fail (info, mfa, "account store unavailable");
        amr = "pwd,otp";
    }
    auth_redis_succeeded (self->redis, req->email);
    if (auth_password_needs_rehash (user.password_hash)) {
        char phc [AUTH_PASSWORD_PHC_SIZE];
        if (auth_password_hash (req->password, phc, sizeof phc) == 0)
            auth_store_user_rehash (db, user.id, phc);
    }
    return auth_sign_in (self, ctx, &user, amr, req->user_agent, &rep->tokens, info);
}

cm_err_t
auth_sign_in (auth_worker_t *self, const cm_ctx_t *ctx, const auth_user_row_t *user, const char *amr,
              const char *user_agent, proto_auth_tokens_t **tokens_p, cm_reply_info_t *info)
{
    PGconn *db = s_db (self);
    char refresh [AUTH_SECRET_TOKEN_SIZE], refresh_hash [AUTH_SECRET_HASH_SIZE];
    if (auth_secret_token (refresh, sizeof refresh) || auth_secret_hash (refresh, refresh_hash))
        return cm_server_fail (info, CM_INTERNAL, "no randomness");
    auth_session_row_t session;
    if (!db || auth_store_session_create (db, ctx, user->id, amr, user_agent, refresh_hash, &session))
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    return s_issue (self, user, &session, refresh, tokens_p, info);
}

static cm_err_t
s_refresh (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    auth_worker_t *self = (auth_worker_t *) state;
    const proto_auth_refresh_req_t *req = (const proto_auth_refresh_req_t *) req_;
    proto_auth_refresh_rep_t *rep = (proto_auth_refresh_rep_t *) rep_;
    PGconn *db = s_db (self);
    if (!db)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    char old_hash [AUTH_SECRET_HASH_SIZE], fresh [AUTH_SECRET_TOKEN_SIZE], fresh_hash [AUTH_SECRET_HASH_SIZE];
    if (auth_secret_hash (req->refresh_token, old_hash) || auth_secret_token (fresh, sizeof fresh)
    ||  auth_secret_hash (fresh, fresh_hash))
        return cm_server_fail (info, CM_INTERNAL, "no randomness");
    auth_session_row_t session;
    int rc = auth_store_refresh_rotate (db, ctx, old_hash, fresh_hash, self->cfg->session_idle_timeout_s,
                                        self->cfg->session_absolute_timeout_s, &session);
    if (rc < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    if (rc == AUTH_STORE_REUSED)
        //  The stolen copy's session ends at the gateway too
        auth_redis_revoke (self->redis, session.id, self->cfg->access_token_ttl_s + 60);
    if (rc)
        return cm_server_fail (info, CM_INVALID_TOKEN, "the refresh token is invalid, used or expired");
    auth_user_row_t user;
    rc = auth_store_user_by_id (db, session.user_id, &user);
    if (rc || user.locked)
        return cm_server_fail (info, rc < 0? CM_UNAVAILABLE: CM_INVALID_TOKEN, "the account is not available");
    //  A refresh keeps amr and auth_time as they were at sign-in
    return s_issue (self, &user, &session, fresh, &rep->tokens, info);
}

static cm_err_t
s_logout (void *state, const cm_ctx_t *ctx, const void *req, void *rep, cm_reply_info_t *info)
{
    (void) req;
    (void) rep;
    auth_worker_t *self = (auth_worker_t *) state;
    PGconn *db = s_db (self);
    if (!db)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    int rc = auth_store_session_revoke (db, ctx, ctx->uid, ctx->sid, "logout");
    if (rc < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    //  Logging out twice is not an error; but until the gateway knows, the
    //  access token still works, so a failed publish is a failure
    if (auth_redis_revoke (self->redis, ctx->sid, self->cfg->access_token_ttl_s + 60))
        return cm_server_fail (info, CM_UNAVAILABLE, "the logout could not be published: retry");
    return CM_NO_CONTENT;
}

static cm_err_t
s_me (void *state, const cm_ctx_t *ctx, const void *req, void *rep_, cm_reply_info_t *info)
{
    (void) req;
    auth_worker_t *self = (auth_worker_t *) state;
    proto_auth_me_rep_t *rep = (proto_auth_me_rep_t *) rep_;
    PGconn *db = s_db (self);
    auth_user_row_t user;
    int rc = db? auth_store_user_by_id (db, ctx->uid, &user): -1;
    if (rc < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    if (rc)
        return cm_server_fail (info, CM_UNAUTHORIZED, "the account no longer exists");
    rep->user = s_user_reply (&user);
    if (auth_oauth_identities (self, user.id, rep->user))
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    return CM_OK;
}

static cm_err_t
s_sessions (void *state, const cm_ctx_t *ctx, const void *req, void *rep_, cm_reply_info_t *info)
{
    (void) req;
    auth_worker_t *self = (auth_worker_t *) state;
    proto_auth_sessions_rep_t *rep = (proto_auth_sessions_rep_t *) rep_;
    PGconn *db = s_db (self);
    auth_session_row_t *rows = (auth_session_row_t *) malloc (sizeof (auth_session_row_t) * 100);
    int count = 0;
    int rc = db? auth_store_sessions_list (db, ctx->uid, self->cfg->session_idle_timeout_s,
                                           self->cfg->session_absolute_timeout_s, rows, 100, &count): -1;
    if (rc == 0) {
        rep->items = (proto_auth_session_t *) zmalloc (sizeof (proto_auth_session_t) * (size_t) (count? count: 1));
        rep->items_count = (uint32_t) count;
        for (int i = 0; i < count; i++) {
            proto_auth_session_t *item = &rep->items [i];
            item->id = cm_server_dup (rows [i].id);
            item->created_at = cm_server_dup (rows [i].created_at);
            item->last_seen_at = cm_server_dup (rows [i].last_seen_at);
            item->user_agent = rows [i].user_agent [0]? cm_server_dup (rows [i].user_agent): NULL;
            item->current = streq (rows [i].id, ctx->sid);
            item->has_current = true;
        }
    }
    free (rows);
    return rc? cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable"): CM_OK;
}

//  Whether the caller's session is still alive: the gateway asks when it
//  cannot reach Redis's revocation list, so tokens keep working (or stop)
//  exactly as they would with it
static cm_err_t
s_session_check (void *state, const cm_ctx_t *ctx, const void *req, void *rep, cm_reply_info_t *info)
{
    (void) req;
    (void) rep;
    auth_worker_t *self = (auth_worker_t *) state;
    PGconn *db = s_db (self);
    int rc = db? auth_store_session_alive (db, ctx->uid, ctx->sid, self->cfg->session_idle_timeout_s,
                                           self->cfg->session_absolute_timeout_s): -1;
    if (rc == AUTH_STORE_ENDED)
        return cm_server_fail (info, CM_UNAUTHORIZED, "the session has ended");
    return rc? cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable"): CM_OK;
}

static cm_err_t
s_session_revoke (void *state, const cm_ctx_t *ctx, const void *req_, void *rep, cm_reply_info_t *info)
{
    (void) rep;
    auth_worker_t *self = (auth_worker_t *) state;
    const proto_auth_session_revoke_req_t *req = (const proto_auth_session_revoke_req_t *) req_;
    PGconn *db = s_db (self);
    int rc = db? auth_store_session_revoke (db, ctx, ctx->uid, req->id, "revoked"): -1;
    if (rc < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    //  Another user's session and a missing one look the same
    if (rc)
        return cm_server_fail (info, CM_NOT_FOUND, "no such session");
    if (auth_redis_revoke (self->redis, req->id, self->cfg->access_token_ttl_s + 60))
        return cm_server_fail (info, CM_UNAVAILABLE, "the revocation could not be published: retry");
    return CM_NO_CONTENT;
}

static cm_err_t
s_jwks (void *state, const cm_ctx_t *ctx, const void *req, void *rep_, cm_reply_info_t *info)
{
    (void) ctx;
    (void) req;
    auth_worker_t *self = (auth_worker_t *) state;
    proto_auth_jwks_rep_t *rep = (proto_auth_jwks_rep_t *) rep_;
    if (auth_keys_jwks (rep) != 0)
        return cm_server_fail (info, CM_INTERNAL, "cannot export the keys");
    rep->issuer = cm_server_dup (self->cfg->jwt_issuer);
    rep->audience = cm_server_dup (self->cfg->jwt_audience);
    return CM_OK;
}

const cm_route_t auth_routes [] = {
    { PROTO_MSG_auth_register,       s_register,       false, true },
    { PROTO_MSG_auth_login,          s_login,          false, true },
    { PROTO_MSG_auth_refresh,        s_refresh,        false, false },
    { PROTO_MSG_auth_logout,         s_logout,         true, false },
    { PROTO_MSG_auth_me,             s_me,             true, false },
    { PROTO_MSG_auth_sessions,       s_sessions,       true, false },
    { PROTO_MSG_auth_session_revoke, s_session_revoke, true, false },
    { PROTO_MSG_auth_session_check,  s_session_check,  true, false },
    { PROTO_MSG_auth_jwks,           s_jwks,           false, false },
    { PROTO_MSG_auth_mfa_enroll,     auth_mfa_enroll,  true, false },
    { PROTO_MSG_auth_mfa_verify,     auth_mfa_verify,  true, false },
    { PROTO_MSG_auth_mfa_disable,    auth_mfa_disable, true, false },
    { PROTO_MSG_auth_magic_link,     auth_links_magic_send,       false, false },
    { PROTO_MSG_auth_magic_verify,   auth_links_magic_verify,     false, false },
    { PROTO_MSG_auth_password_forgot, auth_links_password_forgot, false, false },
    { PROTO_MSG_auth_password_reset, auth_links_password_reset,   false, true },
    { PROTO_MSG_auth_password_change, auth_links_password_change, true, true },
    { PROTO_MSG_auth_email_verify,   auth_links_email_verify,     false, false },
    { PROTO_MSG_auth_email_resend,   auth_links_email_resend,     true, false },
    { PROTO_MSG_auth_admin_lock,     auth_admin_lock,             true, false },
    { PROTO_MSG_auth_admin_revoke,   auth_admin_revoke,           true, false },
    { PROTO_MSG_auth_revoke_all,     auth_erase_revoke_all,       true, false },
    { PROTO_MSG_auth_erase_user,     auth_erase_user,             true, false },
    { PROTO_MSG_auth_oauth_start,    auth_oauth_start,            false, false },
    { PROTO_MSG_auth_oauth_link,     auth_oauth_link,             true, false },
    { PROTO_MSG_auth_oauth_callback, auth_oauth_callback,         false, false },
    { PROTO_MSG_auth_oauth_exchange, auth_oauth_exchange,         false, false },
    { PROTO_MSG_auth_identity_unlink, auth_oauth_unlink,          true, false },
};
const size_t auth_route_count = sizeof auth_routes / sizeof auth_routes [0];
