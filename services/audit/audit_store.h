/*  audit_store - the audit service's SQL

    audit.chain (created by scripts/db-bootstrap.sql, owned by audit_owner)
    takes INSERT and SELECT from this role, nothing else. Appends hold a
    transaction-scoped advisory lock, so any number of replicas append one
    after the other and the chain stays one line: each new event gets the
    next seq and its hash from the head it saw under the lock. Only
    parameterised statements. Returns: 0 (or a count) done, -1 database
    down or a statement failed (logged), nothing half done.
*/
#ifndef AUDIT_STORE_H_INCLUDED
#define AUDIT_STORE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <libpq-fe.h>
#include "audit_alerts.h"
#include "audit_chain.h"
#include "audit_personal.h"
#include "../../proto/proto_msgs.h"

//  Rows a scan of the chain reads at a time
#define AUDIT_STORE_SCAN_BATCH  1000

//  What appends need besides the events: keys and alert rules (borrowed)
typedef struct {
    const uint8_t *master;                  //  wraps the subjects' data keys
    const uint8_t *alert_key;               //  HMAC key of alert subjects
    const audit_alerts_config_t *alerts;
} audit_store_keys_t;

//  One stored event
typedef struct {
    int64_t seq;
    char id [37];
    int64_t at_ms;
    char *type;                             //  owned
    char *service;                          //  owned
    char *outcome;                          //  owned
    char user_id [37];                      //  "" when none
    char *request_id;                       //  owned, NULL when none
    char *detail;                           //  owned, public detail, NULL when none
    char prev_hash [AUDIT_CHAIN_HEX];
    char hash [AUDIT_CHAIN_HEX];
    //  Queries only: the event's personal data, while it was not erased
    char *subject;                          //  owned, NULL when none is kept
    char *ip;                               //  owned, NULL when none
    uint8_t *sealed;                        //  owned, the detail's personal members; NULL when none
    size_t sealed_len;
    uint8_t wrapped [AUDIT_PERSONAL_WRAPPED];   //  the subject's data key, wrapped
    bool has_wrapped;
} audit_store_row_t;

//  Filters of a query; newest first
typedef struct {
    const char *user_id;                    //  NULL: any
    const char *type;                       //  NULL: any
    bool has_since;
    int64_t since_ms;                       //  at_ms >= this
    int64_t before_seq;                     //  seq < this; 0: no bound
    int64_t limit;                          //  rows at most
} audit_store_filter_t;

//  ----------------------------------------------------------------------
//  The hashed fields of a row, borrowed from it
audit_chain_event_t
    audit_store_row_event (const audit_store_row_t *row);

//  Free the strings of a row and zero it. Safe on a zeroed row.
void
    audit_store_row_clear (audit_store_row_t *row);

//  ----------------------------------------------------------------------
//  Append events in one transaction; ids already stored are skipped. With
//  service not NULL every event is stored as sent by that service (the
//  authenticated peer). Alert rules are counted as events go in; fired
//  alerts join the chain and come back in *alerts_p (malloc'd array of
//  *alert_count, NULL when none; free with audit_alerts_clear + free).
//  Returns how many events were new, or -1 (nothing stored).
int
    audit_store_append (PGconn *db, const audit_store_keys_t *keys, const proto_audit_event_t *events,
                        uint32_t count, const char *service, audit_alert_t **alerts_p, int *alert_count);

//  ----------------------------------------------------------------------
//  Up to filter->limit events into rows (room for limit), newest first,
//  with each one's wrapped subject key when it still exists
int
    audit_store_query (PGconn *db, const audit_store_filter_t *filter, audit_store_row_t *rows,
                       int *count);

//  ----------------------------------------------------------------------
//  A read-only snapshot for a scan: begin, scan in batches, end
int
    audit_store_scan_begin (PGconn *db);
//  Up to limit rows (hashed fields only) with seq > after_seq, in seq order
int
    audit_store_scan (PGconn *db, int64_t after_seq, int limit, audit_store_row_t *rows, int *count);
void
    audit_store_scan_end (PGconn *db);

//  ----------------------------------------------------------------------
//  The head: its seq (0 when the chain is empty) and hash (the genesis
//  value when empty)
int
    audit_store_head (PGconn *db, int64_t *seq, char *hash);

//  Delete subject's personal data and data key, and remember the subject
//  as erased, so that later events keep none for it; *erased receives how
//  many of its events had personal data. Idempotent.
int
    audit_store_erase (PGconn *db, const char *subject, int64_t *erased);

//  Remove alert bookkeeping older than the window (and then some)
int
    audit_store_prune_alerts (PGconn *db, int64_t window_ms, int64_t now_ms);

//  ----------------------------------------------------------------------
//  0 when this role may INSERT and SELECT the chain and nothing more
//  (another role owns it); else -1 with the reason in problem
int
    audit_store_check_append_only (PGconn *db, char *problem, size_t size);

//  Append the rows of the table the chain replaced (events_legacy), oldest
//  first, then drop it. Returns how many were appended, 0 when there is no
//  such table, or -1.
int
    audit_store_adopt_legacy (PGconn *db, const audit_store_keys_t *keys);

#endif
