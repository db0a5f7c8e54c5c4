/*  cm_client - calls to one backend service over its CURVE link

    One client per calling thread per target service (sockets never cross
    threads). A call encodes the envelope and typed body, sends it to one
    replica and waits for the matching reply until the context's deadline.
    Idempotent messages get a second try on another replica when the first
    does not answer in half the budget. Late replies to earlier calls are
    recognised by correlation id and dropped.
*/
#ifndef CM_CLIENT_H_INCLUDED
#define CM_CLIENT_H_INCLUDED

#include <czmq.h>
#include "cm_ctx.h"
#include "cm_err.h"
#include "cm_svc.h"

typedef struct cm_client_s cm_client_t;

typedef struct {
    char code [65];                 //  the reply's code, e.g. "not_found"
    char message [1025];            //  the reply's message
    int64_t retry_after_s;          //  when refused for now: seconds to wait, else 0
} cm_reply_info_t;

//  ----------------------------------------------------------------------
//  A client of target presenting own (borrowed, must outlive the client).
//  Reads the target's public key from KEYS_DIR. NULL on error.
cm_client_t *
    cm_client_new (zcert_t *own, const char *keys_dir, cm_svc_t target, const char *endpoints);
void
    cm_client_destroy (cm_client_t **self_p);

//  Budget used when the context has no deadline
void
    cm_client_set_timeout (cm_client_t *self, int64_t timeout_ms);

//  ----------------------------------------------------------------------
//  Call msg_id with req; on 2xx decode the reply body into rep (a zeroed
//  struct the caller clears with proto_clear). Returns the reply status,
//  CM_UNAVAILABLE when no replica answered in time, CM_BAD_GATEWAY when
//  the reply was malformed. info (may be NULL) receives code and message.
cm_err_t
    cm_client_call (cm_client_t *self, const cm_ctx_t *ctx, int msg_id,
                    const void *req, void *rep, cm_reply_info_t *info);

//  The socket, for tests that need to look at it
zsock_t *
    cm_client_sock (cm_client_t *self);

#endif
