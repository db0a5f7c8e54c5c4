/*  test_cm_server - request processing: identity, types, deadlines, errors;
    the loop itself: every request answered once, busy, drain */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <unistd.h>
#include <czmq.h>
#include "cm_server.h"
#include "cm_zap.h"
#include "proto_envelope.h"

static int s_calls;
static char s_seen_uid [37];

static cm_err_t
s_handler (void *state, const cm_ctx_t *ctx, const void *req, void *rep_, cm_reply_info_t *info)
{
    (void) state; (void) req; (void) info;
    s_calls++;
    snprintf (s_seen_uid, sizeof s_seen_uid, "%s", ctx->uid);
    proto_audit_append_rep_t *rep = (proto_audit_append_rep_t *) rep_;
    rep->accepted = 0;
    rep->has_accepted = true;
    return CM_OK;
}

static const cm_route_t s_routes [] = { { PROTO_MSG_audit_append, s_handler, true, false } };
static cm_config_t s_cfg = { .service = CM_SVC_AUDIT, .identity_peers = (char *) "gateway,privacy" };
static const cm_server_spec_t s_spec = {
    .service = CM_SVC_AUDIT, .cfg = &s_cfg, .routes = s_routes, .route_count = 1
};

//  Encodes a request envelope; uid NULL sends no identity
static void
s_request (msgpack_sbuffer *buf, const char *type, const char *uid, int64_t ttl_ms)
{
    proto_envelope_t env = { 0 };
    env.v = PROTO_VERSION; env.has_v = true;
    env.type = (char *) type;
    env.cid = 42; env.has_cid = true;
    env.rid = (char *) "test-request";
    env.uid = (char *) uid;
    if (ttl_ms) {
        env.ttl_ms = ttl_ms;
        env.has_ttl_ms = true;
    }
    proto_audit_append_req_t req = { 0 };
    msgpack_sbuffer_init (buf);
    proto_error_t err;
    int msg = proto_msg_lookup (type);
    cr_assert_eq (proto_envelope_encode (&env, msg >= 0? proto_msgs [msg].req: &proto_ping_req_desc,
                                         &req, buf, &err), 0, "%s", err.message);
}

typedef struct { int64_t status; char code [64]; int64_t cid; } reply_t;

static reply_t
s_process (const char *peer, const void *data, size_t size, int64_t arrived)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    cm_server_process (&s_spec, NULL, peer, arrived, data, size, NULL, &out);
    msgpack_unpacked upk;
    msgpack_unpacked_init (&upk);
    proto_envelope_t env;
    proto_error_t err;
    cr_assert_eq (proto_envelope_decode (out.data, out.size, &upk, &env, &err), CM_OK,
                  "the reply itself is a valid envelope: %s", err.message);
    reply_t reply = { env.status, "", env.cid };
    snprintf (reply.code, sizeof reply.code, "%s", env.code);
    proto_clear (&proto_envelope_desc, &env);
    msgpack_unpacked_destroy (&upk);
    msgpack_sbuffer_destroy (&out);
    return reply;
}

static const char *USER = "0b6f3c2e-8a51-4c1d-9e2f-1a2b3c4d5e6f";

Test (cm_server, identity_only_from_trusted_peers)
{
    msgpack_sbuffer buf;
    s_request (&buf, "audit.append", USER, 0);
    s_calls = 0;
    reply_t reply = s_process ("auth", buf.data, buf.size, zclock_mono ());
    cr_assert_eq (reply.status, 403);
    cr_assert_str_eq (reply.code, "identity_not_allowed");
    cr_assert_eq (s_calls, 0, "the handler must not run");

    reply = s_process ("gateway", buf.data, buf.size, zclock_mono ());
    cr_assert_eq (reply.status, 200, "%s", reply.code);
    cr_assert_eq (reply.cid, 42, "the reply carries the request's correlation id");
    cr_assert_eq (s_calls, 1);
    cr_assert_str_eq (s_seen_uid, USER);
    msgpack_sbuffer_destroy (&buf);
}

Test (cm_server, user_routes_need_a_user)
{
    msgpack_sbuffer buf;
    s_request (&buf, "audit.append", NULL, 0);
    s_calls = 0;
    reply_t reply = s_process ("gateway", buf.data, buf.size, zclock_mono ());
    cr_assert_eq (reply.status, 401);
    cr_assert_eq (s_calls, 0);
    msgpack_sbuffer_destroy (&buf);
}

Test (cm_server, unknown_and_unserved_types)
{
    msgpack_sbuffer buf;
    s_request (&buf, "missions.nuke", NULL, 0);
    reply_t reply = s_process ("gateway", buf.data, buf.size, zclock_mono ());
    cr_assert_eq (reply.status, 400);
    cr_assert_str_eq (reply.code, "unknown_type");
    msgpack_sbuffer_destroy (&buf);
}

Test (cm_server, ping_is_built_in)
{
    msgpack_sbuffer buf;
    s_request (&buf, "ping", NULL, 0);
    reply_t reply = s_process ("privacy", buf.data, buf.size, zclock_mono ());
    cr_assert_eq (reply.status, 200);
    cr_assert_str_eq (reply.code, "ok");
    msgpack_sbuffer_destroy (&buf);
}

Test (cm_server, expired_requests_are_not_run)
{
    msgpack_sbuffer buf;
    s_request (&buf, "audit.append", USER, 50);
    s_calls = 0;
    reply_t reply = s_process ("gateway", buf.data, buf.size, zclock_mono () - 1000);
    cr_assert_eq (reply.status, 504);
    cr_assert_eq (s_calls, 0);
    msgpack_sbuffer_destroy (&buf);
}

Test (cm_server, garbage_gets_an_error_reply)
{
    const char *inputs [] = { "", "\xc1", "\x81\xa1v\x02", "\x92\x01\x02", "not msgpack at all" };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs [0]; i++) {
        size_t len = strlen (inputs [i]);
        reply_t reply = s_process ("gateway", inputs [i], len? len: 0, zclock_mono ());
        cr_expect_eq (reply.status, 400, "input %zu", i);
    }
    //  A missing body for a message with required fields is a field error
    msgpack_sbuffer buf;
    proto_envelope_t env = { 0 };
    env.v = PROTO_VERSION; env.has_v = true; env.type = (char *) "audit.append";
    env.cid = 1; env.has_cid = true; env.rid = (char *) "r"; env.uid = (char *) USER;
    msgpack_sbuffer_init (&buf);
    proto_error_t err;
    cr_assert_eq (proto_envelope_encode (&env, NULL, NULL, &buf, &err), 0);
    reply_t reply = s_process ("gateway", buf.data, buf.size, zclock_mono ());
    cr_assert_eq (reply.status, 400);
    cr_assert_str_eq (reply.code, "invalid_request");
    msgpack_sbuffer_destroy (&buf);
}

Test (cm_server, slow_routes_take_the_slow_lane)
{
    static const cm_route_t routes [] = {
        { PROTO_MSG_audit_append, s_handler, false, true },
    };
    const cm_server_spec_t spec = { .service = CM_SVC_AUDIT, .cfg = &s_cfg, .routes = routes, .route_count = 1 };
    msgpack_sbuffer buf;
    s_request (&buf, "audit.append", USER, 0);
    cr_assert_eq (cm_server_lane (&spec, (const uint8_t *) buf.data, buf.size), 1);
    msgpack_sbuffer_destroy (&buf);
    s_request (&buf, "ping", NULL, 0);
    cr_assert_eq (cm_server_lane (&spec, (const uint8_t *) buf.data, buf.size), 0);
    msgpack_sbuffer_destroy (&buf);
    //  Garbage goes to a fast worker, which answers it with an error
    cr_assert_eq (cm_server_lane (&spec, (const uint8_t *) "\xc1\x00", 2), 0);
    cr_assert_eq (cm_server_lane (&s_spec, (const uint8_t *) "", 0), 0);
}

//  ---------------------------------------------------------------------
//  The loop itself, on a real CURVE ROUTER (over ipc: no port to pick).
//  audit.append runs in the fast lane, ping in the slow one (answered by
//  the built-in ping, not the handler).

static atomic_int s_served;             //  handler calls, every worker
static atomic_int s_delay_ms;           //  how long the handler takes

static cm_err_t
s_timed_handler (void *state, const cm_ctx_t *ctx, const void *req, void *rep_, cm_reply_info_t *info)
{
    (void) state; (void) ctx; (void) req; (void) info;
    atomic_fetch_add (&s_served, 1);
    int delay = atomic_load (&s_delay_ms);
    if (delay)
        zclock_sleep (delay);
    proto_audit_append_rep_t *rep = (proto_audit_append_rep_t *) rep_;
    rep->accepted = 0;
    rep->has_accepted = true;
    return CM_OK;
}

static const cm_route_t s_loop_routes [] = {
    { PROTO_MSG_audit_append, s_timed_handler, false, false },
    { PROTO_MSG_ping, s_timed_handler, false, true }
};

typedef struct {
    zcert_t *server_cert, *client_cert;
    zactor_t *zap;
    zactor_t *server;
    cm_config_t cfg;
    cm_server_spec_t spec;
    char endpoint [64];
} loop_t;

static void
s_loop_start (loop_t *self, int workers, int max_queue, int drain_ms)
{
    zsys_handler_set (NULL);
    memset (self, 0, sizeof *self);
    self->server_cert = zcert_new ();
    self->client_cert = zcert_new ();
    cm_allowlist_t *allow = cm_allowlist_new ();
    cm_allowlist_add (allow, "gateway", zcert_public_txt (self->client_cert));
    self->zap = cm_zap_start (&allow, "audit");
    cr_assert_not_null (self->zap);
    snprintf (self->endpoint, sizeof self->endpoint, "ipc:///tmp/test-cm-server-%d", (int) getpid ());
    self->cfg.service = CM_SVC_AUDIT;
    self->cfg.bind = self->endpoint;
    self->cfg.identity_peers = (char *) "gateway";
    self->cfg.workers = workers;
    self->cfg.slow_workers = 1;
    self->cfg.max_queue = max_queue;
    self->cfg.drain_timeout_ms = drain_ms;
    self->spec.service = CM_SVC_AUDIT;
    self->spec.cfg = &self->cfg;
    self->spec.cert = self->server_cert;
    self->spec.routes = s_loop_routes;
    self->spec.route_count = 2;
    self->server = cm_server_new (&self->spec);
    cr_assert_not_null (self->server);
}

static void
s_loop_stop (loop_t *self)
{
    zactor_destroy (&self->server);
    zactor_destroy (&self->zap);
    zcert_destroy (&self->server_cert);
    zcert_destroy (&self->client_cert);
}

static zsock_t *
s_loop_client (loop_t *self)
{
    zsock_t *client = zsock_new (ZMQ_DEALER);
    zcert_apply (self->client_cert, client);
    zsock_set_curve_serverkey (client, zcert_public_txt (self->server_cert));
    zsock_set_rcvtimeo (client, 5000);
    cr_assert_eq (zsock_connect (client, "%s", self->endpoint), 0);
    return client;
}

static void
s_loop_send (zsock_t *client, const char *type, int64_t cid)
{
    proto_envelope_t env = { 0 };
    env.v = PROTO_VERSION; env.has_v = true;
    env.type = (char *) type;
    env.cid = cid; env.has_cid = true;
    env.rid = (char *) "loop";
    proto_audit_append_req_t req = { 0 };
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    proto_error_t err;
    int msg = proto_msg_lookup (type);
    cr_assert_eq (proto_envelope_encode (&env, proto_msgs [msg].req, &req, &buf, &err), 0);
    cr_assert_eq (zmq_send (zsock_resolve (client), buf.data, buf.size, 0), (int) buf.size);
    msgpack_sbuffer_destroy (&buf);
}

//  The next reply's status and cid; 0 on timeout
static int64_t
s_loop_recv (zsock_t *client, int64_t *cid, char *code, size_t code_size)
{
    zframe_t *frame = zframe_recv (client);
    if (!frame)
        return 0;
    msgpack_unpacked upk;
    msgpack_unpacked_init (&upk);
    proto_envelope_t env;
    proto_error_t err;
    cr_assert_eq (proto_envelope_decode (zframe_data (frame), zframe_size (frame), &upk, &env, &err), CM_OK);
    int64_t status = env.status;
    *cid = env.cid;
    snprintf (code, code_size, "%s", env.code? env.code: "");
    proto_clear (&proto_envelope_desc, &env);
    msgpack_unpacked_destroy (&upk);
    zframe_destroy (&frame);
    return status;
}

#define CLIENTS     4
#define PER_CLIENT  300

Test (cm_server_loop, every_request_is_answered_once, .timeout = 60)
{
    loop_t loop;
    s_loop_start (&loop, 3, 1024, 2000);
    zsock_t *clients [CLIENTS];
    for (int c = 0; c < CLIENTS; c++)
        clients [c] = s_loop_client (&loop);
    //  Both lanes at once, everything sent before anything is read: the
    //  queues fill, workers take input in between their replies
    for (int i = 0; i < PER_CLIENT; i++)
        for (int c = 0; c < CLIENTS; c++)
            s_loop_send (clients [c], i % 5 == 0? "ping": "audit.append", (int64_t) c * PER_CLIENT + i);
    static bool seen [CLIENTS * PER_CLIENT];
    for (int c = 0; c < CLIENTS; c++)
        for (int i = 0; i < PER_CLIENT; i++) {
            int64_t cid;
            char code [32];
            int64_t status = s_loop_recv (clients [c], &cid, code, sizeof code);
            cr_assert_eq (status, 200, "client %d reply %d: status %lld %s", c, i, (long long) status, code);
            cr_assert (cid >= (int64_t) c * PER_CLIENT && cid < (int64_t) (c + 1) * PER_CLIENT,
                       "a reply reached the wrong client");
            cr_assert (!seen [cid], "request %lld answered twice", (long long) cid);
            seen [cid] = true;
        }
    cr_assert_eq (atomic_load (&s_served), CLIENTS * PER_CLIENT * 4 / 5);
    //  Nothing more comes
    for (int c = 0; c < CLIENTS; c++) {
        zsock_set_rcvtimeo (clients [c], 100);
        zframe_t *extra = zframe_recv (clients [c]);
        cr_assert_null (extra, "an extra reply");
        zsock_destroy (&clients [c]);
    }
    s_loop_stop (&loop);
}

Test (cm_server_loop, past_the_queue_the_answer_is_busy_at_once, .timeout = 30)
{
    loop_t loop;
    s_loop_start (&loop, 1, 2, 2000);
    atomic_store (&s_delay_ms, 500);
    zsock_t *client = s_loop_client (&loop);
    //  One in hand, two queued, the rest refused while the first runs
    s_loop_send (client, "audit.append", 0);
    zclock_sleep (100);
    for (int i = 1; i < 10; i++)
        s_loop_send (client, "audit.append", i);
    int served = 0, busy = 0;
    int64_t started = zclock_mono ();
    for (int i = 0; i < 10; i++) {
        int64_t cid;
        char code [32];
        int64_t status = s_loop_recv (client, &cid, code, sizeof code);
        if (status == 503 && streq (code, "busy")) {
            busy++;
            cr_assert_lt (zclock_mono () - started, 400, "a refusal waited for a worker");
        }
        else {
            cr_assert_eq (status, 200, "status %lld %s", (long long) status, code);
            served++;
        }
    }
    cr_assert_eq (served, 3);
    cr_assert_eq (busy, 7);
    zsock_destroy (&client);
    s_loop_stop (&loop);
}

Test (cm_server_loop, term_answers_every_request_taken_and_refuses_the_rest, .timeout = 30)
{
    loop_t loop;
    s_loop_start (&loop, 2, 100, 5000);
    atomic_store (&s_served, 0);
    atomic_store (&s_delay_ms, 50);
    zsock_t *client = s_loop_client (&loop);
    zsock_t *late = s_loop_client (&loop);
    //  The late client's link is up before the stop: it comes on a
    //  connection the server already has
    s_loop_send (late, "ping", 1000);
    int64_t cid;
    char code [32];
    cr_assert_eq (s_loop_recv (late, &cid, code, sizeof code), 200);
    for (int i = 0; i < 20; i++)
        s_loop_send (client, i % 4 == 0? "ping": "audit.append", i);
    //  Stop it while it works: by the third handler call every request was
    //  long taken in (the first two took 50 ms)
    while (atomic_load (&s_served) < 3)
        zclock_sleep (5);
    zstr_send (loop.server, "$TERM");

    //  A request after $TERM: refused "draining" at once, not queued behind
    //  the work still in hand (a request that beat $TERM in is served)
    bool refused = false;
    int late_served = 0;
    for (int i = 0; i < 5 && !refused; i++) {
        int64_t sent = zclock_mono ();
        s_loop_send (late, "audit.append", 2000 + i);
        int64_t status = s_loop_recv (late, &cid, code, sizeof code);
        cr_assert_eq (cid, 2000 + i, "late request %d: no reply (status %lld)", i, (long long) status);
        if (status == 503) {
            cr_assert_str_eq (code, "draining");
            cr_assert_lt (zclock_mono () - sent, 200, "the refusal waited for the drain");
            refused = true;
        }
        else {
            cr_assert_eq (status, 200, "late request %d: %lld %s", i, (long long) status, code);
            late_served++;
        }
    }
    cr_assert (refused, "no late request was refused as draining");

    //  Every request taken before $TERM gets its real reply, once
    bool seen [20] = { false };
    for (int i = 0; i < 20; i++) {
        int64_t status = s_loop_recv (client, &cid, code, sizeof code);
        cr_assert_eq (status, 200, "reply %d: status %lld %s (0: none came)", i, (long long) status, code);
        cr_assert (cid >= 0 && cid < 20 && !seen [cid], "reply %d: cid %lld", i, (long long) cid);
        seen [cid] = true;
    }
    cr_assert_eq (atomic_load (&s_served), 15 + late_served, "queued requests were dropped");
    //  The server stops on its own once drained, well before its timeout
    int64_t started = zclock_mono ();
    zactor_destroy (&loop.server);
    cr_assert_lt (zclock_mono () - started, 4000, "the drain ran into its timeout");
    zsock_destroy (&late);
    zsock_destroy (&client);
    s_loop_stop (&loop);
}

Test (cm_server_loop, idle_server_stops_at_once, .timeout = 10)
{
    loop_t loop;
    s_loop_start (&loop, 2, 100, 5000);
    zclock_sleep (200);
    int64_t started = zclock_mono ();
    s_loop_stop (&loop);
    cr_assert_lt (zclock_mono () - started, 1000);
}
