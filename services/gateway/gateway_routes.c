/*  gateway_routes - route table and the operational endpoints */
#include <string.h>
#include "gateway_routes.h"
#include "gateway_api_audit.h"
#include "gateway_api_auth.h"
#include "gateway_api_evidence.h"
#include "gateway_api_missions.h"
#include "gateway_api_oauth.h"
#include "gateway_api_privacy.h"
#include "gateway_auth.h"
#include "gateway_edge.h"
#include "../../common/cm_log.h"

static void
s_healthz (gateway_req_t *req)
{
    static const char body [] = "{\"status\":\"ok\"}";
    gateway_send_json (req, 200, body, sizeof body - 1);
}

//  200 only when every backend answers a ping over its authenticated link
//  within READY_TIMEOUT_MS; 503 naming those that did not
static void
s_readyz (gateway_req_t *req)
{
    char body [1024];
    size_t len = 0;
    char failing [256] = "";
    len += (size_t) snprintf (body, sizeof body, "{\"services\":{");
    for (int svc = CM_SVC_AUTH; svc < CM_SVC_COUNT; svc++) {
        cm_ctx_t ctx = req->ctx;
        ctx.deadline = zclock_mono () + req->cfg->ready_timeout_ms;
        proto_ping_req_t ping = { 0 };
        proto_ping_rep_t pong = { 0 };
        cm_err_t status = gateway_backends_call (req->backends, (cm_svc_t) svc, &ctx, PROTO_MSG_ping,
                                                 &ping, &pong, NULL);
        bool ok = status == CM_OK && pong.service && streq (pong.service, cm_svc_name ((cm_svc_t) svc));
        proto_clear (&proto_ping_rep_desc, &pong);
        len += (size_t) snprintf (body + len, sizeof body - len, "%s\"%s\":\"%s\"",
                                  svc == CM_SVC_AUTH? "": ",", cm_svc_name ((cm_svc_t) svc),
                                  ok? "ok": "unavailable");
        if (!ok) {
            size_t used = strlen (failing);
            snprintf (failing + used, sizeof failing - used, "%s%s", used? ", ": "",
                      cm_svc_name ((cm_svc_t) svc));
        }
    }
    if (!*failing) {
        len += (size_t) snprintf (body + len, sizeof body - len, "},\"status\":\"ready\"}");
        gateway_send_json (req, 200, body, len);
    }
    else {
        char message [300];
        snprintf (message, sizeof message, "not answering: %s", failing);
        cm_log_fields (CM_LOG_WARN, "not ready", "failing", failing, (const char *) NULL);
        //  The error body names the services; the detail map says which is which
        char json [1600];
        size_t at = 0;
        at += (size_t) snprintf (json, sizeof json, "{\"error\":{\"code\":\"not_ready\",\"message\":\"");
        cm_json_escape (json, sizeof json - 200, &at, message);
        at += (size_t) snprintf (json + at, sizeof json - at, "\"},%.*s},\"request_id\":\"%s\"}",
                                 (int) (len - 1), body + 1, req->ctx.rid);
        gateway_send_json (req, 503, json, at);
    }
}

static void
s_openapi (gateway_req_t *req)
{
    extern const char gateway_openapi [];
    extern const size_t gateway_openapi_len;
    gateway_send_json (req, 200, gateway_openapi, gateway_openapi_len);
}

//  Rate-limit columns: NO_LIMIT for probes; else buckets counted in order
//  (the default bucket first, so a refused request uses up nothing else)
#define NO_LIMIT     -1
#define DEFAULT      GATEWAY_RL_DEFAULT
#define MISSION      GATEWAY_RL_MISSION_CREATE
#define TOKEN        GATEWAY_RL_TOKEN_IP
#define REGISTER     GATEWAY_RL_REGISTER_IP

typedef struct {
    const char *method;
    const char *pattern;            //  "/api/v1/auth/sessions/{id}": {id} takes one segment
    gateway_handler_fn *handler;
    bool needs_user;                //  a verified access token first
    const char *role;               //  and this role in it (NULL: any)
    int limit;                      //  a gateway_rl_bucket_t, or NO_LIMIT
    int extra_limit;                //  a second bucket, or NO_LIMIT
} route_t;

static const route_t s_routes [] = {
    { "GET",    "/healthz",                     s_healthz,                  false, NULL, NO_LIMIT, NO_LIMIT },
    { "GET",    "/readyz",                      s_readyz,                   false, NULL, NO_LIMIT, NO_LIMIT },
    { "GET",    "/api/v1/openapi.json",         s_openapi,                  false, NULL, DEFAULT, NO_LIMIT },
    { "GET",    "/.well-known/jwks.json",       gateway_api_jwks,           false, NULL, DEFAULT, NO_LIMIT },
    { "POST",   "/api/v1/auth/register",        gateway_api_register,       false, NULL, REGISTER, NO_LIMIT },
    { "POST",   "/api/v1/auth/token",           gateway_api_token,          false, NULL, TOKEN, NO_LIMIT },
    { "POST",   "/api/v1/auth/logout",          gateway_api_logout,         true, NULL, DEFAULT, NO_LIMIT },
    { "GET",    "/api/v1/auth/sessions",        gateway_api_sessions,       true, NULL, DEFAULT, NO_LIMIT },
    { "DELETE", "/api/v1/auth/sessions/{id}",   gateway_api_session_revoke, true, NULL, DEFAULT, NO_LIMIT },
    { "GET",    "/api/v1/auth/oauth/{provider}/start",    gateway_api_oauth_start,    false, NULL, DEFAULT, NO_LIMIT },
    { "GET",    "/api/v1/auth/oauth/{provider}/callback", gateway_api_oauth_callback, false, NULL, DEFAULT, NO_LIMIT },
    { "POST",   "/api/v1/auth/oauth/{provider}/link",     gateway_api_oauth_link,     true, NULL, DEFAULT, NO_LIMIT },
    { "POST",   "/api/v1/auth/oauth/exchange",  gateway_api_oauth_exchange, false, NULL, TOKEN, NO_LIMIT },
    { "GET",    "/api/v1/users/me",             gateway_api_me,             true, NULL, DEFAULT, NO_LIMIT },
    { "DELETE", "/api/v1/users/me/identities/{provider}", gateway_api_identity_unlink, true, NULL, DEFAULT, NO_LIMIT },
    { "DELETE", "/api/v1/users/me",             gateway_api_privacy_delete, true, NULL, DEFAULT, NO_LIMIT },
    { "GET",    "/api/v1/users/me/export",      gateway_api_privacy_export, true, NULL, DEFAULT, NO_LIMIT },
    { "GET",    "/api/v1/users/me/preferences", gateway_api_privacy_prefs_get, true, NULL, DEFAULT, NO_LIMIT },
    { "PUT",    "/api/v1/users/me/preferences", gateway_api_privacy_prefs_put, true, NULL, DEFAULT, NO_LIMIT },
    { "POST",   "/api/v1/auth/mfa/totp",        gateway_api_mfa_enroll,     true, NULL, DEFAULT, NO_LIMIT },
    { "POST",   "/api/v1/auth/mfa/totp/verify", gateway_api_mfa_verify,     true, NULL, DEFAULT, NO_LIMIT },
    { "DELETE", "/api/v1/auth/mfa/totp",        gateway_api_mfa_disable,    true, NULL, DEFAULT, NO_LIMIT },
    { "POST",   "/api/v1/auth/magic-link",      gateway_api_magic_link,     false, NULL, DEFAULT, NO_LIMIT },
    { "POST",   "/api/v1/auth/magic-link/verify", gateway_api_magic_verify, false, NULL, DEFAULT, NO_LIMIT },
    { "POST",   "/api/v1/auth/password",        gateway_api_password_change, true, NULL, DEFAULT, NO_LIMIT },
    { "POST",   "/api/v1/auth/password/forgot", gateway_api_password_forgot, false, NULL, DEFAULT, NO_LIMIT },
    { "POST",   "/api/v1/auth/password/reset",  gateway_api_password_reset, false, NULL, DEFAULT, NO_LIMIT },
    { "POST",   "/api/v1/auth/email/verify",    gateway_api_email_verify,   false, NULL, DEFAULT, NO_LIMIT },
    { "POST",   "/api/v1/auth/email/verify/resend", gateway_api_email_resend, true, NULL, DEFAULT, NO_LIMIT },
    { "POST",   "/api/v1/admin/users/{id}/lock",   gateway_api_admin_lock,   true, "admin", DEFAULT, NO_LIMIT },
    { "POST",   "/api/v1/admin/users/{id}/unlock", gateway_api_admin_unlock, true, "admin", DEFAULT, NO_LIMIT },
    { "DELETE", "/api/v1/admin/users/{id}/sessions", gateway_api_admin_revoke, true, "admin", DEFAULT, NO_LIMIT },
    { "GET",    "/api/v1/admin/audit",          gateway_api_audit_list,      true, "admin", DEFAULT, NO_LIMIT },
    { "GET",    "/api/v1/admin/audit/verify",   gateway_api_audit_verify,    true, "admin", DEFAULT, NO_LIMIT },
    { "GET",    "/api/v1/missions",             gateway_api_missions_list,   true, NULL, DEFAULT, NO_LIMIT },
    { "POST",   "/api/v1/missions",             gateway_api_missions_create, true, NULL, DEFAULT, MISSION },
    { "GET",    "/api/v1/missions/{id}",        gateway_api_missions_get,    true, NULL, DEFAULT, NO_LIMIT },
    { "PATCH",  "/api/v1/missions/{id}",        gateway_api_missions_update, true, NULL, DEFAULT, NO_LIMIT },
    { "DELETE", "/api/v1/missions/{id}",        gateway_api_missions_delete, true, NULL, DEFAULT, NO_LIMIT },
    { "POST",   "/api/v1/evidence/upload-url",  gateway_api_evidence_upload_url, true, NULL, DEFAULT, NO_LIMIT },
    //  No token: the signed URL is the credential
    { "PUT",    "/api/v1/evidence/{id}/upload", gateway_api_evidence_upload, false, NULL, DEFAULT, NO_LIMIT },
    { "GET",    "/api/v1/evidence",             gateway_api_evidence_list,   true, NULL, DEFAULT, NO_LIMIT },
    { "GET",    "/api/v1/evidence/{id}",        gateway_api_evidence_get,    true, NULL, DEFAULT, NO_LIMIT },
    { "GET",    "/api/v1/evidence/{id}/content", gateway_api_evidence_content, true, NULL, DEFAULT, NO_LIMIT },
    { "DELETE", "/api/v1/evidence/{id}",        gateway_api_evidence_delete, true, NULL, DEFAULT, NO_LIMIT },
};
#define ROUTE_COUNT (sizeof s_routes / sizeof s_routes [0])

//  Segment-wise match; {x} captures one non-empty segment of at most 64 bytes
static bool
s_match (const char *pattern, const char *path, char params [2][65])
{
    int captured = 0;
    while (*pattern && *path) {
        if (*pattern == '{') {
            const char *close = strchr (pattern, '}');
            size_t len = strcspn (path, "/");
            if (!close || len == 0 || len > 64 || captured == 2)
                return false;
            memcpy (params [captured], path, len);
            params [captured++][len] = 0;
            pattern = close + 1;
            path += len;
            continue;
        }
        if (*pattern++ != *path++)
            return false;
    }
    return *pattern == 0 && *path == 0;
}

//  The methods of every route on path, "GET, POST" (for CORS preflights)
static void
s_methods_of (const char *path, char *out, size_t size)
{
    char params [2][65];
    size_t len = 0;
    out [0] = 0;
    for (size_t i = 0; i < ROUTE_COUNT && len < size; i++)
        if (s_match (s_routes [i].pattern, path, params))
            len += (size_t) snprintf (out + len, size - len, "%s%s", len? ", ": "", s_routes [i].method);
}

//  A user's token is verified in process, then one Redis step both asks
//  whether its session has ended and counts the request against the
//  user's first limit, vetoed (nothing counted) when the session has ended.
//  Returns 0, or the status of the refusal already sent (see s_admit).
static int
s_admit_user_counted (gateway_req_t *req, gateway_rl_bucket_t bucket)
{
    cm_jwt_claims_t claims;
    int status = gateway_auth_token (req, &claims);
    if (status)
        return status;
    char revoked [64];
    gateway_auth_revoked_key (&claims, revoked, sizeof revoked);
    gateway_edge_count_t count;
    gateway_rl_verdict_t verdict = gateway_edge_count (req->edge, req, bucket, claims.sub, NULL,
                                                       revoked, &count);
    int ended = verdict == GATEWAY_RL_VETOED? 1: verdict == GATEWAY_RL_UNAVAILABLE? -1: 0;
    status = gateway_auth_session (req, &claims, ended);
    if (status)
        return status;
    return gateway_edge_answer (req->edge, req, &count);
}

//  Everything a request meets before its handler, refusals in this order:
//  401 token or session, 403 role, then 429 (or 503) from each limit in
//  turn. A refused request uses up no later limit, and a request its token
//  or session refuses uses up none; limits count per user once the token
//  is verified, else per client IP. Returns 0, or the status already sent.
static int
s_admit (gateway_req_t *req, const route_t *route)
{
    //  A role refusal must use up nothing either, and needs the session
    //  first: admin routes ask one thing at a time
    bool together = route->needs_user && !route->role && route->limit != NO_LIMIT;
    int status = together? s_admit_user_counted (req, (gateway_rl_bucket_t) route->limit)
               : route->needs_user? gateway_auth_verify (req): 0;
    if (status)
        return status;
    if (route->role && !cm_ctx_has_role (&req->ctx, route->role)) {
        gateway_send_error (req, 403, "forbidden", "this needs the admin role");
        return 403;
    }
    if (!together && route->limit != NO_LIMIT
    &&  (status = gateway_edge_limit (req->edge, req, (gateway_rl_bucket_t) route->limit, NULL)))
        return status;
    if (route->extra_limit != NO_LIMIT)
        return gateway_edge_limit (req->edge, req, (gateway_rl_bucket_t) route->extra_limit, NULL);
    return 0;
}

void
gateway_routes_dispatch (gateway_req_t *req)
{
    const char *path = req->info->local_uri? req->info->local_uri: "";
    const char *method = req->info->request_method;
    if (gateway_edge_refuse_plain (req->edge, req, streq (path, "/healthz") || streq (path, "/readyz")))
        return;
    char methods [128];
    s_methods_of (path, methods, sizeof methods);
    //  Cross-origin policy first: a preflight carries no token, and every
    //  answer (errors too) must carry the CORS headers it decides
    if (gateway_edge_cors (req->edge, req, *methods? methods: NULL))
        return;
    bool path_known = false;
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        const route_t *route = &s_routes [i];
        if (!s_match (route->pattern, path, req->params))
            continue;
        path_known = true;
        req->route = route->pattern;
        //  HEAD is answered like GET by the same handler
        if (streq (route->method, method)
        || (streq (method, "HEAD") && streq (route->method, "GET"))) {
            if (s_admit (req, route) == 0)
                route->handler (req);
            return;
        }
    }
    if (path_known)
        gateway_send_error (req, 405, "method_not_allowed", "method not allowed on this path");
    else {
        req->route = "unmatched";
        gateway_send_error (req, 404, "not_found", "no such route");
    }
}

size_t
gateway_routes_count (void)
{
    return ROUTE_COUNT;
}

void
gateway_routes_get (size_t index, const char **method, const char **pattern)
{
    *method = index < ROUTE_COUNT? s_routes [index].method: NULL;
    *pattern = index < ROUTE_COUNT? s_routes [index].pattern: NULL;
}
