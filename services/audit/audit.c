/*  audit - the audit service: every service's events in one hash chain

    `audit --verify` recomputes the chain and checks the latest signed
    checkpoint instead of serving (see audit_verify.h).
*/
#include "audit_handlers.h"
#include "audit_verify.h"
#include "../../common/cm_service.h"

extern const cm_migrations_t audit_migrations;

int
main (int argc, char **argv)
{
    if (argc > 1 && streq (argv [1], "--verify"))
        return audit_verify_main (argc, argv);
    const cm_service_t service = {
        .service = CM_SVC_AUDIT,
        .routes = audit_routes,
        .route_count = audit_route_count,
        .migrations = &audit_migrations,
        .worker_new = audit_worker_new,
        .worker_destroy = audit_worker_destroy,
        .on_start = audit_on_start,
        .tick = audit_tick,
        .tick_interval_ms = AUDIT_TICK_MS,
    };
    return cm_service_main (&service, argc, argv);
}
