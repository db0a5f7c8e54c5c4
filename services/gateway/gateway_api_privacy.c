/*  gateway_api_privacy - HTTP <-> privacy service for the privacy routes

    The privacy service owns the rules (recent sign-in for export and
    deletion, what a deletion does); the gateway checks JSON types and
    renders replies. The export never exists whole here: privacy makes it
    in parts of at most 1 MiB, each naming where the next begins, and each
    part goes out as one chunk of a chunked response before the next is
    asked for. Should a part fail once the head is out, the connection is
    cut, so the client sees a short body and never a document that looks
    complete.
*/
#include <jansson.h>
#include "gateway_api.h"
#include "gateway_api_privacy.h"
#include "gateway_body.h"
#include "../../common/cm_log.h"

//  Parts of one export at most (1 MiB each): far beyond what a user can
//  own, a guard against a cursor that never ends
#define EXPORT_PARTS_MAX    (1024 * 1024)

static cm_err_t
s_call (gateway_req_t *req, int msg_id, const void *body, void *reply, cm_reply_info_t *info)
{
    return gateway_api_call (req, CM_SVC_PRIVACY, msg_id, body, reply, info);
}

void
gateway_api_privacy_export (gateway_req_t *req)
{
    proto_privacy_export_req_t call = { 0 };
    proto_privacy_export_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_privacy_export, &call, &reply, &info);
    if (result != CM_OK) {
        //  Nothing sent yet: a proper error response
        gateway_api_send_backend_error (req, result, &info);
        proto_clear (&proto_privacy_export_rep_desc, &reply);
        return;
    }
    gateway_send_head (req, 200, "application/json; charset=utf-8", GATEWAY_HTTP_CHUNKED,
                       "Content-Disposition: attachment; filename=\"export.json\"\r\n");
    char cursor [1025] = "";
    bool ok = true;
    int64_t parts = 1;
    while (!streq (req->info->request_method, "HEAD")) {
        bool last = reply.next_cursor == NULL;
        if (gateway_send_chunk (req, reply.data, reply.data_len, last)) {
            cm_warn ("export: the client went away after %lld parts", (long long) parts);
            ok = false;
            break;
        }
        if (last)
            break;
        //  Each part must move on: the same cursor twice would never end
        if (streq (reply.next_cursor, cursor) || ++parts > EXPORT_PARTS_MAX) {
            cm_error ("export: privacy did not move on from a part");
            ok = false;
            break;
        }
        snprintf (cursor, sizeof cursor, "%s", reply.next_cursor);
        proto_clear (&proto_privacy_export_rep_desc, &reply);
        call.cursor = cursor;
        result = s_call (req, PROTO_MSG_privacy_export, &call, &reply, &info);
        if (result != CM_OK) {
            cm_log_fields (CM_LOG_WARN, "export cut short: a part failed", "code", cm_err_code (result),
                           "message", info.message, (const char *) NULL);
            ok = false;
            break;
        }
    }
    if (!ok)
        //  The head is out: the only honest end is a cut connection
        gateway_send_abort (req);
    proto_clear (&proto_privacy_export_rep_desc, &reply);
}

void
gateway_api_privacy_delete (gateway_req_t *req)
{
    proto_privacy_delete_req_t call = { 0 };
    proto_privacy_delete_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_privacy_delete, &call, &reply, &info);
    if (result == CM_ACCEPTED)
        gateway_api_send_value (req, 202, json_pack ("{s:s, s:s}", "deletion_id", reply.deletion_id,
                                                     "status", reply.status));
    else
        gateway_api_send_backend_error (req, result, &info);
    proto_clear (&proto_privacy_delete_rep_desc, &reply);
}

//  Answers a call that replies with the preferences
static void
s_send_prefs (gateway_req_t *req, cm_err_t result, const cm_reply_info_t *info,
              bool tab_monitoring, bool emotion_tracking)
{
    if (result == CM_OK)
        gateway_api_send_value (req, 200, json_pack ("{s:b, s:b}", "tab_monitoring_enabled", tab_monitoring,
                                                     "emotion_tracking_enabled", emotion_tracking));
    else
        gateway_api_send_backend_error (req, result, info);
}

void
gateway_api_privacy_prefs_get (gateway_req_t *req)
{
    proto_privacy_prefs_get_req_t call = { 0 };
    proto_privacy_prefs_get_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_privacy_prefs_get, &call, &reply, &info);
    s_send_prefs (req, result, &info, reply.tab_monitoring_enabled, reply.emotion_tracking_enabled);
    proto_clear (&proto_privacy_prefs_get_rep_desc, &reply);
}

//  Either or both booleans; anything else in the body is refused by name
void
gateway_api_privacy_prefs_put (gateway_req_t *req)
{
    json_t *body = gateway_api_json_body (req);
    if (!body)
        return;
    static const char *const fields [] = { "tab_monitoring_enabled", "emotion_tracking_enabled", NULL };
    proto_privacy_prefs_put_req_t call = { 0 };
    char error [160];
    int status = gateway_body_only_fields (body, fields, error, sizeof error);
    if (!status)
        status = gateway_body_boolean (body, fields [0], false, &call.tab_monitoring_enabled,
                                       &call.has_tab_monitoring_enabled, error, sizeof error);
    if (!status)
        status = gateway_body_boolean (body, fields [1], false, &call.emotion_tracking_enabled,
                                       &call.has_emotion_tracking_enabled, error, sizeof error);
    if (!status && !call.has_tab_monitoring_enabled && !call.has_emotion_tracking_enabled) {
        snprintf (error, sizeof error, "tab_monitoring_enabled, emotion_tracking_enabled: give at least one");
        status = 422;
    }
    json_decref (body);
    if (status) {
        gateway_api_send_invalid (req, status, error);
        return;
    }
    proto_privacy_prefs_put_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_privacy_prefs_put, &call, &reply, &info);
    s_send_prefs (req, result, &info, reply.tab_monitoring_enabled, reply.emotion_tracking_enabled);
    proto_clear (&proto_privacy_prefs_put_rep_desc, &reply);
}
