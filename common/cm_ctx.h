/*  cm_ctx - what a request carries across services besides its body

    The request id, the verified identity (set only by the gateway or by
    privacy, checked by every server), the client IP and the deadline.
    Fixed-size fields: a context never allocates.
*/
#ifndef CM_CTX_H_INCLUDED
#define CM_CTX_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include "../proto/proto_msgs.h"

#define CM_MAX_ROLES 8

typedef struct {
    char rid [65];                  //  request id, echoed in logs and audit
    char uid [37];                  //  verified user id, "" when none
    char sid [37];                  //  session id, "" when none
    char roles [CM_MAX_ROLES][33];  //  e.g. "user", "admin"
    uint32_t roles_count;
    int64_t auth_time;              //  unix seconds the user last proved who they are
    char ip [65];                   //  client IP as the gateway saw it
    int64_t deadline;               //  zclock_mono () ms when the answer is due; 0 = none
    const char *peer;               //  server side: the authenticated peer (borrowed)
} cm_ctx_t;

//  Pointers from a context into an envelope, valid while both live
typedef struct {
    char *roles [CM_MAX_ROLES];
} cm_ctx_refs_t;

//  ----------------------------------------------------------------------
//  Fill env's context fields from ctx (borrowing its strings through refs);
//  ttl_ms is the time left before ctx->deadline, or default_ttl_ms.
void
    cm_ctx_to_envelope (const cm_ctx_t *ctx, cm_ctx_refs_t *refs, int64_t default_ttl_ms,
                        proto_envelope_t *env);

//  Fill ctx from a decoded envelope received at `now` from `peer`
void
    cm_ctx_from_envelope (cm_ctx_t *ctx, const proto_envelope_t *env, const char *peer,
                          int64_t now);

//  True when ctx carries role
bool
    cm_ctx_has_role (const cm_ctx_t *ctx, const char *role);

//  Milliseconds left before the deadline (never below 0); fallback when none
int64_t
    cm_ctx_remaining (const cm_ctx_t *ctx, int64_t fallback);

//  A fresh random request id (32 hex chars) into rid [65]
void
    cm_ctx_new_request_id (char *rid);

#endif
