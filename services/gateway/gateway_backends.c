/*  gateway_backends - per-thread backend clients, made on first use */
#include "gateway_backends.h"
#include "../../common/cm_log.h"

gateway_backends_t *
gateway_backends_new (const cm_config_t *cfg, zcert_t *cert)
{
    gateway_backends_t *self = (gateway_backends_t *) zmalloc (sizeof (gateway_backends_t));
    self->cfg = cfg;
    self->cert = cert;
    if (!(self->redis = cm_redis_new (cfg)))
        gateway_backends_destroy (&self);
    return self;
}

void
gateway_backends_destroy (gateway_backends_t **self_p)
{
    gateway_backends_t *self = *self_p;
    if (self) {
        for (int svc = 0; svc < CM_SVC_COUNT; svc++)
            cm_client_destroy (&self->clients [svc]);
        cm_redis_destroy (&self->redis);
        free (self);
        *self_p = NULL;
    }
}

cm_err_t
gateway_backends_call (gateway_backends_t *self, cm_svc_t svc, const cm_ctx_t *ctx, int msg_id,
                       const void *req, void *rep, cm_reply_info_t *info)
{
    assert (self);
    assert (svc > CM_SVC_GATEWAY && svc < CM_SVC_COUNT);
    if (!self->clients [svc]) {
        self->clients [svc] = cm_client_new (self->cert, self->cfg->keys_dir, svc,
                                             self->cfg->endpoints [svc]);
        if (!self->clients [svc]) {
            cm_error ("cannot make a client of %s for an HTTP thread", cm_svc_name (svc));
            if (info) {
                snprintf (info->code, sizeof info->code, "%s", cm_err_code (CM_UNAVAILABLE));
                snprintf (info->message, sizeof info->message, "%s is not reachable", cm_svc_name (svc));
                info->retry_after_s = 0;
            }
            return CM_UNAVAILABLE;
        }
        cm_client_set_timeout (self->clients [svc], self->cfg->backend_timeout_ms);
    }
    return cm_client_call (self->clients [svc], ctx, msg_id, req, rep, info);
}
