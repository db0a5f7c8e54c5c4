/*  auth_idtoken - ID tokens of sign-in providers: their key set and checks

    A provider's JWKS is parsed once into public keys (RSA of 2048 bits or
    more, for RS256, the algorithm Google, Microsoft and most providers
    sign with); a key set is read-only afterwards. Verification fails
    closed: another algorithm (none, HS256...), a crit header, an unknown
    kid, a bad signature, another issuer or audience, an expired token, a
    nonce that is not the one this sign-in sent - each is refused, and the
    claims are read only once the signature holds.
*/
#ifndef AUTH_IDTOKEN_H_INCLUDED
#define AUTH_IDTOKEN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_IDTOKEN_MAX        8192        //  bytes of a compact ID token
#define AUTH_IDTOKEN_KEYS_MAX   16          //  usable keys kept from one JWKS
#define AUTH_IDTOKEN_LEEWAY_S   60          //  clock skew allowed on exp and iat
#define AUTH_IDTOKEN_AGE_MAX_S  600         //  an older iat is not this sign-in's token

typedef struct auth_jwks_s auth_jwks_t;

//  Why a token was refused; numbered, never renumbered
typedef enum {
    AUTH_IDTOKEN_OK = 0,
    AUTH_IDTOKEN_MALFORMED = 1,         //  size, dots, base64url, JSON
    AUTH_IDTOKEN_BAD_ALG = 2,           //  not RS256, or a crit header
    AUTH_IDTOKEN_UNKNOWN_KID = 3,       //  no key of the set matches
    AUTH_IDTOKEN_BAD_SIGNATURE = 4,
    AUTH_IDTOKEN_BAD_ISSUER = 5,
    AUTH_IDTOKEN_BAD_AUDIENCE = 6,      //  aud (or azp) does not name our client
    AUTH_IDTOKEN_EXPIRED = 7,           //  exp passed, or iat too old or in the future
    AUTH_IDTOKEN_BAD_NONCE = 8,
    AUTH_IDTOKEN_BAD_CLAIMS = 9         //  sub missing or malformed, mistyped claims
} auth_idtoken_result_t;

//  What the token must say
typedef struct {
    const char *issuer;                 //  exact iss; "{tenantid}" in it stands for the
                                        //  token's tid claim (Microsoft's multi-tenant issuer)
    const char *client_id;              //  must be (in) aud
    const char *nonce;                  //  the nonce this sign-in sent
    int64_t now;                        //  unix seconds
} auth_idtoken_expect_t;

//  What it told us, once verified
typedef struct {
    char sub [256];                     //  the provider's stable user id
    char email [255];                   //  "" when absent
    bool email_verified;                //  the provider says it checked the address
    char name [201];                    //  "" when absent or too long
} auth_idtoken_claims_t;

//  ----------------------------------------------------------------------
//  Parse a JWKS document (len bytes). Keys other than RSA signature keys
//  of 2048..8192 bits are skipped. NULL when none is usable or the
//  document is malformed.
auth_jwks_t *
    auth_jwks_parse (const char *json, size_t len);

//  Free; idempotent, nulls *self_p
void
    auth_jwks_destroy (auth_jwks_t **self_p);

//  Number of usable keys in the set
size_t
    auth_jwks_count (const auth_jwks_t *self);

//  ----------------------------------------------------------------------
//  Verify token against keys and expect; claims filled only on OK.
//  keys may be NULL (every token is then UNKNOWN_KID). Thread-safe.
auth_idtoken_result_t
    auth_idtoken_verify (const auth_jwks_t *keys, const char *token,
                         const auth_idtoken_expect_t *expect, auth_idtoken_claims_t *claims);

//  A stable snake_case name for a result, for logs and audit
const char *
    auth_idtoken_result_str (auth_idtoken_result_t result);

#endif
