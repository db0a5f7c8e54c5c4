/*  cm_jwt_verify - fuzz access token verification against a fixed key set

    The first byte picks what the rest is. Even: a whole token, as any
    client can send; with no private key at hand it must be refused,
    whatever it holds. Odd: the JSON of a payload, signed here with the
    set's own key under a fixed header, so the claims checks behind the
    signature are reached too; a token accepted then carries claims within
    every bound the rest of the gateway relies on.
*/
#include <assert.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include "cm_jwt.h"
#include "proto_codec.h"

#define S_KID       "fuzz-key"
#define S_ISS       "https://issuer.example"
#define S_AUD       "api.example"
#define S_NOW       INT64_C (1700000000)
#define S_HEADER    "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"" S_KID "\"}"

static cm_jwt_keys_t *s_keys;           //  verifies: the public half of s_signer
static EVP_PKEY *s_signer;              //  the key a real issuer would hold

//  The JWK coordinate name of key (x or y) as 43 base64url characters
static void
s_coordinate (const char *name, char out [CM_JWT_COORD_B64])
{
    BIGNUM *value = NULL;
    uint8_t raw [32];
    if (!EVP_PKEY_get_bn_param (s_signer, name, &value) || BN_bn2binpad (value, raw, 32) != 32
    ||  cm_jwt_b64url_encode (raw, 32, out, CM_JWT_COORD_B64) != CM_JWT_COORD_B64 - 1)
        abort ();
    BN_free (value);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    char x [CM_JWT_COORD_B64], y [CM_JWT_COORD_B64];
    s_signer = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    s_keys = cm_jwt_keys_new ();
    if (!s_signer || !s_keys)
        abort ();
    s_coordinate (OSSL_PKEY_PARAM_EC_PUB_X, x);
    s_coordinate (OSSL_PKEY_PARAM_EC_PUB_Y, y);
    if (cm_jwt_keys_add_public_jwk (s_keys, S_KID, x, y))
        abort ();
    return 0;
}

//  Appends the ES256 signature (r || s, base64url) of token's text
static void
s_sign (char *token, size_t size)
{
    uint8_t der [80], raw [64];
    size_t der_len = sizeof der;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    if (!ctx || EVP_DigestSignInit (ctx, NULL, EVP_sha256 (), NULL, s_signer) != 1
    ||  EVP_DigestSign (ctx, der, &der_len, (const uint8_t *) token, strlen (token)) != 1)
        abort ();
    EVP_MD_CTX_free (ctx);
    const uint8_t *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG (NULL, &p, (long) der_len);
    if (!sig || BN_bn2binpad (ECDSA_SIG_get0_r (sig), raw, 32) != 32
    ||  BN_bn2binpad (ECDSA_SIG_get0_s (sig), raw + 32, 32) != 32)
        abort ();
    ECDSA_SIG_free (sig);
    size_t len = strlen (token);
    token [len++] = '.';
    if (cm_jwt_b64url_encode (raw, sizeof raw, token + len, size - len) < 0)
        abort ();
}

//  A token of S_HEADER and payload, signed by s_signer; NULL when too long
static char *
s_token (const uint8_t *payload, size_t size)
{
    size_t room = 4 * (sizeof S_HEADER + size + 64) / 3 + 16;
    char *token = malloc (room);
    assert (token);
    int len = cm_jwt_b64url_encode ((const uint8_t *) S_HEADER, sizeof S_HEADER - 1, token, room);
    assert (len > 0);
    token [len++] = '.';
    int more = cm_jwt_b64url_encode (payload, size, token + len, room - (size_t) len);
    assert (more >= 0);
    s_sign (token, room);
    return token;
}

//  What an accepted token promises the gateway
static void
s_check_claims (const cm_jwt_claims_t *claims)
{
    assert (proto_is_uuid (claims->sub) && proto_is_uuid (claims->sid));
    assert (claims->roles_count <= CM_JWT_ROLES_MAX);
    assert (claims->amr_count >= 1 && claims->amr_count <= CM_JWT_AMR_MAX);
    for (uint32_t i = 0; i < claims->roles_count; i++)
        assert (strlen (claims->roles [i]) <= CM_JWT_ROLE_LEN);
    assert (claims->exp > S_NOW - CM_JWT_LEEWAY_MAX);
    assert (claims->exp >= claims->iat && claims->exp - claims->iat <= CM_JWT_LIFETIME_MAX);
    assert (strlen (claims->jti) <= CM_JWT_JTI_LEN);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    cm_jwt_claims_t claims;
    if (data [0] % 2 == 0) {
        char *token = malloc (size);
        assert (token);
        memcpy (token, data + 1, size - 1);
        token [size - 1] = '\0';
        assert (cm_jwt_verify (s_keys, token, S_ISS, S_AUD, S_NOW, 60, &claims) != CM_JWT_OK);
        free (token);
    }
    else {
        if (size - 1 > CM_JWT_TOKEN_MAX)
            return 0;
        char *token = s_token (data + 1, size - 1);
        if (cm_jwt_verify (s_keys, token, S_ISS, S_AUD, S_NOW, 60, &claims) == CM_JWT_OK)
            s_check_claims (&claims);
        free (token);
    }
    return 0;
}
