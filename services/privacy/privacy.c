/*  privacy - the privacy service: preferences, export and deletion */
#include "privacy_deletion.h"
#include "privacy_handlers.h"
#include "../../common/cm_service.h"

extern const cm_migrations_t privacy_migrations;

int
main (int argc, char **argv)
{
    const cm_service_t service = {
        .service = CM_SVC_PRIVACY,
        .routes = privacy_routes,
        .route_count = privacy_route_count,
        .migrations = &privacy_migrations,
        .worker_new = privacy_worker_new,
        .worker_destroy = privacy_worker_destroy,
        .tick = privacy_deletion_tick,
        .tick_interval_ms = PRIVACY_DELETION_TICK_MS,
    };
    return cm_service_main (&service, argc, argv);
}
