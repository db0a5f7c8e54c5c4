/*  gateway_edge - the policies every request meets at the door

    One process-wide set, built from the configuration at start-up (a bad
    TRUSTED_PROXIES or CORS_ALLOWED_ORIGINS stops the gateway): who the
    client is (X-Forwarded-For only from trusted proxies), which origins
    may call cross-site, and how often a caller may come. The headers these
    decide go into the request's header lines, sent with every response.
*/
#ifndef GATEWAY_EDGE_H_INCLUDED
#define GATEWAY_EDGE_H_INCLUDED

#include "gateway_http.h"
#include "gateway_ratelimit.h"

typedef struct gateway_edge_s gateway_edge_t;

//  ----------------------------------------------------------------------
//  Build the policies from cfg. NULL (logged, naming the variable) when a
//  setting is malformed or GATEWAY_ENV=production would serve plain HTTP to
//  the internet (no TLS files and no TRUSTED_PROXIES).
gateway_edge_t *
    gateway_edge_new (const cm_config_t *cfg);
void
    gateway_edge_destroy (gateway_edge_t **self_p);

//  ----------------------------------------------------------------------
//  Set req->ctx.ip from the TCP peer and, behind trusted proxies only,
//  X-Forwarded-For.
void
    gateway_edge_client_ip (const gateway_edge_t *self, gateway_req_t *req);

//  ----------------------------------------------------------------------
//  In production, plain HTTP is only for TLS-terminating proxies in
//  TRUSTED_PROXIES (and for probes of /healthz and /readyz): anyone else
//  gets 403 https_required. Returns true when req has been answered so.
bool
    gateway_edge_refuse_plain (const gateway_edge_t *self, gateway_req_t *req, bool probe);

//  ----------------------------------------------------------------------
//  Apply CORS to req given the methods its path allows ("GET, POST"; NULL
//  when the path is unknown). Adds the response headers to req. Returns
//  true when the request was a preflight and has been answered (204/403).
bool
    gateway_edge_cors (const gateway_edge_t *self, gateway_req_t *req, const char *route_methods);

//  ----------------------------------------------------------------------
//  Count req against bucket; the subject is the user when req carries one,
//  else the client IP, or account (a username, for the token endpoint).
//  Adds the RateLimit-* headers. Returns 0 to go on, or the status already
//  answered: 429 (with Retry-After, audited at most once a minute per
//  caller) or 503 when a fail-closed bucket cannot be checked.
//  gateway_edge_count then gateway_edge_answer.
int
    gateway_edge_limit (gateway_edge_t *self, gateway_req_t *req, gateway_rl_bucket_t bucket,
                        const char *account);

//  A count in Redis whose answer is still to be given
typedef struct {
    gateway_rl_bucket_t bucket;
    char subject [GATEWAY_RL_SUBJECT_MAX];  //  "" when none could be built
    gateway_rl_result_t result;             //  what Redis said
} gateway_edge_count_t;

//  ----------------------------------------------------------------------
//  Count req against bucket in Redis into count, answering nothing. The
//  subject is uid when not NULL or "", else the client IP, or account.
//  With unless (a Redis key; NULL: none), nothing is counted when that key
//  exists. Returns count->result.verdict: GATEWAY_RL_VETOED when unless
//  exists, GATEWAY_RL_UNAVAILABLE when Redis could not say.
gateway_rl_verdict_t
    gateway_edge_count (gateway_edge_t *self, gateway_req_t *req, gateway_rl_bucket_t bucket,
                        const char *uid, const char *account, const char *unless,
                        gateway_edge_count_t *count);

//  Answer for a count that was not vetoed, as gateway_edge_limit does:
//  when Redis could not say, the in-process limiter decides (or 503 for a
//  fail-closed bucket). Returns 0 to go on, or the status already answered.
int
    gateway_edge_answer (gateway_edge_t *self, gateway_req_t *req, gateway_edge_count_t *count);

//  ----------------------------------------------------------------------
//  Counters for /metrics
uint64_t
    gateway_edge_limiter_fallbacks (const gateway_edge_t *self);
uint64_t
    gateway_edge_limiter_errors (const gateway_edge_t *self);

#endif
