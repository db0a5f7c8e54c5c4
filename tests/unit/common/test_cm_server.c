/*  test_cm_server - request processing: identity, types, deadlines, errors */
#include <criterion/criterion.h>
#include <czmq.h>
#include "cm_server.h"
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
    cm_server_process (&s_spec, NULL, peer, arrived, data, size, &out);
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
