/*  gateway_cors - CORS from an allowlist of exact origins, decided without I/O

    CORS_ALLOWED_ORIGINS holds exact origins (scheme://host[:port], http or
    https). An allowed origin is echoed back, never "*", with credentials
    allowed; anything else gets no CORS header at all. Preflights are
    answered from the matched route's methods and a fixed allowlist of
    request headers; a refused preflight gets no CORS headers (the caller
    answers 403). Every response to a request that carried Origin varies
    on it, refused or not, so no cache hands one origin's answer to another.
*/
#ifndef GATEWAY_CORS_H_INCLUDED
#define GATEWAY_CORS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define GATEWAY_CORS_MAX_ORIGINS    32      //  entries in CORS_ALLOWED_ORIGINS
#define GATEWAY_CORS_ORIGIN_MAX     256     //  bytes of one origin, NUL included
#define GATEWAY_CORS_METHODS_MAX    128     //  bytes of a route's method list, NUL included
#define GATEWAY_CORS_REQUEST_MAX    1024    //  bytes of Access-Control-Request-Headers looked at
#define GATEWAY_CORS_MAX_AGE        600     //  seconds a browser may cache a preflight

//  Request headers a cross-origin caller may send
#define GATEWAY_CORS_ALLOW_HEADERS  "Authorization, Content-Type, Idempotency-Key, X-Request-Id"
//  Response headers a cross-origin caller may read
#define GATEWAY_CORS_EXPOSE_HEADERS \
    "X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset"

typedef struct gateway_cors_s gateway_cors_t;

typedef enum {
    GATEWAY_CORS_NONE = 0,          //  no Origin: not a CORS request, add nothing
    GATEWAY_CORS_ALLOWED,           //  allowed origin: serve it with the headers
    GATEWAY_CORS_REFUSED,           //  other origin: serve it with Vary only (the browser keeps the body from the page)
    GATEWAY_CORS_PREFLIGHT_OK,      //  preflight passed: answer 204 with the headers, no body
    GATEWAY_CORS_PREFLIGHT_REFUSED  //  preflight failed: answer 403 with Vary only
} gateway_cors_verdict_t;

//  What to send; fields point into the allowlist or the struct itself
typedef struct {
    gateway_cors_verdict_t verdict;
    int status;                     //  204 or 403 for a preflight, 0 = whatever the route answers
    bool vary;                      //  send Vary: Origin
    const char *allow_origin;       //  Access-Control-Allow-Origin and -Allow-Credentials; NULL: none (borrowed from self)
    bool preflight;                 //  send -Allow-Methods, -Allow-Headers, -Max-Age
    char allow_methods [GATEWAY_CORS_METHODS_MAX];  //  the route's methods, "GET, POST"
} gateway_cors_result_t;

//  ----------------------------------------------------------------------
//  Parse CORS_ALLOWED_ORIGINS (comma-separated; blanks around items are
//  ignored; empty allows no origin). Scheme and host are lower-cased and a
//  default port (:80 on http, :443 on https) is dropped, as browsers send
//  them. Refuses "*", "null", paths, queries, user info, other schemes and
//  malformed hosts or ports. Returns a new list, or NULL with error naming
//  the first bad item (the gateway refuses to start).
gateway_cors_t *
    gateway_cors_new (const char *list, char *error, size_t error_size);

//  Destroy a list; idempotent, nulls *self_p
void
    gateway_cors_destroy (gateway_cors_t **self_p);

//  Number of distinct origins allowed
size_t
    gateway_cors_count (const gateway_cors_t *self);

//  True when origin (an Origin header value) is allowed: an exact,
//  case-sensitive match, since browsers send the serialized lower-case form
bool
    gateway_cors_allowed (const gateway_cors_t *self, const char *origin);

//  ----------------------------------------------------------------------
//  Decide the CORS part of a response. method is the request method,
//  origin the Origin header, request_method and request_headers the
//  Access-Control-Request-* headers (each NULL when absent), and
//  route_methods the methods of the matched path, comma-separated
//  ("GET, DELETE"; NULL or "" when none). A preflight is OPTIONS with
//  Origin and Access-Control-Request-Method; it passes when the origin is
//  allowed, the method is one of route_methods and every requested header
//  is in GATEWAY_CORS_ALLOW_HEADERS. Fills result and returns its verdict.
gateway_cors_verdict_t
    gateway_cors_decide (const gateway_cors_t *self, const char *method, const char *origin,
                         const char *request_method, const char *request_headers,
                         const char *route_methods, gateway_cors_result_t *result);

//  ----------------------------------------------------------------------
//  Append result's header lines ("Name: value\r\n" each) to buf of size
//  bytes at *len, keeping it NUL-terminated. Returns 0, or -1 with buf and
//  *len unchanged when they do not fit (512 bytes plus the origin and the
//  methods always do).
int
    gateway_cors_headers (const gateway_cors_result_t *result, char *buf, size_t size,
                          size_t *len);

#endif
