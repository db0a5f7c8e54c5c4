/*  gateway_token_cache - access tokens already verified, so a signature is checked once

    A fixed table keyed by the SHA-256 of the whole token: a token that
    verified once is not parsed and ECDSA-checked again on every request.
    Only what cm_jwt_verify accepted is stored, tagged with the generation
    of the key set (with its issuer and audience) it was verified against;
    invalidating bumps the generation, so a withdrawn key stops being
    accepted at once. A hit is used only while verification's time rules
    still hold (cm_jwt_claims_current), so nothing lives past exp + leeway.
    Whether the session has ended is not the cache's business: the caller
    checks that on every request, hit or miss.

    Memory is fixed: one slot per digest position, a new token replaces
    whatever sat there. Slots are locked in stripes, so any number of
    CivetWeb workers may read and write at once.
*/
#ifndef GATEWAY_TOKEN_CACHE_H_INCLUDED
#define GATEWAY_TOKEN_CACHE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../../common/cm_jwt.h"

#define GATEWAY_TOKEN_CACHE_SLOTS       4096        //  default size (~2.3 MB)
#define GATEWAY_TOKEN_CACHE_SLOTS_MAX   (1u << 16)  //  largest table gateway_token_cache_new makes

typedef struct gateway_token_cache_s gateway_token_cache_t;

//  ----------------------------------------------------------------------
//  An empty cache of slots entries (0: GATEWAY_TOKEN_CACHE_SLOTS; rounded
//  up to a power of two, 64 at least). NULL when slots is over
//  GATEWAY_TOKEN_CACHE_SLOTS_MAX or memory or SHA-256 is missing.
gateway_token_cache_t *
    gateway_token_cache_new (size_t slots);

//  Destroy a cache (claims are wiped); idempotent, nulls *self_p
void
    gateway_token_cache_destroy (gateway_token_cache_t **self_p);

//  ----------------------------------------------------------------------
//  The current generation. Read it when the key set is read, verify, and
//  pass it to put: a verification that raced an invalidation is dropped.
uint64_t
    gateway_token_cache_generation (gateway_token_cache_t *self);

//  Forget every entry: call whenever the key set, issuer or audience change
void
    gateway_token_cache_invalidate (gateway_token_cache_t *self);

//  ----------------------------------------------------------------------
//  Claims of token if it was stored in the current generation and, at
//  now (seconds since the epoch, the clock verification uses) with
//  leeway_s, cm_jwt_claims_current accepts them. Returns true and fills
//  claims on a hit; false, claims untouched, otherwise.
bool
    gateway_token_cache_get (gateway_token_cache_t *self, const char *token, int64_t now,
                             int64_t leeway_s, cm_jwt_claims_t *claims);

//  ----------------------------------------------------------------------
//  Remember that token verified as claims against the key set of
//  generation. Only for CM_JWT_OK; nothing is stored when generation is
//  no longer current or token is longer than CM_JWT_TOKEN_MAX.
void
    gateway_token_cache_put (gateway_token_cache_t *self, const char *token, uint64_t generation,
                             const cm_jwt_claims_t *claims);

//  ----------------------------------------------------------------------
//  Counters for metrics and tests, readable from any thread
uint64_t
    gateway_token_cache_hits (gateway_token_cache_t *self);
uint64_t
    gateway_token_cache_misses (gateway_token_cache_t *self);
size_t
    gateway_token_cache_slots (const gateway_token_cache_t *self);

#endif
