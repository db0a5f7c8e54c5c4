/*  test_gateway_ratelimit - the in-process limiter, subjects, headers, and the
    Redis limiter against a real redis-server

    Each Redis test starts its own redis-server (REDIS_SERVER, default
    /usr/bin/redis-server) on a free 127.0.0.1 port in a fresh temporary
    directory, with nothing saved to disk, and kills it afterwards; the
    server also dies with the test process.
*/
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../../../services/gateway/gateway_ratelimit.h"

#define THREADS     8

static cm_config_t s_cfg;
static char s_redis_url [64];

//  The limits every test starts from
static void
s_config (void)
{
    memset (&s_cfg, 0, sizeof s_cfg);
    s_cfg.rl_default_per_min = 5;
    s_cfg.rl_mission_create_per_hour = 3;
    s_cfg.rl_token_per_min_ip = 4;
    s_cfg.rl_token_per_min_account = 2;
    s_cfg.rl_register_per_hour_ip = 6;
    s_cfg.redis_url = s_redis_url;
    snprintf (s_redis_url, sizeof s_redis_url, "redis://127.0.0.1:1/0");
}

static gateway_ratelimit_t *
s_limiter (size_t slots)
{
    gateway_ratelimit_t *self = gateway_ratelimit_new (&s_cfg, slots);
    cr_assert_not_null (self);
    return self;
}

static void
s_sleep_ms (int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    while (nanosleep (&ts, &ts) == -1 && errno == EINTR)
        ;
}

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_expect (gateway_rl_verdict_t verdict, const gateway_rl_result_t *result,
          gateway_rl_verdict_t want, int64_t limit, int64_t remaining)
{
    cr_assert_eq (verdict, want, "verdict %d, want %d", verdict, want);
    cr_assert_eq (result->verdict, want);
    cr_assert_eq (result->limit, limit);
    cr_assert_eq (result->remaining, remaining, "remaining %lld, want %lld",
                  (long long) result->remaining, (long long) remaining);
}

//  ----------------------------------------------------------------------
//  Buckets and subjects (no Redis)

TestSuite (ratelimit, .init = s_config, .timeout = 20);

Test (ratelimit, buckets)
{
    gateway_ratelimit_t *self = s_limiter (0);
    cr_assert_str_eq (gateway_ratelimit_bucket_name (GATEWAY_RL_DEFAULT), "default");
    cr_assert_str_eq (gateway_ratelimit_bucket_name (GATEWAY_RL_MISSION_CREATE), "mission_create");
    cr_assert_str_eq (gateway_ratelimit_bucket_name (GATEWAY_RL_TOKEN_IP), "token_ip");
    cr_assert_str_eq (gateway_ratelimit_bucket_name (GATEWAY_RL_TOKEN_ACCOUNT), "token_account");
    cr_assert_str_eq (gateway_ratelimit_bucket_name (GATEWAY_RL_REGISTER_IP), "register_ip");
    cr_assert_eq (gateway_ratelimit_window_s (GATEWAY_RL_DEFAULT), 60);
    cr_assert_eq (gateway_ratelimit_window_s (GATEWAY_RL_MISSION_CREATE), 3600);
    cr_assert_eq (gateway_ratelimit_window_s (GATEWAY_RL_TOKEN_IP), 60);
    cr_assert_eq (gateway_ratelimit_window_s (GATEWAY_RL_TOKEN_ACCOUNT), 60);
    cr_assert_eq (gateway_ratelimit_window_s (GATEWAY_RL_REGISTER_IP), 3600);
    cr_assert_not (gateway_ratelimit_fails_closed (GATEWAY_RL_DEFAULT));
    cr_assert_not (gateway_ratelimit_fails_closed (GATEWAY_RL_MISSION_CREATE));
    cr_assert (gateway_ratelimit_fails_closed (GATEWAY_RL_TOKEN_IP));
    cr_assert (gateway_ratelimit_fails_closed (GATEWAY_RL_TOKEN_ACCOUNT));
    cr_assert (gateway_ratelimit_fails_closed (GATEWAY_RL_REGISTER_IP));
    cr_assert_eq (gateway_ratelimit_limit (self, GATEWAY_RL_DEFAULT), 5);
    cr_assert_eq (gateway_ratelimit_limit (self, GATEWAY_RL_MISSION_CREATE), 3);
    cr_assert_eq (gateway_ratelimit_limit (self, GATEWAY_RL_TOKEN_IP), 4);
    cr_assert_eq (gateway_ratelimit_limit (self, GATEWAY_RL_TOKEN_ACCOUNT), 2);
    cr_assert_eq (gateway_ratelimit_limit (self, GATEWAY_RL_REGISTER_IP), 6);
    cr_assert_eq (gateway_ratelimit_slots (self), GATEWAY_RL_FALLBACK_SLOTS);
    gateway_ratelimit_destroy (&self);
    gateway_ratelimit_destroy (&self);     //  idempotent
    cr_assert_null (self);
    self = s_limiter (60);
    cr_assert_eq (gateway_ratelimit_slots (self), 64, "rounded up to whole groups");
    gateway_ratelimit_destroy (&self);
    cr_assert_null (gateway_ratelimit_new (&s_cfg, GATEWAY_RL_FALLBACK_SLOTS_MAX + 1));
    cr_assert_null (gateway_ratelimit_new (&s_cfg, SIZE_MAX));
    //  A limit left at 0 is refused, not taken as "refuse everything"
    s_cfg.rl_register_per_hour_ip = 0;
    cr_assert_null (gateway_ratelimit_new (&s_cfg, 0));
}

Test (ratelimit, subjects)
{
    char out [GATEWAY_RL_SUBJECT_MAX];
    const char *uid = "0b7c1a52-3f7e-4c1e-9d7a-6f1f5b0b9e11";
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_DEFAULT, uid, "198.51.100.7", NULL,
                                             out, sizeof out), 0);
    cr_assert_str_eq (out, "u:0b7c1a52-3f7e-4c1e-9d7a-6f1f5b0b9e11");
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_DEFAULT, "", "198.51.100.7", NULL,
                                             out, sizeof out), 0);
    cr_assert_str_eq (out, "ip:198.51.100.7");
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_DEFAULT, NULL, "2001:db8::1", NULL,
                                             out, sizeof out), 0);
    cr_assert_str_eq (out, "ip:2001:db8::1");
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_MISSION_CREATE, uid, "198.51.100.7", NULL,
                                             out, sizeof out), 0);
    cr_assert_str_eq (out, "u:0b7c1a52-3f7e-4c1e-9d7a-6f1f5b0b9e11");
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_TOKEN_IP, uid, "198.51.100.7", NULL,
                                             out, sizeof out), 0);
    cr_assert_str_eq (out, "ip:198.51.100.7", "per IP even when signed in");
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_REGISTER_IP, NULL, "198.51.100.7", NULL,
                                             out, sizeof out), 0);
    cr_assert_str_eq (out, "ip:198.51.100.7");
    //  What a bucket needs must be there, printable and short enough
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_MISSION_CREATE, "", "198.51.100.7", NULL,
                                             out, sizeof out), -1);
    cr_assert_str_empty (out);
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_TOKEN_IP, uid, NULL, NULL, out, sizeof out), -1);
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_DEFAULT, NULL, "", NULL, out, sizeof out), -1);
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_DEFAULT, "a b", "1.2.3.4", NULL,
                                             out, sizeof out), -1);
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_DEFAULT, "a\r\nb", "1.2.3.4", NULL,
                                             out, sizeof out), -1);
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_DEFAULT, "\xc3\xa9", "1.2.3.4", NULL,
                                             out, sizeof out), -1);
    char longer [GATEWAY_RL_SUBJECT_MAX];
    memset (longer, 'a', sizeof longer - 1);
    longer [sizeof longer - 1] = '\0';
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_DEFAULT, longer, NULL, NULL,
                                             out, sizeof out), -1);
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_DEFAULT, uid, NULL, NULL, out, 10), -1);
    cr_assert_str_empty (out);
}

Test (ratelimit, account_subject_is_a_hash)
{
    char out [GATEWAY_RL_SUBJECT_MAX], other [GATEWAY_RL_SUBJECT_MAX];
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_TOKEN_ACCOUNT, NULL, "1.2.3.4",
                                             "alice@example.com", out, sizeof out), 0);
    //  SHA-256 ("alice@example.com")
    cr_assert_str_eq (out, "acct:ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976");
    cr_assert_null (strstr (out, "alice"));
    cr_assert_null (strchr (out, '@'));
    //  Case and surrounding blanks do not make a new account
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_TOKEN_ACCOUNT, NULL, NULL,
                                             " \tAlice@Example.COM\n ", other, sizeof other), 0);
    cr_assert_str_eq (out, other);
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_TOKEN_ACCOUNT, NULL, NULL,
                                             "bob@example.com", other, sizeof other), 0);
    cr_assert_str_neq (out, other);
    //  Longer than any chunk of the hashing loop
    char longer [2000];
    memset (longer, 'X', sizeof longer - 1);
    longer [sizeof longer - 1] = '\0';
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_TOKEN_ACCOUNT, NULL, NULL, longer,
                                             other, sizeof other), 0);
    cr_assert_eq (strlen (other), 5 + 64);
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_TOKEN_ACCOUNT, NULL, NULL, "  ",
                                             out, sizeof out), -1);
    cr_assert_eq (gateway_ratelimit_subject (GATEWAY_RL_TOKEN_ACCOUNT, NULL, NULL, NULL,
                                             out, sizeof out), -1);
}

Test (ratelimit, headers)
{
    gateway_rl_result_t result = { GATEWAY_RL_LIMITED, 10, 0, 42, false };
    char buf [256] = "";
    size_t len = 0;
    cr_assert_eq (gateway_ratelimit_headers (&result, true, buf, sizeof buf, &len), 0);
    cr_assert_str_eq (buf, "RateLimit-Limit: 10\r\nRateLimit-Remaining: 0\r\nRateLimit-Reset: 42\r\n"
                           "Retry-After: 42\r\n");
    cr_assert_eq (len, strlen (buf));
    len = 0;
    cr_assert_eq (gateway_ratelimit_headers (&result, false, buf, sizeof buf, &len), 0);
    cr_assert_str_eq (buf, "RateLimit-Limit: 10\r\nRateLimit-Remaining: 0\r\nRateLimit-Reset: 42\r\n");
    gateway_rl_result_t allowed = { GATEWAY_RL_ALLOWED, 100, 99, 60, false };
    len = 0;
    cr_assert_eq (gateway_ratelimit_headers (&allowed, true, buf, sizeof buf, &len), 0);
    cr_assert_str_eq (buf, "RateLimit-Limit: 100\r\nRateLimit-Remaining: 99\r\nRateLimit-Reset: 60\r\n");
    //  Appends; nothing for an unavailable result
    gateway_rl_result_t down = { GATEWAY_RL_UNAVAILABLE, 100, 0, 0, false };
    size_t before = len;
    cr_assert_eq (gateway_ratelimit_headers (&down, true, buf, sizeof buf, &len), 0);
    cr_assert_eq (len, before);
    //  Does not fit: nothing written
    char small [40];
    memset (small, 'x', sizeof small);
    len = 0;
    cr_assert_eq (gateway_ratelimit_headers (&result, true, small, sizeof small, &len), -1);
    cr_assert_eq (len, 0);
    cr_assert_eq (small [0], 'x');
    len = sizeof small;
    cr_assert_eq (gateway_ratelimit_headers (&result, true, small, sizeof small, &len), -1);
}

//  ----------------------------------------------------------------------
//  The in-process limiter

Test (ratelimit, local_limit_and_remaining)
{
    gateway_ratelimit_t *self = s_limiter (0);
    gateway_rl_result_t result;
    for (int64_t i = 1; i <= 3; i++) {
        gateway_rl_verdict_t verdict = gateway_ratelimit_local (self, "test", "ip:1.2.3.4", 3,
                                                                60000, &result);
        s_expect (verdict, &result, GATEWAY_RL_ALLOWED, 3, 3 - i);
        cr_assert_eq (result.reset_s, 60);
        cr_assert_not (result.fallback);
    }
    for (int i = 0; i < 5; i++) {
        gateway_rl_verdict_t verdict = gateway_ratelimit_local (self, "test", "ip:1.2.3.4", 3,
                                                                60000, &result);
        s_expect (verdict, &result, GATEWAY_RL_LIMITED, 3, 0);
        cr_assert (result.reset_s >= 59 && result.reset_s <= 60);
    }
    //  Other subjects and other buckets are counted apart
    s_expect (gateway_ratelimit_local (self, "test", "ip:1.2.3.5", 3, 60000, &result), &result,
              GATEWAY_RL_ALLOWED, 3, 2);
    s_expect (gateway_ratelimit_local (self, "other", "ip:1.2.3.4", 3, 60000, &result), &result,
              GATEWAY_RL_ALLOWED, 3, 2);
    //  Reset rounds up: 1500 ms left is 2 s
    s_expect (gateway_ratelimit_local (self, "short", "ip:1.2.3.4", 1, 1500, &result), &result,
              GATEWAY_RL_ALLOWED, 1, 0);
    cr_assert_eq (result.reset_s, 2);
    cr_assert_eq (gateway_ratelimit_evictions (self), 0);
    gateway_ratelimit_destroy (&self);
}

Test (ratelimit, local_window_reset)
{
    gateway_ratelimit_t *self = s_limiter (0);
    gateway_rl_result_t result;
    s_expect (gateway_ratelimit_local (self, "test", "u:a", 2, 400, &result), &result,
              GATEWAY_RL_ALLOWED, 2, 1);
    s_expect (gateway_ratelimit_local (self, "test", "u:a", 2, 400, &result), &result,
              GATEWAY_RL_ALLOWED, 2, 0);
    s_expect (gateway_ratelimit_local (self, "test", "u:a", 2, 400, &result), &result,
              GATEWAY_RL_LIMITED, 2, 0);
    cr_assert_eq (result.reset_s, 1);
    s_sleep_ms (500);
    s_expect (gateway_ratelimit_local (self, "test", "u:a", 2, 400, &result), &result,
              GATEWAY_RL_ALLOWED, 2, 1);
    gateway_ratelimit_destroy (&self);
}

Test (ratelimit, local_refuses_bad_arguments)
{
    gateway_ratelimit_t *self = s_limiter (0);
    gateway_rl_result_t result;
    const char *names [] = { "", "Test", "te-st", "test1", "a_very_long_bucket_name_xyz", NULL };
    for (int i = 0; names [i]; i++)
        cr_assert_eq (gateway_ratelimit_local (self, names [i], "u:a", 1, 1000, &result),
                      GATEWAY_RL_UNAVAILABLE, "name '%s'", names [i]);
    cr_assert_eq (gateway_ratelimit_local (self, NULL, "u:a", 1, 1000, &result), GATEWAY_RL_UNAVAILABLE);
    cr_assert_eq (gateway_ratelimit_local (self, "test", "u:a b", 1, 1000, &result), GATEWAY_RL_UNAVAILABLE);
    cr_assert_eq (gateway_ratelimit_local (self, "test", "", 1, 1000, &result), GATEWAY_RL_UNAVAILABLE);
    cr_assert_eq (gateway_ratelimit_local (self, "test", NULL, 1, 1000, &result), GATEWAY_RL_UNAVAILABLE);
    cr_assert_eq (gateway_ratelimit_local (self, "test", "u:a", 0, 1000, &result), GATEWAY_RL_UNAVAILABLE);
    cr_assert_eq (gateway_ratelimit_local (self, "test", "u:a", 1, 0, &result), GATEWAY_RL_UNAVAILABLE);
    cr_assert_eq (gateway_ratelimit_local (self, "test", "u:a", 1, 86400001, &result),
                  GATEWAY_RL_UNAVAILABLE);
    char longer [GATEWAY_RL_SUBJECT_MAX + 1];
    memset (longer, 'a', sizeof longer - 1);
    longer [sizeof longer - 1] = '\0';
    cr_assert_eq (gateway_ratelimit_local (self, "test", longer, 1, 1000, &result), GATEWAY_RL_UNAVAILABLE);
    longer [GATEWAY_RL_SUBJECT_MAX - 1] = '\0';
    cr_assert_eq (gateway_ratelimit_local (self, "test", longer, 1, 1000, &result), GATEWAY_RL_ALLOWED);
    gateway_ratelimit_destroy (&self);
}

Test (ratelimit, local_memory_is_bounded)
{
    gateway_ratelimit_t *self = s_limiter (64);
    gateway_rl_result_t result;
    int subjects = 20000;
    for (int i = 0; i < subjects; i++) {
        char subject [32];
        snprintf (subject, sizeof subject, "ip:10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        cr_assert_eq (gateway_ratelimit_local (self, "test", subject, 1, 60000, &result),
                      GATEWAY_RL_ALLOWED);
    }
    cr_assert_eq (gateway_ratelimit_slots (self), 64);
    //  64 slots hold at most 64 subjects: every other one pushed one out
    uint64_t evictions = gateway_ratelimit_evictions (self);
    cr_assert (evictions >= (uint64_t) subjects - 64 && evictions <= (uint64_t) subjects,
               "evictions %llu", (unsigned long long) evictions);
    gateway_ratelimit_destroy (&self);
}

Test (ratelimit, local_evicts_finished_then_closest_to_its_end)
{
    //  One group of 8: every key meets every other
    gateway_ratelimit_t *self = s_limiter (8);
    gateway_rl_result_t result;
    //  Finished windows are reused without counting an eviction
    for (int i = 0; i < 8; i++) {
        char subject [32];
        snprintf (subject, sizeof subject, "u:old%d", i);
        gateway_ratelimit_local (self, "test", subject, 1, 20, &result);
    }
    s_sleep_ms (40);
    for (int i = 0; i < 8; i++) {
        char subject [32];
        snprintf (subject, sizeof subject, "u:new%d", i);
        gateway_ratelimit_local (self, "test", subject, 1, 60000 + i, &result);
    }
    cr_assert_eq (gateway_ratelimit_evictions (self), 0);
    //  A full group gives up the entry nearest its end: new0
    cr_assert_eq (gateway_ratelimit_local (self, "test", "u:newcomer", 1, 60000, &result),
                  GATEWAY_RL_ALLOWED);
    cr_assert_eq (gateway_ratelimit_evictions (self), 1);
    for (int i = 1; i < 8; i++) {
        char subject [32];
        snprintf (subject, sizeof subject, "u:new%d", i);
        cr_assert_eq (gateway_ratelimit_local (self, "test", subject, 1, 60000, &result),
                      GATEWAY_RL_LIMITED, "%s was forgotten", subject);
    }
    cr_assert_eq (gateway_ratelimit_local (self, "test", "u:newcomer", 1, 60000, &result),
                  GATEWAY_RL_LIMITED);
    cr_assert_eq (gateway_ratelimit_evictions (self), 1);
    cr_assert_eq (gateway_ratelimit_local (self, "test", "u:new0", 1, 60000, &result),
                  GATEWAY_RL_ALLOWED, "new0 was the one given up");
    gateway_ratelimit_destroy (&self);
}

typedef struct {
    gateway_ratelimit_t *limiter;
    const char *redis_url;              //  NULL: the in-process limiter
    int attempts;
    int subjects;
    int64_t limit;
    int allowed;                        //  out
    int limited;                        //  out
    int unavailable;                    //  out
} hammer_t;

static atomic_int s_go;

static void *
s_hammer (void *arg)
{
    hammer_t *job = (hammer_t *) arg;
    cm_redis_t *redis = NULL;
    if (job->redis_url) {
        cm_config_t cfg = s_cfg;
        cfg.redis_url = (char *) job->redis_url;
        redis = cm_redis_new (&cfg);
    }
    while (!atomic_load (&s_go))
        ;
    for (int i = 0; i < job->attempts; i++) {
        char subject [32];
        snprintf (subject, sizeof subject, "u:s%d", i % job->subjects);
        gateway_rl_result_t result;
        gateway_rl_verdict_t verdict = job->redis_url
            ? gateway_ratelimit_redis (job->limiter, redis, "hammer", subject, job->limit, 60000, &result)
            : gateway_ratelimit_local (job->limiter, "hammer", subject, job->limit, 60000, &result);
        if (verdict == GATEWAY_RL_ALLOWED)
            job->allowed++;
        else
        if (verdict == GATEWAY_RL_LIMITED)
            job->limited++;
        else
            job->unavailable++;
    }
    cm_redis_destroy (&redis);
    return NULL;
}

//  THREADS threads making attempts each over subjects; returns the allowed total
static int
s_hammer_all (gateway_ratelimit_t *limiter, const char *redis_url, int attempts, int subjects,
              int64_t limit, int *unavailable)
{
    pthread_t threads [THREADS];
    hammer_t jobs [THREADS];
    atomic_store (&s_go, 0);
    for (int i = 0; i < THREADS; i++) {
        jobs [i] = (hammer_t) { limiter, redis_url, attempts, subjects, limit, 0, 0, 0 };
        cr_assert_eq (pthread_create (&threads [i], NULL, s_hammer, &jobs [i]), 0);
    }
    atomic_store (&s_go, 1);
    int allowed = 0;
    *unavailable = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join (threads [i], NULL);
        allowed += jobs [i].allowed;
        *unavailable += jobs [i].unavailable;
        cr_assert_eq (jobs [i].allowed + jobs [i].limited + jobs [i].unavailable, attempts);
    }
    return allowed;
}

Test (ratelimit, local_is_thread_safe)
{
    gateway_ratelimit_t *self = s_limiter (0);
    int unavailable;
    int allowed = s_hammer_all (self, NULL, 4000, 16, 100, &unavailable);
    cr_assert_eq (unavailable, 0);
    cr_assert_eq (allowed, 16 * 100, "allowed %d", allowed);
    gateway_ratelimit_destroy (&self);
}

Test (ratelimit, fallback_without_redis)
{
    gateway_ratelimit_t *self = s_limiter (0);
    gateway_rl_result_t result;
    //  No connection at all
    cr_assert_eq (gateway_ratelimit_check (self, NULL, GATEWAY_RL_DEFAULT, "u:a", &result),
                  GATEWAY_RL_UNAVAILABLE);
    cr_assert_not (result.fallback);
    cr_assert_eq (gateway_ratelimit_redis_errors (self), 1);
    cr_assert_eq (gateway_ratelimit_fallbacks (self), 0);
    for (int64_t i = 1; i <= 5; i++) {
        s_expect (gateway_ratelimit_take (self, NULL, GATEWAY_RL_DEFAULT, "u:a", &result), &result,
                  GATEWAY_RL_ALLOWED, 5, 5 - i);
        cr_assert (result.fallback);
        cr_assert_eq (result.reset_s, 60);
    }
    s_expect (gateway_ratelimit_take (self, NULL, GATEWAY_RL_DEFAULT, "u:a", &result), &result,
              GATEWAY_RL_LIMITED, 5, 0);
    cr_assert (result.fallback);
    s_expect (gateway_ratelimit_take (self, NULL, GATEWAY_RL_MISSION_CREATE, "u:a", &result),
              &result, GATEWAY_RL_ALLOWED, 3, 2);
    cr_assert_eq (result.reset_s, 3600);
    cr_assert_eq (gateway_ratelimit_fallbacks (self), 7);
    //  Token and register buckets fail closed
    cr_assert_eq (gateway_ratelimit_take (self, NULL, GATEWAY_RL_TOKEN_IP, "ip:1.2.3.4", &result),
                  GATEWAY_RL_UNAVAILABLE);
    cr_assert_not (result.fallback);
    cr_assert_eq (gateway_ratelimit_take (self, NULL, GATEWAY_RL_TOKEN_ACCOUNT, "acct:00", &result),
                  GATEWAY_RL_UNAVAILABLE);
    cr_assert_eq (gateway_ratelimit_take (self, NULL, GATEWAY_RL_REGISTER_IP, "ip:1.2.3.4", &result),
                  GATEWAY_RL_UNAVAILABLE);
    //  A bad subject is not waved through by the fallback either
    cr_assert_eq (gateway_ratelimit_take (self, NULL, GATEWAY_RL_DEFAULT, "u:a b", &result),
                  GATEWAY_RL_UNAVAILABLE);
    cr_assert_eq (gateway_ratelimit_fallbacks (self), 7);
    cr_assert_eq (gateway_ratelimit_redis_errors (self), 1 + 7 + 3);
    gateway_ratelimit_destroy (&self);
}

//  What gateway_ratelimit_take does in one call, in two: check, then fallback
Test (ratelimit, fallback_after_a_check)
{
    gateway_ratelimit_t *self = s_limiter (0);
    gateway_rl_result_t result;
    cr_assert_eq (gateway_ratelimit_check_unless (self, NULL, GATEWAY_RL_DEFAULT, "u:a", "revoked:x", &result),
                  GATEWAY_RL_UNAVAILABLE);
    cr_assert_eq (gateway_ratelimit_redis_errors (self), 1);
    s_expect (gateway_ratelimit_fallback (self, GATEWAY_RL_DEFAULT, "u:a", &result), &result,
              GATEWAY_RL_ALLOWED, 5, 4);
    cr_assert (result.fallback);
    cr_assert_eq (gateway_ratelimit_fallbacks (self), 1);
    //  The same in-process counter as take's
    s_expect (gateway_ratelimit_take (self, NULL, GATEWAY_RL_DEFAULT, "u:a", &result), &result,
              GATEWAY_RL_ALLOWED, 5, 3);
    cr_assert_eq (gateway_ratelimit_fallback (self, GATEWAY_RL_TOKEN_IP, "ip:1.2.3.4", &result),
                  GATEWAY_RL_UNAVAILABLE);
    cr_assert_eq (result.limit, 4);
    cr_assert_not (result.fallback);
    cr_assert_eq (gateway_ratelimit_fallback (self, GATEWAY_RL_DEFAULT, "", &result),
                  GATEWAY_RL_UNAVAILABLE);
    cr_assert_eq (gateway_ratelimit_fallbacks (self), 2);
    gateway_ratelimit_destroy (&self);
}

//  ----------------------------------------------------------------------
//  Against a real Redis

static pid_t s_redis_pid;
static int s_redis_port;
static char s_redis_dir [64];             //  a fresh /tmp directory per test

static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    cr_assert (fd >= 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    cr_assert_eq (bind (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    cr_assert_eq (getsockname (fd, (struct sockaddr *) &addr, &len), 0);
    close (fd);
    return ntohs (addr.sin_port);
}

static bool
s_redis_ping (int port)
{
    struct timeval timeout = { 0, 100000 };
    redisContext *ctx = redisConnectWithTimeout ("127.0.0.1", port, timeout);
    bool ok = false;
    if (ctx && !ctx->err) {
        redisSetTimeout (ctx, timeout);
        redisReply *reply = (redisReply *) redisCommand (ctx, "PING");
        ok = reply && reply->type == REDIS_REPLY_STATUS && strcmp (reply->str, "PONG") == 0;
        freeReplyObject (reply);
    }
    if (ctx)
        redisFree (ctx);
    return ok;
}

//  Starts redis-server on port (0: a free one); returns whether it answers
static bool
s_redis_spawn (int port)
{
    const char *binary = getenv ("REDIS_SERVER");
    if (!binary || !*binary)
        binary = "/usr/bin/redis-server";
    s_redis_port = port? port: s_free_port ();
    char port_text [16];
    snprintf (port_text, sizeof port_text, "%d", s_redis_port);
    pid_t pid = fork ();
    cr_assert (pid >= 0, "fork: %s", strerror (errno));
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        int null = open ("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2 (null, STDIN_FILENO);
            dup2 (null, STDOUT_FILENO);
            dup2 (null, STDERR_FILENO);
        }
        execl (binary, "redis-server", "--port", port_text, "--bind", "127.0.0.1",
               "--dir", s_redis_dir, "--save", "", "--appendonly", "no", "--daemonize", "no",
               "--protected-mode", "yes", "--logfile", "", (char *) NULL);
        _exit (127);
    }
    s_redis_pid = pid;
    int64_t deadline = s_now_ms () + 2000;
    while (s_now_ms () < deadline) {
        if (s_redis_ping (s_redis_port))
            return true;
        int status;
        if (waitpid (pid, &status, WNOHANG) == pid) {
            s_redis_pid = 0;
            return false;               //  exited: the port was taken after all
        }
        s_sleep_ms (10);
    }
    return false;
}

static void
s_redis_kill (void)
{
    if (s_redis_pid > 0) {
        kill (s_redis_pid, SIGKILL);
        while (waitpid (s_redis_pid, NULL, 0) < 0 && errno == EINTR)
            ;
        s_redis_pid = 0;
    }
}

static void
s_redis_start (void)
{
    s_config ();
    const char *binary = getenv ("REDIS_SERVER");
    if (access (binary && *binary? binary: "/usr/bin/redis-server", X_OK) != 0)
        cr_skip_test ("redis-server not installed");
    snprintf (s_redis_dir, sizeof s_redis_dir, "/tmp/test_gateway_ratelimit.XXXXXX");
    cr_assert_not_null (mkdtemp (s_redis_dir), "mkdtemp: %s", strerror (errno));
    bool up = false;
    for (int attempt = 0; attempt < 3 && !up; attempt++) {
        up = s_redis_spawn (0);
        if (!up)
            s_redis_kill ();
    }
    cr_assert (up, "redis-server did not start");
    snprintf (s_redis_url, sizeof s_redis_url, "redis://127.0.0.1:%d/0", s_redis_port);
}

static void
s_redis_stop (void)
{
    s_redis_kill ();
    DIR *dir = opendir (s_redis_dir);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir)))
            if (strcmp (entry->d_name, ".") && strcmp (entry->d_name, "..")) {
                char path [PATH_MAX + 256];
                snprintf (path, sizeof path, "%s/%s", s_redis_dir, entry->d_name);
                unlink (path);
            }
        closedir (dir);
        rmdir (s_redis_dir);
    }
}

static cm_redis_t *
s_redis (void)
{
    cm_redis_t *redis = cm_redis_new (&s_cfg);
    cr_assert_not_null (redis);
    return redis;
}

//  A command's integer reply, or the integer value of a string reply
static long long
s_integer (cm_redis_t *redis, const char *command, const char *key)
{
    const char *argv [] = { command, key };
    redisReply *reply = cm_redis_command (redis, 2, argv);
    cr_assert_not_null (reply, "%s %s failed", command, key);
    long long value = reply->type == REDIS_REPLY_INTEGER? reply->integer
                    : reply->type == REDIS_REPLY_STRING? atoll (reply->str): -999;
    freeReplyObject (reply);
    return value;
}

static void
s_command (cm_redis_t *redis, int argc, const char **argv)
{
    redisReply *reply = cm_redis_command (redis, argc, argv);
    cr_assert_not_null (reply, "%s failed", argv [0]);
    freeReplyObject (reply);
}

TestSuite (ratelimit_redis, .init = s_redis_start, .fini = s_redis_stop, .timeout = 30);

Test (ratelimit_redis, limit_remaining_reset_exact)
{
    gateway_ratelimit_t *self = s_limiter (0);
    cm_redis_t *redis = s_redis ();
    gateway_rl_result_t result;
    for (int64_t i = 1; i <= 3; i++) {
        s_expect (gateway_ratelimit_redis (self, redis, "test", "ip:1.2.3.4", 3, 60000, &result),
                  &result, GATEWAY_RL_ALLOWED, 3, 3 - i);
        cr_assert (result.reset_s >= 59 && result.reset_s <= 60, "reset %lld", (long long) result.reset_s);
        cr_assert_not (result.fallback);
    }
    for (int i = 0; i < 4; i++) {
        s_expect (gateway_ratelimit_redis (self, redis, "test", "ip:1.2.3.4", 3, 60000, &result),
                  &result, GATEWAY_RL_LIMITED, 3, 0);
        cr_assert (result.reset_s >= 59 && result.reset_s <= 60);
    }
    //  Refused requests are not counted
    cr_assert_eq (s_integer (redis, "GET", "rl:test:ip:1.2.3.4"), 3);
    //  The first request of a window sees the whole window
    s_expect (gateway_ratelimit_redis (self, redis, "test", "ip:1.2.3.5", 3, 60000, &result),
              &result, GATEWAY_RL_ALLOWED, 3, 2);
    cr_assert_eq (result.reset_s, 60);
    s_expect (gateway_ratelimit_redis (self, redis, "test", "ip:1.2.3.6", 1, 1500, &result),
              &result, GATEWAY_RL_ALLOWED, 1, 0);
    cr_assert_eq (result.reset_s, 2, "rounded up");
    cr_assert_eq (gateway_ratelimit_redis_errors (self), 0);
    cm_redis_destroy (&redis);
    gateway_ratelimit_destroy (&self);
}

Test (ratelimit_redis, window_resets)
{
    gateway_ratelimit_t *self = s_limiter (0);
    cm_redis_t *redis = s_redis ();
    gateway_rl_result_t result;
    s_expect (gateway_ratelimit_redis (self, redis, "test", "u:a", 2, 400, &result), &result,
              GATEWAY_RL_ALLOWED, 2, 1);
    cr_assert_eq (result.reset_s, 1);
    s_expect (gateway_ratelimit_redis (self, redis, "test", "u:a", 2, 400, &result), &result,
              GATEWAY_RL_ALLOWED, 2, 0);
    s_expect (gateway_ratelimit_redis (self, redis, "test", "u:a", 2, 400, &result), &result,
              GATEWAY_RL_LIMITED, 2, 0);
    cr_assert_eq (result.reset_s, 1);
    s_sleep_ms (500);
    s_expect (gateway_ratelimit_redis (self, redis, "test", "u:a", 2, 400, &result), &result,
              GATEWAY_RL_ALLOWED, 2, 1);
    cm_redis_destroy (&redis);
    gateway_ratelimit_destroy (&self);
}

Test (ratelimit_redis, buckets_use_config_and_set_ttl)
{
    gateway_ratelimit_t *self = s_limiter (0);
    cm_redis_t *redis = s_redis ();
    gateway_rl_result_t result;
    struct { gateway_rl_bucket_t bucket; const char *subject; const char *key; int64_t limit; int64_t window_s; }
    cases [] = {
        { GATEWAY_RL_DEFAULT, "u:abc", "rl:default:u:abc", 5, 60 },
        { GATEWAY_RL_MISSION_CREATE, "u:abc", "rl:mission_create:u:abc", 3, 3600 },
        { GATEWAY_RL_TOKEN_IP, "ip:2001:db8::1", "rl:token_ip:ip:2001:db8::1", 4, 60 },
        { GATEWAY_RL_TOKEN_ACCOUNT, "acct:ff8d", "rl:token_account:acct:ff8d", 2, 60 },
        { GATEWAY_RL_REGISTER_IP, "ip:1.2.3.4", "rl:register_ip:ip:1.2.3.4", 6, 3600 },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases [0]; c++) {
        for (int64_t i = 1; i <= cases [c].limit; i++) {
            s_expect (gateway_ratelimit_check (self, redis, cases [c].bucket, cases [c].subject, &result),
                      &result, GATEWAY_RL_ALLOWED, cases [c].limit, cases [c].limit - i);
            cr_assert (result.reset_s == cases [c].window_s || result.reset_s == cases [c].window_s - 1);
        }
        s_expect (gateway_ratelimit_take (self, redis, cases [c].bucket, cases [c].subject, &result),
                  &result, GATEWAY_RL_LIMITED, cases [c].limit, 0);
        cr_assert_not (result.fallback);
        long long ttl = s_integer (redis, "PTTL", cases [c].key);
        cr_assert (ttl > (cases [c].window_s - 5) * 1000 && ttl <= cases [c].window_s * 1000,
                   "%s: PTTL %lld", cases [c].key, ttl);
        cr_assert_eq (s_integer (redis, "GET", cases [c].key), cases [c].limit);
    }
    cr_assert_eq (gateway_ratelimit_fallbacks (self), 0);
    cm_redis_destroy (&redis);
    gateway_ratelimit_destroy (&self);
}

Test (ratelimit_redis, damaged_keys_start_a_fresh_window)
{
    gateway_ratelimit_t *self = s_limiter (0);
    cm_redis_t *redis = s_redis ();
    gateway_rl_result_t result;
    //  A counter without TTL would block its subject for ever
    const char *set [] = { "SET", "rl:test:u:stuck", "99" };
    s_command (redis, 3, set);
    s_expect (gateway_ratelimit_redis (self, redis, "test", "u:stuck", 3, 60000, &result), &result,
              GATEWAY_RL_ALLOWED, 3, 2);
    long long ttl = s_integer (redis, "PTTL", "rl:test:u:stuck");
    cr_assert (ttl > 55000 && ttl <= 60000, "PTTL %lld", ttl);
    //  Not a number
    const char *junk [] = { "SET", "rl:test:u:junk", "abc", "PX", "60000" };
    s_command (redis, 5, junk);
    s_expect (gateway_ratelimit_redis (self, redis, "test", "u:junk", 3, 60000, &result), &result,
              GATEWAY_RL_ALLOWED, 3, 2);
    cr_assert_eq (s_integer (redis, "GET", "rl:test:u:junk"), 1);
    cm_redis_destroy (&redis);
    gateway_ratelimit_destroy (&self);
}

Test (ratelimit_redis, script_reloaded_after_flush)
{
    gateway_ratelimit_t *self = s_limiter (0);
    cm_redis_t *redis = s_redis ();
    gateway_rl_result_t result;
    s_expect (gateway_ratelimit_redis (self, redis, "test", "u:a", 5, 60000, &result), &result,
              GATEWAY_RL_ALLOWED, 5, 4);
    const char *flush [] = { "SCRIPT", "FLUSH" };
    s_command (redis, 2, flush);
    //  NOSCRIPT: sent again with EVAL, counted once
    s_expect (gateway_ratelimit_redis (self, redis, "test", "u:a", 5, 60000, &result), &result,
              GATEWAY_RL_ALLOWED, 5, 3);
    cr_assert_eq (s_integer (redis, "GET", "rl:test:u:a"), 2);
    //  EVAL cached it again, so EVALSHA finds it: one script, no error
    const char *info [] = { "INFO", "memory" };
    redisReply *reply = cm_redis_command (redis, 2, info);
    cr_assert_not_null (reply);
    cr_assert_not_null (strstr (reply->str, "number_of_cached_scripts:1"), "%s", reply->str);
    freeReplyObject (reply);
    s_expect (gateway_ratelimit_redis (self, redis, "test", "u:a", 5, 60000, &result), &result,
              GATEWAY_RL_ALLOWED, 5, 2);
    cr_assert_eq (gateway_ratelimit_redis_errors (self), 0);
    //  The script text went over the wire twice (first use, after the
    //  flush); the last check was by SHA alone
    const char *stats [] = { "INFO", "commandstats" };
    reply = cm_redis_command (redis, 2, stats);
    cr_assert_not_null (reply);
    cr_assert_not_null (strstr (reply->str, "cmdstat_eval:calls=2,"), "%s", reply->str);
    const char *evalsha = strstr (reply->str, "cmdstat_evalsha:calls=");
    cr_assert_not_null (evalsha, "%s", reply->str);
    cr_assert (atoi (evalsha + strlen ("cmdstat_evalsha:calls=")) >= 1);
    freeReplyObject (reply);
    cm_redis_destroy (&redis);
    gateway_ratelimit_destroy (&self);
}

//  A veto key is looked for in the same step: present, nothing is counted
Test (ratelimit_redis, a_veto_key_stops_the_count)
{
    gateway_ratelimit_t *self = s_limiter (0);
    cm_redis_t *redis = s_redis ();
    gateway_rl_result_t result;
    const char *unless = "revoked:11111111-0000-4000-8000-000000000001";
    for (int64_t i = 1; i <= 2; i++)
        s_expect (gateway_ratelimit_check_unless (self, redis, GATEWAY_RL_DEFAULT, "u:a", unless, &result),
                  &result, GATEWAY_RL_ALLOWED, 5, 5 - i);
    const char *revoke [] = { "SET", unless, "1", "PX", "60000" };
    s_command (redis, 5, revoke);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq (gateway_ratelimit_check_unless (self, redis, GATEWAY_RL_DEFAULT, "u:a", unless, &result),
                      GATEWAY_RL_VETOED);
        cr_assert_eq (result.verdict, GATEWAY_RL_VETOED);
        cr_assert_not (result.fallback);
    }
    cr_assert_eq (s_integer (redis, "GET", "rl:default:u:a"), 2);
    //  No header lines for a veto
    char buf [256] = "";
    size_t len = 0;
    cr_assert_eq (gateway_ratelimit_headers (&result, true, buf, sizeof buf, &len), 0);
    cr_assert_eq (len, 0);
    //  Other checks are not concerned by it
    s_expect (gateway_ratelimit_check (self, redis, GATEWAY_RL_DEFAULT, "u:a", &result), &result,
              GATEWAY_RL_ALLOWED, 5, 2);
    //  Over the limit and vetoed: the veto speaks, as the session check comes first
    for (int i = 0; i < 3; i++)
        gateway_ratelimit_check (self, redis, GATEWAY_RL_DEFAULT, "u:a", &result);
    cr_assert_eq (result.verdict, GATEWAY_RL_LIMITED);
    cr_assert_eq (gateway_ratelimit_check_unless (self, redis, GATEWAY_RL_DEFAULT, "u:a", unless, &result),
                  GATEWAY_RL_VETOED);
    //  After a flush the script goes again in full, veto key and all
    const char *flush [] = { "SCRIPT", "FLUSH" };
    s_command (redis, 2, flush);
    cr_assert_eq (gateway_ratelimit_check_unless (self, redis, GATEWAY_RL_DEFAULT, "u:b", unless, &result),
                  GATEWAY_RL_VETOED);
    cr_assert_eq (s_integer (redis, "EXISTS", "rl:default:u:b"), 0);
    //  A malformed veto key is refused, not sent
    cr_assert_eq (gateway_ratelimit_check_unless (self, redis, GATEWAY_RL_DEFAULT, "u:b", "revoked: x", &result),
                  GATEWAY_RL_UNAVAILABLE);
    cr_assert_eq (gateway_ratelimit_redis_errors (self), 0);
    cm_redis_destroy (&redis);
    gateway_ratelimit_destroy (&self);
}

Test (ratelimit_redis, atomic_under_concurrency)
{
    gateway_ratelimit_t *self = s_limiter (0);
    int unavailable;
    int allowed = s_hammer_all (self, s_redis_url, 60, 1, 37, &unavailable);
    cr_assert (allowed <= 37, "admitted %d past a limit of 37", allowed);
    cr_assert_eq (unavailable, 0);
    cr_assert_eq (allowed, 37);
    cm_redis_t *redis = s_redis ();
    cr_assert_eq (s_integer (redis, "GET", "rl:hammer:u:s0"), 37);
    cm_redis_destroy (&redis);
    //  Several keys at once
    allowed = s_hammer_all (self, s_redis_url, 80, 4, 10, &unavailable);
    cr_assert_eq (unavailable, 0);
    cr_assert_eq (allowed, 4 * 10 - 10, "u:s0 was used up already; admitted %d", allowed);
    gateway_ratelimit_destroy (&self);
}

//  Runs fn with stderr sent to a file; returns how many lines contain needle
static int
s_count_in_stderr (void (*fn) (void *), void *arg, const char *needle)
{
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/stderr.txt", s_redis_dir);
    fflush (stderr);
    int saved = dup (STDERR_FILENO);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert (saved >= 0 && fd >= 0);
    dup2 (fd, STDERR_FILENO);
    close (fd);
    fn (arg);
    fflush (stderr);
    dup2 (saved, STDERR_FILENO);
    close (saved);
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file);
    char line [4096];
    int count = 0;
    while (fgets (line, sizeof line, file))
        if (strstr (line, needle))
            count++;
    fclose (file);
    unlink (path);
    return count;
}

typedef struct {
    gateway_ratelimit_t *limiter;
    cm_redis_t *redis;
    int64_t elapsed_ms;
} down_t;

static void
s_while_down (void *arg)
{
    down_t *down = (down_t *) arg;
    gateway_rl_result_t result;
    int64_t start = s_now_ms ();
    for (int i = 0; i < 10; i++) {
        cr_assert_eq (gateway_ratelimit_check (down->limiter, down->redis, GATEWAY_RL_DEFAULT,
                                               "u:a", &result), GATEWAY_RL_UNAVAILABLE);
        cr_assert_eq (gateway_ratelimit_take (down->limiter, down->redis, GATEWAY_RL_TOKEN_IP,
                                              "ip:1.2.3.4", &result), GATEWAY_RL_UNAVAILABLE);
        cr_assert_eq (gateway_ratelimit_take (down->limiter, down->redis, GATEWAY_RL_REGISTER_IP,
                                              "ip:1.2.3.4", &result), GATEWAY_RL_UNAVAILABLE);
        cr_assert_eq (gateway_ratelimit_take (down->limiter, down->redis, GATEWAY_RL_TOKEN_ACCOUNT,
                                              "acct:ff", &result), GATEWAY_RL_UNAVAILABLE);
        gateway_rl_verdict_t verdict = gateway_ratelimit_take (down->limiter, down->redis,
                                                               GATEWAY_RL_DEFAULT, "u:a", &result);
        cr_assert (result.fallback);
        cr_assert_eq (verdict, i < 5? GATEWAY_RL_ALLOWED: GATEWAY_RL_LIMITED);
        cr_assert_eq (result.remaining, i < 5? 4 - i: 0);
    }
    down->elapsed_ms = s_now_ms () - start;
}

Test (ratelimit_redis, unavailable_when_redis_stops)
{
    gateway_ratelimit_t *self = s_limiter (0);
    cm_redis_t *redis = s_redis ();
    gateway_rl_result_t result;
    s_expect (gateway_ratelimit_take (self, redis, GATEWAY_RL_DEFAULT, "u:b", &result), &result,
              GATEWAY_RL_ALLOWED, 5, 4);
    s_redis_kill ();
    down_t down = { self, redis, 0 };
    //  Fifty failed checks, one alert
    int alerts = s_count_in_stderr (s_while_down, &down, "ALERT rate limiter");
    cr_assert_eq (alerts, 1, "alerts logged: %d", alerts);
    cr_assert (down.elapsed_ms < 2000, "took %lld ms", (long long) down.elapsed_ms);
    cr_assert_eq (gateway_ratelimit_redis_errors (self), 50);
    cr_assert_eq (gateway_ratelimit_fallbacks (self), 10);
    //  Back again (same port): the connection comes back after cm_redis's reconnect gap
    cr_assert (s_redis_spawn (s_redis_port), "redis-server did not restart");
    s_sleep_ms (600);
    s_expect (gateway_ratelimit_take (self, redis, GATEWAY_RL_DEFAULT, "u:b", &result), &result,
              GATEWAY_RL_ALLOWED, 5, 4);
    cr_assert_not (result.fallback, "Redis decides again (a fresh one: counts start over)");
    cm_redis_destroy (&redis);
    gateway_ratelimit_destroy (&self);
}
