/*  cm_redis - one thread's Redis connection, with timeouts and reconnects

    Connects on first use (REDIS_URL, password from REDIS_PASSWORD_FILE),
    with 500 ms connect and 200 ms command timeouts so a slow Redis costs
    a bounded wait, never a stuck thread. A failed command drops the
    connection; the next one reconnects (at most once per 500 ms). A
    command that finds its connection closed by the server (Redis was
    restarted) is sent once more on a new one.
*/
#ifndef CM_REDIS_H_INCLUDED
#define CM_REDIS_H_INCLUDED

#include <hiredis.h>
#include "cm_config.h"

//  Sessions ended before their access tokens expire: auth writes
//  revoked:<session id> with the token lifetime as TTL, the gateway checks it
#define CM_REDIS_REVOKED_PREFIX "revoked:"

typedef struct cm_redis_s cm_redis_t;

//  A client for cfg (borrowed); NULL when REDIS_URL cannot be parsed
cm_redis_t *
    cm_redis_new (const cm_config_t *cfg);
void
    cm_redis_destroy (cm_redis_t **self_p);

//  ----------------------------------------------------------------------
//  Run one command (hiredis argv form). Returns the reply, which the
//  caller frees with freeReplyObject, or NULL when Redis could not answer
//  (including an error reply).
redisReply *
    cm_redis_command (cm_redis_t *self, int argc, const char **argv);

#endif
