/*  cm_zap - ZAP handler that admits only allowlisted CURVE client keys

    libzmq admits any client that knows a server's public key when no ZAP
    handler answers, so this handler starts before any bind, and if it ever
    stops, it says FATAL on its pipe and the service stops too. The peer's
    service name becomes the connection's User-Id, which servers read with
    zframe_meta (frame, "User-Id") to decide who may assert an identity.
*/
#ifndef CM_ZAP_H_INCLUDED
#define CM_ZAP_H_INCLUDED

#include <czmq.h>

typedef struct cm_allowlist_s cm_allowlist_t;

//  An empty allowlist (admits nobody)
cm_allowlist_t *
    cm_allowlist_new (void);
void
    cm_allowlist_destroy (cm_allowlist_t **self_p);

//  Admit a peer by name with its Z85 public key. Returns 0, or -1 when the
//  key is not 40 Z85 characters or the name is already listed
int
    cm_allowlist_add (cm_allowlist_t *self, const char *peer, const char *public_z85);

//  Add every named peer (comma-separated) from KEYS_DIR/<peer>.cert.
//  Returns 0, or -1 naming the unreadable certificate in problem
int
    cm_allowlist_load (cm_allowlist_t *self, const char *keys_dir, const char *peers,
                       char *problem, size_t size);

//  ----------------------------------------------------------------------
//  The decision alone: the peer name for a CURVE key presented in the
//  expected domain, or NULL. Keys compare in constant time.
const char *
    cm_allowlist_decide (const cm_allowlist_t *self, const char *expected_domain,
                         const char *domain, const char *mechanism,
                         const uint8_t *key, size_t key_size);

//  ----------------------------------------------------------------------
//  Start the handler for domain; takes the allowlist. Returns NULL when
//  the handler could not bind (another handler in this process).
zactor_t *
    cm_zap_start (cm_allowlist_t **allow_p, const char *domain);

#endif
