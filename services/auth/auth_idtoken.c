/*  auth_idtoken - ID tokens of sign-in providers

    Keys are EVP_PKEYs built once from the JWK's n and e; verification
    makes its own digest context and keeps its buffers on the stack, so
    any number of threads may verify against one set.
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include "auth_idtoken.h"
#include "../../common/cm_jwt.h"

#define KID_MAX         128                 //  bytes of a kid we keep
#define RSA_MIN_BYTES   256                 //  2048 bits
#define RSA_MAX_BYTES   1024                //  8192 bits
#define EXP_MAX_BYTES   8
#define JWKS_ENTRIES_MAX 64                 //  entries looked at in one document
#define SEGMENT_MAX     (AUTH_IDTOKEN_MAX / 4 * 3)
#define TENANT_MARK     "{tenantid}"

typedef struct {
    char kid [KID_MAX + 1];                 //  "" when the JWK has none
    EVP_PKEY *pub;                          //  owned, public only
} s_key_t;

struct auth_jwks_s {
    size_t count;
    s_key_t keys [AUTH_IDTOKEN_KEYS_MAX];
};


//  A string member of obj, or NULL
static const char *
s_string (json_t *obj, const char *name)
{
    json_t *item = json_object_get (obj, name);
    return json_is_string (item)? json_string_value (item): NULL;
}

//  An RSA public key from base64url n and e; NULL when out of bounds
static EVP_PKEY *
s_rsa_from_jwk (const char *n_b64, const char *e_b64)
{
    uint8_t n [RSA_MAX_BYTES], e [EXP_MAX_BYTES];
    size_t n_len = 0, e_len = 0;
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *build = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (cm_jwt_b64url_decode (n_b64, strlen (n_b64), n, sizeof n, &n_len)
    ||  cm_jwt_b64url_decode (e_b64, strlen (e_b64), e, sizeof e, &e_len)
    ||  n_len < RSA_MIN_BYTES || e_len == 0 || n [0] == 0)
        goto cleanup;
    bn_n = BN_bin2bn (n, (int) n_len, NULL);
    bn_e = BN_bin2bn (e, (int) e_len, NULL);
    build = OSSL_PARAM_BLD_new ();
    if (!bn_n || !bn_e || !build || BN_is_one (bn_e) || !BN_is_odd (bn_e)
    ||  !OSSL_PARAM_BLD_push_BN (build, OSSL_PKEY_PARAM_RSA_N, bn_n)
    ||  !OSSL_PARAM_BLD_push_BN (build, OSSL_PKEY_PARAM_RSA_E, bn_e)
    ||  !(params = OSSL_PARAM_BLD_to_param (build)))
        goto cleanup;
    ctx = EVP_PKEY_CTX_new_from_name (NULL, "RSA", NULL);
    if (!ctx || EVP_PKEY_fromdata_init (ctx) != 1
    ||  EVP_PKEY_fromdata (ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_free (pkey);
        pkey = NULL;
    }
cleanup:
    EVP_PKEY_CTX_free (ctx);
    OSSL_PARAM_free (params);
    OSSL_PARAM_BLD_free (build);
    BN_free (bn_n);
    BN_free (bn_e);
    ERR_clear_error ();
    return pkey;
}


//  ----------------------------------------------------------------------
//  Parse a JWKS document; NULL when no key is usable.
auth_jwks_t *
auth_jwks_parse (const char *json, size_t len)
{
    json_error_t error;
    json_t *doc = json_loadb (json, len, JSON_REJECT_DUPLICATES, &error);
    json_t *keys = json_object_get (doc, "keys");
    auth_jwks_t *self = NULL;
    if (!json_is_array (keys) || json_array_size (keys) > JWKS_ENTRIES_MAX
    ||  !(self = (auth_jwks_t *) calloc (1, sizeof (auth_jwks_t))))
        goto cleanup;
    size_t index;
    json_t *jwk;
    json_array_foreach (keys, index, jwk) {
        const char *kty = s_string (jwk, "kty");
        const char *use = s_string (jwk, "use");
        const char *alg = s_string (jwk, "alg");
        const char *kid = s_string (jwk, "kid");
        const char *n = s_string (jwk, "n");
        const char *e = s_string (jwk, "e");
        //  Encryption keys, other algorithms and other key types are not ours to use
        if (!kty || strcmp (kty, "RSA") != 0 || (use && strcmp (use, "sig") != 0)
        ||  (alg && strcmp (alg, "RS256") != 0) || !n || !e || (kid && strlen (kid) > KID_MAX)
        ||  self->count == AUTH_IDTOKEN_KEYS_MAX)
            continue;
        EVP_PKEY *pub = s_rsa_from_jwk (n, e);
        if (!pub)
            continue;
        s_key_t *key = &self->keys [self->count++];
        snprintf (key->kid, sizeof key->kid, "%s", kid? kid: "");
        key->pub = pub;
    }
    if (self->count == 0)
        auth_jwks_destroy (&self);
cleanup:
    json_decref (doc);
    return self;
}


//  ----------------------------------------------------------------------
//  Free; idempotent, nulls *self_p
void
auth_jwks_destroy (auth_jwks_t **self_p)
{
    assert (self_p);
    auth_jwks_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->count; i++)
            EVP_PKEY_free (self->keys [i].pub);
        free (self);
        *self_p = NULL;
    }
}

size_t
auth_jwks_count (const auth_jwks_t *self)
{
    return self? self->count: 0;
}


//  The key for the header: by kid, or the only key when the header names none
static const s_key_t *
s_find_key (const auth_jwks_t *keys, json_t *header)
{
    if (!keys)
        return NULL;
    json_t *kid = json_object_get (header, "kid");
    if (!kid)
        return keys->count == 1? &keys->keys [0]: NULL;
    if (!json_is_string (kid))
        return NULL;
    for (size_t i = 0; i < keys->count; i++)
        if (strcmp (keys->keys [i].kid, json_string_value (kid)) == 0)
            return &keys->keys [i];
    return NULL;
}

static bool
s_signature_ok (const s_key_t *key, const uint8_t *sig, size_t sig_len, const char *data, size_t len)
{
    if ((int) sig_len != EVP_PKEY_get_size (key->pub))
        return false;
    EVP_MD_CTX *md = EVP_MD_CTX_new ();
    bool valid = md
        && EVP_DigestVerifyInit (md, NULL, EVP_sha256 (), NULL, key->pub) == 1
        && EVP_DigestVerify (md, sig, sig_len, (const uint8_t *) data, len) == 1;
    EVP_MD_CTX_free (md);
    return valid;
}

//  True when item is the string expected, compared in constant time
static bool
s_string_is (json_t *item, const char *expected)
{
    size_t len = strlen (expected);
    return json_is_string (item) && json_string_length (item) == len
        && CRYPTO_memcmp (json_string_value (item), expected, len) == 0;
}

//  The issuer the token must carry: expect's, with {tenantid} replaced by
//  the token's tid (a lower-case UUID-shaped id). false when impossible.
static bool
s_expected_issuer (const char *issuer, json_t *payload, char *out, size_t size)
{
    const char *mark = strstr (issuer, TENANT_MARK);
    if (!mark)
        return (size_t) snprintf (out, size, "%s", issuer) < size;
    const char *tid = s_string (payload, "tid");
    if (!tid || strlen (tid) != 36 || strspn (tid, "0123456789abcdef-") != 36)
        return false;
    return (size_t) snprintf (out, size, "%.*s%s%s", (int) (mark - issuer), issuer, tid,
                              mark + strlen (TENANT_MARK)) < size;
}

//  An integer time claim within reason into *value
static bool
s_time (json_t *payload, const char *name, int64_t *value)
{
    json_t *item = json_object_get (payload, name);
    if (!json_is_integer (item) || json_integer_value (item) < 0
    ||  json_integer_value (item) > 253402300799LL)
        return false;
    *value = (int64_t) json_integer_value (item);
    return true;
}

static auth_idtoken_result_t
s_check_claims (json_t *payload, const auth_idtoken_expect_t *expect, auth_idtoken_claims_t *claims)
{
    char issuer [1200];
    if (!s_expected_issuer (expect->issuer, payload, issuer, sizeof issuer)
    ||  !s_string_is (json_object_get (payload, "iss"), issuer))
        return AUTH_IDTOKEN_BAD_ISSUER;

    json_t *aud = json_object_get (payload, "aud");
    bool aud_ok = s_string_is (aud, expect->client_id);
    if (json_is_array (aud) && json_array_size (aud) >= 1 && json_array_size (aud) <= 16) {
        size_t index;
        json_t *entry;
        json_array_foreach (aud, index, entry)
            aud_ok = aud_ok || s_string_is (entry, expect->client_id);
        //  Several audiences: the token must have been issued to us (OIDC Core 3.1.3.7)
        if (json_array_size (aud) > 1 && !s_string_is (json_object_get (payload, "azp"), expect->client_id))
            aud_ok = false;
    }
    if (!aud_ok)
        return AUTH_IDTOKEN_BAD_AUDIENCE;

    int64_t exp, iat;
    if (!s_time (payload, "exp", &exp) || !s_time (payload, "iat", &iat))
        return AUTH_IDTOKEN_BAD_CLAIMS;
    if (expect->now >= exp + AUTH_IDTOKEN_LEEWAY_S || iat > expect->now + AUTH_IDTOKEN_LEEWAY_S
    ||  iat < expect->now - AUTH_IDTOKEN_AGE_MAX_S)
        return AUTH_IDTOKEN_EXPIRED;

    if (!s_string_is (json_object_get (payload, "nonce"), expect->nonce))
        return AUTH_IDTOKEN_BAD_NONCE;

    json_t *sub = json_object_get (payload, "sub");
    if (!json_is_string (sub) || json_string_length (sub) == 0
    ||  json_string_length (sub) >= sizeof claims->sub
    ||  strlen (json_string_value (sub)) != json_string_length (sub))
        return AUTH_IDTOKEN_BAD_CLAIMS;
    for (const char *c = json_string_value (sub); *c; c++)
        if ((unsigned char) *c < 0x21 || (unsigned char) *c > 0x7E)
            return AUTH_IDTOKEN_BAD_CLAIMS;
    snprintf (claims->sub, sizeof claims->sub, "%s", json_string_value (sub));
    json_t *email = json_object_get (payload, "email");
    if (email && (!json_is_string (email) || json_string_length (email) >= sizeof claims->email))
        return AUTH_IDTOKEN_BAD_CLAIMS;
    if (email)
        snprintf (claims->email, sizeof claims->email, "%s", json_string_value (email));
    //  Some providers send the flag as a string
    json_t *verified = json_object_get (payload, "email_verified");
    claims->email_verified = json_is_true (verified) || s_string_is (verified, "true");
    const char *name = s_string (payload, "name");
    if (name && strlen (name) < sizeof claims->name)
        snprintf (claims->name, sizeof claims->name, "%s", name);
    return AUTH_IDTOKEN_OK;
}


//  ----------------------------------------------------------------------
//  Structure, header, key, signature; only then the claims.
auth_idtoken_result_t
auth_idtoken_verify (const auth_jwks_t *keys, const char *token,
                     const auth_idtoken_expect_t *expect, auth_idtoken_claims_t *claims)
{
    assert (expect && expect->issuer && expect->client_id && expect->nonce);
    assert (claims);
    memset (claims, 0, sizeof *claims);
    uint8_t header [SEGMENT_MAX], payload [SEGMENT_MAX], signature [SEGMENT_MAX];
    size_t header_len, payload_len, signature_len;
    json_t *head = NULL, *body = NULL;
    auth_idtoken_result_t result = AUTH_IDTOKEN_MALFORMED;
    size_t len = token? strnlen (token, AUTH_IDTOKEN_MAX + 1): 0;
    if (len == 0 || len > AUTH_IDTOKEN_MAX)
        return AUTH_IDTOKEN_MALFORMED;
    const char *end = token + len;
    const char *dot1 = (const char *) memchr (token, '.', len);
    const char *dot2 = dot1? (const char *) memchr (dot1 + 1, '.', (size_t) (end - dot1 - 1)): NULL;
    if (!dot2 || memchr (dot2 + 1, '.', (size_t) (end - dot2 - 1))
    ||  cm_jwt_b64url_decode (token, (size_t) (dot1 - token), header, sizeof header, &header_len)
    ||  cm_jwt_b64url_decode (dot1 + 1, (size_t) (dot2 - dot1 - 1), payload, sizeof payload, &payload_len)
    ||  cm_jwt_b64url_decode (dot2 + 1, (size_t) (end - dot2 - 1), signature, sizeof signature,
                              &signature_len))
        return AUTH_IDTOKEN_MALFORMED;
    json_error_t error;
    head = json_loadb ((const char *) header, header_len, JSON_REJECT_DUPLICATES, &error);
    if (!json_is_object (head))
        goto cleanup;
    //  The algorithm is ours to pin, never the token's to choose
    result = AUTH_IDTOKEN_BAD_ALG;
    if (!s_string_is (json_object_get (head, "alg"), "RS256") || json_object_get (head, "crit"))
        goto cleanup;
    result = AUTH_IDTOKEN_UNKNOWN_KID;
    const s_key_t *key = s_find_key (keys, head);
    if (!key)
        goto cleanup;
    result = AUTH_IDTOKEN_BAD_SIGNATURE;
    ERR_set_mark ();
    bool valid = s_signature_ok (key, signature, signature_len, token, (size_t) (dot2 - token));
    ERR_pop_to_mark ();
    if (!valid)
        goto cleanup;
    result = AUTH_IDTOKEN_MALFORMED;
    body = json_loadb ((const char *) payload, payload_len, JSON_REJECT_DUPLICATES, &error);
    if (!json_is_object (body))
        goto cleanup;
    result = s_check_claims (body, expect, claims);

cleanup:
    if (result != AUTH_IDTOKEN_OK)
        memset (claims, 0, sizeof *claims);
    json_decref (head);
    json_decref (body);
    return result;
}

const char *
auth_idtoken_result_str (auth_idtoken_result_t result)
{
    switch (result) {
        case AUTH_IDTOKEN_OK:               return "ok";
        case AUTH_IDTOKEN_MALFORMED:        return "malformed";
        case AUTH_IDTOKEN_BAD_ALG:          return "bad_alg";
        case AUTH_IDTOKEN_UNKNOWN_KID:      return "unknown_kid";
        case AUTH_IDTOKEN_BAD_SIGNATURE:    return "bad_signature";
        case AUTH_IDTOKEN_BAD_ISSUER:       return "bad_issuer";
        case AUTH_IDTOKEN_BAD_AUDIENCE:     return "bad_audience";
        case AUTH_IDTOKEN_EXPIRED:          return "expired";
        case AUTH_IDTOKEN_BAD_NONCE:        return "bad_nonce";
        case AUTH_IDTOKEN_BAD_CLAIMS:       return "bad_claims";
    }
    return "unknown";
}
