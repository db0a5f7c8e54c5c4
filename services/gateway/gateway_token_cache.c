/*  gateway_token_cache - access tokens already verified, so a signature is checked once

    The slot of a token is picked by the first bytes of its digest and a hit
    needs all 32 to match, so two tokens never share claims. An entry holds
    the generation it was stored in; 0 marks a free slot (generations start
    at 1), so invalidating is one atomic increment and no sweep.
*/
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "gateway_token_cache.h"

#define S_STRIPES   64                  //  locks, each guarding every 64th slot

typedef struct {
    uint8_t digest [32];                //  SHA-256 of the token
    uint64_t generation;                //  when stored; 0 = free
    cm_jwt_claims_t claims;             //  as cm_jwt_verify returned them
} s_entry_t;

struct gateway_token_cache_s {
    EVP_MD *sha256;                     //  fetched once, owned
    s_entry_t *entries;                 //  owned, slots of them
    size_t slots;                       //  a power of two
    pthread_mutex_t locks [S_STRIPES];  //  slot i is guarded by locks [i % S_STRIPES]
    atomic_uint_fast64_t generation;    //  entries of older ones are ignored
    atomic_uint_fast64_t hits;
    atomic_uint_fast64_t misses;
};

gateway_token_cache_t *
gateway_token_cache_new (size_t slots)
{
    if (slots == 0)
        slots = GATEWAY_TOKEN_CACHE_SLOTS;
    if (slots > GATEWAY_TOKEN_CACHE_SLOTS_MAX)
        return NULL;
    size_t size = S_STRIPES;
    while (size < slots)
        size *= 2;
    gateway_token_cache_t *self = (gateway_token_cache_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = size;
    self->entries = (s_entry_t *) calloc (size, sizeof (s_entry_t));
    self->sha256 = EVP_MD_fetch (NULL, "SHA2-256", NULL);
    if (!self->entries || !self->sha256) {
        EVP_MD_free (self->sha256);
        free (self->entries);
        free (self);
        return NULL;
    }
    for (size_t i = 0; i < S_STRIPES; i++)
        pthread_mutex_init (&self->locks [i], NULL);
    atomic_init (&self->generation, 1);
    atomic_init (&self->hits, 0);
    atomic_init (&self->misses, 0);
    return self;
}

void
gateway_token_cache_destroy (gateway_token_cache_t **self_p)
{
    assert (self_p);
    gateway_token_cache_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < S_STRIPES; i++)
            pthread_mutex_destroy (&self->locks [i]);
        OPENSSL_cleanse (self->entries, self->slots * sizeof (s_entry_t));
        free (self->entries);
        EVP_MD_free (self->sha256);
        free (self);
        *self_p = NULL;
    }
}

uint64_t
gateway_token_cache_generation (gateway_token_cache_t *self)
{
    assert (self);
    return atomic_load (&self->generation);
}

void
gateway_token_cache_invalidate (gateway_token_cache_t *self)
{
    assert (self);
    atomic_fetch_add (&self->generation, 1);
}

//  The token's digest and slot; -1 for a token verify would never accept
static int
s_locate (gateway_token_cache_t *self, const char *token, uint8_t digest [32], size_t *slot)
{
    size_t len = strnlen (token, CM_JWT_TOKEN_MAX + 1);
    unsigned int digest_len = 0;
    if (len == 0 || len > CM_JWT_TOKEN_MAX
    ||  EVP_Digest (token, len, digest, &digest_len, self->sha256, NULL) != 1 || digest_len != 32)
        return -1;
    uint64_t index;
    memcpy (&index, digest, sizeof index);
    *slot = (size_t) (index & (self->slots - 1));
    return 0;
}

bool
gateway_token_cache_get (gateway_token_cache_t *self, const char *token, int64_t now,
                         int64_t leeway_s, cm_jwt_claims_t *claims)
{
    assert (self);
    assert (token);
    assert (claims);
    uint8_t digest [32];
    size_t slot;
    bool hit = false;
    cm_jwt_claims_t found = { 0 };
    if (s_locate (self, token, digest, &slot) == 0) {
        uint64_t generation = atomic_load (&self->generation);
        pthread_mutex_t *lock = &self->locks [slot % S_STRIPES];
        s_entry_t *entry = &self->entries [slot];
        pthread_mutex_lock (lock);
        hit = entry->generation == generation
           && CRYPTO_memcmp (entry->digest, digest, sizeof digest) == 0;
        if (hit)
            found = entry->claims;
        pthread_mutex_unlock (lock);
    }
    //  The clock moves on (or back): the time rules are applied afresh
    hit = hit && cm_jwt_claims_current (&found, now, leeway_s) == CM_JWT_OK;
    if (hit)
        *claims = found;
    atomic_fetch_add (hit? &self->hits: &self->misses, 1);
    return hit;
}

void
gateway_token_cache_put (gateway_token_cache_t *self, const char *token, uint64_t generation,
                         const cm_jwt_claims_t *claims)
{
    assert (self);
    assert (token);
    assert (claims);
    uint8_t digest [32];
    size_t slot;
    if (generation == 0 || s_locate (self, token, digest, &slot) != 0)
        return;
    pthread_mutex_t *lock = &self->locks [slot % S_STRIPES];
    s_entry_t *entry = &self->entries [slot];
    pthread_mutex_lock (lock);
    //  Checked under the lock: an invalidation after it still outdates the entry
    if (generation == atomic_load (&self->generation)) {
        memcpy (entry->digest, digest, sizeof digest);
        entry->generation = generation;
        entry->claims = *claims;
    }
    pthread_mutex_unlock (lock);
}

uint64_t
gateway_token_cache_hits (gateway_token_cache_t *self)
{
    assert (self);
    return atomic_load (&self->hits);
}

uint64_t
gateway_token_cache_misses (gateway_token_cache_t *self)
{
    assert (self);
    return atomic_load (&self->misses);
}

size_t
gateway_token_cache_slots (const gateway_token_cache_t *self)
{
    assert (self);
    return self->slots;
}
