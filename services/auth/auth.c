/*  auth - the auth service: accounts, sign-in, tokens and sessions */
#include <malloc.h>
#include "auth_handlers.h"
#include "../../common/cm_service.h"

//  Every password check allocates 19 MiB (argon2id). A fixed threshold keeps
//  such blocks in mmap, so they go back to the system when the check ends;
//  glibc would otherwise raise the threshold after the first one and keep
//  every thread's 19 MiB in its heap for good
#define MMAP_THRESHOLD_BYTES (1024 * 1024)

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
    mallopt (M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    return cm_service_main (&service, argc, argv);
}
