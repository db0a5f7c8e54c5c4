/*  gateway_backends - per-thread backend clients */
#include "gateway_backends.h"

gateway_backends_t *
gateway_backends_new (const cm_config_t *cfg, zcert_t *cert)
{
    gateway_backends_t *self = (gateway_backends_t *) zmalloc (sizeof (gateway_backends_t));
    for (int svc = CM_SVC_AUTH; svc < CM_SVC_COUNT; svc++) {
        self->clients [svc] = cm_client_new (cert, cfg->keys_dir, (cm_svc_t) svc, cfg->endpoints [svc]);
        if (!self->clients [svc]) {
            gateway_backends_destroy (&self);
            break;
        }
        cm_client_set_timeout (self->clients [svc], cfg->backend_timeout_ms);
    }
    if (self && !(self->redis = cm_redis_new (cfg)))
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
