/*  gateway_backends - one set of backend clients per HTTP worker thread

    CivetWeb calls init_thread for each worker; that thread alone uses the
    set it gets, so no ZeroMQ socket is ever shared between threads. A
    client is made on the thread's first call to its backend: a thread that
    only ever held an idle or slow connection costs no sockets, so
    GATEWAY_THREADS can be sized for the connections to hold, not for the
    backends' connection count.
*/
#ifndef GATEWAY_BACKENDS_H_INCLUDED
#define GATEWAY_BACKENDS_H_INCLUDED

#include "../../common/cm_client.h"
#include "../../common/cm_config.h"
#include "../../common/cm_redis.h"

typedef struct {
    const cm_config_t *cfg;                 //  borrowed, outlives the set
    zcert_t *cert;                          //  borrowed, outlives the set
    cm_client_t *clients [CM_SVC_COUNT];    //  owned, made on first use; [CM_SVC_GATEWAY] stays NULL
    cm_redis_t *redis;                      //  owned: revoked sessions, rate limits (connects on use)
} gateway_backends_t;

//  A set for one thread; NULL when REDIS_URL cannot be used
gateway_backends_t *
    gateway_backends_new (const cm_config_t *cfg, zcert_t *cert);
void
    gateway_backends_destroy (gateway_backends_t **self_p);

//  cm_client_call on this thread's client of svc, made first when there
//  is none yet; CM_UNAVAILABLE (logged) when it cannot be made
cm_err_t
    gateway_backends_call (gateway_backends_t *self, cm_svc_t svc, const cm_ctx_t *ctx, int msg_id,
                           const void *req, void *rep, cm_reply_info_t *info);

#endif
