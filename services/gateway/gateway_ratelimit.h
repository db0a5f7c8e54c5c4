/*  gateway_ratelimit - fixed-window rate limits in Redis, with an in-process fallback

    One check is one Lua script run atomically in Redis (EVALSHA, EVAL when
    Redis has forgotten the script) on the key "rl:<bucket>:<subject>",
    which carries the window as its TTL. Refused requests are not counted:
    the counter stops at the limit and the window ends when its TTL does.

    A check may carry a veto key: when it exists the script counts nothing
    and says so (GATEWAY_RL_VETOED). The gateway passes a session's
    revoked:<sid>, so one round trip both counts the user's request and
    tells whether the session has ended, and an ended one uses up nothing.

    When Redis cannot answer, a check says so (GATEWAY_RL_UNAVAILABLE)
    instead of guessing. gateway_ratelimit_take then applies the policy:
    token and register buckets fail closed (the caller answers 503), the
    others are decided by a bounded in-process limiter (a fixed table; a
    full group gives up the entry nearest the end of its window), counted,
    and alerted at most once a minute.

    One instance serves every CivetWeb worker: limits are read-only, the
    fallback table is locked per group of slots, counters are atomic. The
    Redis connection is the calling thread's own (cm_redis_t is not shared).
*/
#ifndef GATEWAY_RATELIMIT_H_INCLUDED
#define GATEWAY_RATELIMIT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../../common/cm_config.h"
#include "../../common/cm_redis.h"

#define GATEWAY_RL_SUBJECT_MAX      96      //  bytes of a subject, NUL included
#define GATEWAY_RL_KEY_MAX          128     //  bytes of "rl:<bucket>:<subject>", NUL included
#define GATEWAY_RL_FALLBACK_SLOTS   8192    //  default size of the in-process table (~1.1 MB)
#define GATEWAY_RL_FALLBACK_SLOTS_MAX (1u << 20)    //  largest table gateway_ratelimit_new makes
#define GATEWAY_RL_ALERT_MS         60000   //  at most one "Redis unavailable" alert per this
#define GATEWAY_RL_HEADERS_MAX      160     //  bytes gateway_ratelimit_headers may append

typedef enum {
    GATEWAY_RL_DEFAULT = 0,         //  every limited route: per minute, per user else per client IP
    GATEWAY_RL_MISSION_CREATE,      //  POST missions: per hour, per user
    GATEWAY_RL_TOKEN_IP,            //  token endpoint: per minute, per client IP (fails closed)
    GATEWAY_RL_TOKEN_ACCOUNT,       //  token endpoint: per minute, per submitted username (fails closed)
    GATEWAY_RL_REGISTER_IP,         //  sign-up: per hour, per client IP (fails closed)
    GATEWAY_RL_BUCKETS
} gateway_rl_bucket_t;

typedef enum {
    GATEWAY_RL_ALLOWED = 0,         //  go on
    GATEWAY_RL_LIMITED,             //  answer 429 with Retry-After
    GATEWAY_RL_UNAVAILABLE,         //  Redis could not decide (or bad arguments): answer 503
    GATEWAY_RL_VETOED               //  the veto key exists: nothing counted, nothing decided
} gateway_rl_verdict_t;

typedef struct {
    gateway_rl_verdict_t verdict;
    int64_t limit;                  //  RateLimit-Limit: requests per window
    int64_t remaining;              //  RateLimit-Remaining: left in this window, after this one
    int64_t reset_s;                //  RateLimit-Reset, and Retry-After when limited: seconds, >= 1
    bool fallback;                  //  decided by the in-process limiter
} gateway_rl_result_t;

typedef struct gateway_ratelimit_s gateway_ratelimit_t;

//  ----------------------------------------------------------------------
//  A limiter with the limits of cfg (copied: cfg need not outlive it) and
//  a fallback table of slots entries (0: GATEWAY_RL_FALLBACK_SLOTS; rounded
//  up to a multiple of 8). Returns NULL when a limit in cfg is below 1,
//  slots is over GATEWAY_RL_FALLBACK_SLOTS_MAX or memory runs out.
gateway_ratelimit_t *
    gateway_ratelimit_new (const cm_config_t *cfg, size_t slots);

//  Destroy a limiter; idempotent, nulls *self_p
void
    gateway_ratelimit_destroy (gateway_ratelimit_t **self_p);

//  ----------------------------------------------------------------------
//  The bucket's name in keys and metrics ("default", "mission_create",
//  "token_ip", "token_account", "register_ip"), its window in seconds, and
//  whether it fails closed when Redis is unavailable
const char *
    gateway_ratelimit_bucket_name (gateway_rl_bucket_t bucket);
int64_t
    gateway_ratelimit_window_s (gateway_rl_bucket_t bucket);
bool
    gateway_ratelimit_fails_closed (gateway_rl_bucket_t bucket);

//  The bucket's limit per window, from cfg
int64_t
    gateway_ratelimit_limit (const gateway_ratelimit_t *self, gateway_rl_bucket_t bucket);

//  ----------------------------------------------------------------------
//  Build the subject a bucket counts into out (GATEWAY_RL_SUBJECT_MAX):
//  "u:<uid>" for DEFAULT with a user and for MISSION_CREATE, "ip:<ip>" for
//  DEFAULT without a user and the IP buckets, "acct:<sha256 hex>" for
//  TOKEN_ACCOUNT, of the username with blanks trimmed and ASCII lower-cased
//  (so no email is ever written to Redis). uid is "" or NULL when
//  anonymous; ip is the normalized client address. Returns 0, or -1 when
//  what the bucket needs is missing or not printable.
int
    gateway_ratelimit_subject (gateway_rl_bucket_t bucket, const char *uid, const char *ip,
                               const char *account, char *out, size_t size);

//  ----------------------------------------------------------------------
//  Count one request against bucket for subject in Redis, through redis
//  (the calling thread's connection). Fills result and returns its
//  verdict; GATEWAY_RL_UNAVAILABLE when Redis cannot answer or subject is
//  not one gateway_ratelimit_subject builds. Never falls back.
gateway_rl_verdict_t
    gateway_ratelimit_check (gateway_ratelimit_t *self, cm_redis_t *redis,
                             gateway_rl_bucket_t bucket, const char *subject,
                             gateway_rl_result_t *result);

//  Like gateway_ratelimit_check, in the same atomic step as a look for the
//  key unless (printable, shorter than GATEWAY_RL_KEY_MAX; NULL: none).
//  When it exists nothing is counted and the verdict is GATEWAY_RL_VETOED.
gateway_rl_verdict_t
    gateway_ratelimit_check_unless (gateway_ratelimit_t *self, cm_redis_t *redis,
                                    gateway_rl_bucket_t bucket, const char *subject,
                                    const char *unless, gateway_rl_result_t *result);

//  ----------------------------------------------------------------------
//  Like gateway_ratelimit_check, but when Redis is unavailable a bucket
//  that does not fail closed is decided by the in-process limiter
//  (result->fallback set, the fallback counted, an alert logged at most
//  once a minute). GATEWAY_RL_UNAVAILABLE remains only for token and
//  register buckets, and for a bad subject.
gateway_rl_verdict_t
    gateway_ratelimit_take (gateway_ratelimit_t *self, cm_redis_t *redis,
                            gateway_rl_bucket_t bucket, const char *subject,
                            gateway_rl_result_t *result);

//  The second half of gateway_ratelimit_take, for a caller that checked
//  first and got GATEWAY_RL_UNAVAILABLE: the in-process limiter decides
//  (or GATEWAY_RL_UNAVAILABLE again for a bucket that fails closed)
gateway_rl_verdict_t
    gateway_ratelimit_fallback (gateway_ratelimit_t *self, gateway_rl_bucket_t bucket,
                                const char *subject, gateway_rl_result_t *result);

//  ----------------------------------------------------------------------
//  The two limiters with an explicit name, limit (>= 1) and window
//  (milliseconds, 1 ms .. 1 day), for tests and for callers with buckets
//  of their own. name is [a-z_]{1,24}; the key is "rl:<name>:<subject>".
gateway_rl_verdict_t
    gateway_ratelimit_redis (gateway_ratelimit_t *self, cm_redis_t *redis, const char *name,
                             const char *subject, int64_t limit, int64_t window_ms,
                             gateway_rl_result_t *result);
gateway_rl_verdict_t
    gateway_ratelimit_local (gateway_ratelimit_t *self, const char *name, const char *subject,
                             int64_t limit, int64_t window_ms, gateway_rl_result_t *result);

//  ----------------------------------------------------------------------
//  Counters for metrics, readable from any thread: requests decided by the
//  in-process limiter, checks Redis could not answer, fallback entries
//  evicted while still in their window, and the fallback table's fixed size
uint64_t
    gateway_ratelimit_fallbacks (const gateway_ratelimit_t *self);
uint64_t
    gateway_ratelimit_redis_errors (const gateway_ratelimit_t *self);
uint64_t
    gateway_ratelimit_evictions (const gateway_ratelimit_t *self);
size_t
    gateway_ratelimit_slots (const gateway_ratelimit_t *self);

//  ----------------------------------------------------------------------
//  Append "RateLimit-Limit/-Remaining/-Reset" lines (and "Retry-After" when
//  retry_after and the result is LIMITED) to buf of size bytes at *len,
//  NUL-terminated. Nothing for an UNAVAILABLE or VETOED result. Returns 0,
//  or -1 with buf and *len unchanged when they do not fit. gateway_send_head already
//  sends Retry-After from req->retry_after_s: pass false there.
int
    gateway_ratelimit_headers (const gateway_rl_result_t *result, bool retry_after,
                               char *buf, size_t size, size_t *len);

#endif
