/*  auth_oauth_store - SQL of provider sign-in: identities and states

    Only parameterised statements. A state is spent by one UPDATE, so two
    callbacks racing with the same state cannot both win. Returns: 0 done,
    a positive AUTH_STORE_* / AUTH_OAUTH_STORE_* outcome, or -1 (database
    down).
*/
#ifndef AUTH_OAUTH_STORE_H_INCLUDED
#define AUTH_OAUTH_STORE_H_INCLUDED

#include <libpq-fe.h>
#include "auth_store.h"

#define AUTH_OAUTH_STORE_OTHER_USER     10  //  the identity is linked to another account
#define AUTH_OAUTH_STORE_LINKED         11  //  the account has another identity at this provider
#define AUTH_OAUTH_STORE_LAST_WAY_IN    12  //  no password and no other identity

#define AUTH_OAUTH_IDENTITIES_MAX       16  //  identities listed for one account

typedef struct {
    char provider [33];
    char email [255];               //  "" when the provider gave none
    char created_at [41];           //  RFC 3339 UTC
} auth_identity_row_t;

//  ----------------------------------------------------------------------
//  A sign-in in progress, by the hash of its state; link_user_id NULL for
//  a sign-in, else the account asking to link the provider
int
    auth_oauth_store_state_create (PGconn *db, const char *state_hash, const char *provider,
                                   const char *redirect_uri, const char *link_user_id, int64_t ttl_s);

//  Spend a state of provider: NOT_FOUND when unknown, used, expired or of
//  another provider. Its redirect_uri (2049 bytes) and link_user_id (37,
//  "" for a sign-in) come back.
int
    auth_oauth_store_state_use (PGconn *db, const char *state_hash, const char *provider,
                                char *redirect_uri, char *link_user_id);

//  ----------------------------------------------------------------------
//  The account linked to (provider, subject) into user_id (37): NOT_FOUND
int
    auth_oauth_store_identity_user (PGconn *db, const char *provider, const char *subject,
                                    char *user_id);

//  Link (provider, subject) to user_id, audited as auth.oauth.link. 0 also
//  when it already is; OTHER_USER or LINKED when it cannot be.
int
    auth_oauth_store_identity_link (PGconn *db, const cm_ctx_t *ctx, const char *user_id,
                                    const char *provider, const char *subject, const char *email);

//  Remove user_id's identity at provider, audited as auth.oauth.unlink.
//  NOT_FOUND when there is none; LAST_WAY_IN when the account has no
//  password and no other identity (nothing is removed).
int
    auth_oauth_store_identity_unlink (PGconn *db, const cm_ctx_t *ctx, const char *user_id,
                                      const char *provider);

//  user_id's identities, oldest first, at most max
int
    auth_oauth_store_identities (PGconn *db, const char *user_id, auth_identity_row_t *rows,
                                 int max, int *count);

#endif
