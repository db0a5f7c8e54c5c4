/*  evidence_janitor - clears what interrupted uploads and deletes leave

    Runs at start-up and then every minute (cm_service's tick), on every
    replica; passes that meet do no harm (deleting twice is fine). An upload
    idle for longer than the URL lifetime + 60 s is dead: its row goes (only
    unfinished rows can), with its part file and any stored file a crash
    left between rename and commit. Part files in tmp/ that old with no
    upload in progress go too, and so do files in files/ that no row names
    (a crash between a delete's commit and its unlink).
*/
#ifndef EVIDENCE_JANITOR_H_INCLUDED
#define EVIDENCE_JANITOR_H_INCLUDED

#include <stdint.h>
#include <libpq-fe.h>

#define EVIDENCE_JANITOR_INTERVAL_MS    60000
#define EVIDENCE_JANITOR_GRACE_S        60      //  past the URL lifetime

//  ----------------------------------------------------------------------
//  One pass over the rows and both directories under root, with uploads
//  idle for more than idle_s seconds taken as dead. Returns how many rows
//  and files it removed, or -1 when the database did not answer.
int
    evidence_janitor_run (PGconn *db, const char *root, int64_t idle_s);

//  cm_service's tick: state is the tick thread's evidence_worker_t
void
    evidence_janitor_tick (void *state);

#endif
