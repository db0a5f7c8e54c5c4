/*  gateway_auth - the one place where identity is verified

    Access tokens are checked here with auth's public keys, parsed once per
    kid and cached for the process (verification never re-parses a key).
    The key set, issuer and audience come from auth itself (auth.jwks), on
    first use and again when a token names an unknown kid (at most once a
    second). Any failure on the way is a refusal: 401 for a bad token, 503
    when the keys cannot be had. A token that verified is remembered for
    the key set it verified with (gateway_token_cache), so its signature is
    checked once, not on every request.

    A verified token is not enough: its session may have ended since. That
    is asked of Redis (revoked:<sid>) on every request, and of auth itself
    when Redis cannot answer. The two steps are apart so that the Redis
    question can ride with another (the route's rate limit);
    gateway_auth_verify runs them one after the other.
*/
#ifndef GATEWAY_AUTH_H_INCLUDED
#define GATEWAY_AUTH_H_INCLUDED

#include "gateway_http.h"
#include "../../common/cm_jwt.h"

//  ----------------------------------------------------------------------
//  Verify the request's bearer token and fill req->ctx with the identity:
//  gateway_auth_token, then gateway_auth_session with Redis's answer.
//  Returns 0, or sends the refusal itself and returns its HTTP status.
int
    gateway_auth_verify (gateway_req_t *req);

//  ----------------------------------------------------------------------
//  Verify the request's bearer token (signature, issuer, audience, times)
//  into claims, in process but for a key fetch. Returns 0, or sends the
//  refusal itself and returns its status: 401, or 503 without keys.
//  req->ctx is not touched: the session is still to be checked.
int
    gateway_auth_token (gateway_req_t *req, cm_jwt_claims_t *claims);

//  The Redis key that exists once the session of claims has ended, into
//  key (64 bytes are enough)
void
    gateway_auth_revoked_key (const cm_jwt_claims_t *claims, char *key, size_t size);

//  ----------------------------------------------------------------------
//  Admit verified claims given what Redis said of the revoked key: 1
//  ended, 0 alive, -1 could not say (auth's own session table is asked
//  then). Fills req->ctx with the identity and returns 0, or sends the
//  refusal itself and returns its status: 401 ended, 503 nobody could say.
int
    gateway_auth_session (gateway_req_t *req, const cm_jwt_claims_t *claims, int ended);

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
