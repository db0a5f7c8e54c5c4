/*  auth_store - the auth service's SQL: users, sessions, refresh tokens

    Only parameterised statements. Functions that change several rows run
    one transaction, and write their audit event into the outbox inside it.
    Returns: 0 done, a positive AUTH_STORE_* outcome, or -1 (database down).
*/
#ifndef AUTH_STORE_H_INCLUDED
#define AUTH_STORE_H_INCLUDED

#include <stdbool.h>
#include <libpq-fe.h>
#include "../../common/cm_ctx.h"

#define AUTH_STORE_NOT_FOUND    1
#define AUTH_STORE_TAKEN        2
#define AUTH_STORE_REUSED       3   //  a rotated refresh token came back
#define AUTH_STORE_ENDED        4   //  session revoked, idle or too old

typedef struct {
    char id [37];
    char email [255];
    char name [201];
    bool has_name;
    char password_hash [256];       //  PHC string, "" when none
    char roles [CM_MAX_ROLES][33];
    uint32_t roles_count;
    bool email_verified;
    bool mfa_enabled;
    bool locked;
    char created_at [41];           //  RFC 3339 UTC
} auth_user_row_t;

typedef struct {
    char id [37];
    char user_id [37];
    char amr [64];                  //  comma-separated methods, e.g. "pwd,otp"
    int64_t auth_time;              //  unix seconds
    char user_agent [513];
    char created_at [41];
    char last_seen_at [41];
} auth_session_row_t;

//  New user; AUTH_STORE_TAKEN when the email exists in any letter case
int
    auth_store_user_insert (PGconn *db, const cm_ctx_t *ctx, const char *email, const char *name,
                            const char *phc, const char *roles_csv, auth_user_row_t *user);

//  New user who signed in with a provider: no password, the email the
//  provider verified, and the identity (provider, subject) linked, in one
//  transaction audited as auth.register. TAKEN when the email exists in
//  any letter case or the identity is linked already.
int
    auth_store_user_insert_external (PGconn *db, const cm_ctx_t *ctx, const char *email,
                                     const char *name, const char *roles_csv, const char *provider,
                                     const char *subject, auth_user_row_t *user);

int
    auth_store_user_by_email (PGconn *db, const char *email, auth_user_row_t *user);
int
    auth_store_user_by_id (PGconn *db, const char *id, auth_user_row_t *user);

//  Store a stronger hash of the same password (parameters raised)
int
    auth_store_user_rehash (PGconn *db, const char *id, const char *phc);

//  A session for user with its first refresh token (stored as its hash)
int
    auth_store_session_create (PGconn *db, const cm_ctx_t *ctx, const char *user_id,
                               const char *amr_csv, const char *user_agent,
                               const char *refresh_hash, auth_session_row_t *session);

//  Swap old_hash for new_hash if the session is alive. A token presented a
//  second time revokes its whole session: AUTH_STORE_REUSED.
int
    auth_store_refresh_rotate (PGconn *db, const cm_ctx_t *ctx, const char *old_hash,
                               const char *new_hash, int64_t idle_s, int64_t absolute_s,
                               auth_session_row_t *session);

//  Whether session id of user is alive (not revoked, idle or too old)
int
    auth_store_session_alive (PGconn *db, const char *user_id, const char *session_id,
                              int64_t idle_s, int64_t absolute_s);

//  Revoke session id of user (NOT_FOUND when it is not theirs or gone)
int
    auth_store_session_revoke (PGconn *db, const cm_ctx_t *ctx, const char *user_id,
                               const char *session_id, const char *reason);

//  The user's live sessions, newest first, at most max
int
    auth_store_sessions_list (PGconn *db, const char *user_id, int64_t idle_s, int64_t absolute_s,
                              auth_session_row_t *rows, int max, int *count);

//  ----------------------------------------------------------------------
//  Single-use tokens by mail. purpose: magic_link, password_reset, email_verify
int
    auth_store_token_create (PGconn *db, const char *user_id, const char *purpose,
                             const char *token_hash, int64_t ttl_s);

//  Spend a token: NOT_FOUND when unknown, used, expired or of another purpose
int
    auth_store_token_use (PGconn *db, const char *token_hash, const char *purpose, char *user_id);

//  New password hash; ends every session of the user except keep_sid
//  (NULL: all). The ended session ids go into ended (up to max) for the
//  caller to publish.
int
    auth_store_password_set (PGconn *db, const cm_ctx_t *ctx, const char *user_id, const char *phc,
                             const char *keep_sid, char ended [][37], int max, int *ended_count);

//  Admin action on user_id: locked 1 lock, 0 unlock, -1 only end its
//  sessions. Locking and revoking end every session (ids into ended).
int
    auth_store_admin_set (PGconn *db, const cm_ctx_t *ctx, const char *user_id, int locked,
                          char ended [][37], int max, int *ended_count);

int
    auth_store_email_verified (PGconn *db, const cm_ctx_t *ctx, const char *user_id);

//  ----------------------------------------------------------------------
//  TOTP. Sealed secrets travel as hex. Enrolment replaces an unconfirmed
//  secret and the recovery codes; TAKEN when MFA is already on.
int
    auth_store_mfa_begin (PGconn *db, const char *user_id, const char *sealed_hex,
                          const char code_hashes [][65], int code_count);

//  The sealed secret (hex, "" when none), whether MFA is on
int
    auth_store_mfa_get (PGconn *db, const char *user_id, char *sealed_hex, size_t size, bool *enabled);

//  Accept time step for user once: REUSED when it (or a later one) was used
int
    auth_store_mfa_use_step (PGconn *db, const char *user_id, int64_t step);

//  Spend a recovery code; NOT_FOUND when unknown or already spent
int
    auth_store_mfa_use_recovery (PGconn *db, const char *user_id, const char *code_hash);

//  Turn MFA on (after a first valid code) or off (secret and codes erased)
int
    auth_store_mfa_set (PGconn *db, const cm_ctx_t *ctx, const char *user_id, bool enabled);

//  ----------------------------------------------------------------------
//  Privacy's account deletion. Lock the account (it is going away: no new
//  sign-in) and end every live session, audited as
//  auth.sessions.revoked_all; *ended receives how many. A user already
//  gone is no error (*ended 0).
int
    auth_store_revoke_all (PGconn *db, const cm_ctx_t *ctx, const char *user_id, int *ended);

//  The ids of the user's sessions an access token may still be out for
//  (used within window_s, whatever their state) into *ids_p (caller frees)
int
    auth_store_sessions_recent (PGconn *db, const char *user_id, int64_t window_s,
                                char (**ids_p) [37], int *count);

//  Delete the account and everything hanging off it (sessions, refresh
//  tokens, recovery codes, one-time tokens) in one transaction, audited as
//  auth.user.erased without any personal data. The account as it was goes
//  into user (for the notice); *erased receives the rows deleted.
//  AUTH_STORE_NOT_FOUND when it is already gone.
int
    auth_store_erase_user (PGconn *db, const cm_ctx_t *ctx, const char *user_id, auth_user_row_t *user,
                           int64_t *erased);

#endif
