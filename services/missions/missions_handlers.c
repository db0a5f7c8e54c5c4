/*  missions_handlers - create, read, list, update and delete missions */
#include "missions_handlers.h"
#include "missions_erase.h"
#include "missions_rules.h"
#include "missions_store.h"
#include "../../common/cm_cursor.h"
#include "../../common/cm_db.h"
#include "../../common/cm_log.h"

void *
missions_worker_new (const cm_config_t *cfg, zcert_t *cert, int index)
{
    (void) index;
    missions_worker_t *self = (missions_worker_t *) zmalloc (sizeof (missions_worker_t));
    self->cfg = cfg;
    self->evidence = cm_client_new (cert, cfg->keys_dir, CM_SVC_EVIDENCE, cfg->endpoints [CM_SVC_EVIDENCE]);
    if (!self->evidence) {
        //  Without it no mission could ever be deleted: refuse to start
        free (self);
        return NULL;
    }
    cm_client_set_timeout (self->evidence, cfg->request_timeout_ms);
    cm_client_set_resolve_interval (self->evidence, cfg->client_resolve_interval_ms);
    //  A failed connect is retried per request
    self->db = cm_db_connect (cfg);
    return self;
}

void
missions_worker_destroy (void **state_p)
{
    missions_worker_t *self = (missions_worker_t *) *state_p;
    if (self) {
        PQfinish (self->db);
        cm_client_destroy (&self->evidence);
        free (self);
        *state_p = NULL;
    }
}

//  Puts message into info for the client and returns err
static cm_err_t
s_store_down (cm_reply_info_t *info)
{
    return cm_server_fail (info, CM_UNAVAILABLE, "mission store unavailable");
}

static PGconn *
s_db (missions_worker_t *self)
{
    return cm_db_ensure (&self->db, self->cfg);
}

//  Fills the reply form of a row, taking its strings (row keeps the rest)
static void
s_mission_fill (proto_mission_t *mission, missions_store_row_t *row)
{
    mission->id = cm_server_dup (row->id);
    mission->title = row->title;
    mission->description = row->description;
    row->title = row->description = NULL;
    mission->duration_minutes = row->duration_minutes;
    mission->has_duration_minutes = true;
    mission->status = cm_server_dup (row->status);
    mission->created_at = cm_server_dup (row->created_at);
    mission->updated_at = cm_server_dup (row->updated_at);
}

static proto_mission_t *
s_mission_reply (missions_store_row_t *row)
{
    proto_mission_t *mission = (proto_mission_t *) zmalloc (sizeof (proto_mission_t));
    s_mission_fill (mission, row);
    return mission;
}

static cm_err_t
s_create (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    missions_worker_t *self = (missions_worker_t *) state;
    const proto_missions_create_req_t *req = (const proto_missions_create_req_t *) req_;
    proto_missions_create_rep_t *rep = (proto_missions_create_rep_t *) rep_;

    char title [MISSIONS_TITLE_SIZE];
    if (missions_rules_title (req->title, title, sizeof title))
        return cm_server_fail (info, CM_VALIDATION_FAILED, MISSIONS_MSG_TITLE);
    if (missions_rules_description (req->description))
        return cm_server_fail (info, CM_VALIDATION_FAILED, MISSIONS_MSG_DESCRIPTION);
    if (!req->has_duration_minutes || missions_rules_duration (req->duration_minutes))
        return cm_server_fail (info, CM_VALIDATION_FAILED, MISSIONS_MSG_DURATION);
    const char *status = req->status? req->status: "pending";
    if (missions_rules_status (status))
        return cm_server_fail (info, CM_VALIDATION_FAILED, MISSIONS_MSG_STATUS);
    if (req->idempotency_key && missions_rules_idempotency_key (req->idempotency_key))
        return cm_server_fail (info, CM_VALIDATION_FAILED, MISSIONS_MSG_KEY);
    char hash [MISSIONS_HASH_SIZE] = "";
    if (req->idempotency_key
    &&  missions_rules_request_hash (title, req->description, req->duration_minutes, status, hash))
        return cm_server_fail (info, CM_INTERNAL, "cannot fingerprint the request");

    PGconn *db = s_db (self);
    if (!db)
        return s_store_down (info);
    missions_store_new_t mission = {
        .title = title, .description = req->description, .duration_minutes = req->duration_minutes,
        .status = status, .idempotency_key = req->idempotency_key, .request_hash = hash
    };
    missions_store_row_t row;
    int rc = missions_store_create (db, ctx, &mission, &row);
    if (rc == MISSIONS_STORE_KEY_REUSED)
        return cm_server_fail (info, CM_IDEMPOTENCY_KEY_REUSED,
                               "Idempotency-Key: this key came with another request in the last 24 hours");
    if (rc < 0)
        return s_store_down (info);
    //  A replay answers exactly as the first time did: 201 and the mission
    rep->mission = s_mission_reply (&row);
    missions_store_row_clear (&row);
    return CM_CREATED;
}

static cm_err_t
s_get (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    missions_worker_t *self = (missions_worker_t *) state;
    const proto_missions_get_req_t *req = (const proto_missions_get_req_t *) req_;
    proto_missions_get_rep_t *rep = (proto_missions_get_rep_t *) rep_;
    PGconn *db = s_db (self);
    if (!db)
        return s_store_down (info);
    missions_store_row_t row;
    int rc = missions_store_get (db, ctx->uid, req->id, &row);
    if (rc == MISSIONS_STORE_NOT_FOUND)
        return cm_server_fail (info, CM_NOT_FOUND, "mission not found");
    if (rc)
        return s_store_down (info);
    rep->mission = s_mission_reply (&row);
    missions_store_row_clear (&row);
    return CM_OK;
}

static cm_err_t
s_list (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    missions_worker_t *self = (missions_worker_t *) state;
    const proto_missions_list_req_t *req = (const proto_missions_list_req_t *) req_;
    proto_missions_list_rep_t *rep = (proto_missions_list_rep_t *) rep_;

    int64_t limit = missions_rules_limit (req->has_limit, req->limit);
    if (limit < 0)
        return cm_server_fail (info, CM_VALIDATION_FAILED, MISSIONS_MSG_LIMIT);
    int64_t after_us = 0;
    char after_id [37] = "";
    if (req->cursor && cm_cursor_decode (req->cursor, &after_us, after_id))
        return cm_server_fail (info, CM_VALIDATION_FAILED, MISSIONS_MSG_CURSOR);
    PGconn *db = s_db (self);
    if (!db)
        return s_store_down (info);

    //  One row more than the page tells whether there is a next page
    missions_store_row_t *rows = (missions_store_row_t *) zmalloc (sizeof (missions_store_row_t)
                                                                   * (size_t) (limit + 1));
    int count = 0;
    if (missions_store_list (db, ctx->uid, limit + 1, after_us, req->cursor? after_id: NULL,
                             rows, &count)) {
        free (rows);
        return s_store_down (info);
    }
    bool more = count > limit;
    uint32_t items = (uint32_t) (more? limit: count);
    cm_err_t status = CM_OK;
    if (more) {
        char cursor [CM_CURSOR_SIZE];
        const missions_store_row_t *last = &rows [items - 1];
        if (cm_cursor_encode (last->created_us, last->id, cursor, sizeof cursor) == 0)
            rep->next_cursor = cm_server_dup (cursor);
        else {
            cm_error ("mission %s has a created_at no cursor can hold", last->id);
            status = cm_server_fail (info, CM_INTERNAL, "cannot page past this mission");
        }
    }
    if (status == CM_OK && items > 0) {
        rep->items = (proto_mission_t *) zmalloc (sizeof (proto_mission_t) * items);
        rep->items_count = items;
        for (uint32_t i = 0; i < items; i++)
            s_mission_fill (&rep->items [i], &rows [i]);
    }
    for (int i = 0; i < count; i++)
        missions_store_row_clear (&rows [i]);
    free (rows);
    return status;
}

static cm_err_t
s_update (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    missions_worker_t *self = (missions_worker_t *) state;
    const proto_missions_update_req_t *req = (const proto_missions_update_req_t *) req_;
    proto_missions_update_rep_t *rep = (proto_missions_update_rep_t *) rep_;

    bool clear_description = req->has_clear_description && req->clear_description;
    if (!req->title && !req->description && !clear_description && !req->has_duration_minutes
    &&  !req->status)
        return cm_server_fail (info, CM_VALIDATION_FAILED, MISSIONS_MSG_EMPTY_UPDATE);
    char title [MISSIONS_TITLE_SIZE];
    if (req->title && missions_rules_title (req->title, title, sizeof title))
        return cm_server_fail (info, CM_VALIDATION_FAILED, MISSIONS_MSG_TITLE);
    if (req->description && clear_description)
        return cm_server_fail (info, CM_INVALID_REQUEST, "description: a text or clear_description, not both");
    if (missions_rules_description (req->description))
        return cm_server_fail (info, CM_VALIDATION_FAILED, MISSIONS_MSG_DESCRIPTION);
    if (req->has_duration_minutes && missions_rules_duration (req->duration_minutes))
        return cm_server_fail (info, CM_VALIDATION_FAILED, MISSIONS_MSG_DURATION);
    if (req->status && missions_rules_status (req->status))
        return cm_server_fail (info, CM_VALIDATION_FAILED, MISSIONS_MSG_STATUS);

    PGconn *db = s_db (self);
    if (!db)
        return s_store_down (info);
    missions_store_change_t change = {
        .title = req->title? title: NULL, .description = req->description,
        .clear_description = clear_description, .has_duration = req->has_duration_minutes,
        .duration_minutes = req->duration_minutes, .status = req->status
    };
    missions_store_row_t row;
    int rc = missions_store_update (db, ctx->uid, req->id, &change, &row);
    if (rc == MISSIONS_STORE_NOT_FOUND)
        return cm_server_fail (info, CM_NOT_FOUND, "mission not found");
    if (rc)
        return s_store_down (info);
    rep->mission = s_mission_reply (&row);
    missions_store_row_clear (&row);
    return CM_OK;
}

//  The mission's evidence goes first, over the evidence link with the
//  caller's identity and what is left of the request's deadline. Only
//  when that succeeded is the mission deleted: a mission is never gone
//  while files of it remain.
static cm_err_t
s_delete (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    (void) rep_;
    missions_worker_t *self = (missions_worker_t *) state;
    const proto_missions_delete_req_t *req = (const proto_missions_delete_req_t *) req_;
    PGconn *db = s_db (self);
    if (!db)
        return s_store_down (info);
    //  Someone else's (or no) mission: 404 without asking evidence
    missions_store_row_t row;
    int rc = missions_store_get (db, ctx->uid, req->id, &row);
    missions_store_row_clear (&row);
    if (rc == MISSIONS_STORE_NOT_FOUND)
        return cm_server_fail (info, CM_NOT_FOUND, "mission not found");
    if (rc)
        return s_store_down (info);

    proto_evidence_purge_mission_req_t purge = { .mission_id = req->id };
    proto_evidence_purge_mission_rep_t purged = { 0 };
    cm_reply_info_t evidence_info;
    cm_err_t status = cm_client_call (self->evidence, ctx, PROTO_MSG_evidence_purge_mission,
                                      &purge, &purged, &evidence_info);
    proto_clear (&proto_evidence_purge_mission_rep_desc, &purged);
    if (status != CM_OK) {
        cm_log_fields (CM_LOG_WARN, "evidence purge failed: mission kept", "mission_id", req->id,
                       "code", cm_err_code (status), "message", evidence_info.message,
                       (const char *) NULL);
        return cm_server_fail (info, CM_UNAVAILABLE,
                               "the mission's evidence could not be deleted; nothing was deleted, try again");
    }
    rc = missions_store_delete (db, ctx, req->id);
    if (rc == MISSIONS_STORE_NOT_FOUND)
        return cm_server_fail (info, CM_NOT_FOUND, "mission not found");
    if (rc)
        return s_store_down (info);
    return CM_NO_CONTENT;
}

const cm_route_t missions_routes [] = {
    { PROTO_MSG_missions_create, s_create, true, false },
    { PROTO_MSG_missions_get,    s_get,    true, false },
    { PROTO_MSG_missions_list,   s_list,   true, false },
    { PROTO_MSG_missions_update, s_update, true, false },
    { PROTO_MSG_missions_delete, s_delete, true, false },
    { PROTO_MSG_missions_erase_user, missions_erase_user, true, false },
};
const size_t missions_route_count = sizeof missions_routes / sizeof missions_routes [0];
