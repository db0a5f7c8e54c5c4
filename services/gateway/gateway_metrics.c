/*  gateway_metrics - counters and a latency histogram in atomics */
#include <stdatomic.h>
#include <stdio.h>
#include "gateway_metrics.h"
#include "gateway_audit.h"

static atomic_uint_fast64_t s_by_status [600];
static const int64_t s_bounds_us [] = { 500, 1000, 2500, 5000, 10000, 25000, 50000,
                                        100000, 250000, 500000, 1000000, 2500000 };
#define BUCKETS (sizeof s_bounds_us / sizeof s_bounds_us [0])
static atomic_uint_fast64_t s_buckets [BUCKETS + 1];
static atomic_uint_fast64_t s_sum_us;

void
gateway_metrics_observe (int status, int64_t duration_us)
{
    if (status < 100 || status > 599)
        status = 599;
    atomic_fetch_add_explicit (&s_by_status [status], 1, memory_order_relaxed);
    size_t bucket = 0;
    while (bucket < BUCKETS && duration_us > s_bounds_us [bucket])
        bucket++;
    atomic_fetch_add_explicit (&s_buckets [bucket], 1, memory_order_relaxed);
    atomic_fetch_add_explicit (&s_sum_us, (uint_fast64_t) (duration_us > 0? duration_us: 0),
                               memory_order_relaxed);
}

size_t
gateway_metrics_render (char *buf, size_t size)
{
    size_t len = 0;
#define OUT(...) do { int written_ = snprintf (buf + len, size - len, __VA_ARGS__); \
                      if (written_ > 0 && (size_t) written_ < size - len) len += (size_t) written_; } while (0)
    OUT ("# HELP gateway_http_requests_total HTTP requests by status.\n");
    OUT ("# TYPE gateway_http_requests_total counter\n");
    for (int status = 100; status < 600; status++) {
        uint64_t n = atomic_load_explicit (&s_by_status [status], memory_order_relaxed);
        if (n)
            OUT ("gateway_http_requests_total{status=\"%d\"} %llu\n", status, (unsigned long long) n);
    }
    OUT ("# HELP gateway_http_request_duration_seconds Time to answer a request.\n");
    OUT ("# TYPE gateway_http_request_duration_seconds histogram\n");
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= BUCKETS; i++) {
        cumulative += atomic_load_explicit (&s_buckets [i], memory_order_relaxed);
        if (i < BUCKETS)
            OUT ("gateway_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                 (double) s_bounds_us [i] / 1e6, (unsigned long long) cumulative);
        else
            OUT ("gateway_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                 (unsigned long long) cumulative);
    }
    OUT ("gateway_http_request_duration_seconds_sum %.6f\n",
         (double) atomic_load_explicit (&s_sum_us, memory_order_relaxed) / 1e6);
    OUT ("gateway_http_request_duration_seconds_count %llu\n", (unsigned long long) cumulative);
    OUT ("# HELP gateway_audit_dropped_total Audit events dropped because the queue was full.\n");
    OUT ("# TYPE gateway_audit_dropped_total counter\n");
    OUT ("gateway_audit_dropped_total %llu\n", (unsigned long long) gateway_audit_dropped ());
#undef OUT
    return len;
}
