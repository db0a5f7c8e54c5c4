/*  auth_handlers - typed handlers of the auth service

    Each worker thread has an auth_worker_t: its own database connection
    and Redis link; the signing keys are process-wide (auth_keys). Password hashing
    runs here, on worker threads, never on the service's frontend loop.
*/
#ifndef AUTH_HANDLERS_H_INCLUDED
#define AUTH_HANDLERS_H_INCLUDED

#include <libpq-fe.h>
#include "../../common/cm_jwt.h"
#include "../../common/cm_redis.h"
#include "../../common/cm_server.h"
#include "auth_breach.h"
#include "auth_mail.h"
#include "auth_oidc.h"
#include "auth_store.h"

typedef struct {
    const cm_config_t *cfg;         //  borrowed
    PGconn *db;                     //  owned, reconnected on loss
    cm_redis_t *redis;              //  owned: revocations, sign-in failures
    const uint8_t *data_key;        //  borrowed, process-wide: seals TOTP secrets
    auth_mail_t *mail;              //  borrowed, process-wide, thread-safe
    auth_breach_t *breach;          //  borrowed, process-wide, thread-safe
    auth_oidc_t *oidc;              //  borrowed, process-wide, thread-safe: sign-in providers
} auth_worker_t;

//  ----------------------------------------------------------------------
//  The password policy for new passwords: the offline rules, then the
//  breach range lookup when configured (its failure never blocks).
//  Returns CM_OK or CM_WEAK_PASSWORD with a message naming field.
cm_err_t
    auth_new_password_check (auth_worker_t *self, const char *password, const char *email,
                             const char *field, cm_reply_info_t *info);

//  ----------------------------------------------------------------------
//  Start a session for user (already proven by amr) and issue its tokens
cm_err_t
    auth_sign_in (auth_worker_t *self, const cm_ctx_t *ctx, const auth_user_row_t *user,
                  const char *amr, const char *user_agent, proto_auth_tokens_t **tokens_p,
                  cm_reply_info_t *info);

extern const cm_route_t auth_routes [];
extern const size_t auth_route_count;

//  Worker state for cm_service; loads the process-wide keys once
void *
    auth_worker_new (const cm_config_t *cfg, zcert_t *cert, int index);
void
    auth_worker_destroy (void **state_p);

#endif
