/*  test_auth_idtoken - provider ID tokens: only RS256 by a known key, for us, now, this nonce */
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include "../../../services/auth/auth_idtoken.h"
#include "cm_jwt.h"

#define ISSUER "https://idp.example"
#define CLIENT "client-1"
#define NOW    1800000000

static EVP_PKEY *s_key;
static auth_jwks_t *s_jwks;

static void
s_b64 (const uint8_t *in, size_t len, char *out, size_t size)
{
    cr_assert_geq (cm_jwt_b64url_encode (in, len, out, size), 0);
}

static void
s_setup (void)
{
    s_key = EVP_RSA_gen (2048);
    cr_assert_not_null (s_key);
    BIGNUM *n = NULL, *e = NULL;
    EVP_PKEY_get_bn_param (s_key, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param (s_key, OSSL_PKEY_PARAM_RSA_E, &e);
    uint8_t raw [512];
    char n64 [600], e64 [16];
    s_b64 (raw, (size_t) BN_bn2bin (n, raw), n64, sizeof n64);
    s_b64 (raw, (size_t) BN_bn2bin (e, raw), e64, sizeof e64);
    BN_free (n);
    BN_free (e);
    char jwks [2048];
    //  An encryption key and an EC key beside ours are skipped, not fatal
    snprintf (jwks, sizeof jwks, "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"enc\",\"kid\":\"e1\",\"n\":\"%s\",\"e\":\"%s\"},"
              "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec\",\"x\":\"a\",\"y\":\"b\"},"
              "{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"kid\":\"k1\",\"n\":\"%s\",\"e\":\"%s\"}]}",
              n64, e64, n64, e64);
    s_jwks = auth_jwks_parse (jwks, strlen (jwks));
    cr_assert_not_null (s_jwks);
    cr_assert_eq (auth_jwks_count (s_jwks), 1);
}

static void
s_teardown (void)
{
    auth_jwks_destroy (&s_jwks);
    cr_assert_null (s_jwks);
    EVP_PKEY_free (s_key);
}

TestSuite (auth_idtoken, .init = s_setup, .fini = s_teardown);

//  header and payload as JSON text, signed RS256 by s_key
static char *
s_token (const char *header, const char *payload)
{
    static char token [8192];
    char h [1024], p [2048];
    s_b64 ((const uint8_t *) header, strlen (header), h, sizeof h);
    s_b64 ((const uint8_t *) payload, strlen (payload), p, sizeof p);
    snprintf (token, sizeof token, "%s.%s", h, p);
    uint8_t sig [512];
    size_t sig_len = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new ();
    cr_assert_eq (EVP_DigestSignInit (md, NULL, EVP_sha256 (), NULL, s_key), 1);
    cr_assert_eq (EVP_DigestSign (md, sig, &sig_len, (const uint8_t *) token, strlen (token)), 1);
    EVP_MD_CTX_free (md);
    size_t used = strlen (token);
    token [used++] = '.';
    s_b64 (sig, sig_len, token + used, sizeof token - used);
    return token;
}

static const char *s_header = "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}";

static char *
s_payload (const char *iss, const char *aud_json, long long iat, long long exp, const char *nonce)
{
    static char payload [1024];
    snprintf (payload, sizeof payload, "{\"iss\":\"%s\",\"sub\":\"1001\",\"aud\":%s,\"iat\":%lld,\"exp\":%lld,"
              "\"nonce\":\"%s\",\"email\":\"a@example.org\",\"email_verified\":true,\"name\":\"A\"}",
              iss, aud_json, iat, exp, nonce);
    return payload;
}

static auth_idtoken_result_t
s_verify (const char *token, const char *issuer)
{
    auth_idtoken_expect_t expect = { issuer, CLIENT, "n-1", NOW };
    auth_idtoken_claims_t claims;
    auth_idtoken_result_t result = auth_idtoken_verify (s_jwks, token, &expect, &claims);
    if (result == AUTH_IDTOKEN_OK) {
        cr_assert_str_eq (claims.sub, "1001");
        cr_assert_str_eq (claims.email, "a@example.org");
        cr_assert (claims.email_verified);
    }
    else
        cr_assert_str_empty (claims.sub, "nothing is left from a refused token");
    return result;
}

Test (auth_idtoken, a_good_token_verifies)
{
    cr_assert_eq (s_verify (s_token (s_header, s_payload (ISSUER, "\"" CLIENT "\"", NOW - 5, NOW + 300, "n-1")),
                            ISSUER), AUTH_IDTOKEN_OK);
    //  aud as a list naming us, with azp
    char payload [1200];
    snprintf (payload, sizeof payload, "%.*s,\"azp\":\"" CLIENT "\"}",
              (int) strlen (s_payload (ISSUER, "[\"other\",\"" CLIENT "\"]", NOW, NOW + 300, "n-1")) - 1,
              s_payload (ISSUER, "[\"other\",\"" CLIENT "\"]", NOW, NOW + 300, "n-1"));
    cr_assert_eq (s_verify (s_token (s_header, payload), ISSUER), AUTH_IDTOKEN_OK);
}

Test (auth_idtoken, each_wrong_claim_is_named)
{
    cr_assert_eq (s_verify (s_token (s_header, s_payload (ISSUER, "\"" CLIENT "\"", NOW, NOW + 300, "n-2")),
                            ISSUER), AUTH_IDTOKEN_BAD_NONCE);
    cr_assert_eq (s_verify (s_token (s_header, s_payload ("https://evil", "\"" CLIENT "\"", NOW, NOW + 300, "n-1")),
                            ISSUER), AUTH_IDTOKEN_BAD_ISSUER);
    cr_assert_eq (s_verify (s_token (s_header, s_payload (ISSUER, "\"other\"", NOW, NOW + 300, "n-1")),
                            ISSUER), AUTH_IDTOKEN_BAD_AUDIENCE);
    //  Several audiences without azp naming us
    cr_assert_eq (s_verify (s_token (s_header, s_payload (ISSUER, "[\"other\",\"" CLIENT "\"]", NOW, NOW + 300, "n-1")),
                            ISSUER), AUTH_IDTOKEN_BAD_AUDIENCE);
    cr_assert_eq (s_verify (s_token (s_header, s_payload (ISSUER, "\"" CLIENT "\"", NOW - 4000, NOW - 100, "n-1")),
                            ISSUER), AUTH_IDTOKEN_EXPIRED);
    cr_assert_eq (s_verify (s_token (s_header, s_payload (ISSUER, "\"" CLIENT "\"", NOW + 3600, NOW + 4000, "n-1")),
                            ISSUER), AUTH_IDTOKEN_EXPIRED, "issued in the future");
}

Test (auth_idtoken, only_rs256_by_a_known_key)
{
    const char *payload = s_payload (ISSUER, "\"" CLIENT "\"", NOW, NOW + 300, "n-1");
    cr_assert_eq (s_verify (s_token ("{\"alg\":\"none\",\"kid\":\"k1\"}", payload), ISSUER), AUTH_IDTOKEN_BAD_ALG);
    cr_assert_eq (s_verify (s_token ("{\"alg\":\"HS256\",\"kid\":\"k1\"}", payload), ISSUER), AUTH_IDTOKEN_BAD_ALG);
    cr_assert_eq (s_verify (s_token ("{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"x\"]}", payload), ISSUER),
                  AUTH_IDTOKEN_BAD_ALG);
    cr_assert_eq (s_verify (s_token ("{\"alg\":\"RS256\",\"kid\":\"k9\"}", payload), ISSUER), AUTH_IDTOKEN_UNKNOWN_KID);
    cr_assert_eq (s_verify (s_token ("{\"alg\":\"RS256\",\"kid\":\"e1\"}", payload), ISSUER), AUTH_IDTOKEN_UNKNOWN_KID,
                  "an encryption key never verifies");
    //  One bit of the signature flipped
    char *token = s_token (s_header, payload);
    char *last = token + strlen (token) - 2;
    *last = *last == 'A'? 'B': 'A';
    cr_assert_eq (s_verify (token, ISSUER), AUTH_IDTOKEN_BAD_SIGNATURE);
    cr_assert_eq (s_verify ("a.b", ISSUER), AUTH_IDTOKEN_MALFORMED);
    cr_assert_eq (s_verify ("", ISSUER), AUTH_IDTOKEN_MALFORMED);
    cr_assert_eq (auth_idtoken_verify (NULL, s_token (s_header, payload),
                  &(auth_idtoken_expect_t) { ISSUER, CLIENT, "n-1", NOW }, &(auth_idtoken_claims_t) { 0 }),
                  AUTH_IDTOKEN_UNKNOWN_KID, "no key set, no token");
}

Test (auth_idtoken, a_multi_tenant_issuer_takes_the_tenant_of_the_token)
{
    const char *tid = "9188040d-6c67-4c5b-b112-36a304b66dad";
    char iss [256], payload [1200];
    snprintf (iss, sizeof iss, "https://login.example/%s/v2.0", tid);
    const char *base = s_payload (iss, "\"" CLIENT "\"", NOW, NOW + 300, "n-1");
    snprintf (payload, sizeof payload, "%.*s,\"tid\":\"%s\"}", (int) strlen (base) - 1, base, tid);
    cr_assert_eq (s_verify (s_token (s_header, payload), "https://login.example/{tenantid}/v2.0"), AUTH_IDTOKEN_OK);
    //  Another tenant's token with our issuer text is still another issuer
    snprintf (payload, sizeof payload, "%.*s,\"tid\":\"00000000-0000-0000-0000-000000000000\"}",
              (int) strlen (base) - 1, base);
    cr_assert_eq (s_verify (s_token (s_header, payload), "https://login.example/{tenantid}/v2.0"),
                  AUTH_IDTOKEN_BAD_ISSUER);
}

Test (auth_idtoken, a_jwks_without_usable_keys_is_refused)
{
    const char *docs [] = { "", "[]", "{\"keys\":{}}", "{\"keys\":[]}",
                            "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}" };
    for (size_t i = 0; i < sizeof docs / sizeof docs [0]; i++)
        cr_assert_null (auth_jwks_parse (docs [i], strlen (docs [i])), "%s", docs [i]);
}
