/*  auth_redis - what auth keeps in Redis: revoked sessions and failed sign-ins

    Revocations are published for the gateway, which checks every request
    against them; they live as long as an access token could. Failed
    sign-ins are counted per submitted email (hashed, so Redis holds no
    addresses), whether or not an account exists, so a lock reveals
    nothing.
*/
#ifndef AUTH_REDIS_H_INCLUDED
#define AUTH_REDIS_H_INCLUDED

#include <stdint.h>
#include "../../common/cm_redis.h"

#define AUTH_LOCK_FAILURES  10      //  failed sign-ins per email ...
#define AUTH_LOCK_WINDOW_S  3600    //  ... within this window lock it this long
#define AUTH_IP_WINDOW_S    900     //  failures per client IP are counted over this

//  Tell the gateway that session sid ended; 0 or -1 (Redis down)
int
    auth_redis_revoke (cm_redis_t *redis, const char *sid, int64_t ttl_s);

//  Seconds sign-in stays locked for email (0 when not locked), or -1
int64_t
    auth_redis_locked_for (cm_redis_t *redis, const char *email);

//  Seconds sign-in stays paused for a client IP (0 when not), or -1.
//  Only that IP is paused: others sign in to the same accounts as usual.
int64_t
    auth_redis_ip_paused_for (cm_redis_t *redis, const char *ip, int64_t limit);

//  Count one failed sign-in for email, and for ip when not empty; 0 or -1
int
    auth_redis_failed (cm_redis_t *redis, const char *email, const char *ip, int64_t ip_limit);

//  Forget the failures of email after a successful sign-in; 0 or -1
int
    auth_redis_succeeded (cm_redis_t *redis, const char *email);

//  Whether one more mail may go to email this hour (limit per hour):
//  1 yes, 0 no, -1 Redis down
int
    auth_redis_mail_allowed (cm_redis_t *redis, const char *email, int64_t limit);

#endif
