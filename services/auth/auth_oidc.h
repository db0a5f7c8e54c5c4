/*  auth_oidc - the sign-in providers: discovery, keys, code exchange

    One object per process holds every provider of the configuration
    (OIDC_<NAME>_*). An OpenID Connect provider's discovery document and
    JWKS are fetched on first use and cached for an hour; a token signed
    with a kid the cache does not know fetches the JWKS again (rotation),
    at most every JWKS_REFRESH_MIN_S. A GitHub provider (plain OAuth2, no
    ID token) uses its fixed endpoints and its user API instead.

    All outbound requests are HTTPS with verification (auth_http), extra
    CAs from OIDC_CA_FILE, timeouts. Thread-safe: each provider's cache has
    its own lock.
*/
#ifndef AUTH_OIDC_H_INCLUDED
#define AUTH_OIDC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "../../common/cm_config.h"

#define AUTH_OIDC_URL_MAX       4096        //  an authorization URL we build
#define AUTH_OIDC_CACHE_S       3600        //  discovery and JWKS kept this long
#define AUTH_OIDC_CONNECT_MS    3000
#define AUTH_OIDC_TIMEOUT_MS    8000

typedef struct auth_oidc_s auth_oidc_t;

//  Values are stable: never renumber
typedef enum {
    AUTH_OIDC_OK = 0,
    AUTH_OIDC_UNKNOWN = 1,          //  no such provider
    AUTH_OIDC_UNAVAILABLE = 2,      //  unreachable, timed out, or a 5xx
    AUTH_OIDC_BAD_ANSWER = 3,       //  an answer we cannot use (malformed, wrong issuer...)
    AUTH_OIDC_REFUSED = 4,          //  the provider refused the code (4xx, error member)
    AUTH_OIDC_BAD_ID_TOKEN = 5      //  the ID token failed verification (see detail)
} auth_oidc_result_t;

//  Who signed in at the provider
typedef struct {
    char subject [256];             //  stable provider user id (sub, or GitHub's numeric id)
    char email [255];               //  "" when none
    bool email_verified;            //  the provider vouches for email
    char name [201];                //  "" when none
} auth_oidc_identity_t;

//  ----------------------------------------------------------------------
//  The providers of cfg (borrowed; must outlive the object). NULL, logged,
//  when OIDC_CA_FILE cannot be loaded.
auth_oidc_t *
    auth_oidc_new (const cm_config_t *cfg);

//  Free; idempotent, nulls *self_p
void
    auth_oidc_destroy (auth_oidc_t **self_p);

//  True when provider (lower-case name) is configured
bool
    auth_oidc_has (auth_oidc_t *self, const char *provider);

//  ----------------------------------------------------------------------
//  The provider's authorization URL for one sign-in into out (size bytes):
//  response_type=code, the client id and scopes, callback as redirect_uri,
//  state, nonce (OpenID Connect only) and the PKCE S256 challenge.
auth_oidc_result_t
    auth_oidc_authorize_url (auth_oidc_t *self, const char *provider, const char *callback,
                             const char *state, const char *nonce, const char *challenge,
                             char *out, size_t size);

//  ----------------------------------------------------------------------
//  Exchange code (with the PKCE verifier) at the token endpoint and learn
//  who signed in: from the verified ID token (nonce must match) or the
//  GitHub user API. detail (size bytes) receives a short reason on failure.
auth_oidc_result_t
    auth_oidc_identify (auth_oidc_t *self, const char *provider, const char *callback,
                        const char *code, const char *verifier, const char *nonce,
                        auth_oidc_identity_t *who, char *detail, size_t size);

//  A stable snake_case name for a result
const char *
    auth_oidc_result_str (auth_oidc_result_t result);

#endif
