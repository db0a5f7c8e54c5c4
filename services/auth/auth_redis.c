/*  auth_redis - revocations and failed sign-in counters */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth_redis.h"
#include "auth_secret.h"

//  login_fail:<sha256 of the lower-cased email>
static void
s_email_key (const char *prefix, const char *email, char *key, size_t size)
{
    char lower [256];
    size_t i;
    for (i = 0; email [i] && i + 1 < sizeof lower; i++)
        lower [i] = (char) tolower ((unsigned char) email [i]);
    lower [i] = 0;
    char hash [AUTH_SECRET_HASH_SIZE];
    auth_secret_hash (lower, hash);
    snprintf (key, size, "%s:%s", prefix, hash);
}

static void
s_fail_key (const char *email, char *key, size_t size)
{
    s_email_key ("login_fail", email, key, size);
}

int
auth_redis_revoke (cm_redis_t *redis, const char *sid, int64_t ttl_s)
{
    char key [64], ttl [24];
    snprintf (key, sizeof key, CM_REDIS_REVOKED_PREFIX "%s", sid);
    snprintf (ttl, sizeof ttl, "%lld", (long long) ttl_s);
    const char *argv [] = { "SET", key, "1", "EX", ttl };
    redisReply *reply = cm_redis_command (redis, 5, argv);
    freeReplyObject (reply);
    return reply? 0: -1;
}

//  Seconds left on key when its count reached limit, 0 below it, -1 on error
static int64_t
s_over_limit (cm_redis_t *redis, const char *key, long long limit, int64_t window)
{
    const char *get [] = { "GET", key };
    redisReply *reply = cm_redis_command (redis, 2, get);
    if (!reply)
        return -1;
    long long count = reply->type == REDIS_REPLY_STRING? atoll (reply->str): 0;
    freeReplyObject (reply);
    if (count < limit)
        return 0;
    const char *ttl [] = { "TTL", key };
    reply = cm_redis_command (redis, 2, ttl);
    int64_t left = reply && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0? reply->integer: window;
    freeReplyObject (reply);
    return left;
}

//  Counts one event on key; the window starts at the first and restarts
//  when the count reaches limit (the pause then lasts a whole window)
static int
s_count (cm_redis_t *redis, const char *key, long long limit, int64_t window_s)
{
    char window [24];
    snprintf (window, sizeof window, "%lld", (long long) window_s);
    const char *incr [] = { "INCR", key };
    redisReply *reply = cm_redis_command (redis, 2, incr);
    if (!reply)
        return -1;
    bool restart = reply->type == REDIS_REPLY_INTEGER && (reply->integer == 1 || reply->integer == limit);
    freeReplyObject (reply);
    if (restart) {
        const char *expire [] = { "EXPIRE", key, window };
        reply = cm_redis_command (redis, 3, expire);
        freeReplyObject (reply);
        if (!reply)
            return -1;
    }
    return 0;
}

static void
s_ip_key (const char *ip, char *key, size_t size)
{
    snprintf (key, size, "login_fail_ip:%s", ip);
}

int64_t
auth_redis_locked_for (cm_redis_t *redis, const char *email)
{
    char key [96];
    s_fail_key (email, key, sizeof key);
    return s_over_limit (redis, key, AUTH_LOCK_FAILURES, AUTH_LOCK_WINDOW_S);
}

int64_t
auth_redis_ip_paused_for (cm_redis_t *redis, const char *ip, int64_t limit)
{
    if (!ip || !*ip)
        return 0;
    char key [96];
    s_ip_key (ip, key, sizeof key);
    return s_over_limit (redis, key, limit, AUTH_IP_WINDOW_S);
}

int
auth_redis_failed (cm_redis_t *redis, const char *email, const char *ip, int64_t ip_limit)
{
    char key [96];
    s_fail_key (email, key, sizeof key);
    int rc = s_count (redis, key, AUTH_LOCK_FAILURES, AUTH_LOCK_WINDOW_S);
    if (ip && *ip) {
        s_ip_key (ip, key, sizeof key);
        rc = s_count (redis, key, ip_limit, AUTH_IP_WINDOW_S) || rc? -1: 0;
    }
    return rc;
}

int
auth_redis_succeeded (cm_redis_t *redis, const char *email)
{
    char key [96];
    s_fail_key (email, key, sizeof key);
    const char *del [] = { "DEL", key };
    redisReply *reply = cm_redis_command (redis, 2, del);
    freeReplyObject (reply);
    return reply? 0: -1;
}

int
auth_redis_mail_allowed (cm_redis_t *redis, const char *email, int64_t limit)
{
    char key [96];
    s_email_key ("mail", email, key, sizeof key);
    const char *incr [] = { "INCR", key };
    redisReply *reply = cm_redis_command (redis, 2, incr);
    if (!reply)
        return -1;
    long long sent = reply->type == REDIS_REPLY_INTEGER? reply->integer: limit + 1;
    freeReplyObject (reply);
    if (sent == 1) {
        const char *expire [] = { "EXPIRE", key, "3600" };
        reply = cm_redis_command (redis, 3, expire);
        freeReplyObject (reply);
    }
    return sent <= limit? 1: 0;
}
