/*  cm_curve - CURVE certificates and the two socket shapes built on them

    A server is a ROUTER that is a CURVE server in its service's ZAP domain;
    a client is a DEALER that knows the server's public key and presents its
    own certificate. Both cap the message size and time out dead peers.
*/
#ifndef CM_CURVE_H_INCLUDED
#define CM_CURVE_H_INCLUDED

#include <czmq.h>

//  Load KEYS_DIR/<name>.cert_secret (this service's own keypair); NULL on error
zcert_t *
    cm_curve_load_own (const char *keys_dir, const char *name);

//  Z85 public key of KEYS_DIR/<name>.cert into z85 [41]; 0 or -1
int
    cm_curve_load_public (const char *keys_dir, const char *name, char *z85);

//  ----------------------------------------------------------------------
//  A bound CURVE ROUTER for domain. Returns NULL when the bind fails.
zsock_t *
    cm_curve_server (zcert_t *own, const char *domain, const char *endpoint);

//  A CURVE DEALER connected to every endpoint of a comma-separated list.
//  Messages are never queued for a peer that has not completed the
//  handshake, so a refused client fails fast instead of waiting.
zsock_t *
    cm_curve_client (zcert_t *own, const char *server_public_z85, const char *endpoints);

#endif
