/*  cm_server - frontend actor, LRU worker pool, request processing */
#include <stdarg.h>
#include <unistd.h>
#include "cm_server.h"
#include "cm_curve.h"
#include "cm_log.h"
#include "../proto/proto_envelope.h"

#define READY_SIGNAL ""

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
                   int64_t arrived, const uint8_t *data, size_t size, msgpack_sbuffer *buf)
{
    msgpack_unpacked upk;
    msgpack_unpacked_init (&upk);
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
    msgpack_unpacked_destroy (&upk);
    cm_log_set_request_id ("");
}

typedef struct {
    const cm_server_spec_t *spec;
    char *backend;                  //  inproc endpoint of the frontend, owned
    int index;
    int lane;                       //  0 fast, 1 slow
} worker_args_t;

static void
s_worker (zsock_t *pipe, void *arg)
{
    worker_args_t *args = (worker_args_t *) arg;
    const cm_server_spec_t *spec = args->spec;
    zsock_signal (pipe, 0);             //  for zactor_new; the status follows
    void *state = spec->worker_new? spec->worker_new (spec->cfg, spec->cert, args->index): NULL;
    //  The identity's first letter tells the frontend the worker's lane
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    if (dealer) {
        char identity [16];
        snprintf (identity, sizeof identity, "%c%d", args->lane? 'S': 'F', args->index);
        zsock_set_identity (dealer, identity);
        if (zsock_connect (dealer, "%s", args->backend))
            zsock_destroy (&dealer);
    }
    if (!dealer || (spec->worker_new && !state)) {
        zsock_signal (pipe, 1);
        goto cleanup;
    }
    zsock_signal (pipe, 0);
    zstr_send (dealer, READY_SIGNAL);

    zpoller_t *poller = zpoller_new (pipe, dealer, NULL);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe)
            break;                  //  $TERM: requests in hand are done
        if (which != dealer)
            continue;
        zmsg_t *msg = zmsg_recv (dealer);
        if (!msg)
            break;
        //  [client id][peer][arrival][envelope], as the frontend built it
        zframe_t *client = zmsg_pop (msg);
        char *peer = zmsg_popstr (msg);
        zframe_t *arrival = zmsg_pop (msg);
        zframe_t *request = zmsg_pop (msg);
        int64_t arrived = 0;
        if (arrival && zframe_size (arrival) == sizeof arrived)
            memcpy (&arrived, zframe_data (arrival), sizeof arrived);
        if (client && peer && request) {
            cm_server_process (spec, state, peer, arrived, zframe_data (request),
                               zframe_size (request), &buf);
            zmsg_t *reply = zmsg_new ();
            zmsg_append (reply, &client);
            zmsg_addmem (reply, buf.data, buf.size);
            zmsg_send (&reply, dealer);
        }
        else
            zstr_send (dealer, READY_SIGNAL);
        zframe_destroy (&client);
        zframe_destroy (&arrival);
        zframe_destroy (&request);
        zstr_free (&peer);
        zmsg_destroy (&msg);
    }
    msgpack_sbuffer_destroy (&buf);
    zpoller_destroy (&poller);
cleanup:
    zsock_destroy (&dealer);
    if (state)
        spec->worker_destroy (&state);
}

//  ---------------------------------------------------------------------
//  Frontend actor

#define LANES 2

typedef struct {
    const cm_server_spec_t *spec;
    zsock_t *router;                //  CURVE ROUTER, clients
    zsock_t *backend;               //  inproc ROUTER, workers
    zactor_t **workers;             //  worker actors, both lanes
    int worker_count;
    bool has_slow;                  //  any slow route: a slow lane exists
    zlist_t *idle [LANES];          //  worker identity frames ready for work
    zlist_t *pending [LANES];       //  requests waiting for a worker (zmsg_t)
    char backend_endpoint [64];
} server_t;

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

//  Answers a request without a worker ("busy"), from the frontend
static void
s_refuse (server_t *self, zframe_t **client_p, zframe_t *request, cm_err_t status)
{
    msgpack_unpacked upk;
    msgpack_unpacked_init (&upk);
    proto_envelope_t env;
    proto_error_t err;
    bool decoded = proto_envelope_decode (zframe_data (request), zframe_size (request),
                                          &upk, &env, &err) == CM_OK;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_encode_reply (decoded? &env: NULL, status, NULL, NULL, NULL, &buf);
    zmsg_t *reply = zmsg_new ();
    zmsg_append (reply, client_p);
    zmsg_addmem (reply, buf.data, buf.size);
    zmsg_send (&reply, self->router);
    msgpack_sbuffer_destroy (&buf);
    if (decoded)
        proto_clear (&proto_envelope_desc, &env);
    msgpack_unpacked_destroy (&upk);
}

static void
s_dispatch (server_t *self)
{
    for (int lane = 0; lane < LANES; lane++)
        while (zlist_size (self->idle [lane]) && zlist_size (self->pending [lane])) {
            zframe_t *worker = (zframe_t *) zlist_pop (self->idle [lane]);
            zmsg_t *msg = (zmsg_t *) zlist_pop (self->pending [lane]);
            zmsg_prepend (msg, &worker);
            zmsg_send (&msg, self->backend);
        }
}

static void
s_handle_client (server_t *self)
{
    zmsg_t *msg = zmsg_recv (self->router);
    if (!msg)
        return;
    //  A DEALER client sends exactly one frame; anything else is dropped
    if (zmsg_size (msg) != 2) {
        zmsg_destroy (&msg);
        return;
    }
    zframe_t *client = zmsg_pop (msg);
    zframe_t *request = zmsg_pop (msg);
    zmsg_destroy (&msg);
    const char *peer = zframe_meta (request, "User-Id");
    if (!peer || !*peer) {
        //  Only ZAP-admitted peers get here; no User-Id means no handler ran
        cm_error ("request without an authenticated peer: refused");
        zframe_destroy (&client);
        zframe_destroy (&request);
        return;
    }
    int lane = self->has_slow? cm_server_lane (self->spec, zframe_data (request), zframe_size (request)): 0;
    if ((int64_t) zlist_size (self->pending [lane]) >= self->spec->cfg->max_queue) {
        s_refuse (self, &client, request, CM_BUSY);
        zframe_destroy (&request);
        return;
    }
    int64_t arrived = zclock_mono ();
    zmsg_t *work = zmsg_new ();
    zmsg_append (work, &client);
    zmsg_addstr (work, peer);
    zmsg_addmem (work, &arrived, sizeof arrived);
    zmsg_append (work, &request);
    zlist_append (self->pending [lane], work);
    s_dispatch (self);
}

static void
s_handle_worker (server_t *self)
{
    zmsg_t *msg = zmsg_recv (self->backend);
    if (!msg)
        return;
    zframe_t *worker = zmsg_pop (msg);
    int lane = zframe_size (worker) > 0 && zframe_data (worker) [0] == 'S'? 1: 0;
    zlist_append (self->idle [lane], worker);
    //  [client id][reply] goes back out; a lone empty frame is READY
    if (zmsg_size (msg) == 2)
        zmsg_send (&msg, self->router);
    zmsg_destroy (&msg);
    s_dispatch (self);
}

static void
s_server_destroy (server_t **self_p)
{
    server_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < self->worker_count; i++)
        zactor_destroy (&self->workers [i]);
    free (self->workers);
    for (int lane = 0; lane < LANES; lane++) {
        zframe_t *frame;
        while ((frame = (zframe_t *) zlist_pop (self->idle [lane])))
            zframe_destroy (&frame);
        zlist_destroy (&self->idle [lane]);
        zmsg_t *msg;
        while ((msg = (zmsg_t *) zlist_pop (self->pending [lane])))
            zmsg_destroy (&msg);
        zlist_destroy (&self->pending [lane]);
    }
    zsock_destroy (&self->backend);
    zsock_destroy (&self->router);
    free (self);
    *self_p = NULL;
}

static server_t *
s_server_new (const cm_server_spec_t *spec)
{
    server_t *self = (server_t *) zmalloc (sizeof (server_t));
    self->spec = spec;
    for (int lane = 0; lane < LANES; lane++) {
        self->idle [lane] = zlist_new ();
        self->pending [lane] = zlist_new ();
    }
    for (size_t r = 0; r < spec->route_count; r++)
        self->has_slow = self->has_slow || spec->routes [r].slow;
    snprintf (self->backend_endpoint, sizeof self->backend_endpoint,
              "inproc://cm-workers-%p", (void *) self);
    self->backend = zsock_new_router (self->backend_endpoint);
    int fast = (int) spec->cfg->workers;
    self->worker_count = fast + (self->has_slow? (int) spec->cfg->slow_workers: 0);
    self->workers = (zactor_t **) zmalloc (sizeof (zactor_t *) * (size_t) self->worker_count);
    bool ok = self->backend != NULL;
    for (int i = 0; ok && i < self->worker_count; i++) {
        worker_args_t *args = (worker_args_t *) zmalloc (sizeof (worker_args_t));
        args->spec = spec;
        args->backend = strdup (self->backend_endpoint);
        args->lane = i >= fast? 1: 0;
        args->index = i >= fast? i - fast: i;
        //  The worker reads args only until it signals, so they are freed here
        self->workers [i] = zactor_new (s_worker, args);
        ok = self->workers [i] && zsock_wait (self->workers [i]) == 0;
        if (!ok) {
            cm_error ("worker %d could not start", i);
            zactor_destroy (&self->workers [i]);
        }
        free (args->backend);
        free (args);
    }
    //  The public endpoint is bound last: no request arrives before the
    //  workers can take it
    if (ok)
        self->router = cm_curve_server (spec->cert, cm_svc_name (spec->service), spec->cfg->bind);
    if (!ok || !self->router)
        s_server_destroy (&self);
    return self;
}

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
    cm_info ("serving on %s with %d workers", spec->cfg->bind, self->worker_count);

    zpoller_t *poller = zpoller_new (pipe, self->router, self->backend, NULL);
    int64_t drain_until = 0;            //  set once draining
    int64_t last_request = zclock_mono ();
    while (true) {
        void *which = zpoller_wait (poller, drain_until? 50: -1);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            if (!command || streq (command, "$TERM")) {
                if (drain_until) {
                    zstr_free (&command);
                    break;
                }
                //  Unbind so new requests go to other replicas, finish the rest
                zsock_unbind (self->router, "%s", spec->cfg->bind);
                drain_until = zclock_mono () + spec->cfg->drain_timeout_ms;
                cm_info ("draining for up to %lld ms", (long long) spec->cfg->drain_timeout_ms);
            }
            zstr_free (&command);
        }
        else
        if (which == self->router) {
            s_handle_client (self);
            last_request = zclock_mono ();
        }
        else
        if (which == self->backend)
            s_handle_worker (self);

        if (drain_until) {
            bool idle = (int) (zlist_size (self->idle [0]) + zlist_size (self->idle [1])) == self->worker_count
                     && zlist_size (self->pending [0]) + zlist_size (self->pending [1]) == 0
                     && zclock_mono () - last_request > 100;
            if (idle || zclock_mono () >= drain_until)
                break;
        }
    }
    zpoller_destroy (&poller);
    size_t unfinished = zlist_size (self->pending [0]) + zlist_size (self->pending [1]);
    s_server_destroy (&self);
    cm_info ("stopped%s", unfinished? " with requests unfinished": "");
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
