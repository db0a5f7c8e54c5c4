/*  evidence - the evidence service: files attached to missions */
#include "../../common/cm_service.h"

int
main (int argc, char **argv)
{
    const cm_service_t service = {
        .service = CM_SVC_EVIDENCE,
        .worker_new = cm_worker_db_new,
        .worker_destroy = cm_worker_db_destroy,
    };
    return cm_service_main (&service, argc, argv);
}
