/*  privacy_handlers - preferences, export parts, deletion requests */
#include "privacy_handlers.h"
#include "privacy_deletion.h"
#include "privacy_export.h"
#include "privacy_store.h"
#include "../../common/cm_audit.h"
#include "../../common/cm_db.h"
#include "../../common/cm_log.h"

//  The services privacy calls
static const cm_svc_t s_peers [] = { CM_SVC_AUTH, CM_SVC_MISSIONS, CM_SVC_EVIDENCE, CM_SVC_AUDIT };
#define PEER_COUNT (sizeof s_peers / sizeof s_peers [0])

void *
privacy_worker_new (const cm_config_t *cfg, zcert_t *cert, int index)
{
    (void) index;
    privacy_worker_t *self = (privacy_worker_t *) zmalloc (sizeof (privacy_worker_t));
    self->cfg = cfg;
    for (size_t i = 0; i < PEER_COUNT; i++) {
        cm_svc_t svc = s_peers [i];
        self->clients [svc] = cm_client_new (cert, cfg->keys_dir, svc, cfg->endpoints [svc]);
        if (!self->clients [svc]) {
            //  Without a link no export or deletion could ever finish
            privacy_worker_destroy ((void **) &self);
            return NULL;
        }
        cm_client_set_timeout (self->clients [svc], cfg->request_timeout_ms);
    }
    //  A failed connect is retried per request
    self->db = cm_db_connect (cfg);
    return self;
}

void
privacy_worker_destroy (void **state_p)
{
    privacy_worker_t *self = (privacy_worker_t *) *state_p;
    if (self) {
        PQfinish (self->db);
        for (int svc = 0; svc < CM_SVC_COUNT; svc++)
            cm_client_destroy (&self->clients [svc]);
        free (self);
        *state_p = NULL;
    }
}

PGconn *
privacy_worker_db (privacy_worker_t *self)
{
    return cm_db_ensure (&self->db, self->cfg);
}

cm_err_t
privacy_worker_call (privacy_worker_t *self, cm_svc_t svc, const cm_ctx_t *ctx, int msg_id,
                     const void *req, void *rep, cm_reply_info_t *info)
{
    assert (self->clients [svc]);
    cm_ctx_t call = *ctx;
    if (svc == CM_SVC_AUDIT) {
        //  audit believes an identity from the gateway only
        call.uid [0] = call.sid [0] = 0;
        call.roles_count = 0;
        call.auth_time = 0;
    }
    return cm_client_call (self->clients [svc], &call, msg_id, req, rep, info);
}

bool
privacy_worker_recent (privacy_worker_t *self, const cm_ctx_t *ctx)
{
    return ctx->auth_time > 0 && zclock_time () / 1000 - ctx->auth_time <= self->cfg->reauth_max_age_s;
}

static void
s_prefs_reply (const privacy_prefs_t *prefs, proto_privacy_prefs_get_rep_t *rep)
{
    rep->tab_monitoring_enabled = prefs->tab_monitoring_enabled;
    rep->has_tab_monitoring_enabled = true;
    rep->emotion_tracking_enabled = prefs->emotion_tracking_enabled;
    rep->has_emotion_tracking_enabled = true;
}

static cm_err_t
s_prefs_get (void *state, const cm_ctx_t *ctx, const void *req, void *rep, cm_reply_info_t *info)
{
    (void) req;
    privacy_worker_t *self = (privacy_worker_t *) state;
    PGconn *db = privacy_worker_db (self);
    privacy_prefs_t prefs;
    if (!db || privacy_store_prefs_get (db, ctx->uid, &prefs))
        return cm_server_fail (info, CM_UNAVAILABLE, "preference store unavailable");
    s_prefs_reply (&prefs, (proto_privacy_prefs_get_rep_t *) rep);
    return CM_OK;
}

static cm_err_t
s_prefs_put (void *state, const cm_ctx_t *ctx, const void *req_, void *rep, cm_reply_info_t *info)
{
    privacy_worker_t *self = (privacy_worker_t *) state;
    const proto_privacy_prefs_put_req_t *req = (const proto_privacy_prefs_put_req_t *) req_;
    if (!req->has_tab_monitoring_enabled && !req->has_emotion_tracking_enabled)
        return cm_server_fail (info, CM_VALIDATION_FAILED,
                               "tab_monitoring_enabled, emotion_tracking_enabled: give at least one");
    PGconn *db = privacy_worker_db (self);
    privacy_prefs_t prefs;
    if (!db || privacy_store_prefs_put (db, ctx,
                                        req->has_tab_monitoring_enabled? &req->tab_monitoring_enabled: NULL,
                                        req->has_emotion_tracking_enabled? &req->emotion_tracking_enabled: NULL,
                                        &prefs))
        return cm_server_fail (info, CM_UNAVAILABLE, "preference store unavailable");
    s_prefs_reply (&prefs, (proto_privacy_prefs_get_rep_t *) rep);
    return CM_OK;
}

//  One part of the export; the first needs a recent sign-in and is audited
//  (no part leaves without its export on record)
static cm_err_t
s_export (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    privacy_worker_t *self = (privacy_worker_t *) state;
    const proto_privacy_export_req_t *req = (const proto_privacy_export_req_t *) req_;
    proto_privacy_export_rep_t *rep = (proto_privacy_export_rep_t *) rep_;
    if (!req->cursor) {
        if (!privacy_worker_recent (self, ctx))
            return cm_server_fail (info, CM_REAUTH_REQUIRED, "sign in again to export your data");
        PGconn *db = privacy_worker_db (self);
        if (!db || cm_audit_record (db, ctx, "privacy.export", "success", NULL, NULL))
            return cm_server_fail (info, CM_UNAVAILABLE, "privacy store unavailable");
    }
    char next [PRIVACY_CURSOR_SIZE];
    cm_err_t status = privacy_export_part (self, ctx, req->cursor, &rep->data, &rep->data_len, next, info);
    if (status == CM_OK && next [0])
        rep->next_cursor = strdup (next);
    return status;
}

static cm_err_t
s_delete (void *state, const cm_ctx_t *ctx, const void *req, void *rep_, cm_reply_info_t *info)
{
    (void) req;
    privacy_worker_t *self = (privacy_worker_t *) state;
    proto_privacy_delete_rep_t *rep = (proto_privacy_delete_rep_t *) rep_;
    if (!privacy_worker_recent (self, ctx))
        return cm_server_fail (info, CM_REAUTH_REQUIRED, "sign in again to delete your account");
    privacy_deletion_t job;
    cm_err_t status = privacy_deletion_request (self, ctx, &job, info);
    if (status == CM_ACCEPTED) {
        rep->deletion_id = strdup (job.id);
        rep->status = strdup (job.status);
    }
    return status;
}

const cm_route_t privacy_routes [] = {
    { PROTO_MSG_privacy_prefs_get, s_prefs_get, true, false },
    { PROTO_MSG_privacy_prefs_put, s_prefs_put, true, false },
    { PROTO_MSG_privacy_export,    s_export,    true, false },
    { PROTO_MSG_privacy_delete,    s_delete,    true, false },
};
const size_t privacy_route_count = sizeof privacy_routes / sizeof privacy_routes [0];
