/*  gateway_backends - one set of backend clients per HTTP worker thread

    CivetWeb calls init_thread for each worker; that thread alone uses the
    set it gets, so no ZeroMQ socket is ever shared between threads.
*/
#ifndef GATEWAY_BACKENDS_H_INCLUDED
#define GATEWAY_BACKENDS_H_INCLUDED

#include "../../common/cm_client.h"
#include "../../common/cm_config.h"
#include "../../common/cm_redis.h"

typedef struct {
    cm_client_t *clients [CM_SVC_COUNT];    //  [CM_SVC_GATEWAY] stays NULL
    cm_redis_t *redis;                      //  revoked sessions (later: rate limits)
} gateway_backends_t;

//  Clients for every backend; NULL when a certificate cannot be read
gateway_backends_t *
    gateway_backends_new (const cm_config_t *cfg, zcert_t *cert);
void
    gateway_backends_destroy (gateway_backends_t **self_p);

#endif
