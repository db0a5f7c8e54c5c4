/*  oidc_provider - a small OpenID provider for the integration tests only

    oidc_provider --port N --cert PEM --key PEM --client-id ID
                  [--client-secret-file F] [--github]

    Serves over HTTPS on 127.0.0.1:N, one connection at a time: discovery,
    JWKS, authorize (approves at once for the configured test user and
    redirects back with a code), token (checks the code, redirect_uri,
    client and PKCE verifier) and, with --github, GitHub's shapes instead:
    /login/oauth/authorize, /login/oauth/access_token (no ID token),
    /api/user and /api/user/emails.

    GET /control?mode=M[&sub=..&email=..&verified=0|1&name=..] sets what
    comes next. Modes: normal, other_key (signed by an unpublished key),
    expired, wrong_aud, wrong_nonce, wrong_iss, down (every endpoint but
    /control answers 503). Not for production: nothing here is hardened.
*/
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include "../../common/cm_jwt.h"

#define REQUEST_MAX     32768
#define CODES_MAX       64

typedef struct {
    char code [33];
    char redirect_uri [2048];
    char nonce [256];
    char challenge [128];
    char sub [128], email [256], name [128];
    bool verified;
    bool used;
} code_t;

static struct {
    char issuer [256];
    char client_id [256];
    char client_secret [256];
    bool github;
    EVP_PKEY *key;                  //  published as kid "k1"
    EVP_PKEY *other;                //  never published ("k-other")
    char mode [32];
    char sub [128], email [256], name [128];
    bool verified;
    code_t codes [CODES_MAX];
    int next_code;
    char access_token [65];         //  of the last github exchange
    char access_sub [128], access_email [256], access_name [128];
    bool access_verified;
} s;

//  -------------------------------------------------------------------- helpers

static void
s_hex (char *out, size_t bytes)
{
    uint8_t raw [64];
    RAND_bytes (raw, (int) bytes);
    for (size_t i = 0; i < bytes; i++)
        sprintf (out + 2 * i, "%02x", raw [i]);
}

//  Decodes %XX and + of a form/query value in place
static void
s_unescape (char *text)
{
    char *out = text;
    for (char *in = text; *in; in++) {
        if (*in == '+')
            *out++ = ' ';
        else
        if (*in == '%' && in [1] && in [2]) {
            char hex [3] = { in [1], in [2], 0 };
            *out++ = (char) strtol (hex, NULL, 16);
            in += 2;
        }
        else
            *out++ = *in;
    }
    *out = 0;
}

//  The value of name in a query or form into out ("" when absent)
static bool
s_param (const char *query, const char *name, char *out, size_t size)
{
    out [0] = 0;
    size_t len = strlen (name);
    for (const char *p = query; p && *p; ) {
        const char *end = strchr (p, '&');
        size_t item = end? (size_t) (end - p): strlen (p);
        if (item > len && strncmp (p, name, len) == 0 && p [len] == '=') {
            snprintf (out, size, "%.*s", (int) (item - len - 1), p + len + 1);
            s_unescape (out);
            return true;
        }
        p = end? end + 1: NULL;
    }
    return false;
}

static void
s_escape (const char *in, char *out, size_t size)
{
    size_t at = 0;
    for (const unsigned char *c = (const unsigned char *) in; *c && at + 4 < size; c++)
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')
        ||  *c == '-' || *c == '.' || *c == '_' || *c == '~')
            out [at++] = (char) *c;
        else
            at += (size_t) sprintf (out + at, "%%%02X", *c);
    out [at] = 0;
}

static void
s_b64 (const uint8_t *in, size_t len, char *out, size_t size)
{
    if (cm_jwt_b64url_encode (in, len, out, size) < 0)
        out [0] = 0;
}

//  A compact RS256 JWS of payload signed by key with kid
static char *
s_sign (json_t *payload, EVP_PKEY *key, const char *kid)
{
    json_t *header = json_pack ("{s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT", "kid", kid);
    char *h = json_dumps (header, JSON_COMPACT), *p = json_dumps (payload, JSON_COMPACT);
    static char token [8192];
    char hb [1024], pb [4096];
    s_b64 ((uint8_t *) h, strlen (h), hb, sizeof hb);
    s_b64 ((uint8_t *) p, strlen (p), pb, sizeof pb);
    snprintf (token, sizeof token, "%s.%s", hb, pb);
    uint8_t sig [1024];
    size_t sig_len = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new ();
    EVP_DigestSignInit (md, NULL, EVP_sha256 (), NULL, key);
    EVP_DigestSign (md, sig, &sig_len, (uint8_t *) token, strlen (token));
    EVP_MD_CTX_free (md);
    char sb [1400];
    s_b64 (sig, sig_len, sb, sizeof sb);
    size_t used = strlen (token);
    snprintf (token + used, sizeof token - used, ".%s", sb);
    free (h);
    free (p);
    json_decref (header);
    return token;
}

static void
s_bn_b64 (EVP_PKEY *key, const char *name, char *out, size_t size)
{
    BIGNUM *bn = NULL;
    EVP_PKEY_get_bn_param (key, name, &bn);
    uint8_t raw [1024];
    int len = BN_bn2bin (bn, raw);
    s_b64 (raw, (size_t) len, out, size);
    BN_free (bn);
}

//  -------------------------------------------------------------------- responses

static void
s_send (SSL *ssl, int status, const char *type, const char *body, const char *extra)
{
    char head [4096];
    int n = snprintf (head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n%s\r\n", status, type, strlen (body), extra? extra: "");
    SSL_write (ssl, head, n);
    if (*body)
        SSL_write (ssl, body, (int) strlen (body));
}

static void
s_json (SSL *ssl, int status, json_t *value)
{
    char *text = json_dumps (value, JSON_COMPACT);
    s_send (ssl, status, "application/json", text, NULL);
    free (text);
    json_decref (value);
}

static void
s_error (SSL *ssl, int status, const char *error)
{
    s_json (ssl, status, json_pack ("{s:s}", "error", error));
}

static void
s_discovery (SSL *ssl)
{
    char authorize [512], token [512], jwks [512];
    snprintf (authorize, sizeof authorize, "%s/authorize", s.issuer);
    snprintf (token, sizeof token, "%s/token", s.issuer);
    snprintf (jwks, sizeof jwks, "%s/jwks", s.issuer);
    s_json (ssl, 200, json_pack ("{s:s, s:s, s:s, s:s, s:[s], s:[s], s:[s]}", "issuer", s.issuer,
            "authorization_endpoint", authorize, "token_endpoint", token, "jwks_uri", jwks,
            "response_types_supported", "code", "id_token_signing_alg_values_supported", "RS256",
            "code_challenge_methods_supported", "S256"));
}

static void
s_jwks (SSL *ssl)
{
    char n [600], e [16];
    s_bn_b64 (s.key, OSSL_PKEY_PARAM_RSA_N, n, sizeof n);
    s_bn_b64 (s.key, OSSL_PKEY_PARAM_RSA_E, e, sizeof e);
    s_json (ssl, 200, json_pack ("{s:[{s:s, s:s, s:s, s:s, s:s, s:s}]}", "keys", "kty", "RSA", "kid", "k1",
            "use", "sig", "alg", "RS256", "n", n, "e", e));
}

static void
s_authorize (SSL *ssl, const char *query)
{
    char response_type [32], client_id [256], redirect_uri [2048], state [512], nonce [256];
    char challenge [128], method [16];
    s_param (query, "response_type", response_type, sizeof response_type);
    s_param (query, "client_id", client_id, sizeof client_id);
    s_param (query, "redirect_uri", redirect_uri, sizeof redirect_uri);
    s_param (query, "state", state, sizeof state);
    s_param (query, "nonce", nonce, sizeof nonce);
    s_param (query, "code_challenge", challenge, sizeof challenge);
    s_param (query, "code_challenge_method", method, sizeof method);
    if (strcmp (response_type, "code") || strcmp (client_id, s.client_id) || !*redirect_uri
    ||  !*state || strcmp (method, "S256") || strlen (challenge) != 43 || (!s.github && !*nonce)) {
        s_error (ssl, 400, "invalid_request");
        return;
    }
    code_t *code = &s.codes [s.next_code++ % CODES_MAX];
    memset (code, 0, sizeof *code);
    s_hex (code->code, 16);
    snprintf (code->redirect_uri, sizeof code->redirect_uri, "%s", redirect_uri);
    snprintf (code->nonce, sizeof code->nonce, "%s", nonce);
    snprintf (code->challenge, sizeof code->challenge, "%s", challenge);
    snprintf (code->sub, sizeof code->sub, "%s", s.sub);
    snprintf (code->email, sizeof code->email, "%s", s.email);
    snprintf (code->name, sizeof code->name, "%s", s.name);
    code->verified = s.verified;
    char escaped [1024], location [4096];
    s_escape (state, escaped, sizeof escaped);
    snprintf (location, sizeof location, "Location: %s%scode=%s&state=%s\r\n", redirect_uri,
              strchr (redirect_uri, '?')? "&": "?", code->code, escaped);
    s_send (ssl, 302, "text/plain", "", location);
}

static void
s_token (SSL *ssl, const char *form)
{
    char grant [64], code_text [64], redirect_uri [2048], client_id [256], secret [256], verifier [256];
    s_param (form, "grant_type", grant, sizeof grant);
    s_param (form, "code", code_text, sizeof code_text);
    s_param (form, "redirect_uri", redirect_uri, sizeof redirect_uri);
    s_param (form, "client_id", client_id, sizeof client_id);
    s_param (form, "client_secret", secret, sizeof secret);
    s_param (form, "code_verifier", verifier, sizeof verifier);
    code_t *code = NULL;
    for (int i = 0; i < CODES_MAX; i++)
        if (*s.codes [i].code && strcmp (s.codes [i].code, code_text) == 0)
            code = &s.codes [i];
    uint8_t digest [32];
    char challenge [64] = "";
    EVP_Digest (verifier, strlen (verifier), digest, NULL, EVP_sha256 (), NULL);
    s_b64 (digest, 32, challenge, sizeof challenge);
    if (strcmp (grant, "authorization_code") || !code || code->used || strcmp (code->redirect_uri, redirect_uri)
    ||  strcmp (client_id, s.client_id) || strcmp (secret, s.client_secret)
    ||  strcmp (challenge, code->challenge)) {
        //  GitHub answers refusals with 200 and an error member
        s_error (ssl, s.github? 200: 400, "invalid_grant");
        return;
    }
    code->used = true;
    if (s.github) {
        s_hex (s.access_token, 32);
        snprintf (s.access_sub, sizeof s.access_sub, "%s", code->sub);
        snprintf (s.access_email, sizeof s.access_email, "%s", code->email);
        snprintf (s.access_name, sizeof s.access_name, "%s", code->name);
        s.access_verified = code->verified;
        s_json (ssl, 200, json_pack ("{s:s, s:s, s:s}", "access_token", s.access_token,
                "token_type", "bearer", "scope", "read:user,user:email"));
        return;
    }
    time_t now = time (NULL);
    bool expired = strcmp (s.mode, "expired") == 0;
    json_t *claims = json_pack ("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:b, s:s}",
        "iss", strcmp (s.mode, "wrong_iss") == 0? "https://evil.example": s.issuer,
        "sub", code->sub, "aud", strcmp (s.mode, "wrong_aud") == 0? "another-client": s.client_id,
        "iat", (json_int_t) (expired? now - 4000: now), "exp", (json_int_t) (expired? now - 400: now + 300),
        "nonce", strcmp (s.mode, "wrong_nonce") == 0? "not-the-nonce": code->nonce,
        "email", code->email, "email_verified", code->verified, "name", code->name);
    bool other = strcmp (s.mode, "other_key") == 0;
    char *id_token = s_sign (claims, other? s.other: s.key, other? "k-other": "k1");
    json_decref (claims);
    char access [65];
    s_hex (access, 32);
    s_json (ssl, 200, json_pack ("{s:s, s:s, s:i, s:s}", "access_token", access, "token_type", "Bearer",
            "expires_in", 300, "id_token", id_token));
}

static void
s_github_api (SSL *ssl, const char *path, const char *authorization)
{
    char expected [128];
    snprintf (expected, sizeof expected, "Bearer %s", s.access_token);
    if (!*s.access_token || strcmp (authorization, expected)) {
        s_send (ssl, 401, "application/json", "{\"message\":\"Bad credentials\"}", NULL);
        return;
    }
    if (strcmp (path, "/api/user") == 0)
        s_json (ssl, 200, json_pack ("{s:I, s:s, s:s}", "id", (json_int_t) atoll (s.access_sub),
                "login", "octo", "name", s.access_name));
    else
        s_json (ssl, 200, json_pack ("[{s:s, s:b, s:b}, {s:s, s:b, s:b}]",
                "email", "other@example.net", "primary", 0, "verified", 1,
                "email", s.access_email, "primary", 1, "verified", s.access_verified));
}

static void
s_control (SSL *ssl, const char *query)
{
    char value [256];
    if (s_param (query, "mode", value, sizeof value))
        snprintf (s.mode, sizeof s.mode, "%.31s", value);
    if (s_param (query, "sub", value, sizeof value))
        snprintf (s.sub, sizeof s.sub, "%.127s", value);
    if (s_param (query, "email", value, sizeof value))
        snprintf (s.email, sizeof s.email, "%s", value);
    if (s_param (query, "name", value, sizeof value))
        snprintf (s.name, sizeof s.name, "%.127s", value);
    if (s_param (query, "verified", value, sizeof value))
        s.verified = strcmp (value, "1") == 0;
    s_json (ssl, 200, json_pack ("{s:s}", "mode", s.mode));
}

//  -------------------------------------------------------------------- server

static void
s_serve (SSL *ssl)
{
    static char request [REQUEST_MAX + 1];
    size_t len = 0;
    char *end = NULL;
    request [0] = 0;
    while (len < REQUEST_MAX && !(end = strstr (request, "\r\n\r\n"))) {
        int n = SSL_read (ssl, request + len, (int) (REQUEST_MAX - len));
        if (n <= 0)
            return;
        len += (size_t) n;
        request [len] = 0;
    }
    if (!end)
        return;
    const char *cl = strcasestr (request, "\r\nContent-Length:");
    size_t body_len = cl && cl < end? (size_t) atol (cl + 17): 0;
    size_t head_len = (size_t) (end + 4 - request);
    while (len < head_len + body_len && len < REQUEST_MAX) {
        int n = SSL_read (ssl, request + len, (int) (REQUEST_MAX - len));
        if (n <= 0)
            return;
        len += (size_t) n;
        request [len] = 0;
    }
    char method [16], target [8192];
    if (sscanf (request, "%15s %8191s", method, target) != 2)
        return;
    char authorization [256] = "";
    const char *auth = strcasestr (request, "\r\nAuthorization: ");
    if (auth && auth < end)
        sscanf (auth + 17, "%255[^\r]", authorization);
    char *query = strchr (target, '?');
    if (query)
        *query++ = 0;
    const char *body = request + head_len;
    if (strcmp (target, "/control") == 0)
        s_control (ssl, query);
    else
    if (strcmp (s.mode, "down") == 0)
        s_send (ssl, 503, "text/plain", "down", NULL);
    else
    if (!s.github && strcmp (target, "/.well-known/openid-configuration") == 0)
        s_discovery (ssl);
    else
    if (!s.github && strcmp (target, "/jwks") == 0)
        s_jwks (ssl);
    else
    if (strcmp (target, s.github? "/login/oauth/authorize": "/authorize") == 0)
        s_authorize (ssl, query? query: "");
    else
    if (strcmp (method, "POST") == 0 && strcmp (target, s.github? "/login/oauth/access_token": "/token") == 0)
        s_token (ssl, body);
    else
    if (s.github && (strcmp (target, "/api/user") == 0 || strcmp (target, "/api/user/emails") == 0))
        s_github_api (ssl, target, authorization);
    else
        s_send (ssl, 404, "text/plain", "not found", NULL);
}

int
main (int argc, char **argv)
{
    int port = 0;
    const char *cert = NULL, *key = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv [i], "--github") == 0)
            s.github = true;
        else
        if (i + 1 < argc && strcmp (argv [i], "--port") == 0)
            port = atoi (argv [++i]);
        else
        if (i + 1 < argc && strcmp (argv [i], "--cert") == 0)
            cert = argv [++i];
        else
        if (i + 1 < argc && strcmp (argv [i], "--key") == 0)
            key = argv [++i];
        else
        if (i + 1 < argc && strcmp (argv [i], "--client-id") == 0)
            snprintf (s.client_id, sizeof s.client_id, "%s", argv [++i]);
        else
        if (i + 1 < argc && strcmp (argv [i], "--client-secret-file") == 0) {
            FILE *file = fopen (argv [++i], "r");
            if (!file || !fgets (s.client_secret, sizeof s.client_secret, file))
                return 2;
            s.client_secret [strcspn (s.client_secret, "\r\n")] = 0;
            fclose (file);
        }
    }
    if (!port || !cert || !key || !*s.client_id) {
        fprintf (stderr, "usage: oidc_provider --port N --cert PEM --key PEM --client-id ID "
                         "[--client-secret-file F] [--github]\n");
        return 2;
    }
    signal (SIGPIPE, SIG_IGN);
    snprintf (s.issuer, sizeof s.issuer, "https://127.0.0.1:%d", port);
    snprintf (s.mode, sizeof s.mode, "normal");
    snprintf (s.sub, sizeof s.sub, "1001");
    snprintf (s.email, sizeof s.email, "user@example.org");
    s.verified = true;
    s.key = EVP_RSA_gen (2048);
    s.other = EVP_RSA_gen (2048);
    SSL_CTX *ctx = SSL_CTX_new (TLS_server_method ());
    if (!s.key || !s.other || !ctx || SSL_CTX_use_certificate_chain_file (ctx, cert) != 1
    ||  SSL_CTX_use_PrivateKey_file (ctx, key, SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp (stderr);
        return 1;
    }
    int listener = socket (AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt (listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (bind (listener, (struct sockaddr *) &address, sizeof address) || listen (listener, 16)) {
        perror ("oidc_provider: bind");
        return 1;
    }
    fprintf (stderr, "oidc_provider: %s%s\n", s.issuer, s.github? " (github)": "");
    while (true) {
        int client = accept (listener, NULL, NULL);
        if (client < 0)
            continue;
        struct timeval timeout = { 5, 0 };
        setsockopt (client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        setsockopt (client, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        SSL *ssl = SSL_new (ctx);
        SSL_set_fd (ssl, client);
        if (SSL_accept (ssl) == 1) {
            s_serve (ssl);
            SSL_shutdown (ssl);
        }
        ERR_clear_error ();
        SSL_free (ssl);
        close (client);
    }
}
