/*  gateway_audit - audit events raised at the edge (authz.denied,
    ratelimit.exceeded)

    The gateway has no database of its own. Request threads put events in a
    bounded in-memory queue (a mutex and a few string copies: a flood of
    refused requests never costs a backend round trip each); one shipper
    thread sends them to the audit service in batches and removes them once
    audit acknowledged them. When audit cannot take them, the shipper moves
    every queued event to the spool file (gateway_spool: fsync'd, bounded by
    GATEWAY_AUDIT_SPOOL_MAX_BYTES) and, from then on until the spool is
    empty again, sends from the spool, oldest first, retrying with backoff.
    A stop spools what is still queued, after one last attempt to deliver;
    the next start delivers it. Events are dropped (and counted in
    gateway_audit_dropped, in /metrics) only when both the queue and the
    spool are full.
*/
#ifndef GATEWAY_AUDIT_H_INCLUDED
#define GATEWAY_AUDIT_H_INCLUDED

#include <czmq.h>
#include <stdint.h>
#include "../../common/cm_config.h"
#include "../../common/cm_ctx.h"

#define GATEWAY_AUDIT_QUEUE 10000

//  Start the shipper with its spool; cfg and cert outlive it. NULL (logged)
//  on failure, a spool that cannot be opened included.
zactor_t *
    gateway_audit_start (const cm_config_t *cfg, zcert_t *cert);

//  Queue one event (any thread). detail is JSON text or NULL.
void
    gateway_audit_event (const cm_ctx_t *ctx, const char *type, const char *outcome, const char *detail);

//  Events dropped because the queue and the spool were full, since start
uint64_t
    gateway_audit_dropped (void);

//  Bytes of events waiting in the spool
uint64_t
    gateway_audit_spooled_bytes (void);

#endif
