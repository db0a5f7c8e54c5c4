/*  gateway_api_audit - HTTP <-> audit service for the admin audit routes

    The route table lets only verified admins in; the audit service checks
    the role again, owns the filter rules (type, since, limit, cursor) and
    records every read as admin.audit.read. The gateway checks only what a
    query string can get wrong before the message is built: repeated or
    malformed parameters, a user_id that is not a UUID, values longer than
    the message carries.
*/
#include <stdlib.h>
#include <jansson.h>
#include "gateway_api.h"
#include "gateway_api_audit.h"
#include "gateway_body.h"

static json_t *
s_string_or_null (const char *s)
{
    return s? json_string (s): json_null ();
}

static json_t *
s_record_json (const proto_audit_record_t *r)
{
    return json_pack ("{s:s, s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:s, s:s}",
                      "id", r->id, "seq", (json_int_t) r->seq, "at", r->at, "type", r->type,
                      "service", r->service, "user_id", s_string_or_null (r->user_id),
                      "request_id", s_string_or_null (r->request_id),
                      "ip", s_string_or_null (r->ip), "outcome", r->outcome,
                      "detail", s_string_or_null (r->detail), "hash", r->hash,
                      "prev_hash", r->prev_hash);
}

//  A text parameter of the query into value (size bytes): 0 (*present
//  says if it was there), 400 when the query is malformed, or 422 naming
//  the field when it is longer than the message carries or not UTF-8
static int
s_text (const char *query, size_t len, const char *name, size_t max, char *value, size_t size,
        bool *present, char *error, size_t error_size)
{
    if (gateway_body_form_get (query, len, name, value, size, present)) {
        snprintf (error, error_size, GATEWAY_BODY_FORM_MALFORMED);
        return 400;
    }
    if (*present && (strlen (value) > max || !proto_is_utf8 (value, strlen (value)))) {
        snprintf (error, error_size, "%s: must be at most %zu bytes of text", name, max);
        return 422;
    }
    return 0;
}

void
gateway_api_audit_list (gateway_req_t *req)
{
    const char *query = gateway_api_query (req);
    size_t query_len = strlen (query);
    const proto_desc_t *desc = &proto_audit_query_req_desc;
    proto_audit_query_req_t call = { 0 };
    char error [160];
    //  The query is at most a request head long, so any value fits in one
    //  of these, and one too long is told apart from a malformed query
    size_t size = GATEWAY_HTTP_HEAD_MAX + 1;
    char *values = (char *) malloc (4 * size);
    if (!values) {
        gateway_send_error (req, 500, "internal_error", "out of memory");
        return;
    }
    char *user_id = values, *type = values + size, *since = values + 2 * size, *cursor = values + 3 * size;
    char uuid [37];
    bool has_user = false, has_type = false, has_since = false, has_cursor = false;
    int status = s_text (query, query_len, "user_id", size, user_id, size, &has_user,
                         error, sizeof error);
    if (!status && has_user) {
        if (gateway_api_uuid (user_id, uuid))
            call.user_id = uuid;
        else {
            snprintf (error, sizeof error, "user_id: must be a UUID");
            status = 422;
        }
    }
    if (!status)
        status = s_text (query, query_len, "type", gateway_api_max_bytes (desc, "type"), type, size,
                         &has_type, error, sizeof error);
    if (!status)
        status = s_text (query, query_len, "since", gateway_api_max_bytes (desc, "since"), since, size,
                         &has_since, error, sizeof error);
    if (!status)
        status = s_text (query, query_len, "cursor", gateway_api_max_bytes (desc, "cursor"), cursor,
                         size, &has_cursor, error, sizeof error);
    if (!status)
        status = gateway_body_form_integer (query, query_len, "limit", &call.limit, &call.has_limit,
                                            error, sizeof error);
    if (status) {
        gateway_api_send_invalid (req, status, error);
        free (values);
        return;
    }
    call.type = has_type? type: NULL;
    call.since = has_since? since: NULL;
    call.cursor = has_cursor? cursor: NULL;

    proto_audit_query_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = gateway_api_call (req, CM_SVC_AUDIT, PROTO_MSG_audit_query, &call, &reply, &info);
    if (result == CM_OK) {
        json_t *items = json_array ();
        for (uint32_t i = 0; items && i < reply.items_count; i++)
            if (json_array_append_new (items, s_record_json (&reply.items [i]))) {
                json_decref (items);
                items = NULL;
            }
        gateway_api_send_page (req, items, reply.next_cursor);
    }
    else
        gateway_api_send_backend_error (req, result, &info);
    proto_clear (&proto_audit_query_rep_desc, &reply);
    free (values);
}

void
gateway_api_audit_verify (gateway_req_t *req)
{
    proto_audit_verify_req_t call = { 0 };
    proto_audit_verify_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = gateway_api_call (req, CM_SVC_AUDIT, PROTO_MSG_audit_verify, &call, &reply, &info);
    if (result == CM_OK)
        gateway_api_send_value (req, 200, json_pack (
            "{s:b, s:I, s:o, s:o, s:o, s:o}",
            "ok", (int) reply.ok, "events", (json_int_t) reply.events,
            "head", s_string_or_null (reply.head),
            "first_bad_seq", reply.has_first_bad_seq? json_integer (reply.first_bad_seq): json_null (),
            "checkpoint_seq", reply.has_checkpoint_seq? json_integer (reply.checkpoint_seq): json_null (),
            "problem", s_string_or_null (reply.problem)));
    else
        gateway_api_send_backend_error (req, result, &info);
    proto_clear (&proto_audit_verify_rep_desc, &reply);
}
