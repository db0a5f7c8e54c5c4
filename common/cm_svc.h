/*  cm_svc - the six services: names, default ports and the link policy

    The policy is the one in docs/ARCHITECTURE.md: who may connect to whom
    (the ZAP allowlist) and who may assert a user identity in an envelope.
    Both can be narrowed by configuration, never widened past known names.
*/
#ifndef CM_SVC_H_INCLUDED
#define CM_SVC_H_INCLUDED

#include <stdbool.h>

typedef enum {
    CM_SVC_GATEWAY,
    CM_SVC_AUTH,
    CM_SVC_MISSIONS,
    CM_SVC_EVIDENCE,
    CM_SVC_PRIVACY,
    CM_SVC_AUDIT,
    CM_SVC_COUNT
} cm_svc_t;

//  Lower-case name, e.g. "missions"
const char *
    cm_svc_name (cm_svc_t svc);

//  Service for a name, or -1
int
    cm_svc_lookup (const char *name);

//  Default ZeroMQ port of a backend (7101..7105), 0 for the gateway
int
    cm_svc_default_port (cm_svc_t svc);

//  Comma-separated peers the service admits by default
const char *
    cm_svc_default_peers (cm_svc_t svc);

//  Comma-separated peers that may assert a user identity
const char *
    cm_svc_default_identity_peers (cm_svc_t svc);

#endif
