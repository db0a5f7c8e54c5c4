/*  gateway_ratelimit - fixed-window rate limits in Redis, with an in-process fallback

    The Redis side is one script, so reading the count, starting a window
    and counting are one atomic step however many gateways share the key.
    A key that somehow lost its TTL (or holds no number) starts a fresh
    window rather than blocking a subject for ever.

    cm_redis_command reports an error reply and a dead link alike (NULL),
    so a failed EVALSHA is always retried once as EVAL: that is the NOSCRIPT
    fallback, and when Redis is really down the retry fails at once (the
    connection is refused, or cm_redis waits out its reconnect gap). Until
    some check has succeeded again, every thread sends EVAL straight away,
    so a restarted Redis costs one NOSCRIPT, not one per worker. A reply
    lost to a timeout after Redis counted may be counted twice; that errs
    on the strict side.

    The fallback table is split into groups of S_GROUP slots, each with its
    own lock; a key lives in the group its seeded hash picks, so memory is
    fixed and a flood of new subjects only evicts within one group.
*/
#include <assert.h>
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "gateway_ratelimit.h"
#include "../../common/cm_hex.h"
#include "../../common/cm_log.h"

#define S_GROUP         8               //  slots per lock, searched in full
#define S_NAME_MAX      24              //  longest bucket name in a key
#define S_WINDOW_MAX_MS (24LL * 3600 * 1000)

//  KEYS[1] the counter; KEYS[2], optional, a key whose presence vetoes the
//  count; ARGV[1] the limit; ARGV[2] the window in ms. Returns { allowed
//  0|1, count in this window, ms until it ends }, or { -1, 0, 0 } vetoed.
static const char s_script [] =
    "if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then\n"
    "  return {-1, 0, 0}\n"
    "end\n"
    "local limit = tonumber(ARGV[1])\n"
    "local window = tonumber(ARGV[2])\n"
    "local ttl = redis.call('PTTL', KEYS[1])\n"
    "local count = tonumber(redis.call('GET', KEYS[1]))\n"
    "if ttl <= 0 or count == nil then\n"
    "  redis.call('SET', KEYS[1], 1, 'PX', window)\n"
    "  return {1, 1, window}\n"
    "end\n"
    "if count >= limit then\n"
    "  return {0, count, ttl}\n"
    "end\n"
    "redis.call('INCR', KEYS[1])\n"
    "return {1, count + 1, ttl}\n";

typedef struct {
    char key [GATEWAY_RL_KEY_MAX];      //  "rl:<bucket>:<subject>", "" when free
    int64_t window_end;                 //  monotonic ms when the window closes
    int64_t count;                      //  requests admitted in the window
} s_slot_t;

typedef struct {
    pthread_mutex_t lock;               //  guards slots
    s_slot_t slots [S_GROUP];
} s_group_t;

struct gateway_ratelimit_s {
    int64_t limits [GATEWAY_RL_BUCKETS];    //  per window, from cfg
    char sha [41];                      //  SHA-1 of s_script, lower-case hex
    uint64_t seed;                      //  for the table's hash, random per process
    s_group_t *groups;                  //  owned, group_count of them
    size_t group_count;
    atomic_uint_fast64_t fallbacks;     //  requests decided in-process
    atomic_uint_fast64_t redis_errors;  //  checks Redis did not answer
    atomic_uint_fast64_t evictions;     //  live fallback entries pushed out
    atomic_int_fast64_t last_alert;     //  monotonic ms of the last alert
    atomic_bool script_known;           //  Redis ran the script since the last failure: try EVALSHA
};

static const struct {
    const char *name;
    int64_t window_s;
    bool fails_closed;
} s_buckets [GATEWAY_RL_BUCKETS] = {
    [GATEWAY_RL_DEFAULT]        = { "default",        60,   false },
    [GATEWAY_RL_MISSION_CREATE] = { "mission_create", 3600, false },
    [GATEWAY_RL_TOKEN_IP]       = { "token_ip",       60,   true },
    [GATEWAY_RL_TOKEN_ACCOUNT]  = { "token_account",  60,   true },
    [GATEWAY_RL_REGISTER_IP]    = { "register_ip",    3600, true },
};

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  ----------------------------------------------------------------------
//  Life cycle

gateway_ratelimit_t *
gateway_ratelimit_new (const cm_config_t *cfg, size_t slots)
{
    assert (cfg);
    gateway_ratelimit_t *self = (gateway_ratelimit_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->limits [GATEWAY_RL_DEFAULT] = cfg->rl_default_per_min;
    self->limits [GATEWAY_RL_MISSION_CREATE] = cfg->rl_mission_create_per_hour;
    self->limits [GATEWAY_RL_TOKEN_IP] = cfg->rl_token_per_min_ip;
    self->limits [GATEWAY_RL_TOKEN_ACCOUNT] = cfg->rl_token_per_min_account;
    self->limits [GATEWAY_RL_REGISTER_IP] = cfg->rl_register_per_hour_ip;
    for (int bucket = 0; bucket < GATEWAY_RL_BUCKETS; bucket++)
        if (self->limits [bucket] < 1) {
            //  cm_config never loads one; a config built by hand might
            cm_error ("rate limiter: the %s limit is not set", s_buckets [bucket].name);
            goto failed;
        }
    unsigned char digest [EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (EVP_Digest (s_script, sizeof s_script - 1, digest, &digest_len, EVP_sha1 (), NULL) != 1
    ||  digest_len != 20
    ||  RAND_bytes ((unsigned char *) &self->seed, sizeof self->seed) != 1)
        goto failed;
    cm_hex_encode (digest, digest_len, self->sha);
    if (slots == 0)
        slots = GATEWAY_RL_FALLBACK_SLOTS;
    if (slots > GATEWAY_RL_FALLBACK_SLOTS_MAX)
        goto failed;
    self->group_count = (slots + S_GROUP - 1) / S_GROUP;
    self->groups = (s_group_t *) calloc (self->group_count, sizeof (s_group_t));
    if (!self->groups)
        goto failed;
    for (size_t i = 0; i < self->group_count; i++)
        pthread_mutex_init (&self->groups [i].lock, NULL);
    atomic_init (&self->fallbacks, 0);
    atomic_init (&self->redis_errors, 0);
    atomic_init (&self->evictions, 0);
    atomic_init (&self->last_alert, INT64_MIN / 2);
    atomic_init (&self->script_known, false);
    return self;

failed:
    free (self);
    return NULL;
}

void
gateway_ratelimit_destroy (gateway_ratelimit_t **self_p)
{
    assert (self_p);
    gateway_ratelimit_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->group_count; i++)
            pthread_mutex_destroy (&self->groups [i].lock);
        free (self->groups);
        free (self);
        *self_p = NULL;
    }
}

//  ----------------------------------------------------------------------
//  Buckets and subjects

const char *
gateway_ratelimit_bucket_name (gateway_rl_bucket_t bucket)
{
    assert (bucket >= 0 && bucket < GATEWAY_RL_BUCKETS);
    return s_buckets [bucket].name;
}

int64_t
gateway_ratelimit_window_s (gateway_rl_bucket_t bucket)
{
    assert (bucket >= 0 && bucket < GATEWAY_RL_BUCKETS);
    return s_buckets [bucket].window_s;
}

bool
gateway_ratelimit_fails_closed (gateway_rl_bucket_t bucket)
{
    assert (bucket >= 0 && bucket < GATEWAY_RL_BUCKETS);
    return s_buckets [bucket].fails_closed;
}

int64_t
gateway_ratelimit_limit (const gateway_ratelimit_t *self, gateway_rl_bucket_t bucket)
{
    assert (self);
    assert (bucket >= 0 && bucket < GATEWAY_RL_BUCKETS);
    return self->limits [bucket];
}

//  Printable ASCII without blanks: safe in a key, a log line, a RESP argument
static bool
s_printable (const char *text, size_t max)
{
    if (!text || !*text)
        return false;
    size_t len = 0;
    for (; text [len]; len++)
        if (len >= max || (unsigned char) text [len] <= 0x20 || (unsigned char) text [len] >= 0x7f)
            return false;
    return true;
}

static bool
s_valid_subject (const char *subject)
{
    return s_printable (subject, GATEWAY_RL_SUBJECT_MAX - 1);
}

static bool
s_valid_name (const char *name)
{
    if (!name || !*name || strlen (name) > S_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
            return false;
    return true;
}

//  SHA-256 of the username with blanks trimmed and ASCII lower-cased, as hex
static int
s_account_hash (const char *account, char *hex)
{
    size_t start = 0, end = strlen (account);
    while (start < end && isspace ((unsigned char) account [start]))
        start++;
    while (end > start && isspace ((unsigned char) account [end - 1]))
        end--;
    if (start == end)
        return -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new ();
    int rc = -1;
    if (!md || EVP_DigestInit_ex (md, EVP_sha256 (), NULL) != 1)
        goto cleanup;
    char chunk [256];
    for (size_t at = start; at < end; ) {
        size_t n = 0;
        while (n < sizeof chunk && at < end)
            chunk [n++] = (char) tolower ((unsigned char) account [at++]);
        if (EVP_DigestUpdate (md, chunk, n) != 1)
            goto cleanup;
    }
    unsigned char digest [EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex (md, digest, &len) != 1 || len != 32)
        goto cleanup;
    cm_hex_encode (digest, len, hex);
    rc = 0;

cleanup:
    EVP_MD_CTX_free (md);
    return rc;
}

int
gateway_ratelimit_subject (gateway_rl_bucket_t bucket, const char *uid, const char *ip,
                           const char *account, char *out, size_t size)
{
    assert (bucket >= 0 && bucket < GATEWAY_RL_BUCKETS);
    assert (out);
    if (size)
        out [0] = '\0';
    bool user = uid && *uid;
    const char *prefix, *value;
    char hex [65];
    switch (bucket) {
        case GATEWAY_RL_DEFAULT:
            prefix = user? "u:": "ip:";
            value = user? uid: ip;
            break;
        case GATEWAY_RL_MISSION_CREATE:
            prefix = "u:";
            value = user? uid: NULL;
            break;
        case GATEWAY_RL_TOKEN_ACCOUNT:
            if (!account || s_account_hash (account, hex))
                return -1;
            prefix = "acct:";
            value = hex;
            break;
        default:
            prefix = "ip:";
            value = ip;
            break;
    }
    if (!s_printable (value, GATEWAY_RL_SUBJECT_MAX))
        return -1;
    int written = snprintf (out, size, "%s%s", prefix, value);
    if (written < 0 || (size_t) written >= size || (size_t) written >= GATEWAY_RL_SUBJECT_MAX) {
        if (size)
            out [0] = '\0';
        return -1;
    }
    return 0;
}

//  ----------------------------------------------------------------------
//  Redis

static bool
s_valid_args (const char *name, const char *subject, int64_t limit, int64_t window_ms)
{
    return s_valid_name (name) && s_valid_subject (subject)
        && limit >= 1 && window_ms >= 1 && window_ms <= S_WINDOW_MAX_MS;
}

static gateway_rl_verdict_t
s_unavailable (gateway_rl_result_t *result, int64_t limit)
{
    memset (result, 0, sizeof *result);
    result->verdict = GATEWAY_RL_UNAVAILABLE;
    result->limit = limit;
    return result->verdict;
}

//  Fills result from a count and the time left in its window
static gateway_rl_verdict_t
s_result (gateway_rl_result_t *result, bool allowed, int64_t limit, int64_t count,
          int64_t left_ms)
{
    memset (result, 0, sizeof *result);
    result->verdict = allowed? GATEWAY_RL_ALLOWED: GATEWAY_RL_LIMITED;
    result->limit = limit;
    result->remaining = allowed && count < limit? limit - count: 0;
    result->reset_s = left_ms > 0? (left_ms + 999) / 1000: 1;
    return result->verdict;
}

//  Counts a Redis failure and logs it, at most once per GATEWAY_RL_ALERT_MS
static void
s_redis_failed (gateway_ratelimit_t *self, const char *name)
{
    uint64_t errors = atomic_fetch_add (&self->redis_errors, 1) + 1;
    int64_t now = s_now_ms ();
    int_fast64_t last = atomic_load (&self->last_alert);
    if (now - last < GATEWAY_RL_ALERT_MS
    ||  !atomic_compare_exchange_strong (&self->last_alert, &last, now))
        return;
    char errors_text [24], fallbacks_text [24];
    snprintf (errors_text, sizeof errors_text, "%llu", (unsigned long long) errors);
    snprintf (fallbacks_text, sizeof fallbacks_text, "%llu",
              (unsigned long long) atomic_load (&self->fallbacks));
    cm_log_fields (CM_LOG_ERROR,
                   "ALERT rate limiter: Redis unavailable; token and register routes refuse (503), "
                   "other routes use the in-process limiter",
                   "bucket", name, "redis_errors", errors_text, "fallbacks", fallbacks_text,
                   (const char *) NULL);
}

//  The script's reply: exactly three integers; a veto only when one was asked for
static int
s_parse_reply (const redisReply *reply, bool vetoable, int *flag, int64_t *count, int64_t *left_ms)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
        return -1;
    for (size_t i = 0; i < 3; i++)
        if (!reply->element [i] || reply->element [i]->type != REDIS_REPLY_INTEGER)
            return -1;
    long long value = reply->element [0]->integer;
    if ((value != 0 && value != 1 && !(value == -1 && vetoable)) || reply->element [1]->integer < 0)
        return -1;
    *flag = (int) value;
    *count = reply->element [1]->integer;
    *left_ms = reply->element [2]->integer;
    return 0;
}

//  gateway_ratelimit_redis, with the optional veto key unless
static gateway_rl_verdict_t
s_redis (gateway_ratelimit_t *self, cm_redis_t *redis, const char *name, const char *subject,
         int64_t limit, int64_t window_ms, const char *unless, gateway_rl_result_t *result)
{
    assert (self);
    assert (result);
    if (!s_valid_args (name, subject, limit, window_ms)
    ||  (unless && !s_printable (unless, GATEWAY_RL_KEY_MAX - 1))) {
        cm_warn ("rate limiter: refused a malformed check");
        return s_unavailable (result, limit);
    }
    if (!redis) {
        s_redis_failed (self, name);
        return s_unavailable (result, limit);
    }
    char key [GATEWAY_RL_KEY_MAX], limit_text [24], window_text [24];
    snprintf (key, sizeof key, "rl:%s:%s", name, subject);
    snprintf (limit_text, sizeof limit_text, "%lld", (long long) limit);
    snprintf (window_text, sizeof window_text, "%lld", (long long) window_ms);
    const char *argv [] = { "EVALSHA", self->sha, "1", key, limit_text, window_text, NULL };
    int argc = 6;
    if (unless) {
        //  Keys come before arguments: the veto key goes after the counter
        argv [2] = "2";
        memmove (&argv [5], &argv [4], 2 * sizeof argv [0]);
        argv [4] = unless;
        argc = 7;
    }
    redisReply *reply = NULL;
    if (atomic_load (&self->script_known)) {
        reply = cm_redis_command (redis, argc, argv);
        if (!reply)
            atomic_store (&self->script_known, false);
    }
    if (!reply) {
        //  NOSCRIPT (a restarted or flushed Redis), a failure, or not sent
        //  yet: send the script itself, which caches it for every connection
        argv [0] = "EVAL";
        argv [1] = s_script;
        reply = cm_redis_command (redis, argc, argv);
    }
    int flag;
    int64_t count, left_ms;
    int rc = s_parse_reply (reply, unless != NULL, &flag, &count, &left_ms);
    if (rc == 0)
        atomic_store (&self->script_known, true);
    if (reply && rc)
        cm_warn ("rate limiter: unexpected reply from the script");
    freeReplyObject (reply);
    if (rc) {
        s_redis_failed (self, name);
        return s_unavailable (result, limit);
    }
    if (flag < 0) {
        memset (result, 0, sizeof *result);
        result->verdict = GATEWAY_RL_VETOED;
        result->limit = limit;
        return result->verdict;
    }
    return s_result (result, flag == 1, limit, count, left_ms);
}

gateway_rl_verdict_t
gateway_ratelimit_redis (gateway_ratelimit_t *self, cm_redis_t *redis, const char *name,
                         const char *subject, int64_t limit, int64_t window_ms,
                         gateway_rl_result_t *result)
{
    return s_redis (self, redis, name, subject, limit, window_ms, NULL, result);
}

gateway_rl_verdict_t
gateway_ratelimit_check (gateway_ratelimit_t *self, cm_redis_t *redis,
                         gateway_rl_bucket_t bucket, const char *subject,
                         gateway_rl_result_t *result)
{
    return gateway_ratelimit_check_unless (self, redis, bucket, subject, NULL, result);
}

gateway_rl_verdict_t
gateway_ratelimit_check_unless (gateway_ratelimit_t *self, cm_redis_t *redis,
                                gateway_rl_bucket_t bucket, const char *subject,
                                const char *unless, gateway_rl_result_t *result)
{
    assert (self);
    assert (bucket >= 0 && bucket < GATEWAY_RL_BUCKETS);
    return s_redis (self, redis, s_buckets [bucket].name, subject, self->limits [bucket],
                    s_buckets [bucket].window_s * 1000, unless, result);
}

gateway_rl_verdict_t
gateway_ratelimit_take (gateway_ratelimit_t *self, cm_redis_t *redis,
                        gateway_rl_bucket_t bucket, const char *subject,
                        gateway_rl_result_t *result)
{
    gateway_rl_verdict_t verdict = gateway_ratelimit_check (self, redis, bucket, subject, result);
    if (verdict == GATEWAY_RL_UNAVAILABLE)
        verdict = gateway_ratelimit_fallback (self, bucket, subject, result);
    return verdict;
}

gateway_rl_verdict_t
gateway_ratelimit_fallback (gateway_ratelimit_t *self, gateway_rl_bucket_t bucket,
                            const char *subject, gateway_rl_result_t *result)
{
    assert (self);
    assert (bucket >= 0 && bucket < GATEWAY_RL_BUCKETS);
    assert (result);
    if (s_buckets [bucket].fails_closed || !s_valid_subject (subject))
        return s_unavailable (result, self->limits [bucket]);
    atomic_fetch_add (&self->fallbacks, 1);
    gateway_rl_verdict_t verdict = gateway_ratelimit_local (self, s_buckets [bucket].name, subject,
                                                            self->limits [bucket],
                                                            s_buckets [bucket].window_s * 1000, result);
    result->fallback = true;
    return verdict;
}

//  ----------------------------------------------------------------------
//  In-process limiter

//  FNV-1a from a random seed, then a final mix: an outsider cannot aim
//  many subjects at one group without knowing the seed
static uint64_t
s_hash (uint64_t seed, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (const unsigned char *p = (const unsigned char *) key; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

gateway_rl_verdict_t
gateway_ratelimit_local (gateway_ratelimit_t *self, const char *name, const char *subject,
                         int64_t limit, int64_t window_ms, gateway_rl_result_t *result)
{
    assert (self);
    assert (result);
    if (!s_valid_args (name, subject, limit, window_ms))
        return s_unavailable (result, limit);
    char key [GATEWAY_RL_KEY_MAX];
    snprintf (key, sizeof key, "rl:%s:%s", name, subject);
    s_group_t *group = &self->groups [s_hash (self->seed, key) % self->group_count];

    pthread_mutex_lock (&group->lock);
    int64_t now = s_now_ms ();
    s_slot_t *slot = NULL;
    s_slot_t *spare = NULL;             //  free or finished: reusable at no cost
    s_slot_t *oldest = &group->slots [0];   //  the live entry closest to its end
    for (int i = 0; i < S_GROUP && !slot; i++) {
        s_slot_t *candidate = &group->slots [i];
        if (candidate->key [0] && strcmp (candidate->key, key) == 0)
            slot = candidate;
        else
        if (!candidate->key [0] || candidate->window_end <= now) {
            if (!spare)
                spare = candidate;
        }
        else
        if (candidate->window_end < oldest->window_end)
            oldest = candidate;
    }
    if (!slot) {
        slot = spare;
        if (!slot) {
            slot = oldest;
            atomic_fetch_add (&self->evictions, 1);
        }
        memcpy (slot->key, key, strlen (key) + 1);
        slot->count = 0;
        slot->window_end = now + window_ms;
    }
    else
    if (slot->window_end <= now) {
        slot->count = 0;
        slot->window_end = now + window_ms;
    }
    bool allowed = slot->count < limit;
    if (allowed)
        slot->count++;
    int64_t count = slot->count;
    int64_t left_ms = slot->window_end - now;
    pthread_mutex_unlock (&group->lock);

    return s_result (result, allowed, limit, count, left_ms);
}

//  ----------------------------------------------------------------------
//  Counters and headers

uint64_t
gateway_ratelimit_fallbacks (const gateway_ratelimit_t *self)
{
    assert (self);
    return atomic_load (&((gateway_ratelimit_t *) self)->fallbacks);
}

uint64_t
gateway_ratelimit_redis_errors (const gateway_ratelimit_t *self)
{
    assert (self);
    return atomic_load (&((gateway_ratelimit_t *) self)->redis_errors);
}

uint64_t
gateway_ratelimit_evictions (const gateway_ratelimit_t *self)
{
    assert (self);
    return atomic_load (&((gateway_ratelimit_t *) self)->evictions);
}

size_t
gateway_ratelimit_slots (const gateway_ratelimit_t *self)
{
    assert (self);
    return self->group_count * S_GROUP;
}

int
gateway_ratelimit_headers (const gateway_rl_result_t *result, bool retry_after,
                           char *buf, size_t size, size_t *len)
{
    assert (result);
    assert (buf);
    assert (len);
    if (*len >= size)
        return -1;
    if (result->verdict == GATEWAY_RL_UNAVAILABLE || result->verdict == GATEWAY_RL_VETOED)
        return 0;
    char lines [GATEWAY_RL_HEADERS_MAX];
    int written = snprintf (lines, sizeof lines,
                            "RateLimit-Limit: %lld\r\nRateLimit-Remaining: %lld\r\n"
                            "RateLimit-Reset: %lld\r\n",
                            (long long) result->limit, (long long) result->remaining,
                            (long long) result->reset_s);
    if (written > 0 && (size_t) written < sizeof lines && retry_after
    &&  result->verdict == GATEWAY_RL_LIMITED)
        written += snprintf (lines + written, sizeof lines - (size_t) written,
                             "Retry-After: %lld\r\n", (long long) result->reset_s);
    if (written < 0 || (size_t) written >= sizeof lines || (size_t) written >= size - *len)
        return -1;
    memcpy (buf + *len, lines, (size_t) written + 1);
    *len += (size_t) written;
    return 0;
}
