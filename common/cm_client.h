/*  cm_client - calls to one backend service over its CURVE link

    One client per calling thread per target service (sockets never cross
    threads). A call encodes the envelope and typed body, sends it to one
    replica and waits for the matching reply until the context's deadline.
    Idempotent messages get a second try on another replica when the first
    does not answer in half the budget. A replica that is shutting down
    answers "draining" without running anything: any message is then sent
    again at once, which the DEALER deals to the next replica (at most once
    per connected replica, and once more). Late replies to earlier calls are
    recognised by correlation id and dropped.

    Replicas: the client's DEALER connects to every endpoint of its list.
    A tcp:// endpoint that names a host (a Kubernetes headless Service, a
    compose service) stands for every address the name resolves to (A and
    AAAA), and the name is resolved again every few seconds: new addresses
    are connected, vanished ones disconnected. Resolution runs on a thread
    of its own, one answer shared by every client of the process, so a
    call never waits for DNS; a new client waits at most a second for the
    first answer (until then it connects by name, as libzmq would). A
    failed lookup keeps the addresses the name had. Literal addresses and
    ipc:// endpoints are connected once and never looked up.
*/
#ifndef CM_CLIENT_H_INCLUDED
#define CM_CLIENT_H_INCLUDED

#include <czmq.h>
#include "cm_ctx.h"
#include "cm_err.h"
#include "cm_svc.h"

typedef struct cm_client_s cm_client_t;

#define CM_CLIENT_RESOLVE_MS        5000    //  default: names resolved again this often
#define CM_CLIENT_ADDRESSES_MAX     128     //  addresses taken from one name's answer

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

//  How often the host names among the endpoints are resolved again, in
//  ms (CLIENT_RESOLVE_INTERVAL_MS); CM_CLIENT_RESOLVE_MS when never set
//  or when interval_ms <= 0 (a config that does not have the setting)
void
    cm_client_set_resolve_interval (cm_client_t *self, int64_t interval_ms);

//  ----------------------------------------------------------------------
//  Call msg_id with req; on 2xx decode the reply body into rep (a zeroed
//  struct the caller clears with proto_clear). Returns the reply status,
//  CM_UNAVAILABLE when no replica answered in time, CM_DRAINING when every
//  try met a replica shutting down, CM_BAD_GATEWAY when the reply was
//  malformed. info (may be NULL) receives code, message and Retry-After.
cm_err_t
    cm_client_call (cm_client_t *self, const cm_ctx_t *ctx, int msg_id,
                    const void *req, void *rep, cm_reply_info_t *info);

//  The socket, for tests that need to look at it
zsock_t *
    cm_client_sock (cm_client_t *self);

//  The endpoints the socket is connected to now, sorted and comma-separated,
//  into buf (truncated to size), for logs and tests
void
    cm_client_endpoints (cm_client_t *self, char *buf, size_t size);

//  ----------------------------------------------------------------------
//  How host names are resolved: write at most max numeric addresses of
//  host ("10.0.0.7", "fd00::7") into addrs, each a fresh string the caller
//  frees. Returns the count (0: the name has no address now), or -1 when no
//  answer could be had (a temporary failure: the previous answer stands).
//  Runs on a resolver thread, never on a caller's.
typedef int (cm_client_resolver_fn) (const char *host, char **addrs, int max);

//  Replace the resolver for the whole process (NULL: getaddrinfo). For
//  tests; set it before the first client exists.
void
    cm_client_set_resolver (cm_client_resolver_fn *resolver);

#endif
