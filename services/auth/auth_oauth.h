/*  auth_oauth - sign-in with external providers (OpenID Connect, GitHub)

    start: a state (single use, 10 minutes, stored as its hash) and a 302
    to the provider with nonce and PKCE S256; the nonce and the PKCE
    verifier are derived from the state with the service's data key, so
    neither is stored. callback: spends the state, exchanges the code,
    verifies who signed in, then signs them in by a one-time login code
    (60 s, single use) on the client's redirect_uri - never tokens in a
    URL; exchange turns the code into a token pair (amr ["oauth"]).

    Linking: a provider identity whose verified email matches an existing
    account is refused (account_exists) rather than signed in silently; the
    account links it itself from a session with a recent sign-in (link).
    An identity goes away with unlink unless it is the last way in.

    Every failure is audited, creates nothing, and - once the state is
    known - goes back to redirect_uri with error=<code>.
*/
#ifndef AUTH_OAUTH_H_INCLUDED
#define AUTH_OAUTH_H_INCLUDED

#include "auth_handlers.h"

#define AUTH_OAUTH_STATE_TTL_S      600
#define AUTH_OAUTH_LOGIN_CODE_TTL_S 60
#define AUTH_OAUTH_REDIRECTS_MAX    32      //  entries of OAUTH_ALLOWED_REDIRECTS

cm_handler_fn auth_oauth_start;
cm_handler_fn auth_oauth_link;
cm_handler_fn auth_oauth_callback;
cm_handler_fn auth_oauth_exchange;
cm_handler_fn auth_oauth_unlink;

//  ----------------------------------------------------------------------
//  Add user_id's linked identities to user (the users/me reply).
//  Returns 0, or -1 when the store is down.
int
    auth_oauth_identities (auth_worker_t *self, const char *user_id, proto_auth_user_t *user);

#endif
