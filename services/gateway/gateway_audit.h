/*  gateway_audit - audit events raised at the edge (authz.denied, later
    ratelimit.exceeded)

    The gateway has no database of its own, so events wait in a bounded
    in-memory queue that one shipper thread sends to the audit service in
    batches, retrying with backoff while audit is away. Request threads only
    take a mutex and copy a few strings: a flood of refused requests never
    costs a backend round trip each. When the queue is full new events are
    dropped and counted (gateway_audit_dropped, in /metrics), never the
    request held up.
*/
#ifndef GATEWAY_AUDIT_H_INCLUDED
#define GATEWAY_AUDIT_H_INCLUDED

#include <czmq.h>
#include <stdint.h>
#include "../../common/cm_config.h"
#include "../../common/cm_ctx.h"

#define GATEWAY_AUDIT_QUEUE 10000

//  Start the shipper; cfg and cert outlive it. NULL on failure.
zactor_t *
    gateway_audit_start (const cm_config_t *cfg, zcert_t *cert);

//  Queue one event (any thread). detail is JSON text or NULL.
void
    gateway_audit_event (const cm_ctx_t *ctx, const char *type, const char *outcome, const char *detail);

//  Events dropped because the queue was full, since start
uint64_t
    gateway_audit_dropped (void);

#endif
