/*  privacy - the privacy service: preferences, export and deletion */
#include "../../common/cm_service.h"

int
main (int argc, char **argv)
{
    const cm_service_t service = {
        .service = CM_SVC_PRIVACY,
        .worker_new = cm_worker_db_new,
        .worker_destroy = cm_worker_db_destroy,
    };
    return cm_service_main (&service, argc, argv);
}
