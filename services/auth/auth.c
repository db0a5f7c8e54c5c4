/*  auth - the auth service: accounts, sign-in, tokens and sessions */
#include "../../common/cm_service.h"

int
main (int argc, char **argv)
{
    const cm_service_t service = {
        .service = CM_SVC_AUTH,
        .worker_new = cm_worker_db_new,
        .worker_destroy = cm_worker_db_destroy,
    };
    return cm_service_main (&service, argc, argv);
}
