/*  cm_client - request/reply over a DEALER with deadline and retry */
#include "cm_client.h"
#include "cm_curve.h"
#include "cm_log.h"
#include "../proto/proto_envelope.h"

struct cm_client_s {
    zsock_t *sock;                  //  DEALER to every replica, owned
    cm_svc_t target;
    int64_t timeout_ms;             //  budget when the context has none
    int64_t next_cid;               //  correlation ids, increasing
};

cm_client_t *
cm_client_new (zcert_t *own, const char *keys_dir, cm_svc_t target, const char *endpoints)
{
    char server_key [41];
    if (cm_curve_load_public (keys_dir, cm_svc_name (target), server_key)) {
        cm_error ("cannot load the public certificate of %s from %s", cm_svc_name (target), keys_dir);
        return NULL;
    }
    cm_client_t *self = (cm_client_t *) zmalloc (sizeof (cm_client_t));
    self->sock = cm_curve_client (own, server_key, endpoints);
    self->target = target;
    self->timeout_ms = 3000;
    self->next_cid = 1;
    if (!self->sock)
        cm_client_destroy (&self);
    return self;
}

void
cm_client_destroy (cm_client_t **self_p)
{
    assert (self_p);
    cm_client_t *self = *self_p;
    if (self) {
        zsock_destroy (&self->sock);
        free (self);
        *self_p = NULL;
    }
}

void
cm_client_set_timeout (cm_client_t *self, int64_t timeout_ms)
{
    self->timeout_ms = timeout_ms;
}

zsock_t *
cm_client_sock (cm_client_t *self)
{
    return self->sock;
}

static void
s_info (cm_reply_info_t *info, const char *code, const char *message)
{
    if (info) {
        snprintf (info->code, sizeof info->code, "%s", code? code: "");
        snprintf (info->message, sizeof info->message, "%s", message? message: "");
        info->retry_after_s = 0;
    }
}

//  Sends one attempt; 0, or -1 when no replica can take it right now
static int
s_send (cm_client_t *self, const cm_ctx_t *ctx, int msg_id, int64_t cid,
        int64_t ttl_ms, const void *req)
{
    const proto_msg_t *msg = &proto_msgs [msg_id];
    proto_envelope_t env = { 0 };
    cm_ctx_refs_t refs;
    cm_ctx_to_envelope (ctx, &refs, ttl_ms, &env);
    env.ttl_ms = ttl_ms;
    env.v = PROTO_VERSION;
    env.has_v = true;
    env.type = (char *) msg->name;
    env.cid = cid;
    env.has_cid = true;

    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    proto_error_t err;
    int rc = proto_envelope_encode (&env, msg->req, req, &buf, &err);
    if (rc)
        cm_error ("cannot encode %s: %s", msg->name, err.message);
    else
        //  DONTWAIT with IMMEDIATE: no connected replica means fail now
        rc = zmq_send (zsock_resolve (self->sock), buf.data, buf.size, ZMQ_DONTWAIT) < 0? -1: 0;
    msgpack_sbuffer_destroy (&buf);
    return rc;
}

//  Waits until `until` for a reply to one of cids; decodes it
static cm_err_t
s_wait (cm_client_t *self, int msg_id, const int64_t *cids, int cid_count,
        int64_t until, void *rep, cm_reply_info_t *info, bool *answered)
{
    const proto_msg_t *msg = &proto_msgs [msg_id];
    *answered = false;
    while (true) {
        int64_t left = until - zclock_mono ();
        if (left <= 0)
            return CM_UNAVAILABLE;
        zmq_pollitem_t item = { zsock_resolve (self->sock), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, (long) left);
        if (rc < 0 && zmq_errno () != EINTR)
            return CM_UNAVAILABLE;
        if (rc <= 0)
            continue;
        zframe_t *frame = zframe_recv (self->sock);
        if (!frame)
            continue;

        msgpack_unpacked upk;
        msgpack_unpacked_init (&upk);
        proto_envelope_t env;
        proto_error_t err;
        cm_err_t status = proto_envelope_decode (zframe_data (frame), zframe_size (frame),
                                                 &upk, &env, &err);
        if (status != CM_OK)
            cm_debug ("%s: undecodable reply from %s dropped: %s", msg->name,
                     cm_svc_name (self->target), err.message);
        bool ours = false;
        for (int i = 0; status == CM_OK && i < cid_count; i++)
            ours = ours || env.cid == cids [i];
        if (ours) {
            *answered = true;
            if (!env.code || !env.has_status) {
                status = CM_BAD_GATEWAY;
                s_info (info, cm_err_code (status), "reply without status");
            }
            else {
                status = cm_err_from_code (env.code);
                s_info (info, env.code, env.message);
                if (info)
                    info->retry_after_s = env.has_retry_after_s? env.retry_after_s: 0;
                if (env.status >= 200 && env.status < 300 && rep) {
                    //  Success without the body the reply type promises
                    //  is a broken peer, never an empty success
                    if (!env.body || proto_decode (msg->rep, env.body, rep, &err)) {
                        cm_error ("%s: malformed reply from %s: %s", msg->name,
                                  cm_svc_name (self->target), env.body? err.message: "no body");
                        status = CM_BAD_GATEWAY;
                        s_info (info, cm_err_code (status), "malformed reply");
                    }
                }
            }
        }
        proto_clear (&proto_envelope_desc, &env);
        msgpack_unpacked_destroy (&upk);
        zframe_destroy (&frame);
        if (ours)
            return status;
        //  Anything else is a late reply to an earlier call: drop it
    }
}

cm_err_t
cm_client_call (cm_client_t *self, const cm_ctx_t *ctx, int msg_id,
                const void *req, void *rep, cm_reply_info_t *info)
{
    assert (self);
    assert (msg_id >= 0 && msg_id < PROTO_MSG_COUNT);
    int64_t budget = cm_ctx_remaining (ctx, self->timeout_ms);
    int64_t start = zclock_mono ();
    int64_t until = start + budget;
    bool retry = proto_msgs [msg_id].idempotent;
    int64_t cids [2];
    int tries = 0;
    s_info (info, "", "");

    while (tries < 2) {
        int64_t left = until - zclock_mono ();
        if (left <= 0)
            break;
        cids [tries] = self->next_cid++;
        if (s_send (self, ctx, msg_id, cids [tries], left, req)) {
            //  Nobody connected: wait briefly for a reconnect, then give up
            if (tries == 0 && retry) {
                zclock_sleep ((int) (left < 100? left: 100));
                tries++;
                continue;
            }
            break;
        }
        tries++;
        int64_t attempt_until = (retry && tries == 1)? zclock_mono () + left / 2: until;
        bool answered;
        cm_err_t status = s_wait (self, msg_id, cids, tries, attempt_until, rep, info, &answered);
        if (answered)
            return status;
        if (!retry)
            break;
    }
    char message [64];
    snprintf (message, sizeof message, "%s did not answer in time", cm_svc_name (self->target));
    s_info (info, cm_err_code (CM_UNAVAILABLE), message);
    return CM_UNAVAILABLE;
}
