/*  missions_erase - a user's missions erased for privacy */
#include "missions_erase.h"
#include "missions_store.h"
#include "../../common/cm_db.h"

cm_err_t
missions_erase_user (void *state, const cm_ctx_t *ctx, const void *req, void *rep_, cm_reply_info_t *info)
{
    (void) req;
    missions_worker_t *self = (missions_worker_t *) state;
    proto_missions_erase_user_rep_t *rep = (proto_missions_erase_user_rep_t *) rep_;
    if (!ctx->peer || !streq (ctx->peer, cm_svc_name (CM_SVC_PRIVACY))) {
        snprintf (info->message, sizeof info->message, "only the privacy service erases a user");
        return CM_FORBIDDEN;
    }
    PGconn *db = cm_db_ensure (&self->db, self->cfg);
    int64_t erased = 0;
    if (!db || missions_store_erase_user (db, ctx, &erased)) {
        snprintf (info->message, sizeof info->message, "mission store unavailable");
        return CM_UNAVAILABLE;
    }
    rep->erased = erased;
    rep->has_erased = true;
    return CM_OK;
}
