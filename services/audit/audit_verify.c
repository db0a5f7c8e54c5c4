/*  audit_verify - chain and checkpoint verification, and its command line */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "audit_verify.h"
#include "audit_chain.h"
#include "audit_handlers.h"
#include "audit_store.h"
#include "../../common/cm_db.h"
#include "../../common/cm_log.h"

int
audit_verify_run (PGconn *db, const audit_checkpoint_key_t *key, const char *dir,
                  audit_verify_result_t *out)
{
    memset (out, 0, sizeof *out);
    audit_checkpoint_t checkpoint;
    char problem [256];
    int found = audit_checkpoint_latest (key, dir, &checkpoint, problem, sizeof problem);
    if (found < 0) {
        //  A checkpoint file that does not verify is itself tampering
        snprintf (out->problem, sizeof out->problem, "%s", problem);
        out->ok = false;
    }
    audit_chain_verifier_t verifier;
    audit_chain_verifier_init (&verifier, found == 0? checkpoint.seq: 0, found == 0? checkpoint.hash: NULL);
    out->checkpoint_seq = found == 0? checkpoint.seq: 0;

    audit_store_row_t *rows = (audit_store_row_t *) calloc (AUDIT_STORE_SCAN_BATCH, sizeof (audit_store_row_t));
    if (!rows || audit_store_scan_begin (db)) {
        free (rows);
        return -1;
    }
    int rc = 0;
    int64_t after = 0;
    bool more = true;
    while (more && rc == 0) {
        int count = 0;
        if (audit_store_scan (db, after, AUDIT_STORE_SCAN_BATCH, rows, &count)) {
            rc = -1;
            break;
        }
        for (int i = 0; i < count; i++) {
            audit_chain_event_t e = audit_store_row_event (&rows [i]);
            if (verifier.first_bad == 0) {
                audit_chain_verifier_feed (&verifier, &e, rows [i].prev_hash, rows [i].hash);
                snprintf (out->head, sizeof out->head, "%s", rows [i].hash);
            }
            after = rows [i].seq;
            audit_store_row_clear (&rows [i]);
        }
        //  Past the first bad event nothing more can be learnt
        more = count == AUDIT_STORE_SCAN_BATCH && verifier.first_bad == 0;
    }
    audit_store_scan_end (db);
    free (rows);
    if (rc)
        return -1;
    audit_chain_verifier_finish (&verifier);
    out->events = verifier.events;
    out->first_bad_seq = verifier.first_bad;
    if (verifier.first_bad) {
        snprintf (out->problem, sizeof out->problem, "%s", verifier.problem);
        out->ok = false;
    }
    else
        out->ok = found >= 0;
    return 0;
}

static const char *
s_getenv (const char *name, void *arg)
{
    (void) arg;
    return getenv (name);
}

int
audit_verify_main (int argc, char **argv)
{
    (void) argc;
    (void) argv;
    signal (SIGPIPE, SIG_IGN);
    cm_config_t cfg;
    if (cm_config_load (&cfg, CM_SVC_AUDIT, s_getenv, NULL, stderr)) {
        fprintf (stderr, "audit --verify: invalid configuration (see audit --help)\n");
        cm_config_clear (&cfg);
        return 2;
    }
    //  Warnings and errors only: the one result line goes to stdout
    cm_log_init ("audit-verify", CM_LOG_WARN);
    int status = 3;
    audit_verify_result_t result;
    audit_checkpoint_key_t *key = audit_keys_load_checkpoint (&cfg);
    PGconn *db = key? cm_db_connect (&cfg): NULL;
    if (!key)
        fprintf (stderr, "audit --verify: the checkpoint key cannot be loaded\n");
    else
    if (!db)
        fprintf (stderr, "audit --verify: the database cannot be reached\n");
    else
    if (audit_verify_run (db, key, cfg.audit_checkpoint_dir, &result))
        fprintf (stderr, "audit --verify: the chain could not be read\n");
    else
    if (result.ok) {
        printf ("ok: %" PRId64 " events, head %s", result.events, result.head [0]? result.head: "(none)");
        if (result.checkpoint_seq)
            printf (", signed checkpoint at seq %" PRId64 " matches", result.checkpoint_seq);
        else
            printf (", no signed checkpoint yet");
        printf ("\n");
        status = 0;
    }
    else {
        if (result.first_bad_seq)
            printf ("bad: first bad seq %" PRId64 ": %s\n", result.first_bad_seq, result.problem);
        else
            printf ("bad: %s\n", result.problem);
        status = 1;
    }
    PQfinish (db);
    audit_checkpoint_key_destroy (&key);
    cm_config_clear (&cfg);
    return status;
}
