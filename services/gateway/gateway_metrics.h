/*  gateway_metrics - Prometheus counters, served on the internal port only */
#ifndef GATEWAY_METRICS_H_INCLUDED
#define GATEWAY_METRICS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  Count one finished request (lock-free; any thread)
void
    gateway_metrics_observe (int status, int64_t duration_us);

//  Write the exposition text into buf; returns its length
size_t
    gateway_metrics_render (char *buf, size_t size);

#endif
