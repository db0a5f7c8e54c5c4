/*  cm_service - start-up and shutdown shared by every backend's main

    Order matters for safety: config is validated first; the ZAP handler
    starts before anything binds; migrations run before requests are
    served; the ROUTER binds last. SIGINT/SIGTERM drain the server, then
    everything stops in reverse order. If the ZAP handler ever stops, the
    service stops with it rather than admit unauthenticated peers.
*/
#ifndef CM_SERVICE_H_INCLUDED
#define CM_SERVICE_H_INCLUDED

#include "cm_db.h"
#include "cm_server.h"

typedef struct {
    cm_svc_t service;
    const cm_route_t *routes;           //  static table
    size_t route_count;
    const cm_migrations_t *migrations;  //  the service's own, after common ones
    void *(*worker_new) (const cm_config_t *cfg, zcert_t *cert, int index);
    void (*worker_destroy) (void **state_p);
    //  Runs once after migrations with a connection of its own (may be NULL)
    int (*on_start) (const cm_config_t *cfg, PGconn *db);
    //  Periodic housekeeping (may be NULL): tick runs on a thread of its
    //  own, once when the service is ready and then every tick_interval_ms,
    //  with a state of its own from worker_new (index -1). It stops, after
    //  the tick in hand, before the server drains. A tick logs its failures.
    void (*tick) (void *state);
    int64_t tick_interval_ms;
} cm_service_t;

//  ----------------------------------------------------------------------
//  Run the service until SIGINT/SIGTERM. Returns the process exit code:
//  0 after a clean stop, 1 on a start-up failure, 2 on bad configuration.
int
    cm_service_main (const cm_service_t *service, int argc, char **argv);

//  Per-worker state most services need: a lazily connected database
typedef struct {
    const cm_config_t *cfg;             //  borrowed
    PGconn *db;                         //  owned; reconnected on loss
} cm_worker_db_t;

void *
    cm_worker_db_new (const cm_config_t *cfg, zcert_t *cert, int index);
void
    cm_worker_db_destroy (void **state_p);

#endif
