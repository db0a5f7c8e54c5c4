/*  auth - the auth service: accounts, sign-in, tokens and sessions */
#include "auth_handlers.h"
#include "../../common/cm_service.h"

extern const cm_migrations_t auth_migrations;

int
main (int argc, char **argv)
{
    const cm_service_t service = {
        .service = CM_SVC_AUTH,
        .routes = auth_routes,
        .route_count = auth_route_count,
        .migrations = &auth_migrations,
        .worker_new = auth_worker_new,
        .worker_destroy = auth_worker_destroy,
    };
    return cm_service_main (&service, argc, argv);
}
