/*  gateway_edge - the policies every request meets at the door */
#include <assert.h>
#include <czmq.h>
#include "gateway_edge.h"
#include "gateway_audit.h"
#include "gateway_client_ip.h"
#include "gateway_cors.h"
#include "gateway_tls.h"
#include "../../common/cm_log.h"

struct gateway_edge_s {
    bool production;                    //  GATEWAY_ENV=production
    gateway_client_ip_t *proxies;
    gateway_cors_t *cors;
    gateway_ratelimit_t *limits;
};

gateway_edge_t *
gateway_edge_new (const cm_config_t *cfg)
{
    gateway_edge_t *self = (gateway_edge_t *) zmalloc (sizeof (gateway_edge_t));
    char error [256] = "";
    bool production = streq (cfg->gateway_env, "production");
    if (!production && !streq (cfg->gateway_env, "development"))
        cm_log_fields (CM_LOG_ERROR, "bad setting", "variable", "GATEWAY_ENV",
                       "reason", "must be development or production", (const char *) NULL);
    else
    if (!(self->proxies = gateway_client_ip_new (cfg->trusted_proxies, error, sizeof error)))
        cm_log_fields (CM_LOG_ERROR, "bad setting", "variable", "TRUSTED_PROXIES", "reason", error,
                       (const char *) NULL);
    else
    if (!(self->cors = gateway_cors_new (cfg->cors_allowed_origins, error, sizeof error)))
        cm_log_fields (CM_LOG_ERROR, "bad setting", "variable", "CORS_ALLOWED_ORIGINS", "reason", error,
                       (const char *) NULL);
    else
    if (!(self->limits = gateway_ratelimit_new (cfg, GATEWAY_RL_FALLBACK_SLOTS)))
        cm_log_fields (CM_LOG_ERROR, "bad setting", "variable", "RATE_LIMIT_*",
                       "reason", "cannot build the limiter", (const char *) NULL);
    else
    if (production && !gateway_tls_enabled (cfg) && gateway_client_ip_count (self->proxies) == 0)
        //  Plain HTTP is only acceptable when a proxy we know terminates TLS
        cm_log_fields (CM_LOG_ERROR, "refusing to serve plain HTTP in production", "variable",
                       "TLS_CERT_FILE", "reason", "set TLS_CERT_FILE and TLS_KEY_FILE, or TRUSTED_PROXIES",
                       (const char *) NULL);
    else {
        self->production = production;
        return self;
    }
    gateway_edge_destroy (&self);
    return NULL;
}

void
gateway_edge_destroy (gateway_edge_t **self_p)
{
    gateway_edge_t *self = *self_p;
    if (self) {
        gateway_client_ip_destroy (&self->proxies);
        gateway_cors_destroy (&self->cors);
        gateway_ratelimit_destroy (&self->limits);
        free (self);
        *self_p = NULL;
    }
}

void
gateway_edge_client_ip (const gateway_edge_t *self, gateway_req_t *req)
{
    if (gateway_client_ip_from_headers (self->proxies, req->info->remote_addr, req->info->http_headers,
                                        req->info->num_headers, req->ctx.ip, sizeof req->ctx.ip) != 0)
        snprintf (req->ctx.ip, sizeof req->ctx.ip, "%s", req->info->remote_addr);
}

bool
gateway_edge_refuse_plain (const gateway_edge_t *self, gateway_req_t *req, bool probe)
{
    if (!self->production || req->info->is_ssl || probe
    ||  gateway_client_ip_trusted (self->proxies, req->info->remote_addr))
        return false;
    gateway_send_error (req, 403, "https_required", "use HTTPS");
    return true;
}

bool
gateway_edge_cors (const gateway_edge_t *self, gateway_req_t *req, const char *route_methods)
{
    gateway_cors_result_t result;
    gateway_cors_verdict_t verdict = gateway_cors_decide (
        self->cors, req->info->request_method, mg_get_header (req->conn, "Origin"),
        mg_get_header (req->conn, "Access-Control-Request-Method"),
        mg_get_header (req->conn, "Access-Control-Request-Headers"), route_methods, &result);
    if (verdict == GATEWAY_CORS_NONE)
        return false;
    gateway_cors_headers (&result, req->headers, sizeof req->headers, &req->headers_len);
    if (verdict == GATEWAY_CORS_PREFLIGHT_OK) {
        gateway_send_head (req, 204, NULL, 0, NULL);
        return true;
    }
    if (verdict == GATEWAY_CORS_PREFLIGHT_REFUSED) {
        gateway_send_error (req, 403, "cors_refused", "this origin, method or header is not allowed here");
        return true;
    }
    return false;
}

int
gateway_edge_limit (gateway_edge_t *self, gateway_req_t *req, gateway_rl_bucket_t bucket,
                    const char *account)
{
    gateway_edge_count_t count;
    gateway_edge_count (self, req, bucket, req->ctx.uid, account, NULL, &count);
    return gateway_edge_answer (self, req, &count);
}

gateway_rl_verdict_t
gateway_edge_count (gateway_edge_t *self, gateway_req_t *req, gateway_rl_bucket_t bucket,
                    const char *uid, const char *account, const char *unless,
                    gateway_edge_count_t *count)
{
    count->bucket = bucket;
    memset (&count->result, 0, sizeof count->result);
    count->result.verdict = GATEWAY_RL_UNAVAILABLE;
    if (gateway_ratelimit_subject (bucket, uid, req->ctx.ip, account, count->subject,
                                   sizeof count->subject) == 0)
        gateway_ratelimit_check_unless (self->limits, req->backends->redis, bucket, count->subject,
                                        unless, &count->result);
    return count->result.verdict;
}

int
gateway_edge_answer (gateway_edge_t *self, gateway_req_t *req, gateway_edge_count_t *count)
{
    assert (count->result.verdict != GATEWAY_RL_VETOED);
    gateway_rl_result_t *result = &count->result;
    gateway_rl_verdict_t verdict = result->verdict;
    if (verdict == GATEWAY_RL_UNAVAILABLE)
        verdict = gateway_ratelimit_fallback (self->limits, count->bucket, count->subject, result);
    if (verdict == GATEWAY_RL_UNAVAILABLE) {
        gateway_send_error (req, 503, "service_unavailable", "cannot check the rate limit right now");
        return 503;
    }
    //  One set of RateLimit-* lines: those of the bucket closest to its limit
    bool tighter = req->limit_remaining < 0 || result->remaining < req->limit_remaining
                || verdict == GATEWAY_RL_LIMITED;
    if (tighter) {
        if (req->limit_remaining >= 0)
            req->headers_len = req->limit_headers_at;
        req->limit_headers_at = req->headers_len;
        req->limit_remaining = result->remaining;
        gateway_ratelimit_headers (result, false, req->headers, sizeof req->headers, &req->headers_len);
    }
    if (verdict == GATEWAY_RL_ALLOWED)
        return 0;
    req->retry_after_s = result->reset_s;
    //  One audit event per caller and bucket a minute: an attack must not
    //  flood the trail it is recorded in
    const char *bucket = gateway_ratelimit_bucket_name (count->bucket);
    char throttle [GATEWAY_RL_SUBJECT_MAX + 32];
    gateway_rl_result_t ignored;
    snprintf (throttle, sizeof throttle, "%s:%s", bucket, count->subject);
    if (gateway_ratelimit_local (self->limits, "audit", throttle, 1, 60000, &ignored) == GATEWAY_RL_ALLOWED) {
        char detail [160];
        snprintf (detail, sizeof detail, "{\"bucket\":\"%s\",\"limit\":%lld}",
                  bucket, (long long) result->limit);
        gateway_audit_event (&req->ctx, "ratelimit.exceeded", "denied", detail);
    }
    gateway_send_error (req, 429, "rate_limited", "too many requests: try again later");
    return 429;
}

uint64_t
gateway_edge_limiter_fallbacks (const gateway_edge_t *self)
{
    return gateway_ratelimit_fallbacks (self->limits);
}

uint64_t
gateway_edge_limiter_errors (const gateway_edge_t *self)
{
    return gateway_ratelimit_redis_errors (self->limits);
}
