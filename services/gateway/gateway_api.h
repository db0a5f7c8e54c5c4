/*  gateway_api - what every API route handler shares

    Calls to a backend with the request's identity and a fresh deadline,
    JSON bodies in (media type, size, strict syntax, field types bounded by
    the message's own description in proto/), JSON and errors out, path and
    query ids. Handlers in gateway_api_<area>.c use these and nothing else
    to talk HTTP, so every route answers the same way.
*/
#ifndef GATEWAY_API_H_INCLUDED
#define GATEWAY_API_H_INCLUDED

#include <jansson.h>
#include "gateway_http.h"

#define GATEWAY_API_JSON_LIMIT  (1024 * 1024)   //  bytes of a JSON request body

//  ----------------------------------------------------------------------
//  Call msg_id on svc with the request's context and BACKEND_TIMEOUT_MS
//  from now. Returns the reply status (see cm_client_call).
cm_err_t
    gateway_api_call (gateway_req_t *req, cm_svc_t svc, int msg_id, const void *body,
                      void *reply, cm_reply_info_t *info);

//  ----------------------------------------------------------------------
//  Send a jansson value (stolen, may be NULL: 500) as the JSON response
void
    gateway_api_send_value (gateway_req_t *req, int status, json_t *value);

//  Send one page of a list: 200 {"items": items, "next_cursor": the
//  cursor or null}. items is stolen; NULL (an item failed to render)
//  sends a 500, never a page missing an item.
void
    gateway_api_send_page (gateway_req_t *req, json_t *items, const char *next_cursor);

//  Send a backend's refusal with its status, code and message
void
    gateway_api_send_backend_error (gateway_req_t *req, cm_err_t status,
                                    const cm_reply_info_t *info);

//  For a call that answers nothing: 204 on success, else the backend's error
void
    gateway_api_send_done (gateway_req_t *req, cm_err_t result, const cm_reply_info_t *info);

//  Send a failed body read (status 400, 413 or 500 from gateway_body_read)
void
    gateway_api_send_read_error (gateway_req_t *req, int status);

//  Send a refused input: 422 validation_failed, else 400 invalid_request
void
    gateway_api_send_invalid (gateway_req_t *req, int status, const char *message);

//  ----------------------------------------------------------------------
//  Read the request's body as one JSON object (application/json, at most
//  GATEWAY_API_JSON_LIMIT bytes). Returns a new reference, or sends the
//  error (415, 413, 400) and returns NULL. No copy of the text is left.
json_t *
    gateway_api_json_body (gateway_req_t *req);

//  Get field of body as a string borrowed from body (NULL when absent):
//  required and at most as long as desc, the request it goes into, says.
//  Returns 0, or 422 naming the field (wrong type, missing, too long).
int
    gateway_api_body_string (json_t *body, const proto_desc_t *desc, const char *field,
                             const char **value, char *error, size_t size);

//  Get field of body as an integer within desc's bounds, required when desc
//  says so. Returns 0 (*present says if it was there), or 422 naming it.
int
    gateway_api_body_integer (json_t *body, const proto_desc_t *desc, const char *field,
                              int64_t *value, bool *present, char *error, size_t size);

//  The most bytes desc's string field may carry (its bound in proto/)
size_t
    gateway_api_max_bytes (const proto_desc_t *desc, const char *field);

//  ----------------------------------------------------------------------
//  Copy text lower-cased into out and tell whether it is then a UUID
//  (what the backends take). out is "" when text is not one.
bool
    gateway_api_uuid (const char *text, char out [37]);

//  The path's {id} as a UUID, lower-cased in place. When it is not one,
//  sends 404 with message (nothing can have that id) and returns false.
bool
    gateway_api_path_id (gateway_req_t *req, const char *message);

//  The URL clients reach path at: PUBLIC_BASE_URL (default
//  http://127.0.0.1:GATEWAY_HTTP_PORT) followed by path, into out (size
//  bytes). Returns 0, or -1 when it does not fit.
int
    gateway_api_public_url (gateway_req_t *req, const char *path, char *out, size_t size);

//  The request's raw query string (still percent-encoded), "" when none:
//  read it with gateway_body_form_get and gateway_body_form_integer
const char *
    gateway_api_query (gateway_req_t *req);

#endif
