/*  auth_http - outbound HTTP(S) of the auth service, one way for everyone

    Every request the auth service makes to the outside (breached-password
    ranges, sign-in providers) gets its libcurl handle here, with the same
    rules: certificate and host verification on, connect and total
    timeouts, no redirects followed, no signals, only http/https. Bodies
    are read into memory up to a ceiling given by the caller.
*/
#ifndef AUTH_HTTP_H_INCLUDED
#define AUTH_HTTP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <curl/curl.h>

typedef struct auth_http_ca_s auth_http_ca_t;

//  Values are stable: never renumber
typedef enum {
    AUTH_HTTP_OK = 0,               //  an answer came (any status; see status_p)
    AUTH_HTTP_UNREACHABLE = 1,      //  no connection, TLS refused, or out of time
    AUTH_HTTP_TOO_BIG = 2,          //  the body passed the ceiling
    AUTH_HTTP_FAILED = 3            //  libcurl could not be set up, or out of memory
} auth_http_result_t;

//  One request: GET, or POST of a form when form is set
typedef struct {
    const char *url;                //  checked by the caller (cm_url_check_outbound)
    const char *form;               //  application/x-www-form-urlencoded body, NULL = GET
    const char *bearer;             //  Authorization: Bearer, NULL = none
    const char *basic_user;         //  HTTP basic credentials (client_secret_basic),
    const char *basic_password;     //  both or neither
    const char *accept;             //  Accept header, NULL = application/json
    const char *ca_file;            //  replaces the system CAs, NULL = keep them
    const auth_http_ca_t *extra_ca; //  trusted beside them, NULL = none
    size_t max_bytes;               //  body ceiling
    long connect_ms;                //  connect timeout
    long total_ms;                  //  whole request, connect included
} auth_http_request_t;

//  ----------------------------------------------------------------------
//  Extra trusted CA certificates from a PEM file (one or more), parsed
//  once. NULL, logged, when the file cannot be read or holds none.
auth_http_ca_t *
    auth_http_ca_new (const char *pem_file);

//  Free; idempotent, nulls *self_p
void
    auth_http_ca_destroy (auth_http_ca_t **self_p);

//  ----------------------------------------------------------------------
//  A new handle for url with the rules above (caller adds its own options
//  and frees it with curl_easy_cleanup). NULL, logged, on failure.
CURL *
    auth_http_handle_new (const char *url, const char *ca_file, const auth_http_ca_t *extra_ca,
                          long connect_ms, long total_ms);

//  ----------------------------------------------------------------------
//  Run request; the body (NUL-terminated, caller frees) into *body_p and
//  its length into *len_p, the HTTP status into *status_p. Thread-safe.
auth_http_result_t
    auth_http_fetch (const auth_http_request_t *request, char **body_p, size_t *len_p,
                     long *status_p);

#endif
