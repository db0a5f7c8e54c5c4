/*  audit_verify - recompute the whole chain and hold it against the latest
    signed checkpoint; the service's audit.verify and `audit --verify` both
    run this.

    The latest checkpoint is read before the chain, so a checkpoint written
    meanwhile can never look ahead of what the scan sees. The scan reads one
    snapshot in batches and stops at the first bad event.
*/
#ifndef AUDIT_VERIFY_H_INCLUDED
#define AUDIT_VERIFY_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>
#include "audit_checkpoint.h"

typedef struct {
    bool ok;                        //  every check passed
    int64_t events;                 //  events checked
    char head [65];                 //  hash of the last event, "" when none
    int64_t first_bad_seq;          //  0 when ok
    int64_t checkpoint_seq;         //  the checkpoint used, 0 when none
    char problem [512];             //  why not ok, "" when ok
} audit_verify_result_t;

//  ----------------------------------------------------------------------
//  Verify the chain in db against the latest checkpoint in dir made with
//  key. Returns 0 when the verification ran (out says ok or not), -1 when
//  it could not (the database did not answer; logged).
int
    audit_verify_run (PGconn *db, const audit_checkpoint_key_t *key, const char *dir,
                      audit_verify_result_t *out);

//  ----------------------------------------------------------------------
//  `audit --verify`: the service's settings from the environment, one run,
//  one line on stdout. Exit status: 0 ok, 1 the chain is bad, 2 bad
//  configuration, 3 the keys or the database could not be used.
int
    audit_verify_main (int argc, char **argv);

#endif
