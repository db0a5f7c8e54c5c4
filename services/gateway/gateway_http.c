/*  gateway_http - CivetWeb set-up, request framing, responses, access log */
#include <czmq.h>
#include <dirent.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "gateway_audit.h"
#include "gateway_auth.h"
#include "gateway_edge.h"
#include "gateway_http.h"
#include "gateway_tls.h"
#include "gateway_metrics.h"
#include "gateway_routes.h"
#include "../../common/cm_log.h"

struct gateway_http_s {
    gateway_edge_t *edge;               //  client IP, CORS, rate limits
    struct mg_context *public_ctx;      //  the API ports
    struct mg_context *metrics_ctx;     //  internal /metrics port
    const cm_config_t *cfg;             //  borrowed
    zcert_t *cert;                      //  borrowed
};

static const char *
s_reason (int status)
{
    switch (status) {
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 302: return "Found";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 413: return "Payload Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 422: return "Unprocessable Content";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default:  return "Status";
    }
}

//  Whether the client reads chunked bodies (HTTP/1.1 does, 1.0 does not)
static bool
s_chunks_known (const gateway_req_t *req)
{
    return !req->info->http_version || !streq (req->info->http_version, "1.0");
}

//  Small answers go out head and body in one write: one packet, and one
//  wake-up of the client instead of two
#define ONE_WRITE_MAX 16384

//  The head, then body (len bytes, none for HEAD) when there is one
static void
s_send (gateway_req_t *req, int status, const char *content_type, uint64_t content_length,
        const char *extra, const void *body, size_t len)
{
    assert (content_type || status == 204);
    assert (!extra || strlen (extra) <= GATEWAY_HTTP_EXTRA_MAX);
    char head [1024 + GATEWAY_HTTP_EDGE_HEADERS_MAX + GATEWAY_HTTP_EXTRA_MAX];
    char framing [160] = "", retry [48] = "";
    if (req->retry_after_s > 0)
        snprintf (retry, sizeof retry, "Retry-After: %lld\r\n", (long long) req->retry_after_s);
    //  A 204 carries no body and so no framing headers (RFC 9110 8.6)
    if (status != 204 && content_length == GATEWAY_HTTP_CHUNKED)
        snprintf (framing, sizeof framing, "Content-Type: %s\r\n%s\r\n", content_type,
                  s_chunks_known (req)? "Transfer-Encoding: chunked": "Connection: close");
    else
    if (status != 204)
        snprintf (framing, sizeof framing, "Content-Type: %s\r\nContent-Length: %llu\r\n",
                  content_type, (unsigned long long) content_length);
    int n = snprintf (head, sizeof head,
        "HTTP/1.1 %d %s\r\n"
        "%s"
        "X-Request-Id: %s\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "X-Frame-Options: DENY\r\n"
        "Referrer-Policy: no-referrer\r\n"
        "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n"
        "Cache-Control: no-store\r\n"
        "%s%s%s%.*s%s"
        "\r\n",
        status, s_reason (status), framing, req->ctx.rid,
        req->info->is_ssl? "Strict-Transport-Security: max-age=63072000; includeSubDomains\r\n": "",
        status == 401? "WWW-Authenticate: Bearer\r\n": "", retry,
        (int) req->headers_len, req->headers, extra? extra: "");
    assert (n > 0 && (size_t) n < sizeof head);
    req->status = status;
    if (!body || len == 0 || streq (req->info->request_method, "HEAD")) {
        mg_write (req->conn, head, (size_t) n);
        return;
    }
    if ((size_t) n + len <= ONE_WRITE_MAX) {
        char whole [ONE_WRITE_MAX];
        memcpy (whole, head, (size_t) n);
        memcpy (whole + n, body, len);
        mg_write (req->conn, whole, (size_t) n + len);
        return;
    }
    mg_write (req->conn, head, (size_t) n);
    mg_write (req->conn, body, len);
}

void
gateway_send_head (gateway_req_t *req, int status, const char *content_type,
                   uint64_t content_length, const char *extra)
{
    s_send (req, status, content_type, content_length, extra, NULL, 0);
}

int
gateway_send_body (gateway_req_t *req, const void *data, size_t len)
{
    if (streq (req->info->request_method, "HEAD") || len == 0)
        return 0;
    return mg_write (req->conn, data, len) == (int) len? 0: -1;
}

int
gateway_send_chunk (gateway_req_t *req, const void *data, size_t len, bool last)
{
    if (streq (req->info->request_method, "HEAD"))
        return 0;
    if (!s_chunks_known (req)) {
        //  HTTP/1.0: the bytes as they are, and the end of the connection ends the body
        int rc = gateway_send_body (req, data, len);
        if (last)
            gateway_send_abort (req);
        return rc;
    }
    if (len > 0 && (len > UINT_MAX || mg_send_chunk (req->conn, (const char *) data, (unsigned) len) < 0))
        return -1;
    //  The zero-length chunk ends the body (RFC 9112 7.1)
    return last && mg_send_chunk (req->conn, "", 0) < 0? -1: 0;
}

//  Port of a socket address, -1 for other families
static int
s_port (const struct sockaddr_storage *address)
{
    if (address->ss_family == AF_INET)
        return ntohs (((const struct sockaddr_in *) address)->sin_port);
    if (address->ss_family == AF_INET6)
        return ntohs (((const struct sockaddr_in6 *) address)->sin6_port);
    return -1;
}

//  True when fd is the accepted socket of the client at info's address
static bool
s_is_client_socket (int fd, const struct mg_request_info *info)
{
    struct stat st;
    struct sockaddr_storage local, peer;
    socklen_t local_len = sizeof local, peer_len = sizeof peer;
    if (fstat (fd, &st) || !S_ISSOCK (st.st_mode)
    ||  getsockname (fd, (struct sockaddr *) &local, &local_len)
    ||  getpeername (fd, (struct sockaddr *) &peer, &peer_len)
    ||  s_port (&local) != info->server_port || s_port (&peer) != info->remote_port)
        return false;
    char address [INET6_ADDRSTRLEN] = "";
    if (peer.ss_family == AF_INET)
        inet_ntop (AF_INET, &((const struct sockaddr_in *) &peer)->sin_addr, address, sizeof address);
    else
        inet_ntop (AF_INET6, &((const struct sockaddr_in6 *) &peer)->sin6_addr, address, sizeof address);
    return streq (address, info->remote_addr);
}

void
gateway_send_abort (gateway_req_t *req)
{
    //  CivetWeb gives a handler no way to end its connection, and would keep
    //  it open for the next request, the client waiting for the rest of the
    //  body until the keep-alive timeout. So find the socket by its addresses
    //  and shut it down under CivetWeb, which then sees the end and closes it
    //  (shutdown, not close: the descriptor stays CivetWeb's).
    DIR *dir = opendir ("/proc/self/fd");
    if (!dir) {
        cm_warn ("cannot list descriptors: the connection ends at the keep-alive timeout");
        return;
    }
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        char *end;
        long fd = strtol (entry->d_name, &end, 10);
        if (*end || end == entry->d_name || fd == dirfd (dir))
            continue;
        if (s_is_client_socket ((int) fd, req->info)) {
            shutdown ((int) fd, SHUT_RDWR);
            break;
        }
    }
    closedir (dir);
}

void
gateway_send_json (gateway_req_t *req, int status, const char *json, size_t len)
{
    s_send (req, status, "application/json; charset=utf-8", len, NULL, json, len);
}

void
gateway_send_error (gateway_req_t *req, int status, const char *code, const char *message)
{
    char body [2048];
    size_t len = 0;
    len += (size_t) snprintf (body, sizeof body, "{\"error\":{\"code\":\"");
    cm_json_escape (body, 200, &len, code);
    len += (size_t) snprintf (body + len, sizeof body - len, "\",\"message\":\"");
    cm_json_escape (body, sizeof body - 120, &len, message);
    len += (size_t) snprintf (body + len, sizeof body - len, "\"},\"request_id\":\"%s\"}", req->ctx.rid);
    gateway_send_json (req, status, body, len);
}

//  A client's X-Request-Id is kept only when it is short and plain, so it
//  cannot inject anything into logs or headers
static bool
s_sane_request_id (const char *id)
{
    size_t len = id? strlen (id): 0;
    if (len < 8 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(isalnum ((unsigned char) id [i]) || id [i] == '-' || id [i] == '_' || id [i] == '.'))
            return false;
    return true;
}

//  One JSON access line and the metrics of a finished request
static void
s_finish (const gateway_req_t *req, int64_t started)
{
    int64_t duration = zclock_usecs () - started;
    gateway_metrics_observe (req->route, req->status, duration);
    char status [8], micros [24];
    snprintf (status, sizeof status, "%d", req->status);
    snprintf (micros, sizeof micros, "%lld", (long long) duration);
    cm_log_fields (CM_LOG_INFO, "access", "method", req->info->request_method, "route", req->route,
                   "status", status, "duration_us", micros, "ip", req->ctx.ip,
                   "user_id", req->ctx.uid, (const char *) NULL);
}

static int
s_handle (struct mg_connection *conn, void *cbdata)
{
    gateway_http_t *self = (gateway_http_t *) cbdata;
    int64_t started = zclock_usecs ();
    gateway_req_t req = {
        .conn = conn, .info = mg_get_request_info (conn),
        .backends = (gateway_backends_t *) mg_get_thread_pointer (conn),
        .cfg = self->cfg, .edge = self->edge, .route = "unmatched", .status = 0,
        .limit_remaining = -1
    };
    const char *rid = mg_get_header (conn, "X-Request-Id");
    if (s_sane_request_id (rid))
        snprintf (req.ctx.rid, sizeof req.ctx.rid, "%s", rid);
    else
        cm_ctx_new_request_id (req.ctx.rid);
    gateway_edge_client_ip (self->edge, &req);
    cm_log_set_request_id (req.ctx.rid);

    if (!req.backends)
        //  This thread could not build its clients: fail closed
        gateway_send_error (&req, 503, "service_unavailable", "gateway not ready");
    else
    if (req.info->num_headers >= MG_MAX_HEADERS)
        //  CivetWeb keeps the first MG_MAX_HEADERS lines and drops the rest
        //  unseen: a request that may have lost some (a proxy's
        //  X-Forwarded-For, added last) is refused rather than half read
        gateway_send_error (&req, 431, "headers_too_large", "too many header lines");
    else
    if (mg_get_header (conn, "Content-Length") && mg_get_header (conn, "Transfer-Encoding")) {
        //  Two framings: a proxy in front may have used the other one, so
        //  what follows is not known to be a request. Refused, and the
        //  connection ends with the answer (RFC 9112 6.3)
        req.headers_len = (size_t) snprintf (req.headers, sizeof req.headers, "Connection: close\r\n");
        gateway_send_error (&req, 400, "invalid_request", "Content-Length and Transfer-Encoding together");
        gateway_send_abort (&req);
    }
    else
        gateway_routes_dispatch (&req);
    if (!req.status)
        gateway_send_error (&req, 500, "internal_error", "no response");

    //  Every refusal of identity or permission leaves an audit trace
    if (req.status == 401 || req.status == 403) {
        char detail [160];
        size_t at = (size_t) snprintf (detail, sizeof detail, "{\"status\":%d,\"route\":\"", req.status);
        cm_json_escape (detail, sizeof detail - 3, &at, req.route);
        snprintf (detail + at, sizeof detail - at, "\"}");
        gateway_audit_event (&req.ctx, "authz.denied", "denied", detail);
    }
    s_finish (&req, started);
    cm_log_set_request_id ("");
    return req.status;
}

//  CivetWeb answers some requests itself, before any handler sees them: a
//  head too large or malformed, a client too slow to send one. Those
//  answers get the contract's error body and the headers every response
//  carries; CivetWeb closes the connection after them. Returns 0: answered.
static int
s_http_error (struct mg_connection *conn, int status, const char *message)
{
    (void) message;                     //  CivetWeb's words may quote the request
    const struct mg_request_info *parsed = mg_get_request_info (conn);
    if (!parsed)
        return 1;                       //  not a request: CivetWeb's own answer
    //  The head may have been cut anywhere: nothing of it is trusted
    struct mg_request_info info = *parsed;
    info.request_method = "-";
    gateway_req_t req = { .conn = conn, .info = &info, .route = "unparsed", .limit_remaining = -1 };
    cm_ctx_new_request_id (req.ctx.rid);
    snprintf (req.ctx.ip, sizeof req.ctx.ip, "%s", info.remote_addr);
    cm_log_set_request_id (req.ctx.rid);
    int64_t started = zclock_usecs ();
    const char *code = status == 408? "request_timeout": status == 413? "payload_too_large"
                     : status == 414? "uri_too_long": status == 431? "headers_too_large"
                     : status == 505? "http_version_not_supported"
                     : status >= 500? "internal_error": "invalid_request";
    char body [256];
    int len = snprintf (body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"},"
                        "\"request_id\":\"%s\"}", code,
                        status >= 500 && status != 505? "the request could not be handled"
                                     : "the request is malformed, too large or too slow", req.ctx.rid);
    assert (len > 0 && (size_t) len < sizeof body);
    gateway_send_head (&req, status >= 400 && status <= 599? status: 400,
                       "application/json; charset=utf-8", (uint64_t) len, "Connection: close\r\n");
    mg_write (conn, body, (size_t) len);
    s_finish (&req, started);
    cm_log_set_request_id ("");
    return 0;
}

static int
s_metrics (struct mg_connection *conn, void *cbdata)
{
    gateway_http_t *self = (gateway_http_t *) cbdata;
    static _Thread_local char body [128 * 1024];
    gateway_metrics_extra_t extra = {
        .limiter_fallbacks = gateway_edge_limiter_fallbacks (self->edge),
        .limiter_errors = gateway_edge_limiter_errors (self->edge)
    };
    gateway_auth_cache_counts (&extra.token_cache_hits, &extra.token_cache_misses);
    size_t len = gateway_metrics_render (body, sizeof body, &extra);
    mg_printf (conn, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                     "Content-Length: %zu\r\nCache-Control: no-store\r\n\r\n", len);
    mg_write (conn, body, len);
    return 200;
}

//  CivetWeb logs through us as JSON, never to its own files
static int
s_log_message (const struct mg_connection *conn, const char *message)
{
    (void) conn;
    cm_warn ("http: %s", message);
    return 1;
}

static void *
s_init_thread (const struct mg_context *ctx, int thread_type)
{
    //  Worker threads (type 1) each get their own backend clients
    if (thread_type != 1)
        return NULL;
    gateway_http_t *self = (gateway_http_t *) mg_get_user_data (ctx);
    if (!self)
        return NULL;                    //  the metrics server needs none
    gateway_backends_t *backends = gateway_backends_new (self->cfg, self->cert);
    if (!backends)
        cm_error ("cannot create backend clients for an HTTP thread");
    return backends;
}

static void
s_exit_thread (const struct mg_context *ctx, int thread_type, void *thread_pointer)
{
    (void) ctx;
    if (thread_type == 1 && thread_pointer) {
        gateway_backends_t *backends = (gateway_backends_t *) thread_pointer;
        gateway_backends_destroy (&backends);
    }
}

//  CivetWeb's OpenSSL context, ours to configure: 1 = done, -1 = fail
static int
s_init_ssl (void *ssl_ctx, void *user_data)
{
    gateway_http_t *self = (gateway_http_t *) user_data;
    return self && gateway_tls_configure (ssl_ctx, self->cfg) == 0? 1: -1;
}

static struct mg_context *
s_start (gateway_http_t *self, const char **options, bool with_backends,
         mg_request_handler handler)
{
    struct mg_callbacks callbacks;
    memset (&callbacks, 0, sizeof callbacks);
    callbacks.log_message = s_log_message;
    callbacks.init_thread = s_init_thread;
    callbacks.exit_thread = s_exit_thread;
    if (with_backends)
        callbacks.http_error = s_http_error;
    if (with_backends && gateway_tls_enabled (self->cfg))
        callbacks.init_ssl = s_init_ssl;
    //  Only the public server's threads get backend clients: its user data
    //  is self, the metrics server's is NULL
    struct mg_init_data init = { &callbacks, with_backends? self: NULL, options };
    struct mg_error_data error;
    char text [256] = "";
    memset (&error, 0, sizeof error);
    error.text = text;
    error.text_buffer_size = sizeof text;
    struct mg_context *ctx = mg_start2 (&init, &error);
    if (!ctx)
        cm_error ("http server did not start: %s", text);
    else
        mg_set_request_handler (ctx, "/", handler, self);
    return ctx;
}

gateway_http_t *
gateway_http_new (const cm_config_t *cfg, zcert_t *cert)
{
    bool tls = gateway_tls_enabled (cfg);
    unsigned features = tls && gateway_tls_preload () == 0? mg_init_library (MG_FEATURES_TLS)
                                                          : mg_init_library (0);
    if (tls && !(features & MG_FEATURES_TLS)) {
        cm_error ("TLS files are set but CivetWeb cannot use OpenSSL: not starting");
        return NULL;
    }
    gateway_http_t *self = (gateway_http_t *) zmalloc (sizeof (gateway_http_t));
    self->cfg = cfg;
    self->cert = cert;
    self->edge = gateway_edge_new (cfg);
    if (!self->edge) {
        free (self);
        return NULL;
    }

    char ports [256], threads [16], metrics_port [64], head_max [16];
    int at = snprintf (ports, sizeof ports, "%s:%lld", cfg->gateway_bind_address,
                       (long long) cfg->gateway_http_port);
    if (gateway_tls_enabled (cfg))
        snprintf (ports + at, sizeof ports - (size_t) at, ",%s:%llds", cfg->gateway_bind_address,
                  (long long) cfg->gateway_https_port);
    snprintf (threads, sizeof threads, "%lld", (long long) cfg->gateway_threads);
    snprintf (head_max, sizeof head_max, "%d", GATEWAY_HTTP_HEAD_MAX);
    snprintf (metrics_port, sizeof metrics_port, "127.0.0.1:%lld", (long long) cfg->gateway_metrics_port);
    //  Every option that matters is spelled out: CivetWeb's defaults serve
    //  files, answer CORS with '*', and wait 30 s for slow clients
    const char *options [] = {
        "listening_ports", ports,
        "num_threads", threads,
        "enable_keep_alive", "yes",
        "keep_alive_timeout_ms", "5000",
        "request_timeout_ms", "10000",
        "linger_timeout_ms", "0",
        "max_request_size", head_max,
        "tcp_nodelay", "1",
        "listen_backlog", "1024",
        "connection_queue", "256",
        "enable_directory_listing", "no",
        "allow_sendfile_call", "no",
        "access_control_allow_origin", "",
        "access_control_allow_methods", "",
        "access_control_allow_headers", "",
        "enable_auth_domain_check", "no",
        "decode_url", "yes",
        "cgi_pattern", "",
        "ssi_pattern", "",
        "index_files", "",
        //  TLS 1.2 and later; the rest of the policy is set in gateway_tls
        "ssl_protocol_version", "4",
        NULL
    };
    self->public_ctx = s_start (self, options, true, s_handle);
    const char *metrics_options [] = {
        "listening_ports", metrics_port,
        "num_threads", "2",
        "request_timeout_ms", "5000",
        "enable_directory_listing", "no",
        "access_control_allow_origin", "",
        "cgi_pattern", "",
        "ssi_pattern", "",
        "index_files", "",
        NULL
    };
    if (self->public_ctx)
        self->metrics_ctx = s_start (self, metrics_options, false, s_metrics);
    if (!self->public_ctx || !self->metrics_ctx)
        gateway_http_destroy (&self);
    return self;
}

void
gateway_http_destroy (gateway_http_t **self_p)
{
    gateway_http_t *self = *self_p;
    if (self) {
        //  mg_stop lets in-flight requests finish before it returns
        if (self->public_ctx)
            mg_stop (self->public_ctx);
        if (self->metrics_ctx)
            mg_stop (self->metrics_ctx);
        gateway_edge_destroy (&self->edge);
        free (self);
        *self_p = NULL;
    }
}
