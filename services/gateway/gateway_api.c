/*  gateway_api - backend calls, JSON in and out, ids: shared by every API route */
#include <ctype.h>
#include "gateway_api.h"
#include "gateway_body.h"
#include "gateway_metrics.h"

cm_err_t
gateway_api_call (gateway_req_t *req, cm_svc_t svc, int msg_id, const void *body,
                  void *reply, cm_reply_info_t *info)
{
    cm_ctx_t ctx = req->ctx;
    ctx.deadline = zclock_mono () + req->cfg->backend_timeout_ms;
    int64_t started = zclock_usecs ();
    cm_err_t result = gateway_backends_call (req->backends, svc, &ctx, msg_id, body, reply, info);
    gateway_metrics_backend (svc, result, zclock_usecs () - started);
    return result;
}

void
gateway_api_send_value (gateway_req_t *req, int status, json_t *value)
{
    char *text = value? json_dumps (value, JSON_COMPACT): NULL;
    if (text)
        gateway_send_json (req, status, text, strlen (text));
    else
        gateway_send_error (req, 500, "internal_error", "cannot render the response");
    free (text);
    json_decref (value);
}

void
gateway_api_send_page (gateway_req_t *req, json_t *items, const char *next_cursor)
{
    gateway_api_send_value (req, 200, json_pack ("{s:o, s:o}", "items", items, "next_cursor",
                                                 next_cursor? json_string (next_cursor): json_null ()));
}

void
gateway_api_send_backend_error (gateway_req_t *req, cm_err_t status, const cm_reply_info_t *info)
{
    req->retry_after_s = info->retry_after_s;
    gateway_send_error (req, cm_err_http (status), cm_err_code (status),
                        info->message [0]? info->message: cm_err_str (status));
}

void
gateway_api_send_done (gateway_req_t *req, cm_err_t result, const cm_reply_info_t *info)
{
    if (result == CM_NO_CONTENT || result == CM_OK)
        gateway_send_json (req, 204, "", 0);
    else
        gateway_api_send_backend_error (req, result, info);
}

void
gateway_api_send_read_error (gateway_req_t *req, int status)
{
    if (status == 413)
        gateway_send_error (req, 413, "payload_too_large", "the body is larger than allowed");
    else
    if (status == 400)
        gateway_send_error (req, 400, "invalid_request", "the body could not be read");
    else
        gateway_send_error (req, 500, "internal_error", "the body could not be stored");
}

void
gateway_api_send_invalid (gateway_req_t *req, int status, const char *message)
{
    gateway_send_error (req, status, status == 422? "validation_failed": "invalid_request", message);
}

json_t *
gateway_api_json_body (gateway_req_t *req)
{
    int status = gateway_body_check_type (mg_get_header (req->conn, "Content-Type"), "application/json");
    if (status) {
        gateway_send_error (req, status, "unsupported_media_type", "send application/json");
        return NULL;
    }
    char *data = NULL;
    size_t len = 0;
    status = gateway_body_read (req->conn, GATEWAY_API_JSON_LIMIT, &data, &len);
    if (status) {
        gateway_api_send_read_error (req, status);
        return NULL;
    }
    char error [160];
    json_t *body = gateway_body_json (data, len, error, sizeof error);
    //  Bodies carry passwords: no copy is left in freed memory
    explicit_bzero (data, len);
    free (data);
    if (!body)
        gateway_send_error (req, 400, "invalid_request", error);
    return body;
}

//  The description of field in desc; asking for one it does not have is a
//  programmer's error
static const proto_field_t *
s_field (const proto_desc_t *desc, const char *field)
{
    for (size_t i = 0; i < desc->field_count; i++)
        if (streq (desc->fields [i].name, field))
            return &desc->fields [i];
    assert (false);
    return NULL;
}

int
gateway_api_body_string (json_t *body, const proto_desc_t *desc, const char *field,
                         const char **value, char *error, size_t size)
{
    const proto_field_t *f = s_field (desc, field);
    assert (f->kind == PROTO_K_STR || f->kind == PROTO_K_UUID);
    //  Lengths in characters are the service's rule; the gateway only keeps
    //  what the message can carry (bytes), so nothing is cut or dropped
    int status = gateway_body_string (body, field, f->required, 0, SIZE_MAX, value, error, size);
    if (!status && *value && f->kind == PROTO_K_STR && strlen (*value) > (size_t) f->max) {
        *value = NULL;
        snprintf (error, size, "%s is too long", field);
        status = 422;
    }
    return status;
}

size_t
gateway_api_max_bytes (const proto_desc_t *desc, const char *field)
{
    const proto_field_t *f = s_field (desc, field);
    assert (f->kind == PROTO_K_STR);
    return (size_t) f->max;
}

int
gateway_api_body_integer (json_t *body, const proto_desc_t *desc, const char *field,
                          int64_t *value, bool *present, char *error, size_t size)
{
    const proto_field_t *f = s_field (desc, field);
    assert (f->kind == PROTO_K_I64);
    return gateway_body_integer (body, field, f->required, f->min, f->max, value, present,
                                 error, size);
}

bool
gateway_api_uuid (const char *text, char out [37])
{
    size_t len = strnlen (text, 37);
    if (len == 36) {
        for (size_t i = 0; i < len; i++)
            out [i] = (char) tolower ((unsigned char) text [i]);
        out [len] = '\0';
        if (proto_is_uuid (out))
            return true;
    }
    out [0] = '\0';
    return false;
}

bool
gateway_api_path_id (gateway_req_t *req, const char *message)
{
    char id [37];
    if (!gateway_api_uuid (req->params [0], id)) {
        gateway_send_error (req, 404, "not_found", message);
        return false;
    }
    memcpy (req->params [0], id, sizeof id);
    return true;
}

int
gateway_api_public_url (gateway_req_t *req, const char *path, char *out, size_t size)
{
    char local [48];
    snprintf (local, sizeof local, "http://127.0.0.1:%lld", (long long) req->cfg->gateway_http_port);
    const char *base = req->cfg->public_base_url && *req->cfg->public_base_url?
                       req->cfg->public_base_url: local;
    int base_len = (int) strlen (base);
    while (base_len && base [base_len - 1] == '/')
        base_len--;
    int n = snprintf (out, size, "%.*s%s", base_len, base, path);
    return n > 0 && (size_t) n < size? 0: -1;
}

const char *
gateway_api_query (gateway_req_t *req)
{
    return req->info->query_string? req->info->query_string: "";
}
