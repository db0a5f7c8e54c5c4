/*  privacy_handlers - typed handlers of the privacy service

    Each worker thread has a privacy_worker_t: its own database connection
    and its own links to auth, missions, evidence and audit, which privacy
    calls for the user's export and deletion (asserting the user's identity
    to the first three; audit takes the user id in the body). Every route
    needs a verified user; export and deletion also a recent sign-in.
*/
#ifndef PRIVACY_HANDLERS_H_INCLUDED
#define PRIVACY_HANDLERS_H_INCLUDED

#include <libpq-fe.h>
#include "../../common/cm_client.h"
#include "../../common/cm_server.h"

typedef struct {
    const cm_config_t *cfg;                 //  borrowed
    PGconn *db;                             //  owned, reconnected on loss
    cm_client_t *clients [CM_SVC_COUNT];    //  owned: auth, missions, evidence, audit
} privacy_worker_t;

extern const cm_route_t privacy_routes [];
extern const size_t privacy_route_count;

//  ----------------------------------------------------------------------
//  Worker state for cm_service (the deletion worker's too). NULL (the
//  service refuses to start) when a peer's public certificate is missing.
void *
    privacy_worker_new (const cm_config_t *cfg, zcert_t *cert, int index);
void
    privacy_worker_destroy (void **state_p);

//  The worker's connection, reconnected first if it was lost; NULL when down
PGconn *
    privacy_worker_db (privacy_worker_t *self);

//  ----------------------------------------------------------------------
//  Call msg_id on svc within ctx's deadline. For audit the identity is
//  left out of the envelope (audit believes it from the gateway only; the
//  user goes in the body). Returns the reply status, as cm_client_call.
cm_err_t
    privacy_worker_call (privacy_worker_t *self, cm_svc_t svc, const cm_ctx_t *ctx, int msg_id,
                         const void *req, void *rep, cm_reply_info_t *info);

//  True when ctx's sign-in is recent enough for a destructive or
//  revealing action (REAUTH_MAX_AGE)
bool
    privacy_worker_recent (privacy_worker_t *self, const cm_ctx_t *ctx);

#endif
