/*  audit_chain - the canonical form of an event and the hash chain

    Every stored event has a sequence number (1, 2, ... without gaps) and

        hash = lower-case hex of SHA-256 (prev_hash || canonical event)

    where prev_hash is the 64 lower-case hex characters of the previous
    event's hash (64 '0' characters before seq 1) and the canonical event is
    these fields, in this order, each written as its length in bytes in
    decimal, a colon, the bytes and a comma ("5:hello,"), or as "-," when
    the field is absent:

        1  the version tag "audit.v1"
        2  seq, decimal without leading zeros
        3  id, the lower-case UUID
        4  at_ms, milliseconds since 1970 UTC, decimal
        5  type          6  service       7  outcome
        8  user_id, lower-case UUID, or absent
        9  request_id, or absent
       10  detail, the public part exactly as stored, or absent

    An empty optional field is stored and hashed as absent. The personal
    data of an event (its ip and the personal members of its detail: see
    audit_personal.h) is never part of it, so erasing it leaves every hash
    intact. Pure functions: no database, no files.
*/
#ifndef AUDIT_CHAIN_H_INCLUDED
#define AUDIT_CHAIN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_CHAIN_HEX     65          //  64 hex digits and the NUL
#define AUDIT_CHAIN_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
#define AUDIT_CHAIN_TAG     "audit.v1"

//  The hashed fields of one event; strings are borrowed
typedef struct {
    int64_t seq;                    //  1, 2, ...
    const char *id;                 //  lower-case UUID
    int64_t at_ms;                  //  when it happened, ms since 1970 UTC
    const char *type;
    const char *service;
    const char *outcome;
    const char *user_id;            //  NULL when none
    const char *request_id;         //  NULL when none
    const char *detail;             //  public detail, NULL when none
} audit_chain_event_t;

//  ----------------------------------------------------------------------
//  The canonical form of e, malloc'd (caller frees), its length into *len.
//  NULL when out of memory.
char *
    audit_chain_canonical (const audit_chain_event_t *e, size_t *len);

//  hash = SHA-256 (prev_hash || canonical (e)) as hex into hash
//  [AUDIT_CHAIN_HEX]. prev_hash must be 64 lower-case hex digits. 0 or -1.
int
    audit_chain_hash (const char *prev_hash, const audit_chain_event_t *e, char *hash);

//  True when text is exactly 64 lower-case hex digits
bool
    audit_chain_is_hash (const char *text);

//  ----------------------------------------------------------------------
//  Recomputes a stored chain fed row by row in seq order, and holds it
//  against a signed checkpoint (seq, hash) when there is one.
typedef struct {
    int64_t expected;               //  the seq the next row must have
    char prev [AUDIT_CHAIN_HEX];    //  stored hash of the last row fed
    int64_t events;                 //  rows fed
    int64_t checkpoint_seq;         //  0: no checkpoint
    char checkpoint_hash [AUDIT_CHAIN_HEX];
    bool checkpoint_matched;        //  the row at checkpoint_seq had its hash
    int64_t first_bad;              //  0 while every row was good
    char problem [256];             //  why first_bad is bad
} audit_chain_verifier_t;

//  Start a verification; checkpoint_seq 0 (hash NULL) when there is none
void
    audit_chain_verifier_init (audit_chain_verifier_t *self, int64_t checkpoint_seq,
                               const char *checkpoint_hash);

//  Feed the next stored row: its fields and its stored prev_hash and hash.
//  Returns 0 while the chain holds, -1 once it does not (first_bad and
//  problem say where and why; later rows are then ignored).
int
    audit_chain_verifier_feed (audit_chain_verifier_t *self, const audit_chain_event_t *e,
                               const char *stored_prev, const char *stored_hash);

//  After the last row: the chain must reach the checkpoint. 0 when every
//  check passed, else -1 with first_bad and problem set.
int
    audit_chain_verifier_finish (audit_chain_verifier_t *self);

#endif
