/*  gateway_auth - the one place where identity is verified

    Access tokens are checked here with auth's public keys, parsed once per
    kid and cached for the process (verification never re-parses a key).
    The key set, issuer and audience come from auth itself (auth.jwks), on
    first use and again when a token names an unknown kid (at most once a
    second). Any failure on the way is a refusal: 401 for a bad token, 503
    when the keys cannot be had.
*/
#ifndef GATEWAY_AUTH_H_INCLUDED
#define GATEWAY_AUTH_H_INCLUDED

#include "gateway_http.h"

//  ----------------------------------------------------------------------
//  Verify the request's bearer token and fill req->ctx with the identity.
//  Returns 0, or sends the refusal itself and returns its HTTP status.
int
    gateway_auth_verify (gateway_req_t *req);

//  The JWKS document {"keys":[...]} into buf; its length, or 0 when auth
//  could not be reached
size_t
    gateway_auth_jwks_json (gateway_req_t *req, char *buf, size_t size);

//  Release the cached keys (at shutdown)
void
    gateway_auth_shutdown (void);

#endif
