/*  cm_ctx - request context to and from envelopes */
#include <czmq.h>
#include "cm_ctx.h"
#include "cm_rand.h"

void
cm_ctx_to_envelope (const cm_ctx_t *ctx, cm_ctx_refs_t *refs, int64_t default_ttl_ms,
                    proto_envelope_t *env)
{
    env->rid = (char *) (ctx->rid [0]? ctx->rid: "-");
    env->ttl_ms = cm_ctx_remaining (ctx, default_ttl_ms);
    if (env->ttl_ms < 1)
        env->ttl_ms = 1;
    env->has_ttl_ms = true;
    if (ctx->uid [0])
        env->uid = (char *) ctx->uid;
    if (ctx->sid [0])
        env->sid = (char *) ctx->sid;
    for (uint32_t i = 0; i < ctx->roles_count && i < CM_MAX_ROLES; i++)
        refs->roles [i] = (char *) ctx->roles [i];
    if (ctx->roles_count) {
        env->roles = refs->roles;
        env->roles_count = ctx->roles_count;
    }
    if (ctx->auth_time) {
        env->auth_time = ctx->auth_time;
        env->has_auth_time = true;
    }
    if (ctx->ip [0])
        env->ip = (char *) ctx->ip;
}

void
cm_ctx_from_envelope (cm_ctx_t *ctx, const proto_envelope_t *env, const char *peer, int64_t now)
{
    memset (ctx, 0, sizeof *ctx);
    snprintf (ctx->rid, sizeof ctx->rid, "%s", env->rid? env->rid: "");
    snprintf (ctx->uid, sizeof ctx->uid, "%s", env->uid? env->uid: "");
    snprintf (ctx->sid, sizeof ctx->sid, "%s", env->sid? env->sid: "");
    for (uint32_t i = 0; i < env->roles_count && i < CM_MAX_ROLES; i++)
        snprintf (ctx->roles [i], sizeof ctx->roles [i], "%s", env->roles [i]);
    ctx->roles_count = env->roles_count < CM_MAX_ROLES? env->roles_count: CM_MAX_ROLES;
    ctx->auth_time = env->has_auth_time? env->auth_time: 0;
    snprintf (ctx->ip, sizeof ctx->ip, "%s", env->ip? env->ip: "");
    ctx->deadline = env->has_ttl_ms? now + env->ttl_ms: 0;
    ctx->peer = peer;
}

bool
cm_ctx_has_role (const cm_ctx_t *ctx, const char *role)
{
    for (uint32_t i = 0; i < ctx->roles_count; i++)
        if (streq (ctx->roles [i], role))
            return true;
    return false;
}

int64_t
cm_ctx_remaining (const cm_ctx_t *ctx, int64_t fallback)
{
    if (!ctx || !ctx->deadline)
        return fallback;
    int64_t left = ctx->deadline - zclock_mono ();
    return left > 0? left: 0;
}

void
cm_ctx_new_request_id (char *rid)
{
    if (cm_rand_hex (rid, 16)) {
        //  An id is for correlation, not a secret: a clock-based one will do
        snprintf (rid, 33, "%016llx%016llx", (unsigned long long) zclock_usecs (),
                  (unsigned long long) zclock_mono ());
    }
}
