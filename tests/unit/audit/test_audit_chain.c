/*  test_audit_chain - the canonical form and hash vectors, and a verifier
    that finds the first changed, removed or reordered event */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../../services/audit/audit_chain.h"

//  Two events and their hashes, computed apart from this code (Python's
//  hashlib over the canonical form as audit_chain.h defines it)
static const audit_chain_event_t s_first = {
    .seq = 1, .id = "0b6f3c2e-8a51-4c1d-9e2f-1a2b3c4d5e6f", .at_ms = 1714564800000,
    .type = "auth.login.failure", .service = "auth", .outcome = "failure",
    .user_id = NULL, .request_id = "req-1", .detail = "{\"reason\":\"unknown_email\"}"
};
#define FIRST_CANONICAL "8:audit.v1,1:1,36:0b6f3c2e-8a51-4c1d-9e2f-1a2b3c4d5e6f,13:1714564800000," \
                        "18:auth.login.failure,4:auth,7:failure,-,5:req-1,26:{\"reason\":\"unknown_email\"},"
#define FIRST_HASH      "b1fe644d5bbf09b602171ab4d1ee3fbb2423bbdbdec38454d6dc8217684e22fa"

static const audit_chain_event_t s_second = {
    .seq = 2, .id = "1c7e4d3f-9b62-4d2e-8f30-2b3c4d5e6f70", .at_ms = 1714564801234,
    .type = "mission.created", .service = "missions", .outcome = "success",
    .user_id = "2d8f5e40-ac73-4e3f-9041-3c4d5e6f7081", .request_id = NULL,
    .detail = "{\"mission_id\":\"\xc3\xa9\"}"          //  é: two bytes, one character
};
#define SECOND_CANONICAL "8:audit.v1,1:2,36:1c7e4d3f-9b62-4d2e-8f30-2b3c4d5e6f70,13:1714564801234," \
                         "15:mission.created,8:missions,7:success,36:2d8f5e40-ac73-4e3f-9041-3c4d5e6f7081,-," \
                         "19:{\"mission_id\":\"\xc3\xa9\"},"
#define SECOND_HASH     "7d118d98d776d3d40321f20eb0181539d46a9df35cf3c3bcac013efffc920edf"

Test (audit_chain, canonical_form_is_fixed_order_length_prefixed)
{
    size_t len = 0;
    char *text = audit_chain_canonical (&s_first, &len);
    cr_assert_str_eq (text, FIRST_CANONICAL);
    cr_assert_eq (len, strlen (FIRST_CANONICAL));
    free (text);
    text = audit_chain_canonical (&s_second, &len);
    cr_assert_str_eq (text, SECOND_CANONICAL, "lengths count bytes: %s", text);
    free (text);
}

Test (audit_chain, empty_and_absent_are_the_same)
{
    audit_chain_event_t e = s_first;
    e.request_id = "";
    e.detail = "";
    size_t len_empty = 0, len_null = 0;
    char *empty = audit_chain_canonical (&e, &len_empty);
    e.request_id = NULL;
    e.detail = NULL;
    char *absent = audit_chain_canonical (&e, &len_null);
    cr_assert_str_eq (empty, absent);
    free (empty);
    free (absent);
}

Test (audit_chain, no_two_events_share_a_canonical_form)
{
    //  Moving a byte from one field to the next changes the form
    audit_chain_event_t a = s_first, b = s_first;
    a.type = "auth.login";
    a.service = ".failureauth";
    b.type = "auth.login.failure";
    b.service = "auth";
    size_t la, lb;
    char *ta = audit_chain_canonical (&a, &la), *tb = audit_chain_canonical (&b, &lb);
    cr_assert_str_neq (ta, tb);
    free (ta);
    free (tb);
}

Test (audit_chain, hash_vectors)
{
    char hash [AUDIT_CHAIN_HEX];
    cr_assert_eq (audit_chain_hash (AUDIT_CHAIN_GENESIS, &s_first, hash), 0);
    cr_assert_str_eq (hash, FIRST_HASH);
    cr_assert_eq (audit_chain_hash (FIRST_HASH, &s_second, hash), 0);
    cr_assert_str_eq (hash, SECOND_HASH);
    //  prev_hash must be exactly 64 lower-case hex digits
    cr_assert_eq (audit_chain_hash ("ABC", &s_first, hash), -1);
    cr_assert_eq (audit_chain_hash ("B1FE644D5BBF09B602171AB4D1EE3FBB2423BBDBDEC38454D6DC8217684E22FA", &s_first, hash), -1);
    cr_assert (audit_chain_is_hash (FIRST_HASH));
    cr_assert_not (audit_chain_is_hash (FIRST_HASH "0"));
    cr_assert_not (audit_chain_is_hash (NULL));
}

//  A chain of count events, each with its stored prev_hash and hash
typedef struct {
    audit_chain_event_t events [8];
    char ids [8][37];
    char prev [8][AUDIT_CHAIN_HEX];
    char hash [8][AUDIT_CHAIN_HEX];
    int count;
} chain_t;

static void
s_build (chain_t *c, int count)
{
    memset (c, 0, sizeof *c);
    c->count = count;
    const char *prev = AUDIT_CHAIN_GENESIS;
    for (int i = 0; i < count; i++) {
        snprintf (c->ids [i], sizeof c->ids [i], "00000000-0000-4000-8000-%012d", i + 1);
        c->events [i] = (audit_chain_event_t) {
            .seq = i + 1, .id = c->ids [i], .at_ms = 1714564800000 + i, .type = "authz.denied",
            .service = "gateway", .outcome = "denied", .request_id = "r", .detail = "{}"
        };
        snprintf (c->prev [i], sizeof c->prev [i], "%s", prev);
        cr_assert_eq (audit_chain_hash (prev, &c->events [i], c->hash [i]), 0);
        prev = c->hash [i];
    }
}

//  Feed rows in the given order (indexes into c); the verifier's result
static int
s_verify (const chain_t *c, const int *order, int count, int64_t cp_seq, const char *cp_hash,
          audit_chain_verifier_t *v)
{
    audit_chain_verifier_init (v, cp_seq, cp_hash);
    for (int i = 0; i < count; i++)
        audit_chain_verifier_feed (v, &c->events [order [i]], c->prev [order [i]], c->hash [order [i]]);
    return audit_chain_verifier_finish (v);
}

Test (audit_chain, an_intact_chain_verifies)
{
    chain_t c;
    s_build (&c, 6);
    int order [] = { 0, 1, 2, 3, 4, 5 };
    audit_chain_verifier_t v;
    cr_assert_eq (s_verify (&c, order, 6, 0, NULL, &v), 0, "%s", v.problem);
    cr_assert_eq (v.events, 6);
    cr_assert_eq (s_verify (&c, order, 6, 4, c.hash [3], &v), 0, "%s", v.problem);
    //  No events, no checkpoint: nothing to object to
    cr_assert_eq (s_verify (&c, order, 0, 0, NULL, &v), 0);
}

Test (audit_chain, a_changed_event_is_found)
{
    chain_t c;
    s_build (&c, 6);
    c.events [2].detail = "{\"changed\":true}";
    int order [] = { 0, 1, 2, 3, 4, 5 };
    audit_chain_verifier_t v;
    cr_assert_eq (s_verify (&c, order, 6, 0, NULL, &v), -1);
    cr_assert_eq (v.first_bad, 3, "%s", v.problem);
    //  Changing an event and its hash breaks the next one's prev_hash
    cr_assert_eq (audit_chain_hash (c.prev [2], &c.events [2], c.hash [2]), 0);
    cr_assert_eq (s_verify (&c, order, 6, 0, NULL, &v), -1);
    cr_assert_eq (v.first_bad, 4, "%s", v.problem);
}

Test (audit_chain, a_removed_event_is_found)
{
    chain_t c;
    s_build (&c, 6);
    int order [] = { 0, 1, 3, 4, 5 };
    audit_chain_verifier_t v;
    cr_assert_eq (s_verify (&c, order, 5, 0, NULL, &v), -1);
    cr_assert_eq (v.first_bad, 3, "%s", v.problem);
    cr_assert_not_null (strstr (v.problem, "missing"), "%s", v.problem);
    //  The first one too
    int no_first [] = { 1, 2, 3 };
    cr_assert_eq (s_verify (&c, no_first, 3, 0, NULL, &v), -1);
    cr_assert_eq (v.first_bad, 1);
}

Test (audit_chain, reordered_events_are_found)
{
    chain_t c;
    s_build (&c, 6);
    //  Events 3 and 4 trade places, each keeping its own seq: the scan by
    //  seq finds them out of order
    int order [] = { 0, 1, 3, 2, 4, 5 };
    audit_chain_verifier_t v;
    cr_assert_eq (s_verify (&c, order, 6, 0, NULL, &v), -1);
    cr_assert_eq (v.first_bad, 3, "%s", v.problem);
    //  ...or trade seqs as well, so the seqs still run 1..6
    c.events [2].seq = 4;
    c.events [3].seq = 3;
    cr_assert_eq (s_verify (&c, order, 6, 0, NULL, &v), -1);
    cr_assert_eq (v.first_bad, 3, "%s", v.problem);
}

Test (audit_chain, a_rewritten_chain_disagrees_with_the_checkpoint)
{
    chain_t c;
    s_build (&c, 6);
    char signed_hash [AUDIT_CHAIN_HEX];
    snprintf (signed_hash, sizeof signed_hash, "%s", c.hash [4]);
    //  Someone rewrites event 2 and every hash after it: the chain is
    //  consistent in itself
    c.events [1].outcome = "success";
    for (int i = 1; i < 6; i++) {
        if (i > 1)
            memcpy (c.prev [i], c.hash [i - 1], AUDIT_CHAIN_HEX);
        cr_assert_eq (audit_chain_hash (c.prev [i], &c.events [i], c.hash [i]), 0);
    }
    int order [] = { 0, 1, 2, 3, 4, 5 };
    audit_chain_verifier_t v;
    cr_assert_eq (s_verify (&c, order, 6, 0, NULL, &v), 0, "without a checkpoint it looks fine");
    cr_assert_eq (s_verify (&c, order, 6, 5, signed_hash, &v), -1);
    cr_assert_eq (v.first_bad, 5, "%s", v.problem);
    cr_assert_not_null (strstr (v.problem, "checkpoint"), "%s", v.problem);
}

Test (audit_chain, a_chain_cut_below_the_checkpoint_is_found)
{
    chain_t c;
    s_build (&c, 6);
    int order [] = { 0, 1, 2, 3 };
    audit_chain_verifier_t v;
    cr_assert_eq (s_verify (&c, order, 4, 0, NULL, &v), 0, "a prefix is a valid chain");
    cr_assert_eq (s_verify (&c, order, 4, 6, c.hash [5], &v), -1);
    cr_assert_eq (v.first_bad, 5, "%s", v.problem);
    cr_assert_not_null (strstr (v.problem, "removed"), "%s", v.problem);
    //  All of it gone
    cr_assert_eq (s_verify (&c, order, 0, 6, c.hash [5], &v), -1);
    cr_assert_eq (v.first_bad, 1);
}
