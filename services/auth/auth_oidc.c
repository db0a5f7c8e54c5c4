/*  auth_oidc - the sign-in providers: discovery, keys, code exchange

    A provider's cache (endpoints and key set) changes only under its lock;
    requests copy the endpoints out and verify ID tokens while holding it
    (verification takes well under a millisecond), so a key set is never
    freed while in use.
*/
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include <jansson.h>
#include "auth_http.h"
#include "../../common/cm_url.h"
#include "auth_idtoken.h"
#include "auth_oidc.h"
#include "../../common/cm_log.h"

#define DOC_MAX             (256 * 1024)    //  discovery, JWKS, token and user answers
#define ENDPOINT_MAX        1024
#define JWKS_REFRESH_MIN_S  10              //  an unknown kid refetches at most this often
#define DISCOVERY_PATH      "/.well-known/openid-configuration"

typedef struct {
    const cm_oidc_provider_t *cfg;          //  borrowed from the configuration
    bool github;                            //  plain OAuth2 with GitHub's user API
    pthread_mutex_t lock;                   //  guards everything below
    int64_t discovered_at;                  //  unix seconds; 0 = not yet
    char issuer [ENDPOINT_MAX];             //  as the discovery document says it
    char authorization [ENDPOINT_MAX];
    char token [ENDPOINT_MAX];
    char jwks_uri [ENDPOINT_MAX];
    auth_jwks_t *jwks;                      //  owned; NULL until fetched
    int64_t jwks_at;                        //  unix seconds of the last fetch
} s_provider_t;

struct auth_oidc_s {
    const cm_config_t *cfg;                 //  borrowed
    auth_http_ca_t *extra_ca;               //  owned; NULL when OIDC_CA_FILE is unset
    bool curl_ready;                        //  curl_global_init done, undone on destroy
    int count;
    s_provider_t providers [CM_OIDC_PROVIDERS_MAX];
};

//  Endpoints of one sign-in, copied out of the cache
typedef struct {
    char issuer [ENDPOINT_MAX];
    char authorization [ENDPOINT_MAX];
    char token [ENDPOINT_MAX];
} s_endpoints_t;


static int64_t
s_now (void)
{
    return zclock_time () / 1000;
}

static s_provider_t *
s_find (auth_oidc_t *self, const char *name)
{
    for (int i = 0; i < self->count; i++)
        if (strcmp (self->providers [i].cfg->name, name) == 0)
            return &self->providers [i];
    return NULL;
}

//  GET or POST with the provider rules; body into *body_p (caller frees)
static auth_oidc_result_t
s_fetch (auth_oidc_t *self, const char *url, const char *form, const char *bearer,
         char **body_p, size_t *len_p, long *status_p)
{
    auth_http_request_t request = {
        .url = url, .form = form, .bearer = bearer, .extra_ca = self->extra_ca,
        .max_bytes = DOC_MAX, .connect_ms = AUTH_OIDC_CONNECT_MS, .total_ms = AUTH_OIDC_TIMEOUT_MS
    };
    auth_http_result_t rc = auth_http_fetch (&request, body_p, len_p, status_p);
    if (rc == AUTH_HTTP_UNREACHABLE || rc == AUTH_HTTP_FAILED || (rc == AUTH_HTTP_OK && *status_p >= 500)) {
        free (*body_p);
        *body_p = NULL;
        return AUTH_OIDC_UNAVAILABLE;
    }
    return rc == AUTH_HTTP_OK? AUTH_OIDC_OK: AUTH_OIDC_BAD_ANSWER;
}

//  A JSON object from a 200 answer of url, or NULL with *result set
static json_t *
s_get_json (auth_oidc_t *self, const char *url, auth_oidc_result_t *result)
{
    char *body = NULL;
    size_t len = 0;
    long status = 0;
    *result = s_fetch (self, url, NULL, NULL, &body, &len, &status);
    if (*result != AUTH_OIDC_OK)
        return NULL;
    json_error_t error;
    json_t *doc = status == 200? json_loadb (body, len, JSON_REJECT_DUPLICATES, &error): NULL;
    free (body);
    if (!json_is_object (doc)) {
        json_decref (doc);
        *result = AUTH_OIDC_BAD_ANSWER;
        return NULL;
    }
    return doc;
}

//  Copy an https endpoint member of doc into out; false when unusable
static bool
s_endpoint (json_t *doc, const char *name, char *out)
{
    json_t *item = json_object_get (doc, name);
    if (!json_is_string (item) || json_string_length (item) >= ENDPOINT_MAX
    ||  cm_url_check_outbound (json_string_value (item), false, true))
        return false;
    snprintf (out, ENDPOINT_MAX, "%s", json_string_value (item));
    return true;
}

//  The discovery document's issuer must be the configured one (OpenID
//  Connect Discovery 4.3), or Microsoft's multi-tenant template of it
static bool
s_issuer_ok (const char *configured, const char *discovered)
{
    if (strcmp (configured, discovered) == 0)
        return true;
    const char *mark = strstr (discovered, "{tenantid}");
    size_t host_end = 8 + strcspn (configured + 8, "/");
    return mark && strncmp (configured, discovered, host_end) == 0 && discovered [host_end] == '/';
}

//  Fill the provider's endpoints (discovery for OpenID Connect, fixed for
//  GitHub) unless fresh. Caller holds the lock.
static auth_oidc_result_t
s_discover (auth_oidc_t *self, s_provider_t *p)
{
    if (p->discovered_at && s_now () - p->discovered_at < AUTH_OIDC_CACHE_S)
        return AUTH_OIDC_OK;
    const cm_oidc_provider_t *cfg = p->cfg;
    size_t base = strlen (cfg->issuer);
    while (base && cfg->issuer [base - 1] == '/')
        base--;
    if (p->github) {
        snprintf (p->issuer, sizeof p->issuer, "%.*s", (int) base, cfg->issuer);
        snprintf (p->authorization, sizeof p->authorization, "%.*s/login/oauth/authorize", (int) base, cfg->issuer);
        snprintf (p->token, sizeof p->token, "%.*s/login/oauth/access_token", (int) base, cfg->issuer);
        p->discovered_at = s_now ();
        return AUTH_OIDC_OK;
    }
    char url [ENDPOINT_MAX + 64];
    snprintf (url, sizeof url, "%.*s%s", (int) base, cfg->issuer, DISCOVERY_PATH);
    auth_oidc_result_t result;
    json_t *doc = s_get_json (self, url, &result);
    if (!doc) {
        cm_warn ("sign-in provider %s: discovery failed (%s)", cfg->name, auth_oidc_result_str (result));
        return result;
    }
    json_t *issuer = json_object_get (doc, "issuer");
    s_endpoints_t fresh;
    char jwks_uri [ENDPOINT_MAX];
    bool ok = json_is_string (issuer) && json_string_length (issuer) < sizeof fresh.issuer
           && s_issuer_ok (cfg->issuer, json_string_value (issuer))
           && s_endpoint (doc, "authorization_endpoint", fresh.authorization)
           && s_endpoint (doc, "token_endpoint", fresh.token)
           && s_endpoint (doc, "jwks_uri", jwks_uri);
    if (ok) {
        snprintf (p->issuer, sizeof p->issuer, "%s", json_string_value (issuer));
        memcpy (p->authorization, fresh.authorization, sizeof p->authorization);
        memcpy (p->token, fresh.token, sizeof p->token);
        //  New keys' address: the old set is no longer the provider's word
        if (strcmp (p->jwks_uri, jwks_uri) != 0)
            auth_jwks_destroy (&p->jwks);
        memcpy (p->jwks_uri, jwks_uri, sizeof p->jwks_uri);
        p->discovered_at = s_now ();
    }
    else
        cm_warn ("sign-in provider %s: the discovery document is unusable (issuer or endpoints)", cfg->name);
    json_decref (doc);
    return ok? AUTH_OIDC_OK: AUTH_OIDC_BAD_ANSWER;
}

//  Fetch the provider's key set again. Caller holds the lock.
static auth_oidc_result_t
s_fetch_jwks (auth_oidc_t *self, s_provider_t *p)
{
    char *body = NULL;
    size_t len = 0;
    long status = 0;
    p->jwks_at = s_now ();
    auth_oidc_result_t result = s_fetch (self, p->jwks_uri, NULL, NULL, &body, &len, &status);
    if (result != AUTH_OIDC_OK)
        return result;
    auth_jwks_t *jwks = status == 200? auth_jwks_parse (body, len): NULL;
    free (body);
    if (!jwks) {
        cm_warn ("sign-in provider %s: the JWKS has no usable key", p->cfg->name);
        return AUTH_OIDC_BAD_ANSWER;
    }
    auth_jwks_destroy (&p->jwks);
    p->jwks = jwks;
    return AUTH_OIDC_OK;
}

//  Discovery, then the endpoints copied out under the lock
static auth_oidc_result_t
s_endpoints (auth_oidc_t *self, s_provider_t *p, s_endpoints_t *out)
{
    pthread_mutex_lock (&p->lock);
    auth_oidc_result_t result = s_discover (self, p);
    if (result == AUTH_OIDC_OK) {
        memcpy (out->issuer, p->issuer, sizeof out->issuer);
        memcpy (out->authorization, p->authorization, sizeof out->authorization);
        memcpy (out->token, p->token, sizeof out->token);
    }
    pthread_mutex_unlock (&p->lock);
    return result;
}

//  Percent-encode value onto out at *at (RFC 3986 unreserved kept);
//  false when it does not fit
static bool
s_append_escaped (char *out, size_t size, size_t *at, const char *value)
{
    static const char hex [] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *) value; *c; c++) {
        bool plain = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')
                  || *c == '-' || *c == '.' || *c == '_' || *c == '~';
        if (*at + (plain? 1: 3) >= size)
            return false;
        if (plain)
            out [(*at)++] = (char) *c;
        else {
            out [(*at)++] = '%';
            out [(*at)++] = hex [*c >> 4];
            out [(*at)++] = hex [*c & 15];
        }
    }
    out [*at] = 0;
    return true;
}

//  name=value pairs (NULL name ends; NULL value skips) appended to out
static bool
s_append_params (char *out, size_t size, size_t *at, const char *const *pairs)
{
    for (int i = 0; pairs [i]; i += 2) {
        if (!pairs [i + 1])
            continue;
        int n = snprintf (out + *at, size - *at, "%s%s=", *at && out [*at - 1] != '?'? "&": "", pairs [i]);
        if (n < 0 || (size_t) n >= size - *at)
            return false;
        *at += (size_t) n;
        if (!s_append_escaped (out, size, at, pairs [i + 1]))
            return false;
    }
    return true;
}


//  ----------------------------------------------------------------------
auth_oidc_t *
auth_oidc_new (const cm_config_t *cfg)
{
    assert (cfg);
    auth_oidc_t *self = (auth_oidc_t *) calloc (1, sizeof (auth_oidc_t));
    if (!self)
        return NULL;
    self->cfg = cfg;
    if (cfg->oidc_ca_file && *cfg->oidc_ca_file && !(self->extra_ca = auth_http_ca_new (cfg->oidc_ca_file))) {
        cm_error ("OIDC_CA_FILE %s is not a readable PEM file of certificates", cfg->oidc_ca_file);
        goto failed;
    }
    //  Here, before the workers start: global init is not thread-safe
    if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cm_error ("cannot initialise libcurl");
        goto failed;
    }
    self->curl_ready = true;
    for (int i = 0; i < cfg->oidc_count; i++) {
        s_provider_t *p = &self->providers [self->count++];
        p->cfg = &cfg->oidc [i];
        p->github = strcmp (cfg->oidc [i].kind, "github") == 0;
        pthread_mutex_init (&p->lock, NULL);
        cm_info ("sign-in provider %s: %s (%s)", p->cfg->name, p->cfg->issuer, p->cfg->kind);
    }
    return self;

failed:
    auth_oidc_destroy (&self);
    return NULL;
}

void
auth_oidc_destroy (auth_oidc_t **self_p)
{
    assert (self_p);
    auth_oidc_t *self = *self_p;
    if (self) {
        for (int i = 0; i < self->count; i++) {
            auth_jwks_destroy (&self->providers [i].jwks);
            pthread_mutex_destroy (&self->providers [i].lock);
        }
        auth_http_ca_destroy (&self->extra_ca);
        if (self->curl_ready)
            curl_global_cleanup ();
        free (self);
        *self_p = NULL;
    }
}

bool
auth_oidc_has (auth_oidc_t *self, const char *provider)
{
    return s_find (self, provider) != NULL;
}


//  ----------------------------------------------------------------------
auth_oidc_result_t
auth_oidc_authorize_url (auth_oidc_t *self, const char *provider, const char *callback,
                         const char *state, const char *nonce, const char *challenge,
                         char *out, size_t size)
{
    s_provider_t *p = s_find (self, provider);
    if (!p)
        return AUTH_OIDC_UNKNOWN;
    s_endpoints_t endpoints;
    auth_oidc_result_t result = s_endpoints (self, p, &endpoints);
    if (result != AUTH_OIDC_OK)
        return result;
    const char *params [] = {
        "response_type", "code", "client_id", p->cfg->client_id, "redirect_uri", callback,
        "scope", p->cfg->scopes, "state", state, "nonce", p->github? NULL: nonce,
        "code_challenge", challenge, "code_challenge_method", "S256", NULL
    };
    int n = snprintf (out, size, "%s%s", endpoints.authorization,
                      strchr (endpoints.authorization, '?')? "&": "?");
    size_t at = n > 0? (size_t) n: size;
    return at < size && s_append_params (out, size, &at, params)? AUTH_OIDC_OK: AUTH_OIDC_BAD_ANSWER;
}

//  The token endpoint's JSON answer to the code; NULL with *result set
static json_t *
s_token_request (auth_oidc_t *self, s_provider_t *p, const char *token_url, const char *callback,
                 const char *code, const char *verifier, auth_oidc_result_t *result)
{
    char form [8192];
    size_t at = 0;
    form [0] = 0;
    const char *params [] = {
        "grant_type", "authorization_code", "code", code, "redirect_uri", callback,
        "client_id", p->cfg->client_id, "code_verifier", verifier,
        "client_secret", p->cfg->client_secret, NULL
    };
    if (!s_append_params (form, sizeof form, &at, params)) {
        *result = AUTH_OIDC_REFUSED;
        return NULL;
    }
    char *body = NULL;
    size_t len = 0;
    long status = 0;
    *result = s_fetch (self, token_url, form, NULL, &body, &len, &status);
    explicit_bzero (form, sizeof form);
    if (*result != AUTH_OIDC_OK)
        return NULL;
    json_error_t error;
    json_t *doc = json_loadb (body, len, JSON_REJECT_DUPLICATES, &error);
    explicit_bzero (body, len);
    free (body);
    //  GitHub answers a refused code with 200 and an error member
    if (status >= 400 || json_object_get (doc, "error"))
        *result = AUTH_OIDC_REFUSED;
    else
    if (status != 200 || !json_is_object (doc))
        *result = AUTH_OIDC_BAD_ANSWER;
    if (*result != AUTH_OIDC_OK) {
        json_decref (doc);
        return NULL;
    }
    return doc;
}

//  Verify the ID token, fetching the key set when missing, stale, or when
//  the token names a kid it does not have (the provider rotated its keys)
static auth_oidc_result_t
s_verify_id_token (auth_oidc_t *self, s_provider_t *p, const char *id_token, const char *issuer,
                   const char *nonce, auth_oidc_identity_t *who, char *detail, size_t size)
{
    auth_idtoken_expect_t expect = { issuer, p->cfg->client_id, nonce, s_now () };
    auth_idtoken_claims_t claims;
    pthread_mutex_lock (&p->lock);
    auth_oidc_result_t result = AUTH_OIDC_OK;
    if (!p->jwks || s_now () - p->jwks_at >= AUTH_OIDC_CACHE_S)
        result = s_fetch_jwks (self, p);
    auth_idtoken_result_t verdict = auth_idtoken_verify (p->jwks, id_token, &expect, &claims);
    if (verdict == AUTH_IDTOKEN_UNKNOWN_KID && s_now () - p->jwks_at >= JWKS_REFRESH_MIN_S
    &&  (result = s_fetch_jwks (self, p)) == AUTH_OIDC_OK)
        verdict = auth_idtoken_verify (p->jwks, id_token, &expect, &claims);
    pthread_mutex_unlock (&p->lock);
    if (verdict != AUTH_IDTOKEN_OK) {
        //  No key set at all is the provider's failure, not the token's
        if (!p->jwks && result != AUTH_OIDC_OK)
            return result;
        snprintf (detail, size, "%s", auth_idtoken_result_str (verdict));
        return AUTH_OIDC_BAD_ID_TOKEN;
    }
    memcpy (who->subject, claims.sub, sizeof who->subject);
    memcpy (who->email, claims.email, sizeof who->email);
    who->email_verified = claims.email_verified;
    memcpy (who->name, claims.name, sizeof who->name);
    return AUTH_OIDC_OK;
}

//  GitHub: who the access token belongs to, and its primary verified email
static auth_oidc_result_t
s_github_user (auth_oidc_t *self, s_provider_t *p, const char *access_token, auth_oidc_identity_t *who)
{
    char url [ENDPOINT_MAX + 32];
    size_t base = strlen (p->cfg->api_url);
    while (base && p->cfg->api_url [base - 1] == '/')
        base--;
    char *body = NULL;
    size_t len = 0;
    long status = 0;
    json_error_t error;
    snprintf (url, sizeof url, "%.*s/user", (int) base, p->cfg->api_url);
    auth_oidc_result_t result = s_fetch (self, url, NULL, access_token, &body, &len, &status);
    if (result != AUTH_OIDC_OK)
        return result;
    json_t *user = status == 200? json_loadb (body, len, JSON_REJECT_DUPLICATES, &error): NULL;
    free (body);
    json_t *id = json_object_get (user, "id");
    json_t *name = json_object_get (user, "name");
    if (!json_is_integer (id) || json_integer_value (id) <= 0) {
        json_decref (user);
        return AUTH_OIDC_BAD_ANSWER;
    }
    snprintf (who->subject, sizeof who->subject, "%lld", (long long) json_integer_value (id));
    if (json_is_string (name) && json_string_length (name) < sizeof who->name)
        snprintf (who->name, sizeof who->name, "%s", json_string_value (name));
    json_decref (user);

    snprintf (url, sizeof url, "%.*s/user/emails", (int) base, p->cfg->api_url);
    result = s_fetch (self, url, NULL, access_token, &body, &len, &status);
    if (result != AUTH_OIDC_OK)
        return result;
    json_t *emails = status == 200? json_loadb (body, len, JSON_REJECT_DUPLICATES, &error): NULL;
    free (body);
    if (!json_is_array (emails)) {
        json_decref (emails);
        return AUTH_OIDC_BAD_ANSWER;
    }
    size_t index;
    json_t *entry;
    json_array_foreach (emails, index, entry) {
        json_t *email = json_object_get (entry, "email");
        if (json_is_true (json_object_get (entry, "primary")) && json_is_string (email)
        &&  json_string_length (email) < sizeof who->email) {
            snprintf (who->email, sizeof who->email, "%s", json_string_value (email));
            who->email_verified = json_is_true (json_object_get (entry, "verified"));
        }
    }
    json_decref (emails);
    return AUTH_OIDC_OK;
}


//  ----------------------------------------------------------------------
auth_oidc_result_t
auth_oidc_identify (auth_oidc_t *self, const char *provider, const char *callback,
                    const char *code, const char *verifier, const char *nonce,
                    auth_oidc_identity_t *who, char *detail, size_t size)
{
    memset (who, 0, sizeof *who);
    snprintf (detail, size, "%s", "");
    s_provider_t *p = s_find (self, provider);
    if (!p)
        return AUTH_OIDC_UNKNOWN;
    s_endpoints_t endpoints;
    auth_oidc_result_t result = s_endpoints (self, p, &endpoints);
    if (result != AUTH_OIDC_OK)
        return result;
    json_t *tokens = s_token_request (self, p, endpoints.token, callback, code, verifier, &result);
    if (!tokens)
        return result;
    json_t *token = json_object_get (tokens, p->github? "access_token": "id_token");
    if (!json_is_string (token) || json_string_length (token) > AUTH_IDTOKEN_MAX)
        result = AUTH_OIDC_BAD_ANSWER;
    else
    if (p->github)
        result = s_github_user (self, p, json_string_value (token), who);
    else
        result = s_verify_id_token (self, p, json_string_value (token), endpoints.issuer, nonce,
                                    who, detail, size);
    json_decref (tokens);
    if (result != AUTH_OIDC_OK)
        memset (who, 0, sizeof *who);
    return result;
}

const char *
auth_oidc_result_str (auth_oidc_result_t result)
{
    switch (result) {
        case AUTH_OIDC_OK:              return "ok";
        case AUTH_OIDC_UNKNOWN:         return "unknown_provider";
        case AUTH_OIDC_UNAVAILABLE:     return "provider_unavailable";
        case AUTH_OIDC_BAD_ANSWER:      return "provider_error";
        case AUTH_OIDC_REFUSED:         return "provider_refused";
        case AUTH_OIDC_BAD_ID_TOKEN:    return "invalid_id_token";
    }
    return "unknown";
}
