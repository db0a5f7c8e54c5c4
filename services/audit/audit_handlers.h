/*  audit_handlers - typed handlers of the audit service

    audit.append      any admitted service; events are stored as sent by
                      the authenticated peer, whatever they say
    audit.query       the gateway (for a verified admin) or privacy (one
                      user's events, for an export); a gateway read is
                      itself recorded as admin.audit.read
    audit.verify      the gateway (admin) or privacy
    audit.erase_user  privacy only

    Each worker thread has an audit_worker_t with its own database
    connection; the keys are process-wide, loaded once, read-only after.
    The periodic tick (cm_service, every second) writes a signed checkpoint
    every AUDIT_CHECKPOINT_INTERVAL_S when the head moved, prunes alert
    counters; the last request worker to stop, after the drain, writes a
    last checkpoint.
*/
#ifndef AUDIT_HANDLERS_H_INCLUDED
#define AUDIT_HANDLERS_H_INCLUDED

#include <libpq-fe.h>
#include "audit_alerts.h"
#include "audit_checkpoint.h"
#include "audit_store.h"
#include "../../common/cm_server.h"

#define AUDIT_TICK_MS   1000

//  The keys and rules of the process (audit_keys_load)
typedef struct {
    uint8_t master [CM_CRYPT_KEY_BYTES];        //  wraps the subjects' data keys
    uint8_t alert_key [32];                     //  HMAC key of alert subjects, from master
    audit_checkpoint_key_t *checkpoint;         //  owned; signs checkpoints
    audit_alerts_config_t alerts;
    audit_store_keys_t store;                   //  borrows the above
} audit_keys_t;

typedef struct {
    const cm_config_t *cfg;             //  borrowed
    PGconn *db;                         //  owned, reconnected on loss
    const audit_keys_t *keys;           //  borrowed, process-wide
    int index;                          //  -1: the tick's state
    bool webhook;                       //  holds a reference on the webhook sender
    int64_t checkpoint_due;             //  tick: zclock_mono () of the next checkpoint
    int64_t prune_due;                  //  tick: zclock_mono () of the next prune
} audit_worker_t;

extern const cm_route_t audit_routes [];
extern const size_t audit_route_count;

//  ----------------------------------------------------------------------
//  Load the master key (AUDIT_MASTER_KEY_FILE), the checkpoint key
//  (AUDIT_CHECKPOINT_KEY_FILE) and the alert rules. 0, or -1 after logging
//  which file is missing or malformed.
int
    audit_keys_load (audit_keys_t *self, const cm_config_t *cfg);
void
    audit_keys_clear (audit_keys_t *self);

//  The checkpoint key alone (AUDIT_CHECKPOINT_KEY_FILE), for a verifier;
//  NULL (logged) when it cannot be loaded
audit_checkpoint_key_t *
    audit_keys_load_checkpoint (const cm_config_t *cfg);

//  ----------------------------------------------------------------------
//  Worker state for cm_service; the first call loads the keys. NULL when
//  they cannot be loaded: the service refuses to start.
void *
    audit_worker_new (const cm_config_t *cfg, zcert_t *cert, int index);
void
    audit_worker_destroy (void **state_p);

//  Start-up for cm_service: keys, the webhook URL, the checkpoint
//  directory, the chain's privileges (append-only or no start), events of
//  the table the chain replaced, then service.started. 0 or -1 (logged).
int
    audit_on_start (const cm_config_t *cfg, PGconn *db);

//  cm_service's tick: state is the tick thread's audit_worker_t
void
    audit_tick (void *state);

//  ----------------------------------------------------------------------
//  Sign the head into a checkpoint (file and log) unless this process
//  signed that very head last. 0, or -1 (logged).
int
    audit_checkpoint_now (PGconn *db, const audit_keys_t *keys, const char *dir);

#endif
