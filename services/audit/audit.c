/*  audit - the audit service: stores every service's events */
#include <czmq.h>
#include "audit_handlers.h"
#include "audit_store.h"
#include "../../common/cm_rand.h"
#include "../../common/cm_service.h"

extern const cm_migrations_t audit_migrations;

//  The audit service records its own start directly in its store
static int
s_on_start (const cm_config_t *cfg, PGconn *db)
{
    (void) cfg;
    char id [37];
    if (cm_rand_uuid (id))
        return -1;
    proto_audit_event_t event = {
        .id = id, .at_ms = zclock_time (), .has_at_ms = true, .type = (char *) "service.started",
        .service = (char *) "audit", .outcome = (char *) "success"
    };
    return audit_store_append (db, &event, 1) < 0? -1: 0;
}

int
main (int argc, char **argv)
{
    const cm_service_t service = {
        .service = CM_SVC_AUDIT,
        .routes = audit_routes,
        .route_count = audit_route_count,
        .migrations = &audit_migrations,
        .worker_new = cm_worker_db_new,
        .worker_destroy = cm_worker_db_destroy,
        .on_start = s_on_start,
    };
    return cm_service_main (&service, argc, argv);
}
