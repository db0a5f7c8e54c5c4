/*  test_gateway_token_cache - verified tokens: hits, generations, time rules,
    replacement and bounded size, many threads at once

    The cache never verifies anything itself, so the claims here are made
    up; what matters is which token gets which claims back, and when none.
*/
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include "../../../services/gateway/gateway_token_cache.h"

#define NOW     1800000000LL            //  a plausible "now", seconds
#define LEEWAY  30
#define THREADS 8

//  Claims verify would return for a token issued at iat, living 900 s
static cm_jwt_claims_t
s_claims (int n, int64_t iat)
{
    cm_jwt_claims_t claims;
    memset (&claims, 0, sizeof claims);
    snprintf (claims.sub, sizeof claims.sub, "00000000-0000-4000-8000-%012d", n);
    snprintf (claims.sid, sizeof claims.sid, "11111111-0000-4000-8000-%012d", n);
    snprintf (claims.roles [0], sizeof claims.roles [0], "user");
    claims.roles_count = 1;
    snprintf (claims.amr [0], sizeof claims.amr [0], "pwd");
    claims.amr_count = 1;
    claims.iat = claims.auth_time = iat;
    claims.exp = iat + 900;
    snprintf (claims.jti, sizeof claims.jti, "jti-%d", n);
    return claims;
}

//  A token-shaped string, distinct for each n
static void
s_token (int n, char *out, size_t size)
{
    snprintf (out, size, "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIlZCJ9-%08d.c2lnbmF0dXJl", n);
}

static gateway_token_cache_t *
s_cache (size_t slots)
{
    gateway_token_cache_t *self = gateway_token_cache_new (slots);
    cr_assert_not_null (self);
    return self;
}

Test (token_cache, sizes_are_bounded)
{
    gateway_token_cache_t *self = s_cache (0);
    cr_assert_eq (gateway_token_cache_slots (self), GATEWAY_TOKEN_CACHE_SLOTS);
    gateway_token_cache_destroy (&self);
    cr_assert_null (self);
    gateway_token_cache_destroy (&self);        //  idempotent
    self = s_cache (1000);
    cr_assert_eq (gateway_token_cache_slots (self), 1024);
    gateway_token_cache_destroy (&self);
    self = s_cache (1);
    cr_assert_eq (gateway_token_cache_slots (self), 64);
    gateway_token_cache_destroy (&self);
    cr_assert_null (gateway_token_cache_new (GATEWAY_TOKEN_CACHE_SLOTS_MAX + 1));
}

Test (token_cache, a_stored_token_is_a_hit_and_no_other)
{
    gateway_token_cache_t *self = s_cache (0);
    char token [128], other [128];
    s_token (1, token, sizeof token);
    s_token (2, other, sizeof other);
    cm_jwt_claims_t stored = s_claims (1, NOW), found;
    cr_assert_not (gateway_token_cache_get (self, token, NOW, LEEWAY, &found));
    gateway_token_cache_put (self, token, gateway_token_cache_generation (self), &stored);
    memset (&found, 0, sizeof found);
    cr_assert (gateway_token_cache_get (self, token, NOW, LEEWAY, &found));
    cr_assert_eq (memcmp (&found, &stored, sizeof found), 0);
    cr_assert_not (gateway_token_cache_get (self, other, NOW, LEEWAY, &found));
    //  One character more or less is another token
    char longer [130];
    snprintf (longer, sizeof longer, "%s.", token);
    cr_assert_not (gateway_token_cache_get (self, longer, NOW, LEEWAY, &found));
    token [strlen (token) - 1] = 0;
    cr_assert_not (gateway_token_cache_get (self, token, NOW, LEEWAY, &found));
    cr_assert_not (gateway_token_cache_get (self, "", NOW, LEEWAY, &found));
    cr_assert_eq (gateway_token_cache_hits (self), 1);
    cr_assert_eq (gateway_token_cache_misses (self), 5);
    gateway_token_cache_destroy (&self);
}

Test (token_cache, time_rules_are_verifys)
{
    gateway_token_cache_t *self = s_cache (0);
    char token [128];
    s_token (1, token, sizeof token);
    cm_jwt_claims_t stored = s_claims (1, NOW), found;
    gateway_token_cache_put (self, token, gateway_token_cache_generation (self), &stored);
    int64_t exp = stored.exp;
    //  Accepted while now < exp + leeway, as cm_jwt_verify does
    cr_assert (gateway_token_cache_get (self, token, exp + LEEWAY - 1, LEEWAY, &found));
    cr_assert_not (gateway_token_cache_get (self, token, exp + LEEWAY, LEEWAY, &found));
    cr_assert_not (gateway_token_cache_get (self, token, exp + LEEWAY, 0, &found));
    cr_assert_not (gateway_token_cache_get (self, token, exp, 0, &found));
    cr_assert (gateway_token_cache_get (self, token, exp - 1, 0, &found));
    //  A clock set back before iat (or auth_time) is refused like verify refuses
    cr_assert_not (gateway_token_cache_get (self, token, NOW - LEEWAY - 1, LEEWAY, &found));
    cr_assert (gateway_token_cache_get (self, token, NOW - LEEWAY, LEEWAY, &found));
    //  and before nbf
    stored.nbf = NOW + 100;
    gateway_token_cache_put (self, token, gateway_token_cache_generation (self), &stored);
    cr_assert_not (gateway_token_cache_get (self, token, NOW + 69, LEEWAY, &found));
    cr_assert (gateway_token_cache_get (self, token, NOW + 70, LEEWAY, &found));
    //  Every verdict agrees with cm_jwt_claims_current
    for (int64_t now = NOW - 100; now < exp + 100; now += 7)
        cr_assert_eq (gateway_token_cache_get (self, token, now, LEEWAY, &found),
                      cm_jwt_claims_current (&stored, now, LEEWAY) == CM_JWT_OK, "now %lld", (long long) now);
    gateway_token_cache_destroy (&self);
}

Test (token_cache, invalidation_forgets_everything)
{
    gateway_token_cache_t *self = s_cache (0);
    char token [128];
    cm_jwt_claims_t found;
    uint64_t before = gateway_token_cache_generation (self);
    for (int i = 0; i < 100; i++) {
        s_token (i, token, sizeof token);
        cm_jwt_claims_t stored = s_claims (i, NOW);
        gateway_token_cache_put (self, token, before, &stored);
    }
    gateway_token_cache_invalidate (self);
    cr_assert_neq (gateway_token_cache_generation (self), before);
    for (int i = 0; i < 100; i++) {
        s_token (i, token, sizeof token);
        cr_assert_not (gateway_token_cache_get (self, token, NOW, LEEWAY, &found), "token %d", i);
    }
    gateway_token_cache_destroy (&self);
}

Test (token_cache, a_verification_older_than_the_key_set_is_dropped)
{
    gateway_token_cache_t *self = s_cache (0);
    char token [128];
    s_token (1, token, sizeof token);
    cm_jwt_claims_t stored = s_claims (1, NOW), found;
    //  Verified with the old keys, stored after they were replaced
    uint64_t generation = gateway_token_cache_generation (self);
    gateway_token_cache_invalidate (self);
    gateway_token_cache_put (self, token, generation, &stored);
    cr_assert_not (gateway_token_cache_get (self, token, NOW, LEEWAY, &found));
    gateway_token_cache_put (self, token, 0, &stored);
    cr_assert_not (gateway_token_cache_get (self, token, NOW, LEEWAY, &found));
    gateway_token_cache_put (self, token, gateway_token_cache_generation (self), &stored);
    cr_assert (gateway_token_cache_get (self, token, NOW, LEEWAY, &found));
    gateway_token_cache_destroy (&self);
}

Test (token_cache, an_oversized_token_is_never_stored)
{
    gateway_token_cache_t *self = s_cache (0);
    static char token [CM_JWT_TOKEN_MAX + 2];
    memset (token, 'a', sizeof token - 1);
    token [sizeof token - 1] = 0;
    cm_jwt_claims_t stored = s_claims (1, NOW), found;
    gateway_token_cache_put (self, token, gateway_token_cache_generation (self), &stored);
    cr_assert_not (gateway_token_cache_get (self, token, NOW, LEEWAY, &found));
    //  The longest a token may be is fine
    token [CM_JWT_TOKEN_MAX] = 0;
    gateway_token_cache_put (self, token, gateway_token_cache_generation (self), &stored);
    cr_assert (gateway_token_cache_get (self, token, NOW, LEEWAY, &found));
    gateway_token_cache_destroy (&self);
}

//  Far more tokens than slots: each answer is that token's own claims or a
//  miss, never another token's, and memory stays what it was made with
Test (token_cache, replacement_never_mixes_tokens)
{
    gateway_token_cache_t *self = s_cache (64);
    char token [128];
    cm_jwt_claims_t found;
    uint64_t generation = gateway_token_cache_generation (self);
    for (int i = 0; i < 1000; i++) {
        s_token (i, token, sizeof token);
        cm_jwt_claims_t stored = s_claims (i, NOW);
        gateway_token_cache_put (self, token, generation, &stored);
    }
    int hits = 0;
    for (int i = 0; i < 1000; i++) {
        s_token (i, token, sizeof token);
        if (gateway_token_cache_get (self, token, NOW, LEEWAY, &found)) {
            cm_jwt_claims_t stored = s_claims (i, NOW);
            cr_assert_eq (memcmp (&found, &stored, sizeof found), 0, "token %d got other claims", i);
            hits++;
        }
    }
    cr_assert_gt (hits, 0);
    cr_assert_leq (hits, 64);
    cr_assert_eq (gateway_token_cache_slots (self), 64);
    gateway_token_cache_destroy (&self);
}

static atomic_int s_wrong;

static void *
s_hammer (void *args)
{
    gateway_token_cache_t *self = (gateway_token_cache_t *) args;
    char token [128];
    cm_jwt_claims_t found;
    for (int round = 0; round < 20000; round++) {
        int n = round % 300;
        s_token (n, token, sizeof token);
        if (gateway_token_cache_get (self, token, NOW, LEEWAY, &found)) {
            cm_jwt_claims_t stored = s_claims (n, NOW);
            if (memcmp (&found, &stored, sizeof found) != 0)
                atomic_fetch_add (&s_wrong, 1);
        }
        else {
            cm_jwt_claims_t stored = s_claims (n, NOW);
            gateway_token_cache_put (self, token, gateway_token_cache_generation (self), &stored);
        }
        if (round % 5000 == 4999)
            gateway_token_cache_invalidate (self);
    }
    return NULL;
}

Test (token_cache, many_threads_at_once, .timeout = 60)
{
    gateway_token_cache_t *self = s_cache (256);
    pthread_t threads [THREADS];
    atomic_store (&s_wrong, 0);
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq (pthread_create (&threads [i], NULL, s_hammer, self), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join (threads [i], NULL);
    cr_assert_eq (atomic_load (&s_wrong), 0);
    cr_assert_eq (gateway_token_cache_hits (self) + gateway_token_cache_misses (self),
                  (uint64_t) THREADS * 20000);
    cr_assert_gt (gateway_token_cache_hits (self), 0);
    gateway_token_cache_destroy (&self);
}
