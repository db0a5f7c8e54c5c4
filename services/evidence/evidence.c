/*  evidence - the evidence service: files attached to missions */
#include "evidence_handlers.h"
#include "evidence_janitor.h"
#include "../../common/cm_service.h"

extern const cm_migrations_t evidence_migrations;

int
main (int argc, char **argv)
{
    const cm_service_t service = {
        .service = CM_SVC_EVIDENCE,
        .routes = evidence_routes,
        .route_count = evidence_route_count,
        .migrations = &evidence_migrations,
        .worker_new = evidence_worker_new,
        .worker_destroy = evidence_worker_destroy,
        .on_start = evidence_on_start,
        .tick = evidence_janitor_tick,
        .tick_interval_ms = EVIDENCE_JANITOR_INTERVAL_MS,
    };
    return cm_service_main (&service, argc, argv);
}
