/*  auth_http - outbound HTTP(S) of the auth service

    Extra CAs are added to the store libcurl's OpenSSL context already has
    (the system's), from certificates parsed once; the callback only takes
    references, so handles on several worker threads can share them.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "auth_http.h"
#include "../../common/cm_log.h"

#define USER_AGENT      "auth-service"      //  some front ends drop requests without one
#define CA_FILE_MAX     (1024 * 1024)       //  a CA bundle of a private PKI is far smaller

struct auth_http_ca_s {
    STACK_OF (X509) *certs;                 //  owned; read-only once loaded
};

//  One body being read into memory, with its ceiling
typedef struct {
    char *data;                             //  owned until handed to the caller
    size_t len;
    size_t max;
    bool too_big;
} s_body_t;


//  ----------------------------------------------------------------------
//  Parse every certificate of pem_file. NULL, logged, on failure.
auth_http_ca_t *
auth_http_ca_new (const char *pem_file)
{
    assert (pem_file);
    auth_http_ca_t *self = (auth_http_ca_t *) calloc (1, sizeof (auth_http_ca_t));
    FILE *file = fopen (pem_file, "r");
    if (!self || !file || !(self->certs = sk_X509_new_null ())) {
        cm_error ("cannot read the CA file %s", pem_file);
        goto failed;
    }
    X509 *cert;
    while (sk_X509_num (self->certs) < 256 && ftell (file) < CA_FILE_MAX
       &&  (cert = PEM_read_X509 (file, NULL, NULL, NULL)))
        if (!sk_X509_push (self->certs, cert)) {
            X509_free (cert);
            goto failed;
        }
    //  The end of the file leaves a "no start line" error queued
    ERR_clear_error ();
    if (sk_X509_num (self->certs) == 0) {
        cm_error ("the CA file %s holds no PEM certificate", pem_file);
        goto failed;
    }
    fclose (file);
    return self;

failed:
    if (file)
        fclose (file);
    auth_http_ca_destroy (&self);
    return NULL;
}


//  ----------------------------------------------------------------------
//  Free; idempotent, nulls *self_p
void
auth_http_ca_destroy (auth_http_ca_t **self_p)
{
    assert (self_p);
    auth_http_ca_t *self = *self_p;
    if (self) {
        sk_X509_pop_free (self->certs, X509_free);
        free (self);
        *self_p = NULL;
    }
}


//  libcurl calls this with its SSL_CTX before the handshake: the extra CAs
//  join the store that already holds the system's
static CURLcode
s_add_extra_ca (CURL *curl, void *ssl_ctx, void *arg)
{
    (void) curl;
    const auth_http_ca_t *extra = (const auth_http_ca_t *) arg;
    X509_STORE *store = SSL_CTX_get_cert_store ((SSL_CTX *) ssl_ctx);
    if (!store)
        return CURLE_SSL_CERTPROBLEM;
    for (int i = 0; i < sk_X509_num (extra->certs); i++)
        //  A certificate already there (the same CA twice) is no failure
        X509_STORE_add_cert (store, sk_X509_value (extra->certs, i));
    ERR_clear_error ();
    return CURLE_OK;
}


//  ----------------------------------------------------------------------
//  A handle with the outbound rules. NULL, logged, on failure.
CURL *
auth_http_handle_new (const char *url, const char *ca_file, const auth_http_ca_t *extra_ca,
                      long connect_ms, long total_ms)
{
    CURL *curl = curl_easy_init ();
    if (!curl) {
        cm_warn ("outbound request skipped: cannot set up libcurl");
        return NULL;
    }
    //  Signals cannot time out DNS in threads (NOSIGNAL); a redirect is an
    //  answer to judge, not something to follow off the host
    if (curl_easy_setopt (curl, CURLOPT_URL, url) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, total_ms) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK
    ||  (ca_file && curl_easy_setopt (curl, CURLOPT_CAINFO, ca_file) != CURLE_OK)
    ||  (extra_ca
         && (curl_easy_setopt (curl, CURLOPT_SSL_CTX_FUNCTION, s_add_extra_ca) != CURLE_OK
          || curl_easy_setopt (curl, CURLOPT_SSL_CTX_DATA, (void *) extra_ca) != CURLE_OK))
    ||  curl_easy_setopt (curl, CURLOPT_USERAGENT, USER_AGENT) != CURLE_OK) {
        //  A libcurl that cannot verify or add CAs must not be used at all
        cm_warn ("outbound request skipped: libcurl refused an option");
        curl_easy_cleanup (curl);
        return NULL;
    }
    return curl;
}


//  libcurl hands the body over through this; returning short aborts the
//  transfer, which is how the ceiling stops a server that keeps sending
static size_t
s_body_write (char *data, size_t size, size_t nitems, void *arg)
{
    s_body_t *body = (s_body_t *) arg;
    size_t len = size * nitems;
    if (len > body->max - body->len) {
        body->too_big = true;
        return 0;
    }
    char *bigger = (char *) realloc (body->data, body->len + len + 1);
    if (!bigger)
        return 0;
    body->data = bigger;
    memcpy (body->data + body->len, data, len);
    body->len += len;
    body->data [body->len] = 0;
    return len;
}


//  ----------------------------------------------------------------------
//  Run request, reading its body into memory up to its ceiling.
auth_http_result_t
auth_http_fetch (const auth_http_request_t *request, char **body_p, size_t *len_p, long *status_p)
{
    assert (request && request->url && body_p && len_p && status_p);
    *body_p = NULL;
    *len_p = 0;
    *status_p = 0;
    s_body_t body = { NULL, 0, request->max_bytes, false };
    struct curl_slist *headers = NULL;
    auth_http_result_t result = AUTH_HTTP_FAILED;
    char accept [128], bearer [4200];
    snprintf (accept, sizeof accept, "Accept: %s", request->accept? request->accept: "application/json");
    CURL *curl = auth_http_handle_new (request->url, request->ca_file, request->extra_ca,
                                       request->connect_ms, request->total_ms);
    if (!curl || !(headers = curl_slist_append (headers, accept)))
        goto cleanup;
    if (request->bearer) {
        int n = snprintf (bearer, sizeof bearer, "Authorization: Bearer %s", request->bearer);
        struct curl_slist *more = n > 0 && (size_t) n < sizeof bearer? curl_slist_append (headers, bearer): NULL;
        explicit_bzero (bearer, sizeof bearer);
        if (!more)
            goto cleanup;
        headers = more;
    }
    if (curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) request->max_bytes) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_body_write) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_WRITEDATA, &body) != CURLE_OK
    ||  (request->form
         && (curl_easy_setopt (curl, CURLOPT_POSTFIELDS, request->form) != CURLE_OK
          || curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE, (long) strlen (request->form)) != CURLE_OK))
    ||  (request->basic_user
         && (curl_easy_setopt (curl, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC) != CURLE_OK
          || curl_easy_setopt (curl, CURLOPT_USERNAME, request->basic_user) != CURLE_OK
          || curl_easy_setopt (curl, CURLOPT_PASSWORD, request->basic_password) != CURLE_OK))) {
        cm_warn ("outbound request skipped: libcurl refused an option");
        goto cleanup;
    }
    CURLcode code = curl_easy_perform (curl);
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, status_p);
    if (body.too_big || code == CURLE_FILESIZE_EXCEEDED) {
        result = AUTH_HTTP_TOO_BIG;
        goto cleanup;
    }
    if (code != CURLE_OK) {
        //  The URL names no secret, but the error text is enough to act on
        cm_warn ("outbound request failed: %s", curl_easy_strerror (code));
        result = code == CURLE_OUT_OF_MEMORY? AUTH_HTTP_FAILED: AUTH_HTTP_UNREACHABLE;
        goto cleanup;
    }
    if (!body.data && !(body.data = (char *) calloc (1, 1)))
        goto cleanup;
    *body_p = body.data;
    *len_p = body.len;
    body.data = NULL;
    result = AUTH_HTTP_OK;

cleanup:
    if (body.data) {
        explicit_bzero (body.data, body.len);
        free (body.data);
    }
    curl_slist_free_all (headers);
    if (curl)
        curl_easy_cleanup (curl);
    return result;
}
