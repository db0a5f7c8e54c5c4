/*  test_gateway_cors - CORS_ALLOWED_ORIGINS parsing, decisions and header lines */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../../services/gateway/gateway_cors.h"

#define ORIGINS "https://app.example.com, http://localhost:3000"

#define EXPOSE "Access-Control-Expose-Headers: X-Request-Id, Retry-After, RateLimit-Limit, " \
               "RateLimit-Remaining, RateLimit-Reset\r\n"

static gateway_cors_t *
s_new (const char *list)
{
    char error [256];
    gateway_cors_t *self = gateway_cors_new (list, error, sizeof error);
    cr_assert_not_null (self, "refused '%s': %s", list, error);
    cr_assert_str_empty (error);
    return self;
}

//  The error names the item: quoted whole, or its start when long
static void
s_refused_as (const char *list, const char *named, bool whole, const char *why)
{
    char error [256];
    gateway_cors_t *self = gateway_cors_new (list, error, sizeof error);
    cr_assert_null (self, "accepted '%s'", list);
    char quoted [160];
    snprintf (quoted, sizeof quoted, whole? "'%s'": "'%s", named);
    cr_assert (strstr (error, "CORS_ALLOWED_ORIGINS") && strstr (error, quoted),
               "'%s': the error does not name %s: %s", list, quoted, error);
    cr_assert (strstr (error, why), "'%s': expected '%s' in: %s", list, why, error);
}

static void
s_refused (const char *list, const char *named, const char *why)
{
    s_refused_as (list, named, true, why);
}

//  The header lines for result, as one string
static const char *
s_lines (const gateway_cors_result_t *result)
{
    static char buf [1024];
    size_t len = 0;
    buf [0] = '\0';
    cr_assert_eq (gateway_cors_headers (result, buf, sizeof buf, &len), 0);
    cr_assert_eq (len, strlen (buf));
    return buf;
}

//  An actual (non-preflight) request from origin
static gateway_cors_verdict_t
s_actual (const gateway_cors_t *self, const char *origin, gateway_cors_result_t *result)
{
    return gateway_cors_decide (self, "GET", origin, NULL, NULL, "GET, POST", result);
}

//  A preflight from origin asking for method and headers on a route
static gateway_cors_verdict_t
s_preflight (const gateway_cors_t *self, const char *origin, const char *method,
             const char *headers, const char *route, gateway_cors_result_t *result)
{
    return gateway_cors_decide (self, "OPTIONS", origin, method, headers, route, result);
}

static void
s_origin_refused (const gateway_cors_t *self, const char *origin)
{
    gateway_cors_result_t result;
    cr_assert_eq (s_actual (self, origin, &result), GATEWAY_CORS_REFUSED, "'%s'", origin);
    cr_assert_null (result.allow_origin);
    cr_assert_str_eq (s_lines (&result), "Vary: Origin\r\n", "'%s'", origin);
    cr_assert_eq (s_preflight (self, origin, "POST", "content-type", "GET, POST", &result),
                  GATEWAY_CORS_PREFLIGHT_REFUSED, "'%s'", origin);
    cr_assert_eq (result.status, 403);
    cr_assert_str_eq (s_lines (&result), "Vary: Origin\r\n", "'%s'", origin);
    cr_assert_not (gateway_cors_allowed (self, origin), "'%s'", origin);
}

//  ----------------------------------------------------------------------
//  Parsing

Test (cors, parses_and_normalizes_origins)
{
    gateway_cors_t *self = s_new (" https://app.example.com ,http://localhost:3000,,"
                                  "HTTPS://Admin.Example.COM, https://app.example.com:443,"
                                  "\thttp://[2001:DB8:0::1]:8080 , http://127.0.0.1:80, "
                                  "https://xn--bcher-kva.example:8443");
    //  app.example.com with and without :443 is one origin
    cr_assert_eq (gateway_cors_count (self), 6);
    cr_assert (gateway_cors_allowed (self, "https://app.example.com"));
    cr_assert (gateway_cors_allowed (self, "http://localhost:3000"));
    cr_assert (gateway_cors_allowed (self, "https://admin.example.com"));
    cr_assert (gateway_cors_allowed (self, "http://[2001:db8::1]:8080"));
    cr_assert (gateway_cors_allowed (self, "http://127.0.0.1"));
    cr_assert (gateway_cors_allowed (self, "https://xn--bcher-kva.example:8443"));
    cr_assert_not (gateway_cors_allowed (self, "https://app.example.com:443"));
    cr_assert_not (gateway_cors_allowed (self, "http://127.0.0.1:80"));
    cr_assert_not (gateway_cors_allowed (self, NULL));
    gateway_cors_destroy (&self);
    gateway_cors_destroy (&self);          //  idempotent
    cr_assert_null (self);
}

Test (cors, empty_list_allows_nothing)
{
    gateway_cors_t *self = s_new ("");
    cr_assert_eq (gateway_cors_count (self), 0);
    s_origin_refused (self, "https://app.example.com");
    gateway_cors_destroy (&self);
    self = s_new (NULL);
    cr_assert_eq (gateway_cors_count (self), 0);
    gateway_cors_destroy (&self);
    self = s_new (" , ");
    cr_assert_eq (gateway_cors_count (self), 0);
    gateway_cors_destroy (&self);
}

Test (cors, refuses_wildcards_and_null)
{
    s_refused ("*", "*", "wildcard");
    s_refused ("https://app.example.com, *", "*", "wildcard");
    s_refused ("https://*.example.com", "https://*.example.com", "wildcard");
    s_refused ("null", "null", "opaque origin");
    s_refused ("NULL", "NULL", "opaque origin");
}

Test (cors, refuses_malformed_origins_naming_them)
{
    s_refused (ORIGINS ", app.example.com", "app.example.com", "scheme://host");
    s_refused ("ftp://files.example.com", "ftp://files.example.com", "scheme other than http");
    s_refused ("file://", "file://", "scheme other than http");
    s_refused ("chrome-extension://abcdef", "chrome-extension://abcdef", "scheme other than http");
    s_refused ("https://app.example.com/", "https://app.example.com/", "path");
    s_refused ("https://app.example.com/app", "https://app.example.com/app", "path");
    s_refused ("https://app.example.com?x=1", "https://app.example.com?x=1", "query");
    s_refused ("https://app.example.com#top", "https://app.example.com#top", "fragment");
    s_refused ("https://user@app.example.com", "https://user@app.example.com", "user info");
    s_refused ("https://app.example.com:0", "https://app.example.com:0", "malformed port");
    s_refused ("https://app.example.com:080", "https://app.example.com:080", "malformed port");
    s_refused ("https://app.example.com:", "https://app.example.com:", "malformed port");
    s_refused ("https://app.example.com:8x", "https://app.example.com:8x", "malformed port");
    s_refused ("https://app.example.com:123456", "https://app.example.com:123456", "malformed port");
    s_refused ("https://app.example.com:65536", "https://app.example.com:65536", "above 65535");
    s_refused ("https://", "https://", "malformed host");
    s_refused ("https://:443", "https://:443", "malformed host");
    s_refused ("https://-app.example.com", "https://-app.example.com", "malformed host");
    s_refused ("https://app-.example.com", "https://app-.example.com", "malformed host");
    s_refused ("https://app..example.com", "https://app..example.com", "malformed host");
    s_refused ("https://app.example.com.", "https://app.example.com.", "malformed host");
    s_refused ("https://app_1.example.com", "https://app_1.example.com", "malformed host");
    s_refused ("https://1.2.3", "https://1.2.3", "malformed host");
    s_refused ("https://256.1.1.1", "https://256.1.1.1", "malformed host");
    s_refused ("https://[::1", "https://[::1", "malformed IPv6");
    s_refused ("https://[zz::1]", "https://[zz::1]", "malformed IPv6");
    s_refused ("https://[]", "https://[]", "malformed IPv6");
    s_refused ("https://[::1]x", "https://[::1]x", "malformed port");
    s_refused ("https://b\xc3\xbc" "cher.example", "https://b??cher.example", "non-ASCII");
    s_refused ("https://app example.com", "https://app example.com", "blank");
    s_refused ("https://app.example.com https://b.example.com",
               "https://app.example.com https://b.example.com", "blank");
    char label [80];
    memset (label, 'a', 64);
    snprintf (label + 64, sizeof label - 64, ".com");
    char origin [100];
    snprintf (origin, sizeof origin, "https://%s", label);
    s_refused_as (origin, "https://aaaaaaaa", false, "malformed host");
    char *huge = (char *) malloc (400);
    cr_assert_not_null (huge);
    memset (huge, 'a', 399);
    huge [399] = '\0';
    memcpy (huge, "https://", 8);
    s_refused_as (huge, "https://aaaa", false, "too long");
    free (huge);
    cr_assert_null (gateway_cors_new ("*", NULL, 0), "no error buffer is fine");
}

Test (cors, at_most_32_origins)
{
    char list [2048] = "";
    size_t len = 0;
    for (int i = 0; i < GATEWAY_CORS_MAX_ORIGINS; i++)
        len += (size_t) snprintf (list + len, sizeof list - len, "%shttps://a%d.example.com",
                                  i? ",": "", i);
    gateway_cors_t *self = s_new (list);
    cr_assert_eq (gateway_cors_count (self), GATEWAY_CORS_MAX_ORIGINS);
    gateway_cors_destroy (&self);
    //  A duplicate is not one more
    snprintf (list + len, sizeof list - len, ",https://a0.example.com");
    self = s_new (list);
    cr_assert_eq (gateway_cors_count (self), GATEWAY_CORS_MAX_ORIGINS);
    gateway_cors_destroy (&self);
    snprintf (list + len, sizeof list - len, ",https://b.example.com");
    s_refused (list, "https://b.example.com", "too many");
}

//  ----------------------------------------------------------------------
//  Actual requests

Test (cors, no_origin_no_headers)
{
    gateway_cors_t *self = s_new (ORIGINS);
    gateway_cors_result_t result;
    cr_assert_eq (s_actual (self, NULL, &result), GATEWAY_CORS_NONE);
    cr_assert_not (result.vary);
    cr_assert_eq (result.status, 0);
    cr_assert_str_eq (s_lines (&result), "");
    //  OPTIONS with Access-Control-Request-Method but no Origin is no preflight
    cr_assert_eq (s_preflight (self, NULL, "POST", NULL, "POST", &result), GATEWAY_CORS_NONE);
    cr_assert_eq (result.status, 0);
    gateway_cors_destroy (&self);
}

Test (cors, allowed_origin_is_echoed_with_credentials)
{
    gateway_cors_t *self = s_new (ORIGINS);
    gateway_cors_result_t result;
    cr_assert_eq (s_actual (self, "https://app.example.com", &result), GATEWAY_CORS_ALLOWED);
    cr_assert_eq (result.status, 0);
    cr_assert_str_eq (s_lines (&result),
                      "Vary: Origin\r\n"
                      "Access-Control-Allow-Origin: https://app.example.com\r\n"
                      "Access-Control-Allow-Credentials: true\r\n"
                      EXPOSE);
    cr_assert_eq (gateway_cors_decide (self, "POST", "http://localhost:3000", NULL, NULL, NULL,
                                       &result), GATEWAY_CORS_ALLOWED);
    cr_assert_str_eq (result.allow_origin, "http://localhost:3000");
    cr_assert_null (strstr (s_lines (&result), "*"), "never a wildcard");
    //  OPTIONS without Access-Control-Request-Method is an ordinary request
    cr_assert_eq (gateway_cors_decide (self, "OPTIONS", "http://localhost:3000", NULL, NULL,
                                       "GET", &result), GATEWAY_CORS_ALLOWED);
    cr_assert_eq (result.status, 0);
    cr_assert_null (strstr (s_lines (&result), "Allow-Methods"));
    gateway_cors_destroy (&self);
}

Test (cors, disallowed_origins_get_vary_only)
{
    gateway_cors_t *self = s_new (ORIGINS);
    s_origin_refused (self, "https://evil.example.com");
    s_origin_refused (self, "https://app.example.com.evil.com");
    s_origin_refused (self, "https://evilapp.example.com");
    s_origin_refused (self, "https://app.example.co");
    s_origin_refused (self, "https://app.example.com/");
    s_origin_refused (self, "https://app.example.com ");
    s_origin_refused (self, " https://app.example.com");
    s_origin_refused (self, "https://app.example.com, https://evil.example.com");
    s_origin_refused (self, "");
    gateway_cors_destroy (&self);
}

Test (cors, null_origin_is_refused)
{
    gateway_cors_t *self = s_new (ORIGINS);
    s_origin_refused (self, "null");
    s_origin_refused (self, "NULL");
    gateway_cors_destroy (&self);
}

Test (cors, case_variants)
{
    //  Browsers send scheme and host lower-case; anything else is not theirs
    gateway_cors_t *self = s_new ("HTTPS://App.Example.COM");
    cr_assert (gateway_cors_allowed (self, "https://app.example.com"));
    s_origin_refused (self, "HTTPS://APP.EXAMPLE.COM");
    s_origin_refused (self, "https://App.example.com");
    s_origin_refused (self, "Https://app.example.com");
    gateway_cors_result_t result;
    cr_assert_eq (s_actual (self, "https://app.example.com", &result), GATEWAY_CORS_ALLOWED);
    cr_assert_str_eq (result.allow_origin, "https://app.example.com");
    gateway_cors_destroy (&self);
}

Test (cors, port_mismatch)
{
    gateway_cors_t *self = s_new (ORIGINS ", https://api.example.com:8443");
    s_origin_refused (self, "https://app.example.com:8443");
    s_origin_refused (self, "http://localhost:3001");
    s_origin_refused (self, "http://localhost");
    s_origin_refused (self, "http://localhost:80");
    s_origin_refused (self, "https://app.example.com:443");
    s_origin_refused (self, "https://api.example.com");
    s_origin_refused (self, "https://api.example.com:08443");
    cr_assert (gateway_cors_allowed (self, "https://api.example.com:8443"));
    gateway_cors_destroy (&self);
}

Test (cors, scheme_mismatch)
{
    gateway_cors_t *self = s_new (ORIGINS);
    s_origin_refused (self, "http://app.example.com");
    s_origin_refused (self, "https://localhost:3000");
    s_origin_refused (self, "ws://app.example.com");
    s_origin_refused (self, "app.example.com");
    gateway_cors_destroy (&self);
}

Test (cors, overlong_origin_is_refused)
{
    gateway_cors_t *self = s_new (ORIGINS);
    char origin [GATEWAY_CORS_ORIGIN_MAX + 64];
    memset (origin, 'a', sizeof origin - 1);
    origin [sizeof origin - 1] = '\0';
    memcpy (origin, "https://app.example.com", 23);
    s_origin_refused (self, origin);
    gateway_cors_destroy (&self);
}

//  ----------------------------------------------------------------------
//  Preflights

Test (cors, preflight_passes)
{
    gateway_cors_t *self = s_new (ORIGINS);
    gateway_cors_result_t result;
    cr_assert_eq (s_preflight (self, "https://app.example.com", "POST", "authorization,content-type",
                               "GET,POST", &result), GATEWAY_CORS_PREFLIGHT_OK);
    cr_assert_eq (result.status, 204);
    cr_assert_str_eq (s_lines (&result),
                      "Vary: Origin\r\n"
                      "Access-Control-Allow-Origin: https://app.example.com\r\n"
                      "Access-Control-Allow-Credentials: true\r\n"
                      EXPOSE
                      "Access-Control-Allow-Methods: GET, POST\r\n"
                      "Access-Control-Allow-Headers: Authorization, Content-Type, "
                      "Idempotency-Key, X-Request-Id\r\n"
                      "Access-Control-Max-Age: 600\r\n");
    //  No headers asked for, or an empty list
    cr_assert_eq (s_preflight (self, "https://app.example.com", "GET", NULL, "GET", &result),
                  GATEWAY_CORS_PREFLIGHT_OK);
    cr_assert_str_eq (result.allow_methods, "GET");
    cr_assert_eq (s_preflight (self, "https://app.example.com", "GET", " ", "GET", &result),
                  GATEWAY_CORS_PREFLIGHT_OK);
    //  Header names in any case and with blanks
    cr_assert_eq (s_preflight (self, "http://localhost:3000", "DELETE",
                               "AUTHORIZATION , Content-Type,idempotency-key,\tx-request-id",
                               " GET ,DELETE,  PATCH", &result), GATEWAY_CORS_PREFLIGHT_OK);
    cr_assert_str_eq (result.allow_methods, "GET, DELETE, PATCH");
    gateway_cors_destroy (&self);
}

static void
s_preflight_refused (const gateway_cors_t *self, const char *origin, const char *method,
                     const char *headers, const char *route)
{
    gateway_cors_result_t result;
    cr_assert_eq (s_preflight (self, origin, method, headers, route, &result),
                  GATEWAY_CORS_PREFLIGHT_REFUSED, "%s %s [%s] on [%s]", origin, method,
                  headers? headers: "(none)", route? route: "(none)");
    cr_assert_eq (result.status, 403);
    cr_assert_null (result.allow_origin);
    cr_assert_str_eq (s_lines (&result), "Vary: Origin\r\n");
}

Test (cors, preflight_method_checks)
{
    gateway_cors_t *self = s_new (ORIGINS);
    const char *ok = "https://app.example.com";
    s_preflight_refused (self, ok, "DELETE", NULL, "GET, POST");
    s_preflight_refused (self, ok, "post", NULL, "GET, POST");
    s_preflight_refused (self, ok, "POS", NULL, "GET, POST");
    s_preflight_refused (self, ok, "POST ", NULL, "GET, POST");
    s_preflight_refused (self, ok, "", NULL, "GET, POST");
    s_preflight_refused (self, ok, "GET", NULL, NULL);
    s_preflight_refused (self, ok, "GET", NULL, "");
    s_preflight_refused (self, ok, "GET", NULL, "GET POST");
    s_preflight_refused (self, ok, "GET", NULL, "GET,,POST");
    s_preflight_refused (self, ok, "GET", NULL, "GET,");
    s_preflight_refused (self, ok, "GET", NULL, "GET, P(OST");
    //  More methods than any route has is a programming error: refused, not cut
    s_preflight_refused (self, ok, "GET", NULL,
                         "A,B,C,D,E,F,G,H,I,J,K,L,M,N,O,P,GET");
    gateway_cors_destroy (&self);
}

Test (cors, preflight_header_checks)
{
    gateway_cors_t *self = s_new (ORIGINS);
    const char *ok = "https://app.example.com";
    s_preflight_refused (self, ok, "POST", "x-custom", "POST");
    s_preflight_refused (self, ok, "POST", "cookie", "POST");
    s_preflight_refused (self, ok, "POST", "authorization,x-evil", "POST");
    s_preflight_refused (self, ok, "POST", "authorization,,content-type", "POST");
    s_preflight_refused (self, ok, "POST", "authorization content-type", "POST");
    s_preflight_refused (self, ok, "POST", "authorization,", "POST");
    s_preflight_refused (self, ok, "POST", "authorizatio", "POST");
    s_preflight_refused (self, ok, "POST", "authorization-x", "POST");
    s_preflight_refused (self, ok, "POST", "content-type\r\nx-evil", "POST");
    char many [GATEWAY_CORS_REQUEST_MAX + 32] = "";
    size_t len = 0;
    while (len + 16 < sizeof many)
        len += (size_t) snprintf (many + len, sizeof many - len, "%sauthorization", len? ",": "");
    s_preflight_refused (self, ok, "POST", many, "POST");
    //  The refused origin is refused before anything else is looked at
    s_preflight_refused (self, "https://evil.example.com", "POST", "content-type", "POST");
    s_preflight_refused (self, "null", "POST", NULL, "POST");
    gateway_cors_destroy (&self);
}

//  ----------------------------------------------------------------------
//  Header lines

Test (cors, header_lines_are_bounded)
{
    gateway_cors_t *self = s_new (ORIGINS);
    gateway_cors_result_t result;
    cr_assert_eq (s_preflight (self, "https://app.example.com", "POST", "content-type", "POST",
                               &result), GATEWAY_CORS_PREFLIGHT_OK);
    char full [1024];
    size_t full_len = 0;
    cr_assert_eq (gateway_cors_headers (&result, full, sizeof full, &full_len), 0);
    cr_assert (full_len < 512);
    //  Appended after what is already there
    char buf [1024] = "X-Other: 1\r\n";
    size_t len = strlen (buf);
    cr_assert_eq (gateway_cors_headers (&result, buf, sizeof buf, &len), 0);
    cr_assert_eq (len, 12 + full_len);
    cr_assert_str_eq (buf + 12, full);
    //  Too small by one byte: nothing written, length unchanged
    char small [1024];
    for (size_t size = 0; size <= full_len; size += (size < 8 || size + 8 > full_len)? 1: 37) {
        memset (small, 'x', sizeof small);
        size_t small_len = 0;
        cr_assert_eq (gateway_cors_headers (&result, small, size, &small_len), -1, "size %zu", size);
        cr_assert_eq (small_len, 0);
        if (size)
            cr_assert_eq (small [0], '\0');
        cr_assert_eq (small [size], 'x', "wrote past %zu", size);
    }
    //  Exactly enough (the lines and their NUL)
    size_t exact_len = 0;
    cr_assert_eq (gateway_cors_headers (&result, small, full_len + 1, &exact_len), 0);
    cr_assert_eq (exact_len, full_len);
    //  A full buffer
    len = sizeof buf;
    cr_assert_eq (gateway_cors_headers (&result, buf, sizeof buf, &len), -1);
    gateway_cors_destroy (&self);
}
