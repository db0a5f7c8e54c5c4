/*  gateway_api_missions - HTTP <-> missions service for the missions routes

    The missions service owns every rule (lengths, ranges, the status list,
    cursors, idempotency) so all clients get the same messages; the gateway
    checks only that each JSON value has the right type and that ids are
    UUIDs, passes the caller's identity, and renders replies in the
    contract's JSON. Body fields the API does not know are ignored.
*/
#include <jansson.h>
#include "gateway_api.h"
#include "gateway_api_missions.h"
#include "gateway_body.h"

#define S_NOT_FOUND     "mission not found"

//  The writable fields of a mission as a body gives them; strings are
//  borrowed from the body
typedef struct {
    const char *title;                  //  NULL when absent
    const char *description;            //  NULL when absent or null
    bool clear_description;             //  "description": null
    int64_t duration_minutes;
    bool has_duration_minutes;
    const char *status;                 //  NULL when absent
} s_fields_t;

static cm_err_t
s_call (gateway_req_t *req, int msg_id, const void *body, void *reply, cm_reply_info_t *info)
{
    return gateway_api_call (req, CM_SVC_MISSIONS, msg_id, body, reply, info);
}

static json_t *
s_mission_json (const proto_mission_t *mission)
{
    return json_pack ("{s:s, s:s, s:o, s:I, s:s, s:s, s:s}",
                      "id", mission->id, "title", mission->title,
                      "description", mission->description? json_string (mission->description): json_null (),
                      "duration_minutes", (json_int_t) mission->duration_minutes,
                      "status", mission->status,
                      "created_at", mission->created_at, "updated_at", mission->updated_at);
}

//  Answers a call that replies with one mission: status with it on
//  success, else the backend's error
static void
s_send_mission (gateway_req_t *req, int status, cm_err_t result, const cm_reply_info_t *info,
                const proto_mission_t *mission)
{
    if (result == CM_OK || result == CM_CREATED)
        gateway_api_send_value (req, status, s_mission_json (mission));
    else
        gateway_api_send_backend_error (req, result, info);
}

//  Reads the writable fields of body for the request desc describes (which
//  says what is required and how long strings may be). Returns 0, or the
//  status for the message in error.
static int
s_fields (json_t *body, const proto_desc_t *desc, s_fields_t *fields, char *error, size_t size)
{
    memset (fields, 0, sizeof *fields);
    int status = gateway_api_body_string (body, desc, "title", &fields->title, error, size);
    if (!status) {
        //  null is "no description": absent on create, cleared on update
        if (json_is_null (json_object_get (body, "description")))
            fields->clear_description = true;
        else
            status = gateway_api_body_string (body, desc, "description", &fields->description,
                                              error, size);
    }
    if (!status)
        status = gateway_api_body_integer (body, desc, "duration_minutes", &fields->duration_minutes,
                                           &fields->has_duration_minutes, error, size);
    if (!status)
        status = gateway_api_body_string (body, desc, "status", &fields->status, error, size);
    return status;
}

void
gateway_api_missions_list (gateway_req_t *req)
{
    const char *query = gateway_api_query (req);
    size_t query_len = strlen (query);
    proto_missions_list_req_t call = { 0 };
    char error [160];
    //  The query is at most a request head long, so the value always fits
    char cursor [GATEWAY_HTTP_HEAD_MAX + 1];
    bool has_cursor = false;
    int status = gateway_body_form_integer (query, query_len, "limit", &call.limit, &call.has_limit,
                                            error, sizeof error);
    if (!status
    &&  gateway_body_form_get (query, query_len, "cursor", cursor, sizeof cursor, &has_cursor)) {
        snprintf (error, sizeof error, GATEWAY_BODY_FORM_MALFORMED);
        status = 400;
    }
    if (!status && has_cursor) {
        if (strlen (cursor) > gateway_api_max_bytes (&proto_missions_list_req_desc, "cursor")) {
            snprintf (error, sizeof error, "cursor is too long");
            status = 422;
        }
        else
            call.cursor = cursor;
    }
    if (status) {
        gateway_api_send_invalid (req, status, error);
        return;
    }
    proto_missions_list_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_missions_list, &call, &reply, &info);
    if (result == CM_OK) {
        json_t *items = json_array ();
        for (uint32_t i = 0; items && i < reply.items_count; i++)
            if (json_array_append_new (items, s_mission_json (&reply.items [i]))) {
                json_decref (items);
                items = NULL;
            }
        gateway_api_send_page (req, items, reply.next_cursor);
    }
    else
        gateway_api_send_backend_error (req, result, &info);
    proto_clear (&proto_missions_list_rep_desc, &reply);
}

void
gateway_api_missions_create (gateway_req_t *req)
{
    json_t *body = gateway_api_json_body (req);
    if (!body)
        return;
    const proto_desc_t *desc = &proto_missions_create_req_desc;
    s_fields_t fields;
    char error [160];
    int status = s_fields (body, desc, &fields, error, sizeof error);
    //  A retry with the same key and body gets the first answer
    const char *key = mg_get_header (req->conn, "Idempotency-Key");
    if (!status && key && strlen (key) > gateway_api_max_bytes (desc, "idempotency_key")) {
        snprintf (error, sizeof error, "Idempotency-Key is too long");
        status = 422;
    }
    if (status) {
        gateway_api_send_invalid (req, status, error);
        json_decref (body);
        return;
    }
    //  Borrowed strings: the codec only reads them
    proto_missions_create_req_t call = {
        .title = (char *) fields.title, .description = (char *) fields.description,
        .duration_minutes = fields.duration_minutes, .has_duration_minutes = true,
        .status = (char *) fields.status, .idempotency_key = (char *) key
    };
    proto_missions_create_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_missions_create, &call, &reply, &info);
    s_send_mission (req, 201, result, &info, reply.mission);
    proto_clear (&proto_missions_create_rep_desc, &reply);
    json_decref (body);
}

void
gateway_api_missions_get (gateway_req_t *req)
{
    if (!gateway_api_path_id (req, S_NOT_FOUND))
        return;
    proto_missions_get_req_t call = { .id = req->params [0] };
    proto_missions_get_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_missions_get, &call, &reply, &info);
    s_send_mission (req, 200, result, &info, reply.mission);
    proto_clear (&proto_missions_get_rep_desc, &reply);
}

void
gateway_api_missions_update (gateway_req_t *req)
{
    if (!gateway_api_path_id (req, S_NOT_FOUND))
        return;
    json_t *body = gateway_api_json_body (req);
    if (!body)
        return;
    s_fields_t fields;
    char error [160];
    int status = s_fields (body, &proto_missions_update_req_desc, &fields, error, sizeof error);
    if (status) {
        gateway_api_send_invalid (req, status, error);
        json_decref (body);
        return;
    }
    //  An update with nothing to write is the service's to refuse
    proto_missions_update_req_t call = {
        .id = req->params [0], .title = (char *) fields.title,
        .description = (char *) fields.description,
        .clear_description = fields.clear_description, .has_clear_description = fields.clear_description,
        .duration_minutes = fields.duration_minutes, .has_duration_minutes = fields.has_duration_minutes,
        .status = (char *) fields.status
    };
    proto_missions_update_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_missions_update, &call, &reply, &info);
    s_send_mission (req, 200, result, &info, reply.mission);
    proto_clear (&proto_missions_update_rep_desc, &reply);
    json_decref (body);
}

void
gateway_api_missions_delete (gateway_req_t *req)
{
    if (!gateway_api_path_id (req, S_NOT_FOUND))
        return;
    //  The missions service removes the mission's evidence first
    proto_missions_delete_req_t call = { .id = req->params [0] };
    proto_missions_delete_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_missions_delete, &call, &reply, &info);
    gateway_api_send_done (req, result, &info);
}
