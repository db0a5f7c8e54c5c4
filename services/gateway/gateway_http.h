/*  gateway_http - the public HTTP surface on CivetWeb

    Every CivetWeb option is set on purpose (no files served, no built-in
    CORS, bounded headers, timeouts for slow clients). Every response,
    errors included, carries X-Request-Id and the security headers, and
    every request leaves one JSON access-log line.
*/
#ifndef GATEWAY_HTTP_H_INCLUDED
#define GATEWAY_HTTP_H_INCLUDED

#include <civetweb.h>
#include "gateway_backends.h"
#include "../../common/cm_ctx.h"

typedef struct gateway_http_s gateway_http_t;

//  Largest request head (request line and headers) CivetWeb accepts, so
//  also the longest query string a handler can see
#define GATEWAY_HTTP_HEAD_MAX   16384
//  Longest set of extra header lines gateway_send_head takes
#define GATEWAY_HTTP_EXTRA_MAX  4096

//  Bytes of header lines the edge policies (CORS, rate limits) add to a response
#define GATEWAY_HTTP_EDGE_HEADERS_MAX 1024

struct gateway_edge_s;

//  A request in flight: what handlers read and what the access log needs
typedef struct {
    struct mg_connection *conn;
    struct gateway_edge_s *edge;        //  process-wide policies
    const struct mg_request_info *info;
    gateway_backends_t *backends;       //  this thread's clients
    const cm_config_t *cfg;
    cm_ctx_t ctx;                       //  request id, client IP, identity
    const char *route;                  //  matched pattern, for logs and metrics
    char params [2][65];                //  {id} segments of the matched path
    int64_t retry_after_s;              //  > 0: send Retry-After with the response
    int status;                         //  set when the response is sent
    char headers [GATEWAY_HTTP_EDGE_HEADERS_MAX];   //  lines every response to it carries
    size_t headers_len;
    size_t limit_headers_at;            //  where the RateLimit-* lines start in headers
    int64_t limit_remaining;            //  of the tightest bucket so far; -1: none yet
} gateway_req_t;

//  ----------------------------------------------------------------------
//  Start serving; cfg and cert are borrowed and must outlive the server.
//  NULL when a port cannot be bound.
gateway_http_t *
    gateway_http_new (const cm_config_t *cfg, zcert_t *cert);
void
    gateway_http_destroy (gateway_http_t **self_p);

//  ----------------------------------------------------------------------
//  Send the status line and headers of a response: the standard ones
//  (X-Request-Id, nosniff, DENY, no-referrer, CSP, no-store, HSTS on TLS,
//  WWW-Authenticate on 401, Retry-After when set, the edge's req->headers),
//  Content-Type and Content-Length unless status is 204, then extra (whole "Name: value\r\n"
//  lines of at most GATEWAY_HTTP_EXTRA_MAX bytes, or NULL). Records status
//  for the access log and metrics. The body follows with gateway_send_body.
void
    gateway_send_head (gateway_req_t *req, int status, const char *content_type,
                       uint64_t content_length, const char *extra);

//  Write len bytes of the response body; nothing for a HEAD request.
//  Returns 0, or -1 when the client cannot take them.
int
    gateway_send_body (gateway_req_t *req, const void *data, size_t len);

//  The content_length of a body whose length is not known when the head
//  goes out: the head says Transfer-Encoding: chunked instead (to an
//  HTTP/1.0 client, which knows no chunks: Connection: close, and the end
//  of the body is the end of the connection), and the body follows with
//  gateway_send_chunk
#define GATEWAY_HTTP_CHUNKED UINT64_MAX

//  Write len bytes as one chunk of such a body (len 0: nothing); with last
//  the body's end follows them. Nothing for a HEAD request. Returns 0, or
//  -1 when the client cannot take them.
int
    gateway_send_chunk (gateway_req_t *req, const void *data, size_t len, bool last);

//  Drop the connection now, for a response whose body cannot be finished:
//  the client sees it end short instead of waiting for bytes that never come
void
    gateway_send_abort (gateway_req_t *req);

//  ----------------------------------------------------------------------
//  Send a JSON body with status and the standard headers
void
    gateway_send_json (gateway_req_t *req, int status, const char *json, size_t len);

//  Send the contract's error body {"error":{code,message},"request_id"}
void
    gateway_send_error (gateway_req_t *req, int status, const char *code, const char *message);

#endif
