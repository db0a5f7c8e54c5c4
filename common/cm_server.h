/*  cm_server - the one loop every backend service runs

    One CURVE ROUTER is shared by a frontend thread and the worker threads,
    every use of it under one lock. The frontend sleeps in poll () on the
    ROUTER's ZMQ_FD and its actor pipe; woken, it takes in every waiting
    request (each carries the peer's ZAP User-Id and its arrival time) and
    puts it on its lane's queue, waking one worker of that lane. Routes
    marked slow (password hashing) have their own SERVICE_SLOW_WORKERS
    threads, so a burst of sign-ins never holds up the service's other
    requests. Past SERVICE_MAX_QUEUE requests beyond what a lane's free
    workers take, the request is answered "busy" at once.

    A worker decodes the envelope strictly, checks that the peer may assert
    the identity it carries, enforces the deadline, decodes the typed body,
    calls the route's handler and encodes the reply, all without the lock;
    then it sends the reply on the ROUTER itself and takes in what arrived
    meanwhile, going straight on to its next request. Under load most
    requests so cost no thread wake-up at all; when idle, one of the
    frontend and one of a worker.
    Because any call on a ZeroMQ socket may read its pending commands, and
    with them the notice that ZMQ_FD signals, each holder of the lock reads
    the ROUTER until it has nothing more before letting go of it.

    On $TERM the server drains: the endpoint stays bound, so the replies of
    queued and in-hand requests go out on the connections their requests
    came in on; every request arriving from then on is answered "draining"
    at once (503, Retry-After 1: nothing was done, the client sends it to
    another replica). Once nothing is queued or in hand and no request came
    for 100 ms, or after DRAIN_TIMEOUT_MS, the workers stop (each after its
    request in hand), requests still queued are refused "draining" too, and
    the socket closes with a short linger so the last replies reach their
    clients. A request still on the wire at that moment is lost to its
    client (it times out); the quiet period keeps that to clients that
    start sending just then.
*/
#ifndef CM_SERVER_H_INCLUDED
#define CM_SERVER_H_INCLUDED

#include <czmq.h>
#include "cm_client.h"
#include "cm_config.h"
#include "cm_ctx.h"
#include "cm_err.h"

//  A handler: typed request in, typed reply out, a status back. It may
//  write a message for the client into info->message on errors.
typedef cm_err_t (cm_handler_fn) (void *state, const cm_ctx_t *ctx,
                                  const void *req, void *rep, cm_reply_info_t *info);

typedef struct {
    int msg_id;                     //  PROTO_MSG_*
    cm_handler_fn *handler;
    bool needs_user;                //  refuse without a verified user id
    bool slow;                      //  CPU-bound (password hashing): runs in the slow lane
} cm_route_t;

typedef struct {
    cm_svc_t service;
    const cm_config_t *cfg;         //  borrowed, outlives the server
    zcert_t *cert;                  //  borrowed, outlives the server
    const cm_route_t *routes;       //  borrowed (static table)
    size_t route_count;
    //  Per-worker state (its own database connection, clients...);
    //  NULL worker_new means no state
    void *(*worker_new) (const cm_config_t *cfg, zcert_t *cert, int index);
    void (*worker_destroy) (void **state_p);
} cm_server_spec_t;

//  ----------------------------------------------------------------------
//  Start the server; the spec must outlive it. Returns NULL when the
//  endpoint could not be bound or a worker could not start.
zactor_t *
    cm_server_new (const cm_server_spec_t *spec);

//  ----------------------------------------------------------------------
//  The lane of a request frame: 1 when its type is a slow route of the
//  spec, else 0 (undecodable frames too: a fast worker refuses them)
int
    cm_server_lane (const cm_server_spec_t *spec, const uint8_t *data, size_t size);

//  ----------------------------------------------------------------------
//  Handle one request frame as a worker would (exposed for tests): decode,
//  check, dispatch to the spec's routes, encode the reply into buf. zone
//  (optional) is the decoder's memory, reused from request to request.
void
    cm_server_process (const cm_server_spec_t *spec, void *state, const char *peer,
                       int64_t arrived, const uint8_t *data, size_t size,
                       msgpack_zone *zone, msgpack_sbuffer *buf);

//  ----------------------------------------------------------------------
//  A handler's error exit: the message for the client into info, then err
//  back, so a handler can `return cm_server_fail (info, CM_NOT_FOUND, ...)`
cm_err_t
    cm_server_fail (cm_reply_info_t *info, cm_err_t err, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  ----------------------------------------------------------------------
//  A reply field's own copy of s (the reply's free releases it); NULL stays
//  NULL
char *
    cm_server_dup (const char *s);

#endif
