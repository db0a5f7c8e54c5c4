/*  auth_oauth - sign-in with external providers: the flow's handlers */
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "auth_oauth.h"
#include "auth_email.h"
#include "auth_oauth_store.h"
#include "auth_oidc.h"
#include "auth_secret.h"
#include "../../common/cm_audit.h"
#include "../../common/cm_db.h"
#include "../../common/cm_jwt.h"
#include "../../common/cm_log.h"

#define DERIVED_SIZE    44              //  32 bytes as base64url + NUL
#define LOCATION_MAX    (2048 + 128)    //  redirect_uri and one parameter

static PGconn *
s_db (auth_worker_t *self)
{
    return cm_db_ensure (&self->db, self->cfg);
}

//  A value bound to this sign-in's state: base64url (HMAC-SHA256 (data key,
//  label ":" state)). The nonce and the PKCE verifier need no storage then,
//  and cannot be learned from the database.
static int
s_derive (auth_worker_t *self, const char *label, const char *state, char out [DERIVED_SIZE])
{
    char message [320];
    uint8_t mac [EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    int len = snprintf (message, sizeof message, "oauth-%s:%s", label, state);
    int rc = len > 0 && (size_t) len < sizeof message
          && HMAC (EVP_sha256 (), self->data_key, 32, (const uint8_t *) message, (size_t) len, mac, &mac_len)
          && mac_len == 32 && cm_jwt_b64url_encode (mac, 32, out, DERIVED_SIZE) == 43? 0: -1;
    OPENSSL_cleanse (mac, sizeof mac);
    OPENSSL_cleanse (message, sizeof message);
    return rc;
}

//  The PKCE S256 challenge of verifier
static int
s_challenge (const char *verifier, char out [DERIVED_SIZE])
{
    uint8_t digest [EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    return EVP_Digest (verifier, strlen (verifier), digest, &digest_len, EVP_sha256 (), NULL)
        && digest_len == 32 && cm_jwt_b64url_encode (digest, 32, out, DERIVED_SIZE) == 43? 0: -1;
}

//  True when redirect_uri is exactly one of OAUTH_ALLOWED_REDIRECTS
static bool
s_redirect_allowed (auth_worker_t *self, const char *redirect_uri)
{
    char *items [AUTH_OAUTH_REDIRECTS_MAX];
    int count = cm_config_split (self->cfg->oauth_allowed_redirects, items, AUTH_OAUTH_REDIRECTS_MAX);
    bool found = false;
    for (int i = 0; i < count; i++) {
        found = found || strcmp (items [i], redirect_uri) == 0;
        free (items [i]);
    }
    return found;
}

//  redirect_uri with name=value added to its query (value is URL-safe)
static char *
s_location (const char *redirect_uri, const char *name, const char *value)
{
    char location [LOCATION_MAX];
    snprintf (location, sizeof location, "%s%s%s=%s", redirect_uri, strchr (redirect_uri, '?')? "&": "?",
              name, value);
    return strdup (location);
}

//  Audit a refused sign-in (or link) and send the browser back with error
static cm_err_t
s_fail_back (auth_worker_t *self, const cm_ctx_t *ctx, proto_auth_oauth_start_rep_t *rep,
             const char *redirect_uri, const char *provider, bool link, const char *user_id,
             const char *error, const char *reason)
{
    char detail [192];
    snprintf (detail, sizeof detail, "{\"provider\":\"%s\",\"error\":\"%s\",\"reason\":\"%s\"}",
              provider, error, reason && *reason? reason: error);
    PGconn *db = s_db (self);
    if (db)
        cm_audit_record (db, ctx, link? "auth.oauth.link": "auth.oauth.login", "failure",
                         user_id && *user_id? user_id: NULL, detail);
    cm_info ("provider sign-in refused: %s", detail);
    rep->location = s_location (redirect_uri, "error", error);
    return rep->location? CM_OK: CM_INTERNAL;
}

//  Audit a refusal that cannot go back to a client (no known state)
static cm_err_t
s_fail (auth_worker_t *self, const cm_ctx_t *ctx, cm_reply_info_t *info, cm_err_t err,
        const char *provider, const char *reason, const char *message)
{
    char detail [160];
    snprintf (detail, sizeof detail, "{\"provider\":\"%s\",\"reason\":\"%s\"}", provider, reason);
    PGconn *db = s_db (self);
    if (db)
        cm_audit_record (db, ctx, "auth.oauth.login", "failure", NULL, detail);
    return cm_server_fail (info, err, "%s", message);
}

//  start and link: a state, then the provider's authorization URL
static cm_err_t
s_start (auth_worker_t *self, const cm_ctx_t *ctx, const proto_auth_oauth_start_req_t *req,
         proto_auth_oauth_start_rep_t *rep, cm_reply_info_t *info, const char *link_user_id)
{
    if (!auth_oidc_has (self->oidc, req->provider))
        return cm_server_fail (info, CM_NOT_FOUND, "no such sign-in provider");
    if (!s_redirect_allowed (self, req->redirect_uri))
        return s_fail (self, ctx, info, CM_INVALID_REQUEST, req->provider, "redirect_not_allowed",
                       "redirect_uri: not one of OAUTH_ALLOWED_REDIRECTS");
    char state [AUTH_SECRET_TOKEN_SIZE], state_hash [AUTH_SECRET_HASH_SIZE];
    char nonce [DERIVED_SIZE], verifier [DERIVED_SIZE], challenge [DERIVED_SIZE];
    char *url = (char *) malloc (AUTH_OIDC_URL_MAX);
    cm_err_t result = CM_OK;
    if (!url || auth_secret_token (state, sizeof state) || auth_secret_hash (state, state_hash)
    ||  s_derive (self, "nonce", state, nonce) || s_derive (self, "pkce", state, verifier)
    ||  s_challenge (verifier, challenge)) {
        result = cm_server_fail (info, CM_INTERNAL, "no randomness");
        goto cleanup;
    }
    //  The provider first: when it is down nothing is stored
    auth_oidc_result_t rc = auth_oidc_authorize_url (self->oidc, req->provider, req->callback_uri, state,
                                                     nonce, challenge, url, AUTH_OIDC_URL_MAX);
    if (rc != AUTH_OIDC_OK) {
        result = s_fail (self, ctx, info, rc == AUTH_OIDC_UNAVAILABLE? CM_PROVIDER_UNAVAILABLE: CM_BAD_GATEWAY,
                         req->provider, auth_oidc_result_str (rc),
                         rc == AUTH_OIDC_UNAVAILABLE? "the sign-in provider could not be reached"
                                                    : "the sign-in provider answered unusably");
        goto cleanup;
    }
    PGconn *db = s_db (self);
    if (!db || auth_oauth_store_state_create (db, state_hash, req->provider, req->redirect_uri,
                                              link_user_id, AUTH_OAUTH_STATE_TTL_S)) {
        result = cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
        goto cleanup;
    }
    rep->location = url;
    url = NULL;

cleanup:
    free (url);
    OPENSSL_cleanse (state, sizeof state);
    OPENSSL_cleanse (verifier, sizeof verifier);
    return result;
}

cm_err_t
auth_oauth_start (void *state, const cm_ctx_t *ctx, const void *req, void *rep, cm_reply_info_t *info)
{
    return s_start ((auth_worker_t *) state, ctx, (const proto_auth_oauth_start_req_t *) req,
                    (proto_auth_oauth_start_rep_t *) rep, info, NULL);
}

//  Linking adds a way into the account: only right after a sign-in
static bool
s_recent (auth_worker_t *self, const cm_ctx_t *ctx)
{
    return ctx->auth_time > 0 && zclock_time () / 1000 - ctx->auth_time <= self->cfg->reauth_max_age_s;
}

cm_err_t
auth_oauth_link (void *state, const cm_ctx_t *ctx, const void *req, void *rep, cm_reply_info_t *info)
{
    auth_worker_t *self = (auth_worker_t *) state;
    if (!s_recent (self, ctx))
        return cm_server_fail (info, CM_REAUTH_REQUIRED, "sign in again to link a provider");
    return s_start (self, ctx, (const proto_auth_oauth_start_req_t *) req,
                    (proto_auth_oauth_start_rep_t *) rep, info, ctx->uid);
}

//  The error code for the client when the provider step failed
static const char *
s_provider_error (auth_oidc_result_t rc)
{
    return rc == AUTH_OIDC_UNAVAILABLE? "provider_unavailable"
         : rc == AUTH_OIDC_BAD_ID_TOKEN? "invalid_id_token": "provider_error";
}

//  A verified identity for a sign-in: its account, a new one, or a refusal
//  (error code into *error). The account goes into user.
static int
s_account_for (auth_worker_t *self, const cm_ctx_t *ctx, const char *provider,
               const auth_oidc_identity_t *who, auth_user_row_t *user, bool *created, const char **error)
{
    PGconn *db = s_db (self);
    char user_id [37];
    *created = false;
    int rc = db? auth_oauth_store_identity_user (db, provider, who->subject, user_id): -1;
    if (rc == 0)
        rc = auth_store_user_by_id (db, user_id, user);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return 0;
    //  A new identity makes a new account only with an address the provider
    //  vouches for, and never takes over an account that has that address
    char email [255];
    if (!who->email_verified || auth_email_normalize (who->email, email, sizeof email)) {
        *error = "email_not_verified";
        return 1;
    }
    rc = auth_store_user_by_email (db, email, user);
    if (rc == 0) {
        *error = "account_exists";
        return 1;
    }
    if (rc < 0)
        return -1;
    char *admins [64];
    int count = cm_config_split (self->cfg->admin_emails, admins, 64);
    bool admin = false;
    for (int i = 0; i < count; i++) {
        char normalized [255];
        admin = admin || (auth_email_normalize (admins [i], normalized, sizeof normalized) == 0
                          && strcasecmp (normalized, email) == 0);
        free (admins [i]);
    }
    rc = auth_store_user_insert_external (db, ctx, email, *who->name? who->name: NULL,
                                          admin? "user,admin": "user", provider, who->subject, user);
    if (rc == AUTH_STORE_TAKEN) {
        *error = "account_exists";
        return 1;
    }
    *created = rc == 0;
    return rc;
}

cm_err_t
auth_oauth_callback (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    auth_worker_t *self = (auth_worker_t *) state;
    const proto_auth_oauth_callback_req_t *req = (const proto_auth_oauth_callback_req_t *) req_;
    //  start, link and callback share one reply field list, so one layout
    proto_auth_oauth_start_rep_t *rep = (proto_auth_oauth_start_rep_t *) rep_;
    if (!auth_oidc_has (self->oidc, req->provider))
        return cm_server_fail (info, CM_NOT_FOUND, "no such sign-in provider");
    PGconn *db = s_db (self);
    char state_hash [AUTH_SECRET_HASH_SIZE], redirect_uri [2049], link_user [37];
    if (!db || auth_secret_hash (req->state, state_hash))
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    //  Spent here, whatever follows: a state works once
    int rc = auth_oauth_store_state_use (db, state_hash, req->provider, redirect_uri, link_user);
    if (rc < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    if (rc)
        return s_fail (self, ctx, info, CM_INVALID_REQUEST, req->provider, "invalid_state",
                       "state: unknown, already used or expired");
    bool link = *link_user != 0;
    if (req->error || !req->code)
        return s_fail_back (self, ctx, rep, redirect_uri, req->provider, link, link_user,
                            req->error && streq (req->error, "access_denied")? "access_denied": "provider_error",
                            "the provider sent no code");
    char nonce [DERIVED_SIZE], verifier [DERIVED_SIZE], detail [64];
    if (s_derive (self, "nonce", req->state, nonce) || s_derive (self, "pkce", req->state, verifier))
        return cm_server_fail (info, CM_INTERNAL, "cannot derive the sign-in's secrets");
    auth_oidc_identity_t who;
    auth_oidc_result_t identified = auth_oidc_identify (self->oidc, req->provider, req->callback_uri, req->code,
                                                        verifier, nonce, &who, detail, sizeof detail);
    OPENSSL_cleanse (verifier, sizeof verifier);
    if (identified != AUTH_OIDC_OK)
        return s_fail_back (self, ctx, rep, redirect_uri, req->provider, link, link_user,
                            s_provider_error (identified), *detail? detail: auth_oidc_result_str (identified));
    char linked [64];
    if (link) {
        rc = auth_oauth_store_identity_link (db, ctx, link_user, req->provider, who.subject, who.email);
        if (rc < 0)
            return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
        if (rc)
            return s_fail_back (self, ctx, rep, redirect_uri, req->provider, true, link_user,
                                rc == AUTH_OAUTH_STORE_OTHER_USER? "identity_in_use": "already_linked", NULL);
        snprintf (linked, sizeof linked, "%s", req->provider);
        rep->location = s_location (redirect_uri, "linked", linked);
        return rep->location? CM_OK: CM_INTERNAL;
    }
    auth_user_row_t user;
    bool created = false;
    const char *error = NULL;
    rc = s_account_for (self, ctx, req->provider, &who, &user, &created, &error);
    if (rc < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    if (rc == 0 && user.locked)
        error = "account_locked";
    else
    //  As for mail links: a provider is not the account's second factor
    if (rc == 0 && user.mfa_enabled)
        error = "mfa_required";
    if (error)
        return s_fail_back (self, ctx, rep, redirect_uri, req->provider, false, rc == 0? user.id: NULL,
                            error, NULL);
    char code [AUTH_SECRET_TOKEN_SIZE], code_hash [AUTH_SECRET_HASH_SIZE];
    if (auth_secret_token (code, sizeof code) || auth_secret_hash (code, code_hash))
        return cm_server_fail (info, CM_INTERNAL, "no randomness");
    if (auth_store_token_create (db, user.id, "oauth_login", code_hash, AUTH_OAUTH_LOGIN_CODE_TTL_S))
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    char detail_ok [128];
    snprintf (detail_ok, sizeof detail_ok, "{\"provider\":\"%s\",\"new_account\":%s}", req->provider,
              created? "true": "false");
    cm_audit_record (db, ctx, "auth.oauth.login", "success", user.id, detail_ok);
    rep->location = s_location (redirect_uri, "login_code", code);
    OPENSSL_cleanse (code, sizeof code);
    return rep->location? CM_OK: CM_INTERNAL;
}

cm_err_t
auth_oauth_exchange (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    auth_worker_t *self = (auth_worker_t *) state;
    const proto_auth_oauth_exchange_req_t *req = (const proto_auth_oauth_exchange_req_t *) req_;
    proto_auth_oauth_exchange_rep_t *rep = (proto_auth_oauth_exchange_rep_t *) rep_;
    PGconn *db = s_db (self);
    char hash [AUTH_SECRET_HASH_SIZE], user_id [37];
    auth_user_row_t user;
    if (!db || auth_secret_hash (req->code, hash))
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    int rc = auth_store_token_use (db, hash, "oauth_login", user_id);
    if (rc == 0)
        rc = auth_store_user_by_id (db, user_id, &user);
    if (rc < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    if (rc || user.locked || user.mfa_enabled) {
        cm_audit_record (db, ctx, "auth.oauth.exchange", "failure", rc? NULL: user.id,
                         "{\"reason\":\"invalid_code\"}");
        return cm_server_fail (info, CM_INVALID_TOKEN, "the login code is invalid, used or expired");
    }
    return auth_sign_in (self, ctx, &user, "oauth", req->user_agent, &rep->tokens, info);
}

cm_err_t
auth_oauth_unlink (void *state, const cm_ctx_t *ctx, const void *req_, void *rep, cm_reply_info_t *info)
{
    (void) rep;
    auth_worker_t *self = (auth_worker_t *) state;
    const proto_auth_identity_unlink_req_t *req = (const proto_auth_identity_unlink_req_t *) req_;
    if (!s_recent (self, ctx))
        return cm_server_fail (info, CM_REAUTH_REQUIRED, "sign in again to remove a provider");
    PGconn *db = s_db (self);
    int rc = db? auth_oauth_store_identity_unlink (db, ctx, ctx->uid, req->provider): -1;
    if (rc < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, "account store unavailable");
    if (rc == AUTH_STORE_NOT_FOUND)
        return cm_server_fail (info, CM_NOT_FOUND, "no identity of this provider is linked");
    if (rc) {
        char detail [96];
        snprintf (detail, sizeof detail, "{\"provider\":\"%s\",\"reason\":\"last_way_in\"}", req->provider);
        cm_audit_record (db, ctx, "auth.oauth.unlink", "failure", NULL, detail);
        return cm_server_fail (info, CM_CONFLICT, "this is the account's last way in: set a password or link "
                                             "another provider first");
    }
    return CM_NO_CONTENT;
}

int
auth_oauth_identities (auth_worker_t *self, const char *user_id, proto_auth_user_t *user)
{
    auth_identity_row_t rows [AUTH_OAUTH_IDENTITIES_MAX];
    int count = 0;
    PGconn *db = s_db (self);
    if (!db || auth_oauth_store_identities (db, user_id, rows, AUTH_OAUTH_IDENTITIES_MAX, &count))
        return -1;
    user->identities = (proto_auth_identity_t *) zmalloc (sizeof (proto_auth_identity_t) * (size_t) (count? count: 1));
    user->identities_count = (uint32_t) count;
    for (int i = 0; i < count; i++) {
        user->identities [i].provider = strdup (rows [i].provider);
        user->identities [i].email = *rows [i].email? strdup (rows [i].email): NULL;
        user->identities [i].created_at = strdup (rows [i].created_at);
    }
    return 0;
}
