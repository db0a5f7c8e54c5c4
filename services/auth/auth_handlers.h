/*  auth_handlers - typed handlers of the auth service

    Each worker thread has an auth_worker_t: its own database connection
    and a borrowed view of the process-wide signing keys. Password hashing
    runs here, on worker threads, never on the service's frontend loop.
*/
#ifndef AUTH_HANDLERS_H_INCLUDED
#define AUTH_HANDLERS_H_INCLUDED

#include <libpq-fe.h>
#include "../../common/cm_jwt.h"
#include "../../common/cm_redis.h"
#include "../../common/cm_server.h"

typedef struct {
    const cm_config_t *cfg;         //  borrowed
    PGconn *db;                     //  owned, reconnected on loss
    cm_jwt_keys_t *keys;            //  borrowed, process-wide, read-only
    cm_redis_t *redis;              //  owned: revocations, sign-in failures
    const uint8_t *data_key;        //  borrowed, process-wide: seals TOTP secrets
} auth_worker_t;

extern const cm_route_t auth_routes [];
extern const size_t auth_route_count;

//  Worker state for cm_service; loads the process-wide keys once
void *
    auth_worker_new (const cm_config_t *cfg, zcert_t *cert, int index);
void
    auth_worker_destroy (void **state_p);

#endif
