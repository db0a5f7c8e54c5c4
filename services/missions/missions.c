/*  missions - the missions service: the user's missions */
#include "missions_handlers.h"
#include "../../common/cm_service.h"

extern const cm_migrations_t missions_migrations;

int
main (int argc, char **argv)
{
    const cm_service_t service = {
        .service = CM_SVC_MISSIONS,
        .routes = missions_routes,
        .route_count = missions_route_count,
        .migrations = &missions_migrations,
        .worker_new = missions_worker_new,
        .worker_destroy = missions_worker_destroy,
    };
    return cm_service_main (&service, argc, argv);
}
