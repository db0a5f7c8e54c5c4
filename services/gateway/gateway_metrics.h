/*  gateway_metrics - Prometheus counters, served on the internal port only

    Everything is lock-free atomics in fixed tables, so counting costs a
    request a few nanoseconds and no allocation: requests by route and
    status, a latency histogram, calls to each backend (latency and
    failures), and the refusals (401, 403, 429) operators alert on.
*/
#ifndef GATEWAY_METRICS_H_INCLUDED
#define GATEWAY_METRICS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "../../common/cm_err.h"
#include "../../common/cm_svc.h"

//  Routes and statuses tracked per route; more are counted under "other"
#define GATEWAY_METRICS_ROUTES      64
#define GATEWAY_METRICS_STATUSES    16

//  Count one finished request; route is a pattern from the route table (a
//  static string) or "unmatched" (lock-free; any thread)
void
    gateway_metrics_observe (const char *route, int status, int64_t duration_us);

//  Count one call to a backend and how it ended
void
    gateway_metrics_backend (cm_svc_t svc, cm_err_t result, int64_t duration_us);

//  Values owned elsewhere, read when /metrics is rendered
typedef struct {
    uint64_t limiter_fallbacks;     //  rate-limit decisions made without Redis
    uint64_t limiter_errors;        //  Redis errors seen by the limiter
    uint64_t token_cache_hits;      //  bearer tokens found verified already
    uint64_t token_cache_misses;    //  bearer tokens that had to be verified
} gateway_metrics_extra_t;

//  Write the exposition text into buf; returns its length
size_t
    gateway_metrics_render (char *buf, size_t size, const gateway_metrics_extra_t *extra);

#endif
