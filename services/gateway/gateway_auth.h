/*  gateway_auth - the one place where identity is verified

    Access tokens are checked here with auth's public keys, parsed once per
    kid and cached for the process (verification never re-parses a key).
    The key set, issuer and audience come from auth itself (auth.jwks), on
    first use and again when a token names an unknown kid (at most once a
    second). Any failure on the way is a refusal: 401 for a bad token, 503
    when the keys cannot be had. A token that verified is remembered for
    the key set it verified with (gateway_token_cache), so its signature is
    checked once, not on every request; whether its session has ended is
    still asked every time.
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

//  Verified-token cache counters for /metrics: tokens found, and tokens
//  that had to be verified (0 before the first key set)
void
    gateway_auth_cache_counts (uint64_t *hits, uint64_t *misses);

//  Release the cached keys (at shutdown)
void
    gateway_auth_shutdown (void);

#endif
