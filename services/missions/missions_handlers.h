/*  missions_handlers - typed handlers of the missions service

    Each worker thread has a missions_worker_t: its own database connection
    and its own link to the evidence service (a mission's evidence is
    deleted there before the mission is). Every route needs a verified
    user; every read and write is that user's only.
*/
#ifndef MISSIONS_HANDLERS_H_INCLUDED
#define MISSIONS_HANDLERS_H_INCLUDED

#include <libpq-fe.h>
#include "../../common/cm_client.h"
#include "../../common/cm_server.h"

typedef struct {
    const cm_config_t *cfg;         //  borrowed
    PGconn *db;                     //  owned, reconnected on loss
    cm_client_t *evidence;          //  owned: evidence.purge_mission on delete
} missions_worker_t;

extern const cm_route_t missions_routes [];
extern const size_t missions_route_count;

//  ----------------------------------------------------------------------
//  Worker state for cm_service. NULL (the service refuses to start) when
//  the evidence service's public certificate cannot be loaded.
void *
    missions_worker_new (const cm_config_t *cfg, zcert_t *cert, int index);
void
    missions_worker_destroy (void **state_p);

#endif
