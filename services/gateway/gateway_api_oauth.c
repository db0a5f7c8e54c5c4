/*  gateway_api_oauth - HTTP <-> auth service for provider sign-in */
#include <jansson.h>
#include "gateway_api.h"
#include "gateway_api_oauth.h"
#include "gateway_body.h"

#define PROVIDER_MAX    32
#define LOCATION_MAX    (GATEWAY_HTTP_EXTRA_MAX - 16)

//  The path's {provider}: lower-case letters, digits and '_' (as the
//  configuration names them). Anything else cannot be one: 404.
static bool
s_provider (gateway_req_t *req)
{
    const char *name = req->params [0];
    size_t len = strlen (name);
    if (len == 0 || len > PROVIDER_MAX || strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789_") != len) {
        gateway_send_error (req, 404, "not_found", "no such sign-in provider");
        return false;
    }
    return true;
}

//  This gateway's callback URL for the path's provider, which the provider
//  sends the browser back to (registered there as the redirect URI)
static int
s_callback_uri (gateway_req_t *req, char *out, size_t size)
{
    char path [128];
    snprintf (path, sizeof path, "/api/v1/auth/oauth/%s/callback", req->params [0]);
    return gateway_api_public_url (req, path, out, size);
}

//  302 to location; a location that could break the header is auth's bug,
//  refused rather than sent
static void
s_redirect (gateway_req_t *req, const char *location)
{
    size_t len = strlen (location);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) location [i] < 0x21 || (unsigned char) location [i] > 0x7E) {
            len = 0;
            break;
        }
    if (len == 0 || len > LOCATION_MAX) {
        gateway_send_error (req, 502, "bad_gateway", "auth answered an unusable redirect");
        return;
    }
    char extra [GATEWAY_HTTP_EXTRA_MAX];
    snprintf (extra, sizeof extra, "Location: %s\r\n", location);
    gateway_send_head (req, 302, "text/plain; charset=utf-8", 0, extra);
}

//  GET .../start?redirect_uri= and POST .../link {redirect_uri}: auth
//  decides, the browser goes to the provider
static void
s_start (gateway_req_t *req, int msg_id, const char *redirect_uri)
{
    char callback [1025];
    if (s_callback_uri (req, callback, sizeof callback)) {
        gateway_send_error (req, 500, "internal_error", "PUBLIC_BASE_URL is too long for a callback URL");
        return;
    }
    proto_auth_oauth_start_req_t call = { .provider = req->params [0], .redirect_uri = (char *) redirect_uri,
                                          .callback_uri = callback };
    proto_auth_oauth_start_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = gateway_api_call (req, CM_SVC_AUTH, msg_id, &call, &reply, &info);
    if (result != CM_OK)
        gateway_api_send_backend_error (req, result, &info);
    else
    if (msg_id == PROTO_MSG_auth_oauth_start)
        s_redirect (req, reply.location);
    else
        gateway_api_send_value (req, 200, json_pack ("{s:s}", "authorization_url", reply.location));
    proto_clear (&proto_auth_oauth_start_rep_desc, &reply);
}

void
gateway_api_oauth_start (gateway_req_t *req)
{
    if (!s_provider (req))
        return;
    const char *query = gateway_api_query (req);
    char redirect_uri [2049];
    bool present = false;
    if (gateway_body_form_get (query, strlen (query), "redirect_uri", redirect_uri, sizeof redirect_uri,
                               &present)
    ||  !present || !*redirect_uri) {
        gateway_send_error (req, 400, "invalid_request", "redirect_uri is required (at most 2048 bytes)");
        return;
    }
    s_start (req, PROTO_MSG_auth_oauth_start, redirect_uri);
}

void
gateway_api_oauth_link (gateway_req_t *req)
{
    if (!s_provider (req))
        return;
    json_t *body = gateway_api_json_body (req);
    if (!body)
        return;
    static const char *const fields [] = { "redirect_uri", NULL };
    char error [160];
    const char *redirect_uri = NULL;
    int status = gateway_body_only_fields (body, fields, error, sizeof error);
    if (!status)
        status = gateway_api_body_string (body, &proto_auth_oauth_link_req_desc, "redirect_uri",
                                          &redirect_uri, error, sizeof error);
    if (status)
        gateway_api_send_invalid (req, status, error);
    else
        s_start (req, PROTO_MSG_auth_oauth_link, redirect_uri);
    json_decref (body);
}

void
gateway_api_oauth_callback (gateway_req_t *req)
{
    if (!s_provider (req))
        return;
    const char *query = gateway_api_query (req);
    size_t len = strlen (query);
    char state [257], code [2049], error [257], callback [1025];
    bool has_state = false, has_code = false, has_error = false;
    if (gateway_body_form_get (query, len, "state", state, sizeof state, &has_state)
    ||  gateway_body_form_get (query, len, "code", code, sizeof code, &has_code)
    ||  gateway_body_form_get (query, len, "error", error, sizeof error, &has_error)
    ||  !has_state || !*state) {
        //  Without a state there is no redirect_uri to go back to
        gateway_send_error (req, 400, "invalid_request", "state is missing or the query is malformed");
        return;
    }
    if (s_callback_uri (req, callback, sizeof callback)) {
        gateway_send_error (req, 500, "internal_error", "PUBLIC_BASE_URL is too long for a callback URL");
        return;
    }
    proto_auth_oauth_callback_req_t call = {
        .provider = req->params [0], .state = state, .code = has_code && *code? code: NULL,
        .error = has_error && *error? error: NULL, .callback_uri = callback
    };
    proto_auth_oauth_callback_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = gateway_api_call (req, CM_SVC_AUTH, PROTO_MSG_auth_oauth_callback, &call, &reply, &info);
    explicit_bzero (code, sizeof code);
    if (result == CM_OK)
        s_redirect (req, reply.location);
    else
        gateway_api_send_backend_error (req, result, &info);
    proto_clear (&proto_auth_oauth_callback_rep_desc, &reply);
}

void
gateway_api_oauth_exchange (gateway_req_t *req)
{
    json_t *body = gateway_api_json_body (req);
    if (!body)
        return;
    static const char *const fields [] = { "code", NULL };
    char error [160];
    const char *code = NULL;
    int status = gateway_body_only_fields (body, fields, error, sizeof error);
    if (!status)
        status = gateway_api_body_string (body, &proto_auth_oauth_exchange_req_desc, "code", &code,
                                          error, sizeof error);
    if (status) {
        gateway_api_send_invalid (req, status, error);
        json_decref (body);
        return;
    }
    const char *agent = mg_get_header (req->conn, "User-Agent");
    char user_agent [513];
    snprintf (user_agent, sizeof user_agent, "%s", agent? agent: "");
    proto_auth_oauth_exchange_req_t call = { .code = (char *) code, .user_agent = user_agent };
    proto_auth_oauth_exchange_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = gateway_api_call (req, CM_SVC_AUTH, PROTO_MSG_auth_oauth_exchange, &call, &reply, &info);
    json_decref (body);
    if (result == CM_OK)
        gateway_api_send_value (req, 200, json_pack ("{s:s, s:s, s:I, s:s}",
                                "access_token", reply.tokens->access_token, "token_type", "bearer",
                                "expires_in", (json_int_t) reply.tokens->expires_in,
                                "refresh_token", reply.tokens->refresh_token));
    else
        gateway_api_send_backend_error (req, result, &info);
    proto_clear (&proto_auth_oauth_exchange_rep_desc, &reply);
}

void
gateway_api_identity_unlink (gateway_req_t *req)
{
    if (!s_provider (req))
        return;
    proto_auth_identity_unlink_req_t call = { .provider = req->params [0] };
    proto_auth_identity_unlink_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = gateway_api_call (req, CM_SVC_AUTH, PROTO_MSG_auth_identity_unlink, &call, &reply, &info);
    gateway_api_send_done (req, result, &info);
}
