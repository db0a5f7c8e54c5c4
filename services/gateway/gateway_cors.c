/*  gateway_cors - CORS from an allowlist of exact origins, decided without I/O

    Origins are normalized once, at start-up, into the form a browser
    serializes (RFC 6454, WHATWG URL): lower-case scheme and host, no
    default port, IPv6 in brackets. A request's Origin then either equals
    one of them byte for byte or is refused; nothing from the request is
    ever echoed, only the stored copy, so no header can carry client bytes.
*/
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include "gateway_cors.h"
#include "../../common/cm_list.h"

#define S_ECHO_MAX          60          //  characters of a bad item quoted in an error
#define S_METHODS_MAX       16          //  methods of one route
#define S_HOST_MAX          253         //  DNS name length (RFC 1035)
#define S_LABEL_MAX         63

struct gateway_cors_s {
    char origins [GATEWAY_CORS_MAX_ORIGINS][GATEWAY_CORS_ORIGIN_MAX];
    size_t count;                       //  origins in use, all distinct
};

static const char *s_allow_headers [] = {
    "Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id", NULL
};

//  RFC 9110 tchar
static bool
s_tchar (char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c != '\0' && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

static char
s_lower (char c)
{
    return c >= 'A' && c <= 'Z'? (char) (c - 'A' + 'a'): c;
}

//  ----------------------------------------------------------------------
//  Parsing CORS_ALLOWED_ORIGINS

//  A DNS name, already lower-cased: labels of [a-z0-9-], no hyphen at
//  either end. A name whose last label is numeric is an IPv4 address to a
//  browser, so it must be a plain dotted quad.
static bool
s_valid_host (const char *host, size_t len)
{
    if (len == 0 || len > S_HOST_MAX)
        return false;
    size_t label = 0;
    bool last_numeric = true;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || host [i] == '.') {
            if (label == 0 || label > S_LABEL_MAX || host [i - 1] == '-')
                return false;
            if (i < len) {
                label = 0;
                last_numeric = true;
            }
            continue;
        }
        char c = host [i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
        if (c == '-' && label == 0)
            return false;
        if (c < '0' || c > '9')
            last_numeric = false;
        label++;
    }
    if (last_numeric) {
        char buf [S_HOST_MAX + 1];
        unsigned char addr [4];
        memcpy (buf, host, len);
        buf [len] = '\0';
        return inet_pton (AF_INET, buf, addr) == 1;
    }
    return true;
}

//  Normalizes one trimmed item into out; returns why it is refused, or NULL
static const char *
s_parse_origin (const char *item, size_t len, char *out, size_t size)
{
    if (len == 1 && item [0] == '*')
        return "is a wildcard: list each origin exactly";
    if (memchr (item, '*', len))
        return "contains a wildcard: list each origin exactly";
    if (len == 4 && strncasecmp (item, "null", 4) == 0)
        return "is the opaque origin null, which any sandboxed page can send";
    if (len >= size)
        return "is too long";
    const char *sep = NULL;
    for (size_t i = 0; i + 3 <= len; i++)
        if (memcmp (item + i, "://", 3) == 0) {
            sep = item + i;
            break;
        }
    if (!sep)
        return "is not scheme://host[:port]";
    size_t scheme_len = (size_t) (sep - item);
    bool https;
    if (scheme_len == 5 && strncasecmp (item, "https", 5) == 0)
        https = true;
    else
    if (scheme_len == 4 && strncasecmp (item, "http", 4) == 0)
        https = false;
    else
        return "has a scheme other than http or https";
    const char *rest = sep + 3;
    size_t rest_len = len - scheme_len - 3;
    for (size_t i = 0; i < rest_len; i++) {
        if (rest [i] == '/' || rest [i] == '?' || rest [i] == '#')
            return "has a path, query or fragment (an origin is scheme://host[:port])";
        if (rest [i] == '@')
            return "has user info";
        if ((unsigned char) rest [i] <= 0x20 || (unsigned char) rest [i] >= 0x7f)
            return "has a blank, control or non-ASCII character (use the punycode form)";
    }
    char host [S_HOST_MAX + 3];
    size_t host_len;
    const char *after;                  //  what follows the host: "" or ":port"
    if (rest_len && rest [0] == '[') {
        const char *close = (const char *) memchr (rest, ']', rest_len);
        char inner [64];
        size_t inner_len = close? (size_t) (close - rest) - 1: 0;
        unsigned char addr [16];
        if (!close || inner_len == 0 || inner_len >= sizeof inner)
            return "has a malformed IPv6 host";
        memcpy (inner, rest + 1, inner_len);
        inner [inner_len] = '\0';
        if (inet_pton (AF_INET6, inner, addr) != 1
        ||  !inet_ntop (AF_INET6, addr, inner, sizeof inner))
            return "has a malformed IPv6 host";
        host_len = (size_t) snprintf (host, sizeof host, "[%s]", inner);
        after = close + 1;
    }
    else {
        const char *colon = (const char *) memchr (rest, ':', rest_len);
        host_len = colon? (size_t) (colon - rest): rest_len;
        if (host_len > S_HOST_MAX)
            return "has a host name that is too long";
        for (size_t i = 0; i < host_len; i++)
            host [i] = s_lower (rest [i]);
        host [host_len] = '\0';
        if (!s_valid_host (host, host_len))
            return "has a malformed host";
        after = rest + host_len;
    }
    size_t after_len = rest_len - (size_t) (after - rest);
    unsigned long port = 0;
    if (after_len) {
        const char *digits = after + 1;
        size_t count = after_len - 1;
        if (after [0] != ':' || count == 0 || count > 5 || digits [0] == '0')
            return "has a malformed port";
        for (size_t i = 0; i < count; i++) {
            if (digits [i] < '0' || digits [i] > '9')
                return "has a malformed port";
            port = port * 10 + (unsigned long) (digits [i] - '0');
        }
        if (port > 65535)
            return "has a port above 65535";
        if (port == (https? 443u: 80u))
            port = 0;                   //  browsers leave the default port out
    }
    int written = port
        ? snprintf (out, size, "%s://%s:%lu", https? "https": "http", host, port)
        : snprintf (out, size, "%s://%s", https? "https": "http", host);
    if (written < 0 || (size_t) written >= size)
        return "is too long";
    return NULL;
}

static void
s_error (char *error, size_t size, const char *item, size_t len, const char *why)
{
    if (!error || !size)
        return;
    char echo [S_ECHO_MAX + 4];
    size_t n = 0;
    for (size_t i = 0; i < len && n < S_ECHO_MAX; i++)
        echo [n++] = item [i] >= 0x20 && item [i] < 0x7f? item [i]: '?';
    if (len > S_ECHO_MAX) {
        memcpy (echo + n, "...", 3);
        n += 3;
    }
    echo [n] = '\0';
    snprintf (error, size, "CORS_ALLOWED_ORIGINS: '%s' %s", echo, why);
}

gateway_cors_t *
gateway_cors_new (const char *list, char *error, size_t error_size)
{
    if (error && error_size)
        error [0] = '\0';
    gateway_cors_t *self = (gateway_cors_t *) calloc (1, sizeof *self);
    if (!self) {
        if (error && error_size)
            snprintf (error, error_size, "CORS_ALLOWED_ORIGINS: out of memory");
        return NULL;
    }
    const char *cursor = list, *item;
    size_t len;
    while (cm_list_next (&cursor, &item, &len)) {
        if (len == 0)
            continue;
        char origin [GATEWAY_CORS_ORIGIN_MAX];
        const char *why = s_parse_origin (item, len, origin, sizeof origin);
        if (why) {
            s_error (error, error_size, item, len, why);
            goto failed;
        }
        if (gateway_cors_allowed (self, origin))
            continue;                   //  the same origin twice, perhaps spelled differently
        if (self->count == GATEWAY_CORS_MAX_ORIGINS) {
            s_error (error, error_size, item, len, "is one origin too many (at most 32)");
            goto failed;
        }
        memcpy (self->origins [self->count++], origin, strlen (origin) + 1);
    }
    return self;

failed:
    free (self);
    return NULL;
}

void
gateway_cors_destroy (gateway_cors_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

size_t
gateway_cors_count (const gateway_cors_t *self)
{
    assert (self);
    return self->count;
}

//  The stored copy of origin, or NULL
static const char *
s_find (const gateway_cors_t *self, const char *origin)
{
    if (!origin || strnlen (origin, GATEWAY_CORS_ORIGIN_MAX) >= GATEWAY_CORS_ORIGIN_MAX)
        return NULL;
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->origins [i], origin) == 0)
            return self->origins [i];
    return NULL;
}

bool
gateway_cors_allowed (const gateway_cors_t *self, const char *origin)
{
    assert (self);
    return s_find (self, origin) != NULL;
}

//  ----------------------------------------------------------------------
//  Deciding

//  Normalizes a route's method list into out ("GET, POST") and says
//  whether wanted (NULL: none) is one of them. Returns -1 when the list
//  is empty, malformed or too long.
static int
s_route_methods (const char *list, const char *wanted, char *out, size_t size, bool *found)
{
    *found = false;
    out [0] = '\0';
    size_t used = 0;
    int count = 0;
    //  Every item counts, so "GET," and "GET,,POST" are refused
    const char *cursor = list? list: "", *item;
    size_t len;
    while (cm_list_next (&cursor, &item, &len)) {
        if (len == 0 || ++count > S_METHODS_MAX)
            return -1;
        for (size_t i = 0; i < len; i++)
            if (!s_tchar (item [i]))
                return -1;
        if (used + len + 3 > size)
            return -1;
        if (used) {
            memcpy (out + used, ", ", 2);
            used += 2;
        }
        memcpy (out + used, item, len);
        used += len;
        out [used] = '\0';
        //  Methods are case-sensitive (RFC 9110 9.1); Fetch upper-cases the standard ones
        if (wanted && strlen (wanted) == len && memcmp (wanted, item, len) == 0)
            *found = true;
    }
    return count? 0: -1;
}

//  True when every name in Access-Control-Request-Headers is allowlisted
static bool
s_headers_allowed (const char *list)
{
    if (!list)
        return true;
    size_t total = strnlen (list, GATEWAY_CORS_REQUEST_MAX);
    if (total >= GATEWAY_CORS_REQUEST_MAX)
        return false;
    if (list [strspn (list, " \t")] == '\0')
        return true;                    //  present but naming nothing
    const char *cursor = list, *item;
    size_t len;
    while (cm_list_next (&cursor, &item, &len)) {
        if (len == 0)
            return false;
        for (size_t i = 0; i < len; i++)
            if (!s_tchar (item [i]))
                return false;
        bool known = false;
        for (const char **name = s_allow_headers; *name && !known; name++)
            known = strlen (*name) == len && strncasecmp (*name, item, len) == 0;
        if (!known)
            return false;
    }
    return true;
}

gateway_cors_verdict_t
gateway_cors_decide (const gateway_cors_t *self, const char *method, const char *origin,
                     const char *request_method, const char *request_headers,
                     const char *route_methods, gateway_cors_result_t *result)
{
    assert (self);
    assert (result);
    memset (result, 0, sizeof *result);
    if (!origin) {
        result->verdict = GATEWAY_CORS_NONE;
        return result->verdict;
    }
    result->vary = true;
    const char *allowed = s_find (self, origin);
    bool preflight = method && strcmp (method, "OPTIONS") == 0 && request_method;
    if (!preflight) {
        result->verdict = allowed? GATEWAY_CORS_ALLOWED: GATEWAY_CORS_REFUSED;
        result->allow_origin = allowed;
        return result->verdict;
    }
    bool method_ok = false;
    char methods [GATEWAY_CORS_METHODS_MAX];
    if (!allowed
    ||  s_route_methods (route_methods, request_method, methods, sizeof methods, &method_ok)
    ||  !method_ok
    ||  !s_headers_allowed (request_headers)) {
        result->verdict = GATEWAY_CORS_PREFLIGHT_REFUSED;
        result->status = 403;
        return result->verdict;
    }
    result->verdict = GATEWAY_CORS_PREFLIGHT_OK;
    result->status = 204;
    result->allow_origin = allowed;
    result->preflight = true;
    memcpy (result->allow_methods, methods, sizeof methods);
    return result->verdict;
}

//  Appends to buf at *at, failing once without writing past size
static void
s_append (char *buf, size_t size, size_t *at, bool *ok, const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));

static void
s_append (char *buf, size_t size, size_t *at, bool *ok, const char *format, ...)
{
    if (!*ok)
        return;
    va_list args;
    va_start (args, format);
    int written = vsnprintf (buf + *at, size - *at, format, args);
    va_end (args);
    if (written < 0 || (size_t) written >= size - *at)
        *ok = false;
    else
        *at += (size_t) written;
}

int
gateway_cors_headers (const gateway_cors_result_t *result, char *buf, size_t size, size_t *len)
{
    assert (result);
    assert (buf);
    assert (len);
    if (*len >= size)
        return -1;
    size_t at = *len;
    bool ok = true;
    if (result->vary)
        s_append (buf, size, &at, &ok, "Vary: Origin\r\n");
    if (result->allow_origin) {
        s_append (buf, size, &at, &ok,
                  "Access-Control-Allow-Origin: %s\r\n"
                  "Access-Control-Allow-Credentials: true\r\n"
                  "Access-Control-Expose-Headers: " GATEWAY_CORS_EXPOSE_HEADERS "\r\n",
                  result->allow_origin);
        if (result->preflight)
            s_append (buf, size, &at, &ok,
                      "Access-Control-Allow-Methods: %s\r\n"
                      "Access-Control-Allow-Headers: " GATEWAY_CORS_ALLOW_HEADERS "\r\n"
                      "Access-Control-Max-Age: %d\r\n",
                      result->allow_methods, GATEWAY_CORS_MAX_AGE);
    }
    if (!ok) {
        buf [*len] = '\0';
        return -1;
    }
    *len = at;
    return 0;
}
