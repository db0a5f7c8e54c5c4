/*  gateway_metrics - counters and latency histograms in atomics */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "gateway_metrics.h"
#include "gateway_audit.h"

static const int64_t s_bounds_us [] = { 500, 1000, 2500, 5000, 10000, 25000, 50000,
                                        100000, 250000, 500000, 1000000, 2500000 };
#define BUCKETS (sizeof s_bounds_us / sizeof s_bounds_us [0])

typedef struct {
    atomic_uint_fast64_t buckets [BUCKETS + 1];
    atomic_uint_fast64_t sum_us;
} histogram_t;

typedef struct {
    _Atomic (const char *) route;               //  claimed once, never changes
    atomic_int statuses [GATEWAY_METRICS_STATUSES];
    atomic_uint_fast64_t counts [GATEWAY_METRICS_STATUSES];
} route_row_t;

static route_row_t s_routes [GATEWAY_METRICS_ROUTES];
static atomic_uint_fast64_t s_overflow;         //  requests no row could hold
static histogram_t s_latency;
static histogram_t s_backend [CM_SVC_COUNT];
static atomic_uint_fast64_t s_backend_failures [CM_SVC_COUNT];
static atomic_uint_fast64_t s_denied [3];       //  401, 403, 429

static void
s_histogram_add (histogram_t *histogram, int64_t duration_us)
{
    size_t bucket = 0;
    while (bucket < BUCKETS && duration_us > s_bounds_us [bucket])
        bucket++;
    atomic_fetch_add_explicit (&histogram->buckets [bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit (&histogram->sum_us, (uint_fast64_t) (duration_us > 0? duration_us: 0),
                               memory_order_relaxed);
}

//  The counter of (route, status), claiming free slots as needed; NULL when full
static atomic_uint_fast64_t *
s_counter (const char *route, int status)
{
    for (size_t i = 0; i < GATEWAY_METRICS_ROUTES; i++) {
        route_row_t *row = &s_routes [i];
        const char *held = atomic_load (&row->route);
        if (!held) {
            const char *expected = NULL;
            if (atomic_compare_exchange_strong (&row->route, &expected, route))
                held = route;
            else
                held = expected;
        }
        if (held != route && strcmp (held, route) != 0)
            continue;
        for (size_t j = 0; j < GATEWAY_METRICS_STATUSES; j++) {
            int seen = atomic_load (&row->statuses [j]);
            if (seen == 0) {
                int expected = 0;
                if (atomic_compare_exchange_strong (&row->statuses [j], &expected, status))
                    seen = status;
                else
                    seen = expected;
            }
            if (seen == status)
                return &row->counts [j];
        }
        return NULL;
    }
    return NULL;
}

void
gateway_metrics_observe (const char *route, int status, int64_t duration_us)
{
    if (status < 100 || status > 599)
        status = 599;
    atomic_uint_fast64_t *counter = s_counter (route? route: "unmatched", status);
    atomic_fetch_add_explicit (counter? counter: &s_overflow, 1, memory_order_relaxed);
    s_histogram_add (&s_latency, duration_us);
    int denied = status == 401? 0: status == 403? 1: status == 429? 2: -1;
    if (denied >= 0)
        atomic_fetch_add_explicit (&s_denied [denied], 1, memory_order_relaxed);
}

void
gateway_metrics_backend (cm_svc_t svc, cm_err_t result, int64_t duration_us)
{
    if ((int) svc < 0 || svc >= CM_SVC_COUNT)
        return;
    s_histogram_add (&s_backend [svc], duration_us);
    //  No answer in time, or an answer we could not read: the backend failed
    if (result == CM_UNAVAILABLE || result == CM_TIMEOUT || result == CM_BAD_GATEWAY || result == CM_BUSY
    ||  result == CM_DRAINING)
        atomic_fetch_add_explicit (&s_backend_failures [svc], 1, memory_order_relaxed);
}

#define OUT(...) do { int written_ = snprintf (buf + *len, size - *len, __VA_ARGS__); \
                      if (written_ > 0 && (size_t) written_ < size - *len) *len += (size_t) written_; } while (0)

static void
s_render_histogram (char *buf, size_t size, size_t *len, const char *name, const char *labels,
                    histogram_t *histogram)
{
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= BUCKETS; i++) {
        cumulative += atomic_load_explicit (&histogram->buckets [i], memory_order_relaxed);
        if (i < BUCKETS)
            OUT ("%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels? ",": "",
                 (double) s_bounds_us [i] / 1e6, (unsigned long long) cumulative);
        else
            OUT ("%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels? ",": "",
                 (unsigned long long) cumulative);
    }
    OUT ("%s_sum{%s} %.6f\n", name, labels,
         (double) atomic_load_explicit (&histogram->sum_us, memory_order_relaxed) / 1e6);
    OUT ("%s_count{%s} %llu\n", name, labels, (unsigned long long) cumulative);
}

size_t
gateway_metrics_render (char *buf, size_t size, const gateway_metrics_extra_t *extra)
{
    size_t used = 0, *len = &used;
    OUT ("# HELP gateway_http_requests_total HTTP requests by route and status.\n");
    OUT ("# TYPE gateway_http_requests_total counter\n");
    for (size_t i = 0; i < GATEWAY_METRICS_ROUTES; i++) {
        const char *route = atomic_load (&s_routes [i].route);
        for (size_t j = 0; route && j < GATEWAY_METRICS_STATUSES; j++) {
            int status = atomic_load (&s_routes [i].statuses [j]);
            uint64_t n = atomic_load_explicit (&s_routes [i].counts [j], memory_order_relaxed);
            if (status && n)
                OUT ("gateway_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                     route, status, (unsigned long long) n);
        }
    }
    OUT ("gateway_http_requests_total{route=\"other\",status=\"other\"} %llu\n",
         (unsigned long long) atomic_load (&s_overflow));
    OUT ("# HELP gateway_http_request_duration_seconds Time to answer a request.\n");
    OUT ("# TYPE gateway_http_request_duration_seconds histogram\n");
    s_render_histogram (buf, size, len, "gateway_http_request_duration_seconds", "", &s_latency);
    OUT ("# HELP gateway_http_denied_total Requests refused: 401 (identity), 403 (permission), 429 (rate).\n");
    OUT ("# TYPE gateway_http_denied_total counter\n");
    static const int denied [] = { 401, 403, 429 };
    for (size_t i = 0; i < 3; i++)
        OUT ("gateway_http_denied_total{status=\"%d\"} %llu\n", denied [i],
             (unsigned long long) atomic_load (&s_denied [i]));
    OUT ("# HELP gateway_backend_call_duration_seconds Time of one call to a backend service.\n");
    OUT ("# TYPE gateway_backend_call_duration_seconds histogram\n");
    for (int svc = CM_SVC_AUTH; svc < CM_SVC_COUNT; svc++) {
        char labels [48];
        snprintf (labels, sizeof labels, "service=\"%s\"", cm_svc_name ((cm_svc_t) svc));
        s_render_histogram (buf, size, len, "gateway_backend_call_duration_seconds", labels, &s_backend [svc]);
    }
    OUT ("# HELP gateway_backend_call_failures_total Calls with no usable answer in time (timeout, down, busy).\n");
    OUT ("# TYPE gateway_backend_call_failures_total counter\n");
    for (int svc = CM_SVC_AUTH; svc < CM_SVC_COUNT; svc++)
        OUT ("gateway_backend_call_failures_total{service=\"%s\"} %llu\n", cm_svc_name ((cm_svc_t) svc),
             (unsigned long long) atomic_load (&s_backend_failures [svc]));
    OUT ("# HELP gateway_ratelimit_fallbacks_total Rate-limit decisions made in process because Redis could not answer.\n");
    OUT ("# TYPE gateway_ratelimit_fallbacks_total counter\n");
    OUT ("gateway_ratelimit_fallbacks_total %llu\n", (unsigned long long) (extra? extra->limiter_fallbacks: 0));
    OUT ("# HELP gateway_ratelimit_redis_errors_total Redis errors seen by the rate limiter.\n");
    OUT ("# TYPE gateway_ratelimit_redis_errors_total counter\n");
    OUT ("gateway_ratelimit_redis_errors_total %llu\n", (unsigned long long) (extra? extra->limiter_errors: 0));
    OUT ("# HELP gateway_token_cache_hits_total Bearer tokens found verified already (no signature check).\n");
    OUT ("# TYPE gateway_token_cache_hits_total counter\n");
    OUT ("gateway_token_cache_hits_total %llu\n", (unsigned long long) (extra? extra->token_cache_hits: 0));
    OUT ("# HELP gateway_token_cache_misses_total Bearer tokens not in the verified-token cache.\n");
    OUT ("# TYPE gateway_token_cache_misses_total counter\n");
    OUT ("gateway_token_cache_misses_total %llu\n", (unsigned long long) (extra? extra->token_cache_misses: 0));
    OUT ("# HELP gateway_audit_dropped_total Audit events dropped because the queue and the spool were full.\n");
    OUT ("# TYPE gateway_audit_dropped_total counter\n");
    OUT ("gateway_audit_dropped_total %llu\n", (unsigned long long) gateway_audit_dropped ());
    OUT ("# HELP gateway_audit_spooled_bytes Audit events waiting on disk for the audit service, in bytes.\n");
    OUT ("# TYPE gateway_audit_spooled_bytes gauge\n");
    OUT ("gateway_audit_spooled_bytes %llu\n", (unsigned long long) gateway_audit_spooled_bytes ());
    return used;
}
#undef OUT
