/*  evidence_erase - a user's evidence for privacy: listed, then erased */
#include <inttypes.h>
#include <unistd.h>
#include "evidence_erase.h"
#include "evidence_files.h"
#include "evidence_store.h"
#include "../../common/cm_cursor.h"
#include "../../common/cm_log.h"

#define STORE_DOWN "evidence store unavailable"

//  Only privacy erases a user or lists all they own
static bool
s_from_privacy (const cm_ctx_t *ctx)
{
    return ctx->peer && streq (ctx->peer, cm_svc_name (CM_SVC_PRIVACY));
}

static cm_err_t
s_list_user (evidence_worker_t *self, const cm_ctx_t *ctx, const proto_evidence_list_user_req_t *req,
             proto_evidence_list_user_rep_t *rep, cm_reply_info_t *info)
{
    int64_t after_us = 0;
    char after_id [37] = "";
    if (req->cursor && cm_cursor_decode (req->cursor, &after_us, after_id))
        return cm_server_fail (info, CM_VALIDATION_FAILED, "cursor: not a cursor from this service");
    PGconn *db = evidence_worker_db (self);
    evidence_row_t *rows = NULL;
    int64_t *created = NULL;
    uint32_t count = 0;
    //  One more than a page tells whether another follows
    if (!db || evidence_store_list_user (db, ctx->uid, after_us, req->cursor? after_id: NULL,
                                         EVIDENCE_ERASE_PAGE + 1, &rows, &created, &count))
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    uint32_t items = count > EVIDENCE_ERASE_PAGE? EVIDENCE_ERASE_PAGE: count;
    cm_err_t status = CM_OK;
    if (count > items) {
        char cursor [CM_CURSOR_SIZE];
        if (cm_cursor_encode (created [items - 1], rows [items - 1].id, cursor, sizeof cursor) == 0)
            rep->next_cursor = strdup (cursor);
        else
            status = cm_server_fail (info, CM_INTERNAL, "cannot page past this evidence");
    }
    if (status == CM_OK && items > 0) {
        rep->items = (proto_evidence_t *) zmalloc (items * sizeof (proto_evidence_t));
        rep->items_count = items;
        for (uint32_t i = 0; i < items; i++)
            evidence_handlers_fill (&rep->items [i], &rows [i]);
    }
    free (rows);
    free (created);
    return status;
}

cm_err_t
evidence_erase_list_user (void *state, const cm_ctx_t *ctx, const void *req, void *rep,
                          cm_reply_info_t *info)
{
    if (!s_from_privacy (ctx))
        return cm_server_fail (info, CM_FORBIDDEN, "only the privacy service lists all of a user's evidence");
    return s_list_user ((evidence_worker_t *) state, ctx, (const proto_evidence_list_user_req_t *) req,
                        (proto_evidence_list_user_rep_t *) rep, info);
}

//  Remove both files an evidence id may have; how many were there
static int
s_remove_files (const char *root, const evidence_id_t *ids, uint32_t count)
{
    int removed = 0;
    for (uint32_t i = 0; i < count; i++)
        for (int part = 0; part < 2; part++) {
            char path [EVIDENCE_FILES_PATH_MAX];
            if (evidence_files_path (root, ids [i], part == 1, path, sizeof path) == 0
            &&  access (path, F_OK) == 0 && evidence_files_remove (path) == 0)
                removed++;
        }
    return removed;
}

//  Files first, then rows and the data key in one transaction, then the
//  files again (an upload chunk may have landed in between). A retry after
//  a failure anywhere finds what is left and removes it: idempotent.
cm_err_t
evidence_erase_user (void *state, const cm_ctx_t *ctx, const void *req, void *rep_,
                     cm_reply_info_t *info)
{
    (void) req;
    evidence_worker_t *self = (evidence_worker_t *) state;
    proto_evidence_erase_user_rep_t *rep = (proto_evidence_erase_user_rep_t *) rep_;
    if (!s_from_privacy (ctx))
        return cm_server_fail (info, CM_FORBIDDEN, "only the privacy service erases a user");
    PGconn *db = evidence_worker_db (self);
    evidence_id_t *ids = NULL;
    uint32_t count = 0;
    if (!db || evidence_store_user_ids (db, ctx->uid, &ids, &count))
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    int files = s_remove_files (self->cfg->evidence_dir, ids, count);
    free (ids);
    ids = NULL;
    bool had_key = false;
    if (evidence_store_erase_user (db, ctx, ctx->uid, &ids, &count, &had_key))
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    files += s_remove_files (self->cfg->evidence_dir, ids, count);
    free (ids);
    char rows [16], removed [16];
    snprintf (rows, sizeof rows, "%" PRIu32, count);
    snprintf (removed, sizeof removed, "%d", files);
    cm_log_fields (CM_LOG_INFO, "user's evidence erased", "rows", rows, "files", removed,
                   "data_key", had_key? "destroyed": "none", (const char *) NULL);
    rep->erased = (int64_t) count + (had_key? 1: 0);
    rep->has_erased = true;
    return CM_OK;
}
