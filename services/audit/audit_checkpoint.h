/*  audit_checkpoint - signed heads of the chain, kept outside the database

    Now and then (AUDIT_CHECKPOINT_INTERVAL_S, and on a clean stop) the
    audit service signs the head of the chain with its own Ed25519 key and
    appends the result as one line to AUDIT_CHECKPOINT_DIR/checkpoints.log
    (and to its log). Someone who can write the database but not that key
    cannot make a rewritten or shortened chain agree with the latest line.

    A line, ending in LF:

        audit-checkpoint v1 seq=<n> hash=<64 hex> at=<ms> key=<64 hex> sig=<128 hex>

    seq and hash are the head's, at the signing time (ms since 1970 UTC),
    key the Ed25519 public key (hex), and sig the Ed25519 signature (hex) of
    the line's bytes before " sig=". The key file holds the 32-byte seed as
    64 hex digits (keygen makes KEYS_DIR/secrets/audit_checkpoint.key).
*/
#ifndef AUDIT_CHECKPOINT_H_INCLUDED
#define AUDIT_CHECKPOINT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define AUDIT_CHECKPOINT_FILE       "checkpoints.log"
#define AUDIT_CHECKPOINT_LINE_MAX   400         //  a line is about 330 bytes

typedef struct audit_checkpoint_key_s audit_checkpoint_key_t;

typedef struct {
    int64_t seq;                    //  >= 1
    char hash [65];                 //  of the event at seq
    int64_t at_ms;                  //  when it was signed
    char key [65];                  //  public key, hex
    char sig [129];                 //  signature, hex
} audit_checkpoint_t;

//  ----------------------------------------------------------------------
//  A key from a 32-byte seed, or from a file holding it as 64 hex digits.
//  NULL when the seed or file is not one.
audit_checkpoint_key_t *
    audit_checkpoint_key_new (const uint8_t seed [32]);
audit_checkpoint_key_t *
    audit_checkpoint_key_load (const char *path);
void
    audit_checkpoint_key_destroy (audit_checkpoint_key_t **self_p);

//  The public key as 64 hex digits (borrowed)
const char *
    audit_checkpoint_key_public (const audit_checkpoint_key_t *self);

//  ----------------------------------------------------------------------
//  Sign (seq, hash, at_ms) into line (size >= AUDIT_CHECKPOINT_LINE_MAX),
//  LF included. 0 or -1.
int
    audit_checkpoint_sign (const audit_checkpoint_key_t *self, int64_t seq, const char *hash,
                           int64_t at_ms, char *line, size_t size);

//  Read a line (len bytes, without its LF) into out and check its
//  signature: 0 when it is valid and made with self's key, 1 when it is
//  well-formed but made with another key (not checked), -1 when it is
//  malformed or its signature does not verify.
int
    audit_checkpoint_verify (const audit_checkpoint_key_t *self, const char *line, size_t len,
                             audit_checkpoint_t *out);

//  ----------------------------------------------------------------------
//  Append line to dir/checkpoints.log (created 0600 when missing) with one
//  write, then fsync. 0 or -1 (logged).
int
    audit_checkpoint_append (const char *dir, const char *line);

//  The latest line of dir/checkpoints.log made with self's key, into out.
//  Lines made with other keys and a last line without its LF (an append
//  cut short) are passed over. Returns 0 when found, 1 when there is none
//  (no file, or no such line), -1 when the file cannot be read or its
//  latest line of self's key does not verify (problem says which).
int
    audit_checkpoint_latest (const audit_checkpoint_key_t *self, const char *dir,
                             audit_checkpoint_t *out, char *problem, size_t size);

#endif
