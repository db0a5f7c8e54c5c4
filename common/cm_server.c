/*  cm_server - frontend actor, worker lanes sharing its ROUTER, request processing */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <unistd.h>
#include "cm_server.h"
#include "cm_curve.h"
#include "cm_log.h"
#include "../proto/proto_envelope.h"

//  ---------------------------------------------------------------------
//  Request processing (worker threads)

//  Whether name is an item of a comma-separated list (spaces around items
//  ignored). Runs on every request, so it scans in place, allocating nothing
static bool
s_listed (const char *list, const char *name)
{
    size_t name_len = strlen (name);
    const char *p = list;
    while (p && *p) {
        while (*p == ' ')
            p++;
        size_t len = strcspn (p, ",");
        size_t trimmed = len;
        while (trimmed && p [trimmed - 1] == ' ')
            trimmed--;
        if (trimmed == name_len && memcmp (p, name, name_len) == 0)
            return true;
        p = p [len]? p + len + 1: NULL;
    }
    return false;
}

static int64_t s_started_at;

static cm_err_t
s_ping (const cm_server_spec_t *spec, proto_ping_rep_t *rep)
{
    char host [64] = "";
    gethostname (host, sizeof host - 1);
    rep->service = strdup (cm_svc_name (spec->service));
    rep->instance = zsys_sprintf ("%s:%d", host, (int) getpid ());
    rep->uptime_s = (zclock_mono () - s_started_at) / 1000;
    rep->has_uptime_s = true;
    return CM_OK;
}

//  Encodes a reply: the typed body on success, code and message otherwise
static void
s_encode_reply (const proto_envelope_t *request, cm_err_t status, const cm_reply_info_t *info,
                const proto_desc_t *rep_desc, const void *rep, msgpack_sbuffer *buf)
{
    const char *message = info? info->message: NULL;
    proto_envelope_t env = { 0 };
    env.v = PROTO_VERSION;
    env.has_v = true;
    env.type = (char *) (request && request->type? request->type: "error");
    env.cid = request && request->has_cid? request->cid: 0;
    env.has_cid = true;
    env.rid = (char *) (request && request->rid? request->rid: "-");
    env.status = cm_err_http (status);
    env.has_status = true;
    env.code = (char *) cm_err_code (status);
    bool success = env.status >= 200 && env.status < 300;
    if (!success) {
        env.message = (char *) (message && *message? message: cm_err_str (status));
        if (info && info->retry_after_s > 0 && info->retry_after_s <= 86400) {
            env.retry_after_s = info->retry_after_s;
            env.has_retry_after_s = true;
        }
    }

    proto_error_t err;
    msgpack_sbuffer_clear (buf);
    if (proto_envelope_encode (&env, success? rep_desc: NULL, rep, buf, &err)) {
        //  A handler produced a reply that breaks its own description
        cm_error ("reply to %s does not encode: %s", env.type, err.message);
        msgpack_sbuffer_clear (buf);
        env.status = cm_err_http (CM_INTERNAL);
        env.code = (char *) cm_err_code (CM_INTERNAL);
        env.message = (char *) cm_err_str (CM_INTERNAL);
        proto_envelope_encode (&env, NULL, NULL, buf, &err);
    }
}

static const cm_route_t *
s_route (const cm_server_spec_t *spec, int msg_id)
{
    for (size_t i = 0; i < spec->route_count; i++)
        if (spec->routes [i].msg_id == msg_id)
            return &spec->routes [i];
    return NULL;
}

void
cm_server_process (const cm_server_spec_t *spec, void *state, const char *peer,
                   int64_t arrived, const uint8_t *data, size_t size, msgpack_zone *zone,
                   msgpack_sbuffer *buf)
{
    msgpack_unpacked upk;
    msgpack_unpacked_init (&upk);
    upk.zone = zone;
    proto_envelope_t env;
    proto_error_t err = { "", "" };
    cm_reply_info_t info = { "", "", 0 };
    cm_err_t status = proto_envelope_decode (data, size, &upk, &env, &err);
    int msg_id = -1;
    const cm_route_t *route = NULL;
    void *req = NULL, *rep = NULL;
    const proto_msg_t *msg = NULL;

    if (status != CM_OK) {
        cm_log_set_request_id ("");
        snprintf (info.message, sizeof info.message, "%s", err.message);
        goto reply;
    }
    cm_log_set_request_id (env.rid);
    msg_id = proto_msg_lookup (env.type);
    route = msg_id >= 0? s_route (spec, msg_id): NULL;
    if (msg_id < 0 || (!route && msg_id != PROTO_MSG_ping)) {
        status = CM_UNKNOWN_TYPE;
        snprintf (info.message, sizeof info.message, "%s does not serve this message type",
                  cm_svc_name (spec->service));
        goto reply;
    }
    msg = &proto_msgs [msg_id];
    //  Identity is believed only from peers trusted to verify it
    bool asserts = env.uid || env.sid || env.roles_count || env.has_auth_time;
    if (asserts && !s_listed (spec->cfg->identity_peers, peer)) {
        status = CM_IDENTITY_NOT_ALLOWED;
        cm_log_fields (CM_LOG_WARN, "identity assertion refused", "peer", peer, "type", env.type, (const char *) NULL);
        goto reply;
    }
    if (route && route->needs_user && !env.uid) {
        status = CM_UNAUTHORIZED;
        goto reply;
    }
    cm_ctx_t ctx;
    cm_ctx_from_envelope (&ctx, &env, peer, arrived);
    if (ctx.deadline && zclock_mono () >= ctx.deadline) {
        status = CM_TIMEOUT;
        goto reply;
    }
    //  An absent body is an empty map: required fields still fail
    static const msgpack_object empty = { .type = MSGPACK_OBJECT_MAP };
    req = zmalloc (msg->req->size);
    rep = zmalloc (msg->rep->size);
    if (proto_decode (msg->req, env.body? env.body: &empty, req, &err)) {
        status = CM_INVALID_REQUEST;
        snprintf (info.message, sizeof info.message, "%s", err.message);
        goto reply;
    }
    if (msg_id == PROTO_MSG_ping)
        status = s_ping (spec, (proto_ping_rep_t *) rep);
    else
        status = route->handler (state, &ctx, req, rep, &info);

reply:
    if (cm_err_http (status) >= 500)
        cm_log_fields (CM_LOG_WARN, "request failed", "type", env.type? env.type: "?",
                       "code", cm_err_code (status), "peer", peer, (const char *) NULL);
    s_encode_reply (&env, status, &info,
                    msg? msg->rep: NULL, rep, buf);
    if (req)
        proto_clear (msg->req, req);
    if (rep)
        proto_clear (msg->rep, rep);
    free (req);
    free (rep);
    proto_clear (&proto_envelope_desc, &env);
    if (!zone)
        msgpack_unpacked_destroy (&upk);
    cm_log_set_request_id ("");
}

//  ---------------------------------------------------------------------
//  The server: one ROUTER shared under a lock, a queue per lane

#define LANES 2
#define CLIENT_ID_MAX 255           //  a ZeroMQ routing id is at most 255 bytes
#define QUIET_MS 100                //  draining ends once no request came for this long
#define FLUSH_MS 1000               //  on close, replies still going out get this long

//  A request waiting for a worker
typedef struct request_s {
    struct request_s *next;         //  next in its lane's queue
    zmq_msg_t body;                 //  the envelope frame, owned
    int64_t arrived;                //  zclock_mono () when taken off the socket
    size_t client_size;
    uint8_t client [CLIENT_ID_MAX]; //  the ROUTER's routing id of the client
    char peer [];                   //  ZAP User-Id of the connection
} request_t;

typedef struct {
    request_t *head;                //  oldest, taken first
    request_t *tail;
    int64_t size;
} queue_t;

typedef struct server_s server_t;

typedef struct {
    server_t *server;               //  borrowed
    pthread_t thread;
    int index;                      //  within its lane
    int lane;                       //  0 fast, 1 slow
    int status;                     //  0 starting, 1 serving, -1 could not start
} worker_t;

struct server_s {
    const cm_server_spec_t *spec;
    pthread_mutex_t lock;           //  guards the router and everything below
    zsock_t *router;                //  CURVE ROUTER, clients; any thread, under the lock
    queue_t queue [LANES];          //  requests no worker has taken yet
    pthread_cond_t ready [LANES];   //  a lane's queue got a request, or stopping
    pthread_cond_t started;         //  a worker's status changed
    int64_t workers [LANES];        //  worker threads of each lane
    int64_t in_hand [LANES];        //  requests a worker has taken and not answered
    int64_t last_request;           //  zclock_mono () of the last message taken in
    bool draining;                  //  new requests are refused "draining", not queued
    bool stopping;                  //  workers leave once their request in hand is done
    bool has_slow;                  //  any slow route: a slow lane exists
    worker_t *pool;                 //  both lanes, fast first
    int pool_size;                  //  threads started (joined on destroy)
};

int
cm_server_lane (const cm_server_spec_t *spec, const uint8_t *data, size_t size)
{
    //  Only the type is needed; anything odd goes to a fast worker, which
    //  answers it properly
    msgpack_unpacked upk;
    msgpack_unpacked_init (&upk);
    int lane = 0;
    if (size <= PROTO_MAX_FRAME && proto_is_bounded (data, size)
    &&  msgpack_unpack_next (&upk, (const char *) data, size, NULL) == MSGPACK_UNPACK_SUCCESS
    &&  upk.data.type == MSGPACK_OBJECT_MAP) {
        const msgpack_object_map *map = &upk.data.via.map;
        for (uint32_t i = 0; i < map->size; i++) {
            const msgpack_object *key = &map->ptr [i].key, *value = &map->ptr [i].val;
            if (key->type != MSGPACK_OBJECT_STR || key->via.str.size != 4
            ||  memcmp (key->via.str.ptr, "type", 4) != 0 || value->type != MSGPACK_OBJECT_STR)
                continue;
            for (size_t r = 0; r < spec->route_count; r++) {
                const char *name = proto_msgs [spec->routes [r].msg_id].name;
                if (spec->routes [r].slow && strlen (name) == value->via.str.size
                &&  memcmp (name, value->via.str.ptr, value->via.str.size) == 0)
                    lane = 1;
            }
            break;
        }
    }
    msgpack_unpacked_destroy (&upk);
    return lane;
}

static request_t *
s_queue_pop (queue_t *queue)
{
    request_t *request = queue->head;
    if (request) {
        queue->head = request->next;
        if (!queue->head)
            queue->tail = NULL;
        queue->size--;
    }
    return request;
}

static void
s_request_destroy (request_t **request_p)
{
    if (*request_p) {
        zmq_msg_close (&(*request_p)->body);
        free (*request_p);
        *request_p = NULL;
    }
}

//  Sends [client][reply] on the ROUTER; the lock is held. The reply is
//  consumed on success and left to the caller to close otherwise
static void
s_send (server_t *self, const void *client, size_t client_size, zmq_msg_t *reply)
{
    //  No mandatory routing: a client that went away is dropped silently,
    //  so neither send blocks or fails for it
    void *router = zsock_resolve (self->router);
    if (zmq_send (router, client, client_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == (int) client_size)
        zmq_msg_send (reply, router, ZMQ_DONTWAIT);
}

//  Answers a request without a worker ("busy", "draining"); the lock is
//  held. client is the routing id, body the request envelope
static void
s_refuse (server_t *self, const void *client, size_t client_size, zmq_msg_t *body,
          cm_err_t status)
{
    msgpack_unpacked upk;
    msgpack_unpacked_init (&upk);
    proto_envelope_t env;
    proto_error_t err;
    bool decoded = proto_envelope_decode (zmq_msg_data (body), zmq_msg_size (body),
                                          &upk, &env, &err) == CM_OK;
    //  A replica going away is gone within the second: ask for that little
    cm_reply_info_t info = { "", "", status == CM_DRAINING? 1: 0 };
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_encode_reply (decoded? &env: NULL, status, &info, NULL, NULL, &buf);
    zmq_msg_t reply;
    if (zmq_msg_init_size (&reply, buf.size) == 0) {
        memcpy (zmq_msg_data (&reply), buf.data, buf.size);
        s_send (self, client, client_size, &reply);
        zmq_msg_close (&reply);
    }
    msgpack_sbuffer_destroy (&buf);
    if (decoded)
        proto_clear (&proto_envelope_desc, &env);
    msgpack_unpacked_destroy (&upk);
}

//  Queues one [client][body] message, or refuses it; the lock is held.
//  Returns the lane it was queued on, or -1
static int
s_accept (server_t *self, zmq_msg_t *client, zmq_msg_t *body)
{
    const char *peer = zmq_msg_gets (body, "User-Id");
    if (!peer || !*peer) {
        //  Only ZAP-admitted peers get here; no User-Id means no handler ran
        cm_error ("request without an authenticated peer: refused");
        return -1;
    }
    //  Draining: nothing new is run here; the client sends it on to
    //  another replica
    if (self->draining) {
        s_refuse (self, zmq_msg_data (client), zmq_msg_size (client), body, CM_DRAINING);
        return -1;
    }
    int lane = self->has_slow? cm_server_lane (self->spec, zmq_msg_data (body), zmq_msg_size (body)): 0;
    //  The bound is on requests beyond what the lane's free workers take
    //  at once, however soon those workers wake up to take them
    int64_t free_workers = self->workers [lane] - self->in_hand [lane];
    if (self->queue [lane].size - free_workers >= self->spec->cfg->max_queue) {
        s_refuse (self, zmq_msg_data (client), zmq_msg_size (client), body, CM_BUSY);
        return -1;
    }
    size_t peer_size = strlen (peer) + 1;
    request_t *request = (request_t *) malloc (sizeof (request_t) + peer_size);
    if (!request)
        return -1;
    request->next = NULL;
    request->arrived = zclock_mono ();
    request->client_size = zmq_msg_size (client);
    memcpy (request->client, zmq_msg_data (client), request->client_size);
    memcpy (request->peer, peer, peer_size);
    zmq_msg_init (&request->body);
    zmq_msg_move (&request->body, body);
    queue_t *queue = &self->queue [lane];
    if (queue->tail)
        queue->tail->next = request;
    else
        queue->head = request;
    queue->tail = request;
    queue->size++;
    return lane;
}

//  One more frame of the message being read, into part; false when the
//  message has no more (or the frame could not be read)
static bool
s_recv_more (void *router, zmq_msg_t *last, zmq_msg_t *part)
{
    return zmq_msg_more (last) && zmq_msg_recv (part, router, ZMQ_DONTWAIT) >= 0;
}

//  Takes in every message the ROUTER holds and wakes workers for them; the
//  lock is held. own_lane is the caller's lane when it is a worker that
//  takes a request itself next (-1 for the frontend): it wakes one fewer.
//  It reads until EAGAIN, which also reads the socket's pending commands:
//  from then on ZMQ_FD turns readable again as soon as input arrives.
static void
s_drain (server_t *self, int own_lane)
{
    void *router = zsock_resolve (self->router);
    bool take_one = own_lane >= 0;
    while (true) {
        zmq_msg_t client, body, extra;
        zmq_msg_init (&client);
        if (zmq_msg_recv (&client, router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&client);
            break;
        }
        self->last_request = zclock_mono ();
        zmq_msg_init (&body);
        bool whole = s_recv_more (router, &client, &body) && !zmq_msg_more (&body);
        //  A DEALER client sends exactly one frame; anything else is dropped
        zmq_msg_init (&extra);
        for (zmq_msg_t *last = &body; s_recv_more (router, last, &extra); last = &extra)
            whole = false;
        zmq_msg_close (&extra);
        int lane = whole && zmq_msg_size (&client) <= CLIENT_ID_MAX?
                   s_accept (self, &client, &body): -1;
        if (lane >= 0 && lane == own_lane && take_one)
            take_one = false;
        else
        if (lane >= 0)
            pthread_cond_signal (&self->ready [lane]);
        zmq_msg_close (&client);
        zmq_msg_close (&body);
    }
}

//  A worker thread: takes requests of its lane, processes them without the
//  lock, answers on the ROUTER itself
static void *
s_worker (void *arg)
{
    worker_t *worker = (worker_t *) arg;
    server_t *self = worker->server;
    const cm_server_spec_t *spec = self->spec;
    void *state = spec->worker_new? spec->worker_new (spec->cfg, spec->cert, worker->index): NULL;
    pthread_mutex_lock (&self->lock);
    worker->status = spec->worker_new && !state? -1: 1;
    pthread_cond_broadcast (&self->started);
    if (worker->status < 0) {
        pthread_mutex_unlock (&self->lock);
        return NULL;
    }
    int lane = worker->lane;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_zone *zone = msgpack_zone_new (MSGPACK_ZONE_CHUNK_SIZE);
    while (true) {
        request_t *request = NULL;
        while (!self->stopping && !(request = s_queue_pop (&self->queue [lane])))
            pthread_cond_wait (&self->ready [lane], &self->lock);
        if (!request)
            break;                  //  stopping: the request in hand was answered
        self->in_hand [lane]++;
        pthread_mutex_unlock (&self->lock);

        cm_server_process (spec, state, request->peer, request->arrived,
                           zmq_msg_data (&request->body), zmq_msg_size (&request->body), zone, &buf);
        zmq_msg_t reply;
        bool built = zmq_msg_init_size (&reply, buf.size) == 0;
        if (built)
            memcpy (zmq_msg_data (&reply), buf.data, buf.size);
        zmq_msg_close (&request->body);

        pthread_mutex_lock (&self->lock);
        if (built)
            s_send (self, request->client, request->client_size, &reply);
        self->in_hand [lane]--;
        //  Any call on the socket may read its pending commands, a notice of
        //  new input among them, so ZMQ_FD would not wake the frontend for
        //  that input: take it in now, and take the next request straight on
        if (!self->stopping)
            s_drain (self, lane);
        if (built)
            zmq_msg_close (&reply);
        free (request);
    }
    pthread_mutex_unlock (&self->lock);
    msgpack_sbuffer_destroy (&buf);
    if (zone)
        msgpack_zone_free (zone);
    if (state)
        spec->worker_destroy (&state);
    return NULL;
}

static void
s_server_destroy (server_t **self_p)
{
    server_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock (&self->lock);
    self->stopping = true;
    for (int lane = 0; lane < LANES; lane++)
        pthread_cond_broadcast (&self->ready [lane]);
    pthread_mutex_unlock (&self->lock);
    for (int i = 0; i < self->pool_size; i++)
        pthread_join (self->pool [i].thread, NULL);
    free (self->pool);
    //  Only this thread is left. Requests no worker took never ran: they
    //  and whatever arrived meanwhile are refused "draining", so their
    //  clients send them on at once instead of waiting for a reply
    self->draining = true;
    for (int lane = 0; lane < LANES; lane++) {
        request_t *request;
        while ((request = s_queue_pop (&self->queue [lane]))) {
            if (self->router)
                s_refuse (self, request->client, request->client_size, &request->body, CM_DRAINING);
            s_request_destroy (&request);
        }
        pthread_cond_destroy (&self->ready [lane]);
    }
    pthread_cond_destroy (&self->started);
    if (self->router) {
        s_drain (self, -1);
        //  The connections stay open until the replies queued on them have
        //  gone out (the context keeps flushing them after the close)
        zsock_set_linger (self->router, FLUSH_MS);
    }
    zsock_destroy (&self->router);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

static server_t *
s_server_new (const cm_server_spec_t *spec)
{
    server_t *self = (server_t *) zmalloc (sizeof (server_t));
    self->spec = spec;
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->started, NULL);
    for (int lane = 0; lane < LANES; lane++)
        pthread_cond_init (&self->ready [lane], NULL);
    for (size_t r = 0; r < spec->route_count; r++)
        self->has_slow = self->has_slow || spec->routes [r].slow;
    self->workers [0] = spec->cfg->workers;
    self->workers [1] = self->has_slow? spec->cfg->slow_workers: 0;
    int count = (int) (self->workers [0] + self->workers [1]);
    self->pool = (worker_t *) zmalloc (sizeof (worker_t) * (size_t) count);
    bool ok = true;
    for (int i = 0; ok && i < count; i++) {
        worker_t *worker = &self->pool [i];
        worker->server = self;
        worker->lane = i >= self->workers [0]? 1: 0;
        worker->index = worker->lane? i - (int) self->workers [0]: i;
        ok = pthread_create (&worker->thread, NULL, s_worker, worker) == 0;
        if (ok) {
            self->pool_size++;
            pthread_mutex_lock (&self->lock);
            while (worker->status == 0)
                pthread_cond_wait (&self->started, &self->lock);
            ok = worker->status > 0;
            pthread_mutex_unlock (&self->lock);
        }
        if (!ok)
            cm_error ("worker %d could not start", i);
    }
    //  The public endpoint is bound last: no request arrives before the
    //  workers can take it
    if (ok) {
        pthread_mutex_lock (&self->lock);
        self->router = cm_curve_server (spec->cert, cm_svc_name (spec->service), spec->cfg->bind);
        pthread_mutex_unlock (&self->lock);
    }
    if (!ok || !self->router)
        s_server_destroy (&self);
    return self;
}

//  True once draining has nothing left: no request queued or in hand, and
//  none arrived lately, not even one refused: a client that sends now and
//  then would lose a request sent just as the socket closes
static bool
s_server_idle (server_t *self)
{
    pthread_mutex_lock (&self->lock);
    bool idle = true;
    for (int lane = 0; lane < LANES; lane++)
        idle = idle && self->queue [lane].size == 0 && self->in_hand [lane] == 0;
    idle = idle && zclock_mono () - self->last_request > QUIET_MS;
    pthread_mutex_unlock (&self->lock);
    return idle;
}

//  ---------------------------------------------------------------------
//  Frontend actor: waits with poll () on the ROUTER's and the pipe's
//  ZMQ_FD, takes input in under the lock, handles $TERM

static void
s_server_actor (zsock_t *pipe, void *arg)
{
    const cm_server_spec_t *spec = (const cm_server_spec_t *) arg;
    zsock_signal (pipe, 0);             //  for zactor_new; the status follows
    s_started_at = zclock_mono ();
    server_t *self = s_server_new (spec);
    if (!self) {
        zsock_signal (pipe, 1);
        return;
    }
    zsock_signal (pipe, 0);
    cm_info ("serving on %s with %d workers", spec->cfg->bind, self->pool_size);

    //  Both descriptors only say "look": ZMQ_FD is readable when commands
    //  wait, so each is read until the socket has nothing more
    struct pollfd items [2] = {
        { zsock_fd (self->router), POLLIN, 0 },
        { zsock_fd (pipe), POLLIN, 0 }
    };
    bool router_ready = true, pipe_ready = true;
    int64_t drain_until = 0;            //  set once draining
    bool stop = false;
    while (!stop) {
        if (router_ready) {
            pthread_mutex_lock (&self->lock);
            s_drain (self, -1);
            pthread_mutex_unlock (&self->lock);
        }
        while (pipe_ready && !stop && (zsock_events (pipe) & ZMQ_POLLIN)) {
            char *command = zstr_recv (pipe);
            if (!command || streq (command, "$TERM")) {
                if (drain_until)
                    stop = true;
                else {
                    //  The endpoint stays bound: unbinding would close the
                    //  connections the replies of work in hand must go out
                    //  on. New requests are refused "draining" instead (the
                    //  client sends them to another replica); the rest runs
                    pthread_mutex_lock (&self->lock);
                    self->draining = true;
                    s_drain (self, -1);
                    pthread_mutex_unlock (&self->lock);
                    drain_until = zclock_mono () + spec->cfg->drain_timeout_ms;
                    cm_info ("draining for up to %lld ms", (long long) spec->cfg->drain_timeout_ms);
                }
            }
            zstr_free (&command);
        }
        if (drain_until && !stop)
            stop = s_server_idle (self) || zclock_mono () >= drain_until;
        if (stop)
            break;
        if (poll (items, 2, drain_until? 50: -1) < 0 && errno != EINTR) {
            cm_error ("poll failed: %s", strerror (errno));
            break;
        }
        router_ready = items [0].revents != 0;
        pipe_ready = items [1].revents != 0;
    }
    pthread_mutex_lock (&self->lock);
    int64_t unfinished = self->queue [0].size + self->queue [1].size;
    pthread_mutex_unlock (&self->lock);
    s_server_destroy (&self);
    if (unfinished)
        cm_info ("stopped: %lld queued request(s) refused as draining", (long long) unfinished);
    else
        cm_info ("stopped");
    //  zactor_destroy sent $TERM and waits; if we left on our own after a
    //  drain, the pending $TERM is consumed by the actor shim
}

zactor_t *
cm_server_new (const cm_server_spec_t *spec)
{
    zactor_t *actor = zactor_new (s_server_actor, (void *) spec);
    if (actor && zsock_wait (actor) != 0)
        zactor_destroy (&actor);
    return actor;
}

cm_err_t
cm_server_fail (cm_reply_info_t *info, cm_err_t err, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (info->message, sizeof info->message, format, args);
    va_end (args);
    return err;
}

char *
cm_server_dup (const char *s)
{
    return s? strdup (s): NULL;
}
