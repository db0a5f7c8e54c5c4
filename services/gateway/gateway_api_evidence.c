/*  gateway_api_evidence - HTTP <-> evidence service for the evidence routes

    The evidence service owns every rule (types, sizes, signatures, magic
    bytes); the gateway checks JSON types and ids, asks missions whether a
    mission is the caller's before anything is attached to it or listed,
    and moves bytes. Bytes never pile up here: an upload passes through one
    buffer of PROTO_EVIDENCE_CHUNK bytes, chunk after chunk, reading at most
    one byte more than declared, and a download is written out chunk by
    chunk as the service decrypts it.
*/
#include <ctype.h>
#include <time.h>
#include <jansson.h>
#include "gateway_api.h"
#include "gateway_api_evidence.h"
#include "gateway_body.h"
#include "../../common/cm_log.h"

#define S_NOT_FOUND         "evidence not found"
#define S_MISSION_NOT_FOUND "mission not found"
#define S_BAD_URL           "the upload URL is invalid, expired or already used"
#define S_BASE64URL         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

static cm_err_t
s_call (gateway_req_t *req, int msg_id, const void *body, void *reply, cm_reply_info_t *info)
{
    return gateway_api_call (req, CM_SVC_EVIDENCE, msg_id, body, reply, info);
}

static json_t *
s_evidence_json (const proto_evidence_t *evidence)
{
    //  'uploading' is the service's own step: to a client the file has not landed yet
    return json_pack ("{s:s, s:s, s:s, s:s, s:I, s:o, s:s, s:s}",
                      "id", evidence->id, "mission_id", evidence->mission_id,
                      "filename", evidence->filename, "content_type", evidence->content_type,
                      "size_bytes", (json_int_t) evidence->size_bytes,
                      "sha256", evidence->sha256? json_string (evidence->sha256): json_null (),
                      "status", streq (evidence->status, "stored")? "stored": "pending",
                      "created_at", evidence->created_at);
}

//  Asks missions whether text (any case) names one of the caller's
//  missions; true with its id in id, else sends the refusal (404 when it
//  is not the caller's or no UUID at all)
static bool
s_own_mission (gateway_req_t *req, const char *text, char id [37])
{
    if (!gateway_api_uuid (text, id)) {
        gateway_send_error (req, 404, "not_found", S_MISSION_NOT_FOUND);
        return false;
    }
    proto_missions_get_req_t call = { .id = id };
    proto_missions_get_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = gateway_api_call (req, CM_SVC_MISSIONS, PROTO_MSG_missions_get, &call,
                                        &reply, &info);
    proto_clear (&proto_missions_get_rep_desc, &reply);
    if (result != CM_OK)
        gateway_api_send_backend_error (req, result, &info);
    return result == CM_OK;
}

//  {evidence_id, upload_url, method, expires_at}; NULL when the reply
//  cannot be put in a URL (a broken peer)
static json_t *
s_upload_url_json (gateway_req_t *req, const proto_evidence_upload_url_rep_t *reply)
{
    //  base64url needs no escaping in a query; anything else is refused
    if (strspn (reply->sig, S_BASE64URL) != strlen (reply->sig))
        return NULL;
    time_t expires = (time_t) reply->expires;
    struct tm tm;
    char expires_at [32];
    if (!gmtime_r (&expires, &tm)
    ||  !strftime (expires_at, sizeof expires_at, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return NULL;
    char path [512], upload [4700];
    snprintf (path, sizeof path, "/api/v1/evidence/%s/upload?expires=%lld&sig=%s", reply->evidence->id,
              (long long) reply->expires, reply->sig);
    if (gateway_api_public_url (req, path, upload, sizeof upload))
        return NULL;
    json_t *url = json_string (upload);
    return json_pack ("{s:s, s:o, s:s, s:s}", "evidence_id", reply->evidence->id,
                      "upload_url", url, "method", "PUT", "expires_at", expires_at);
}

void
gateway_api_evidence_upload_url (gateway_req_t *req)
{
    json_t *body = gateway_api_json_body (req);
    if (!body)
        return;
    const proto_desc_t *desc = &proto_evidence_upload_url_req_desc;
    const char *mission_id = NULL, *filename = NULL, *content_type = NULL;
    int64_t size_bytes = 0;
    char error [160];
    int status = gateway_api_body_string (body, desc, "mission_id", &mission_id, error, sizeof error);
    if (!status)
        status = gateway_api_body_string (body, desc, "filename", &filename, error, sizeof error);
    if (!status) {
        //  A type longer than the message carries is not an allowed one: 415 as for any other
        status = gateway_body_string (body, "content_type", true, 0, SIZE_MAX, &content_type,
                                      error, sizeof error);
        if (!status && strlen (content_type) > gateway_api_max_bytes (desc, "content_type")) {
            gateway_send_error (req, 415, "unsupported_media_type", "content_type is not an allowed type");
            json_decref (body);
            return;
        }
    }
    if (!status)
        status = gateway_api_body_integer (body, desc, "size_bytes", &size_bytes, NULL,
                                           error, sizeof error);
    if (status) {
        gateway_api_send_invalid (req, status, error);
        json_decref (body);
        return;
    }
    char mission [37];
    if (!s_own_mission (req, mission_id, mission)) {
        json_decref (body);
        return;
    }
    //  Borrowed strings: the codec only reads them
    proto_evidence_upload_url_req_t call = {
        .mission_id = mission, .filename = (char *) filename,
        .content_type = (char *) content_type, .size_bytes = size_bytes, .has_size_bytes = true
    };
    proto_evidence_upload_url_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_evidence_upload_url, &call, &reply, &info);
    if (result == CM_CREATED || result == CM_OK)
        gateway_api_send_value (req, 201, s_upload_url_json (req, &reply));
    else
        gateway_api_send_backend_error (req, result, &info);
    proto_clear (&proto_evidence_upload_url_rep_desc, &reply);
    json_decref (body);
}

//  Best effort: the service forgets the upload (row and part file); what
//  it cannot forget now, its janitor removes after the URL expires
static void
s_abort (gateway_req_t *req, const char *upload_key)
{
    proto_evidence_upload_abort_req_t call = { .id = req->params [0], .upload_key = (char *) upload_key };
    proto_evidence_upload_abort_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_evidence_upload_abort, &call, &reply, &info);
    //  Refused or unknown: the service has already dropped it (it does so
    //  itself on bad content), so the key opens nothing any more
    if (result != CM_OK && result != CM_NO_CONTENT && result != CM_NOT_FOUND && result != CM_FORBIDDEN)
        cm_warn ("evidence %s: upload not aborted: %s", req->params [0], cm_err_code (result));
}

//  Reads up to want body bytes into buffer, as many reads as it takes.
//  Returns the count (short only at the end of the body), or -1 when the
//  body cannot be read.
static int64_t
s_read (gateway_req_t *req, uint8_t *buffer, size_t want)
{
    size_t got = 0;
    while (got < want) {
        //  mg_read returns what has arrived, possibly less than asked
        int n = mg_read (req->conn, buffer + got, want - got);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t) n;
    }
    return (int64_t) got;
}

//  Streams the body of an upload that has begun (size bytes declared) to
//  evidence and answers: chunks of PROTO_EVIDENCE_CHUNK bytes in order, the
//  last one flagged. Never reads more than size + 1 bytes; that extra byte
//  proves the body too large. Any failure aborts the upload.
static void
s_upload (gateway_req_t *req, int64_t size, const char *upload_key)
{
    long long declared = req->info->content_length;
    if (size > req->cfg->evidence_max_bytes || (declared >= 0 && declared > size)) {
        //  Refused before a byte of the body is read
        s_abort (req, upload_key);
        gateway_send_error (req, 413, "payload_too_large", "the body is larger than size_bytes");
        return;
    }
    uint8_t *buffer = (uint8_t *) malloc (PROTO_EVIDENCE_CHUNK);
    if (!buffer) {
        s_abort (req, upload_key);
        gateway_send_error (req, 500, "internal_error", "the body could not be stored");
        return;
    }
    proto_evidence_upload_chunk_req_t chunk = {
        .id = req->params [0], .upload_key = (char *) upload_key,
        .data = buffer, .has_offset = true, .has_last = true
    };
    proto_evidence_upload_chunk_rep_t reply = { 0 };
    int64_t received = 0;               //  body bytes read so far
    bool last = false;
    while (!last) {
        //  Every chunk but the last is full, as the service's segments need
        int64_t left = size - received;
        int64_t got = s_read (req, buffer, left < PROTO_EVIDENCE_CHUNK? (size_t) left: PROTO_EVIDENCE_CHUNK);
        //  All that was declared is here: the body must end now
        uint8_t extra;
        int64_t more = got >= 0 && received + got == size? s_read (req, &extra, 1): 0;
        if (got < 0 || more < 0) {
            s_abort (req, upload_key);
            gateway_send_error (req, 400, "invalid_request", "the body could not be read");
            goto cleanup;
        }
        if (more > 0) {
            s_abort (req, upload_key);
            gateway_send_error (req, 413, "payload_too_large", "the body is larger than size_bytes");
            goto cleanup;
        }
        //  A short read is the end of the body; short of size, the service says so
        last = received + got == size || got < (int64_t) PROTO_EVIDENCE_CHUNK;
        chunk.offset = received;
        chunk.data_len = (size_t) got;
        chunk.last = last;
        received += got;
        proto_clear (&proto_evidence_upload_chunk_rep_desc, &reply);
        cm_reply_info_t info;
        cm_err_t result = s_call (req, PROTO_MSG_evidence_upload_chunk, &chunk, &reply, &info);
        if (result != CM_OK && result != CM_CREATED) {
            s_abort (req, upload_key);
            gateway_api_send_backend_error (req, result, &info);
            goto cleanup;
        }
        if (last && !reply.evidence) {
            cm_error ("evidence %s: the last chunk's reply has no evidence", req->params [0]);
            s_abort (req, upload_key);
            gateway_send_error (req, 502, "bad_gateway", "evidence answered badly");
            goto cleanup;
        }
    }
    gateway_api_send_value (req, 201, s_evidence_json (reply.evidence));
cleanup:
    proto_clear (&proto_evidence_upload_chunk_rep_desc, &reply);
    free (buffer);
}

int
gateway_api_evidence_url_query (const char *query, size_t len, int64_t *expires,
                                char sig [GATEWAY_API_EVIDENCE_SIG_SIZE])
{
    bool has_expires = false, has_sig = false;
    char error [160];
    if (gateway_body_form_integer (query, len, "expires", expires, &has_expires, error, sizeof error)
    ||  gateway_body_form_get (query, len, "sig", sig, GATEWAY_API_EVIDENCE_SIG_SIZE, &has_sig)
    ||  !has_expires || !has_sig)
        return -1;
    return 0;
}

void
gateway_api_evidence_upload (gateway_req_t *req)
{
    if (!gateway_api_path_id (req, S_NOT_FOUND))
        return;
    //  The URL is the credential: anything missing or garbled in it is a refusal
    const char *query = gateway_api_query (req);
    size_t query_len = strlen (query);
    const proto_desc_t *desc = &proto_evidence_upload_begin_req_desc;
    int64_t expires = 0;
    char sig [GATEWAY_API_EVIDENCE_SIG_SIZE];
    assert (sizeof sig > gateway_api_max_bytes (desc, "sig"));
    if (gateway_api_evidence_url_query (query, query_len, &expires, sig)) {
        gateway_send_error (req, 403, "forbidden", S_BAD_URL);
        return;
    }
    const char *content_type = mg_get_header (req->conn, "Content-Type");
    if (!content_type)
        content_type = "";              //  the service refuses it as not the declared type
    if (strlen (content_type) > gateway_api_max_bytes (desc, "content_type")) {
        gateway_send_error (req, 415, "unsupported_media_type", "Content-Type is not the declared type");
        return;
    }
    proto_evidence_upload_begin_req_t call = {
        .id = req->params [0], .expires = expires, .has_expires = true,
        .sig = sig, .content_type = (char *) content_type
    };
    proto_evidence_upload_begin_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_evidence_upload_begin, &call, &reply, &info);
    if (result == CM_OK)
        s_upload (req, reply.size_bytes, reply.upload_key);
    else
        gateway_api_send_backend_error (req, result, &info);
    proto_clear (&proto_evidence_upload_begin_rep_desc, &reply);
}

void
gateway_api_evidence_list (gateway_req_t *req)
{
    const char *query = gateway_api_query (req);
    //  The query is at most a request head long, so the value always fits
    char mission_id [GATEWAY_HTTP_HEAD_MAX + 1];
    bool present = false;
    if (gateway_body_form_get (query, strlen (query), "mission_id", mission_id, sizeof mission_id, &present)) {
        gateway_send_error (req, 400, "invalid_request", GATEWAY_BODY_FORM_MALFORMED);
        return;
    }
    if (!present) {
        gateway_send_error (req, 422, "validation_failed", "mission_id is required");
        return;
    }
    char mission [37];
    if (!s_own_mission (req, mission_id, mission))
        return;
    proto_evidence_list_req_t call = { .mission_id = mission };
    proto_evidence_list_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_evidence_list, &call, &reply, &info);
    if (result == CM_OK) {
        json_t *items = json_array ();
        for (uint32_t i = 0; items && i < reply.items_count; i++)
            if (json_array_append_new (items, s_evidence_json (&reply.items [i]))) {
                json_decref (items);
                items = NULL;           //  and so a 500, never a list missing an item
            }
        gateway_api_send_value (req, 200, json_pack ("{s:o}", "items", items));
    }
    else
        gateway_api_send_backend_error (req, result, &info);
    proto_clear (&proto_evidence_list_rep_desc, &reply);
}

void
gateway_api_evidence_get (gateway_req_t *req)
{
    if (!gateway_api_path_id (req, S_NOT_FOUND))
        return;
    proto_evidence_get_req_t call = { .id = req->params [0] };
    proto_evidence_get_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_evidence_get, &call, &reply, &info);
    if (result == CM_OK)
        gateway_api_send_value (req, 200, s_evidence_json (reply.evidence));
    else
        gateway_api_send_backend_error (req, result, &info);
    proto_clear (&proto_evidence_get_rep_desc, &reply);
}

//  The stored type goes into a header as it is only when it is a plain
//  type/subtype; anything else is a broken peer and gets the neutral type
static const char *
s_safe_type (const char *type)
{
    size_t len = strlen (type);
    return len && strspn (type, "abcdefghijklmnopqrstuvwxyz0123456789/.+-") == len?
           type: "application/octet-stream";
}

//  The Content-Disposition line: attachment, named by the evidence id
//  (always safe), and the client's filename percent-encoded beside it
//  (RFC 6266, RFC 8187) so it can never break out of the header
static void
s_disposition (const proto_evidence_t *evidence, char *out, size_t size)
{
    static const char hex [] = "0123456789ABCDEF";
    size_t at = (size_t) snprintf (out, size, "Content-Disposition: attachment; filename=\"%s\"; "
                                   "filename*=UTF-8''", evidence->id);
    //  The wire bounds a filename, so its encoding always fits
    assert (at + 3 * strlen (evidence->filename) + 3 <= size);
    for (const char *p = evidence->filename; *p; p++) {
        unsigned char c = (unsigned char) *p;
        if (isalnum (c) || strchr ("!#$&+-.^_`|~", c))
            out [at++] = (char) c;
        else {
            out [at++] = '%';
            out [at++] = hex [c >> 4];
            out [at++] = hex [c & 15];
        }
    }
    memcpy (out + at, "\r\n", 3);
}

void
gateway_api_evidence_content (gateway_req_t *req)
{
    if (!gateway_api_path_id (req, S_NOT_FOUND))
        return;
    proto_evidence_content_req_t call = { .id = req->params [0], .offset = 0, .has_offset = true };
    proto_evidence_content_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_evidence_content, &call, &reply, &info);
    if (result != CM_OK) {
        gateway_api_send_backend_error (req, result, &info);
        proto_clear (&proto_evidence_content_rep_desc, &reply);
        return;
    }
    //  The first chunk says what the whole is; headers go out only now, so
    //  any failure so far is still a proper error response
    int64_t size = reply.evidence->size_bytes;
    char disposition [GATEWAY_HTTP_EXTRA_MAX];
    s_disposition (reply.evidence, disposition, sizeof disposition);
    gateway_send_head (req, 200, s_safe_type (reply.evidence->content_type), (uint64_t) size,
                       disposition);
    bool head = streq (req->info->request_method, "HEAD");
    int64_t sent = 0;
    bool ok = true;
    while (!head) {
        //  Each chunk must move forward and stay within the size announced
        ok = (reply.data_len > 0 || reply.last)
          && sent + (int64_t) reply.data_len <= size
          && gateway_send_body (req, reply.data, reply.data_len) == 0;
        if (!ok)
            break;
        sent += (int64_t) reply.data_len;
        if (sent == size || reply.last)
            break;
        proto_clear (&proto_evidence_content_rep_desc, &reply);
        call.offset = sent;
        result = s_call (req, PROTO_MSG_evidence_content, &call, &reply, &info);
        if (result != CM_OK) {
            ok = false;
            break;
        }
    }
    if (!head && (!ok || sent != size)) {
        //  The headers are out: the only honest end is a short body
        cm_warn ("evidence %s: download cut at %lld of %lld bytes", req->params [0],
                 (long long) sent, (long long) size);
        gateway_send_abort (req);
    }
    proto_clear (&proto_evidence_content_rep_desc, &reply);
}

void
gateway_api_evidence_delete (gateway_req_t *req)
{
    if (!gateway_api_path_id (req, S_NOT_FOUND))
        return;
    proto_evidence_delete_req_t call = { .id = req->params [0] };
    proto_evidence_delete_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_evidence_delete, &call, &reply, &info);
    gateway_api_send_done (req, result, &info);
}
