/*  gateway_routes - route table and the operational endpoints */
#include <string.h>
#include "gateway_routes.h"
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
        cm_err_t status = cm_client_call (req->backends->clients [svc], &ctx, PROTO_MSG_ping,
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
        cm_log_fields (CM_LOG_WARN, "not ready", "failing", failing, NULL);
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

typedef struct {
    const char *method;
    const char *pattern;            //  exact path; later patterns take {id}
    gateway_handler_fn *handler;
} route_t;

static const route_t s_routes [] = {
    { "GET", "/healthz", s_healthz },
    { "GET", "/readyz",  s_readyz },
};
#define ROUTE_COUNT (sizeof s_routes / sizeof s_routes [0])

void
gateway_routes_dispatch (gateway_req_t *req)
{
    const char *path = req->info->local_uri? req->info->local_uri: "";
    const char *method = req->info->request_method;
    bool path_known = false;
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        if (!streq (s_routes [i].pattern, path))
            continue;
        path_known = true;
        //  HEAD is answered like GET by the same handler
        if (streq (s_routes [i].method, method)
        || (streq (method, "HEAD") && streq (s_routes [i].method, "GET"))) {
            req->route = s_routes [i].pattern;
            s_routes [i].handler (req);
            return;
        }
    }
    req->route = path_known? path: "unmatched";
    if (path_known)
        gateway_send_error (req, 405, "method_not_allowed", "method not allowed on this path");
    else
        gateway_send_error (req, 404, "not_found", "no such route");
}
