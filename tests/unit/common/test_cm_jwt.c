/*  test_cm_jwt - ES256 tokens round-trip, and every forgery we know is refused

    Tokens the tests forge are built here with OpenSSL directly (our own
    base64url via EVP_EncodeBlock, our own DER to r || s), so the module is
    checked against an independent encoder, not against itself.
*/
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include "cm_jwt.h"
#include "tmpdir.h"

#define NOW     1760000000LL
#define ISS     "https://auth.example.test"
#define AUD     "api.example.test"
#define SUB     "0b6c1f9e-3d2a-4c8b-9f1e-7a5d3c2b1a09"
#define SID     "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716"

//  One timeout for every test: criterion 2.4.1's runner leaks a timer entry
//  when tests with different timeouts overlap under --jobs, so equal ones
//  keep this binary clean under LeakSanitizer even without suppressions
#define TEST_TIMEOUT 60

static char s_dir [64];                 //  temporary KEYS_DIR/jwt
static EVP_PKEY *s_old_key;             //  written first, older mtime
static EVP_PKEY *s_new_key;             //  newest: the signing key
static char s_old_kid [64];
static char s_new_kid [64];
static cm_jwt_keys_t *s_keys;           //  loaded from s_dir


//  --------------------------------------------------------------------------
//  Base64url of len bytes via OpenSSL's standard encoder, translated: an
//  encoder independent of the one under test.

static void
s_b64 (const void *data, size_t len, char *out)
{
    int n = EVP_EncodeBlock ((unsigned char *) out, (const unsigned char *) data, (int) len);
    while (n > 0 && out [n - 1] == '=')
        n--;
    out [n] = '\0';
    for (int i = 0; i < n; i++)
        if (out [i] == '+')
            out [i] = '-';
        else
        if (out [i] == '/')
            out [i] = '_';
}


//  --------------------------------------------------------------------------
//  Public coordinates of a P-256 key, 32 bytes each.

static void
s_xy (EVP_PKEY *key, unsigned char *x, unsigned char *y)
{
    BIGNUM *bx = NULL, *by = NULL;
    cr_assert (EVP_PKEY_get_bn_param (key, OSSL_PKEY_PARAM_EC_PUB_X, &bx));
    cr_assert (EVP_PKEY_get_bn_param (key, OSSL_PKEY_PARAM_EC_PUB_Y, &by));
    cr_assert_eq (BN_bn2binpad (bx, x, 32), 32);
    cr_assert_eq (BN_bn2binpad (by, y, 32), 32);
    BN_free (bx);
    BN_free (by);
}


//  --------------------------------------------------------------------------
//  RFC 7638 thumbprint of key, as keygen names the files.

static void
s_thumbprint (EVP_PKEY *key, char *kid)
{
    unsigned char x [32], y [32], digest [32];
    char x64 [64], y64 [64], json [256];
    s_xy (key, x, y);
    s_b64 (x, 32, x64);
    s_b64 (y, 32, y64);
    snprintf (json, sizeof json, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
              x64, y64);
    cr_assert (EVP_Digest (json, strlen (json), digest, NULL, EVP_sha256 (), NULL));
    s_b64 (digest, 32, kid);
}


//  --------------------------------------------------------------------------
//  Write key as dir/<name>.pem (PKCS#8, given mode) with the given mtime.

static void
s_write_key (const char *dir, const char *name, EVP_PKEY *key, mode_t mode, time_t mtime)
{
    char path [256];
    snprintf (path, sizeof path, "%s/%s.pem", dir, name);
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    cr_assert_geq (fd, 0, "cannot create %s", path);
    FILE *file = fdopen (fd, "w");
    cr_assert_not_null (file);
    cr_assert (PEM_write_PrivateKey (file, key, NULL, NULL, 0, NULL, NULL));
    cr_assert_eq (fclose (file), 0);
    cr_assert_eq (chmod (path, mode), 0);
    struct timespec times [2] = { { mtime, 0 }, { mtime, 0 } };
    cr_assert_eq (utimensat (AT_FDCWD, path, times, 0), 0);
}


//  --------------------------------------------------------------------------
//  Remove every file in dir (the tests make no subdirectories), then dir.

static void
s_remove_dir (const char *dir)
{
    DIR *handle = opendir (dir);
    cr_assert_not_null (handle, "cannot open %s", dir);
    struct dirent *entry;
    while ((entry = readdir (handle)) != NULL)
        if (strcmp (entry->d_name, ".") != 0 && strcmp (entry->d_name, "..") != 0)
            cr_expect_eq (unlinkat (dirfd (handle), entry->d_name, 0), 0, "%s", entry->d_name);
    closedir (handle);
    cr_expect_eq (rmdir (dir), 0, "%s", dir);
}

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/cm_jwt_XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    s_old_key = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    s_new_key = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    cr_assert (s_old_key && s_new_key);
    s_thumbprint (s_old_key, s_old_kid);
    s_thumbprint (s_new_key, s_new_kid);
    //  Newest first on disk, so readdir order cannot pick the signer
    s_write_key (s_dir, s_new_kid, s_new_key, 0600, time (NULL));
    s_write_key (s_dir, s_old_kid, s_old_key, 0600, time (NULL) - 86400);
    s_keys = cm_jwt_keys_new ();
    cr_assert_not_null (s_keys);
    cr_assert_eq (cm_jwt_keys_load_dir (s_keys, s_dir), 0);
}

static void
s_teardown (void)
{
    cm_jwt_keys_destroy (&s_keys);
    EVP_PKEY_free (s_old_key);
    EVP_PKEY_free (s_new_key);
    s_remove_dir (s_dir);
}


//  --------------------------------------------------------------------------
//  Claims valid at NOW: issued 60 s ago for 15 minutes.

static void
s_claims (cm_jwt_claims_t *claims)
{
    memset (claims, 0, sizeof *claims);
    snprintf (claims->sub, sizeof claims->sub, SUB);
    snprintf (claims->sid, sizeof claims->sid, SID);
    snprintf (claims->roles [0], sizeof claims->roles [0], "user");
    snprintf (claims->roles [1], sizeof claims->roles [1], "admin");
    claims->roles_count = 2;
    snprintf (claims->amr [0], sizeof claims->amr [0], "pwd");
    snprintf (claims->amr [1], sizeof claims->amr [1], "otp");
    claims->amr_count = 2;
    claims->iat = NOW - 60;
    claims->nbf = NOW - 60;
    claims->exp = NOW - 60 + 900;
    claims->auth_time = NOW - 600;
    snprintf (claims->jti, sizeof claims->jti, "Zk3n-Q_8rT2");
}


//  --------------------------------------------------------------------------
//  ES256 raw r || s signature of data with key, computed independently.

static void
s_es256 (EVP_PKEY *key, const char *data, unsigned char *raw)
{
    unsigned char der [80];
    size_t der_len = sizeof der;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    cr_assert (EVP_DigestSignInit (ctx, NULL, EVP_sha256 (), NULL, key) == 1);
    cr_assert (EVP_DigestSign (ctx, der, &der_len, (const unsigned char *) data, strlen (data)) == 1);
    EVP_MD_CTX_free (ctx);
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG (NULL, &p, (long) der_len);
    cr_assert_not_null (sig);
    cr_assert_eq (BN_bn2binpad (ECDSA_SIG_get0_r (sig), raw, 32), 32);
    cr_assert_eq (BN_bn2binpad (ECDSA_SIG_get0_s (sig), raw + 32, 32), 32);
    ECDSA_SIG_free (sig);
}


//  --------------------------------------------------------------------------
//  header.payload from JSON texts into out.

static void
s_signing_input (const char *header, const char *payload, char *out, size_t size)
{
    char h [1024], p [4096];
    cr_assert_lt (strlen (header), sizeof h * 3 / 4);
    cr_assert_lt (strlen (payload), sizeof p * 3 / 4);
    s_b64 (header, strlen (header), h);
    s_b64 (payload, strlen (payload), p);
    cr_assert_lt ((size_t) snprintf (out, size, "%s.%s", h, p), size);
}


//  --------------------------------------------------------------------------
//  A token for any header and payload, signed with key; sig_len 63, 64 or
//  65 bytes (shorter cuts the signature, longer appends a zero byte).

static void
s_forge (const char *header, const char *payload, EVP_PKEY *key, size_t sig_len,
         char *out, size_t size)
{
    unsigned char raw [65] = { 0 };
    char sig [128];
    s_signing_input (header, payload, out, size);
    s_es256 (key, out, raw);
    s_b64 (raw, sig_len, sig);
    size_t len = strlen (out);
    cr_assert_lt ((size_t) snprintf (out + len, size - len, ".%s", sig), size - len);
}


//  --------------------------------------------------------------------------
//  The header we issue, for kid.

static void
s_header (char *out, size_t size, const char *kid)
{
    snprintf (out, size, "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
}


//  --------------------------------------------------------------------------
//  A payload like the ones we issue; aud is a JSON value, extra is added
//  before the closing brace (start it with a comma).

static void
s_payload (char *out, size_t size, const char *aud, const char *sub,
           long long iat, long long nbf, long long exp, const char *extra)
{
    snprintf (out, size,
              "{\"iss\":\"" ISS "\",\"aud\":%s,\"sub\":\"%s\",\"sid\":\"" SID "\","
              "\"roles\":[\"user\"],\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,"
              "\"auth_time\":%lld,\"amr\":[\"pwd\"],\"jti\":\"j1\"%s}",
              aud, sub, iat, nbf, exp, iat, extra);
}


//  --------------------------------------------------------------------------
//  Verify a forged token built from our header and payload at NOW.

static cm_jwt_result_t
s_verify_forged (const char *header, const char *payload)
{
    char token [CM_JWT_TOKEN_MAX + 512];
    cm_jwt_claims_t claims;
    s_forge (header, payload, s_new_key, 64, token, sizeof token);
    cm_jwt_result_t result = cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 30, &claims);
    if (result != CM_JWT_OK)
        cr_expect_eq (claims.sub [0], '\0', "claims must be zeroed on refusal");
    return result;
}


//  --------------------------------------------------------------------------
//  Verify a payload in our usual header, signed by the signing key.

static cm_jwt_result_t
s_verify_payload (const char *payload)
{
    char header [256];
    s_header (header, sizeof header, s_new_kid);
    return s_verify_forged (header, payload);
}


Test (cm_jwt_base64url, rfc4648_vectors, .timeout = TEST_TIMEOUT)
{
    const char *plain [] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    const char *coded [] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
    for (size_t i = 0; i < 7; i++) {
        char text [16];
        uint8_t bytes [16];
        size_t len = 99;
        cr_assert_eq (cm_jwt_b64url_encode ((const uint8_t *) plain [i], strlen (plain [i]),
                                            text, sizeof text), (int) strlen (coded [i]));
        cr_assert_str_eq (text, coded [i]);
        cr_assert_eq (cm_jwt_b64url_decode (coded [i], strlen (coded [i]), bytes, sizeof bytes,
                                            &len), 0);
        cr_assert_eq (len, strlen (plain [i]));
        cr_assert_eq (memcmp (bytes, plain [i], len), 0);
    }
    //  The two characters where base64url differs from base64
    const uint8_t url [] = { 0xfb, 0xff, 0xbf };
    char text [8];
    cr_assert_eq (cm_jwt_b64url_encode (url, sizeof url, text, sizeof text), 4);
    cr_assert_str_eq (text, "-_-_");
}

Test (cm_jwt_base64url, random_round_trip, .timeout = TEST_TIMEOUT)
{
    for (int round = 0; round < 2000; round++) {
        uint8_t data [100], back [100];
        char text [140], reference [140];
        size_t len = (size_t) (round % 101);
        size_t back_len = 0;
        cr_assert_eq (RAND_bytes (data, sizeof data), 1);
        int n = cm_jwt_b64url_encode (data, len, text, sizeof text);
        cr_assert_eq (n, (int) strlen (text));
        s_b64 (data, len, reference);
        cr_assert_str_eq (text, reference, "length %zu", len);
        cr_assert_eq (cm_jwt_b64url_decode (text, (size_t) n, back, sizeof back, &back_len), 0);
        cr_assert_eq (back_len, len);
        cr_assert_eq (memcmp (back, data, len), 0);
    }
}

Test (cm_jwt_base64url, strict_decoding_and_bounds, .timeout = TEST_TIMEOUT)
{
    const char *bad [] = {
        "Zg==", "Zm8=", "Zg=", "Zm 9v", "Zm9v\n", " Zm9v", "Zm9\tv", "+_8", "-/8", "Zm9v+A",
        "Z", "Zm9vY", "Zh", "Zm9", "Zm\0v"
    };
    //  "Zh" and "Zm9" leave non-zero bits behind: a second spelling of "f" / "fo"
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        uint8_t out [16];
        size_t len = 0;
        size_t text_len = i == 14? 4: strlen (bad [i]);
        cr_assert_eq (cm_jwt_b64url_decode (bad [i], text_len, out, sizeof out, &len), -1,
                      "accepted '%s'", bad [i]);
    }
    uint8_t out [3];
    size_t len = 0;
    cr_assert_eq (cm_jwt_b64url_decode ("Zm9vYg", 6, out, sizeof out, &len), -1, "overflow");
    cr_assert_eq (cm_jwt_b64url_decode ("Zm9v", 4, out, sizeof out, &len), 0);
    char text [4];
    cr_assert_eq (cm_jwt_b64url_encode ((const uint8_t *) "foo", 3, text, sizeof text), -1,
                  "no room for the NUL");
    char exact [5];
    cr_assert_eq (cm_jwt_b64url_encode ((const uint8_t *) "foo", 3, exact, sizeof exact), 4);
}

Test (cm_jwt, sign_verify_round_trip, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    cr_assert_eq (cm_jwt_keys_count (s_keys), 2);
    cm_jwt_claims_t in, out;
    char token [CM_JWT_TOKEN_MAX + 1];
    s_claims (&in);
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &in, token, sizeof token), 0);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 0, &out), CM_JWT_OK);

    cr_assert_str_eq (out.sub, SUB);
    cr_assert_str_eq (out.sid, SID);
    cr_assert_eq (out.roles_count, 2);
    cr_assert_str_eq (out.roles [0], "user");
    cr_assert_str_eq (out.roles [1], "admin");
    cr_assert_eq (out.amr_count, 2);
    cr_assert_str_eq (out.amr [0], "pwd");
    cr_assert_str_eq (out.amr [1], "otp");
    cr_assert_eq (out.iat, in.iat);
    cr_assert_eq (out.nbf, in.nbf);
    cr_assert_eq (out.exp, in.exp);
    cr_assert_eq (out.auth_time, in.auth_time);
    cr_assert_str_eq (out.jti, in.jti);

    //  The header is exactly ours, naming the newest key
    char expected [256], expected_b64 [512];
    s_header (expected, sizeof expected, s_new_kid);
    s_b64 (expected, strlen (expected), expected_b64);
    cr_assert_eq (strncmp (token, expected_b64, strlen (expected_b64)), 0);
    cr_assert_eq (token [strlen (expected_b64)], '.');
    //  86 characters of signature: 64 raw bytes, not DER
    cr_assert_eq (strlen (strrchr (token, '.') + 1), 86);

    //  With no jti, signing makes a random one
    char token2 [CM_JWT_TOKEN_MAX + 1];
    in.jti [0] = '\0';
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &in, token, sizeof token), 0);
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &in, token2, sizeof token2), 0);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 0, &out), CM_JWT_OK);
    cr_assert_geq (strlen (out.jti), 16);
    char jti [64];
    snprintf (jti, sizeof jti, "%s", out.jti);
    cr_assert_eq (cm_jwt_verify (s_keys, token2, ISS, AUD, NOW, 0, &out), CM_JWT_OK);
    cr_assert_str_neq (out.jti, jti);
}

//  The time rules alone say what verify says of a good token at any moment,
//  so a verifier that kept the claims may apply them again later
Test (cm_jwt, time_rules_alone_agree_with_verify, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    cm_jwt_claims_t in, out, kept;
    char token [CM_JWT_TOKEN_MAX + 1];
    s_claims (&in);
    in.nbf = NOW - 30;                  //  after iat, before now
    in.auth_time = NOW - 20;            //  the latest of them
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &in, token, sizeof token), 0);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 30, &kept), CM_JWT_OK);
    int verdicts [4] = { 0 };
    for (int64_t now = NOW - 200; now <= in.exp + 100; now += 5)
        for (int64_t leeway = 0; leeway <= 60; leeway += 30) {
            cm_jwt_result_t result = cm_jwt_verify (s_keys, token, ISS, AUD, now, leeway, &out);
            cr_assert_eq (cm_jwt_claims_current (&kept, now, leeway), result,
                          "now %lld leeway %lld: verify says %s", (long long) now, (long long) leeway,
                          cm_jwt_result_str (result));
            verdicts [result == CM_JWT_OK? 0: result == CM_JWT_EXPIRED? 1
                    : result == CM_JWT_NOT_YET_VALID? 2: 3]++;
        }
    //  Every rule was met on the way: early, valid, auth_time ahead, expired
    cr_assert (verdicts [0] && verdicts [1] && verdicts [2] && verdicts [3]);
    //  Without nbf there is no lower bound but iat's
    s_claims (&in);
    in.nbf = 0;
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &in, token, sizeof token), 0);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 0, &kept), CM_JWT_OK);
    cr_assert_eq (kept.nbf, 0);
    cr_assert_eq (cm_jwt_claims_current (&kept, in.iat, 0), CM_JWT_OK);
    cr_assert_eq (cm_jwt_claims_current (&kept, in.iat - 1, 0), CM_JWT_NOT_YET_VALID);
}

Test (cm_jwt, older_keys_still_verify, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    char header [256], payload [1024];
    s_header (header, sizeof header, s_old_kid);
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, NOW - 10, NOW - 10, NOW + 100, "");
    char token [CM_JWT_TOKEN_MAX];
    cm_jwt_claims_t claims;
    s_forge (header, payload, s_old_key, 64, token, sizeof token);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 0, &claims), CM_JWT_OK);
    //  The right kid with the other key's signature is still a forgery
    s_forge (header, payload, s_new_key, 64, token, sizeof token);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 0, &claims), CM_JWT_BAD_SIGNATURE);
}

Test (cm_jwt, public_jwk_verifier, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    cm_jwt_keys_t *gateway = cm_jwt_keys_new ();
    cr_assert_not_null (gateway);
    bool saw_new = false;
    for (size_t i = 0; i < cm_jwt_keys_count (s_keys); i++) {
        char kid [CM_JWT_KID_MAX], x [CM_JWT_COORD_B64], y [CM_JWT_COORD_B64];
        cr_assert_eq (cm_jwt_keys_jwk (s_keys, i, kid, sizeof kid, x, sizeof x, y, sizeof y), 0);
        cr_assert_eq (strlen (x), 43);
        cr_assert_eq (strlen (y), 43);
        if (strcmp (kid, s_new_kid) == 0) {
            unsigned char bx [32], by [32];
            char x64 [64], y64 [64];
            s_xy (s_new_key, bx, by);
            s_b64 (bx, 32, x64);
            s_b64 (by, 32, y64);
            cr_assert_str_eq (x, x64);
            cr_assert_str_eq (y, y64);
            saw_new = true;
        }
        cr_assert_eq (cm_jwt_keys_add_public_jwk (gateway, kid, x, y), 0);
        cr_assert_eq (cm_jwt_keys_add_public_jwk (gateway, kid, x, y), -1, "duplicate kid");
    }
    cr_assert (saw_new);
    char kid [CM_JWT_KID_MAX], x [4], y [CM_JWT_COORD_B64];
    cr_assert_eq (cm_jwt_keys_jwk (s_keys, 0, kid, sizeof kid, x, sizeof x, y, sizeof y), -1);
    cr_assert_eq (cm_jwt_keys_jwk (s_keys, 2, kid, sizeof kid, y, sizeof y, y, sizeof y), -1);

    cm_jwt_claims_t in, out;
    char token [CM_JWT_TOKEN_MAX + 1];
    s_claims (&in);
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &in, token, sizeof token), 0);
    cr_assert_eq (cm_jwt_verify (gateway, token, ISS, AUD, NOW, 0, &out), CM_JWT_OK);
    cr_assert_str_eq (out.sub, SUB);
    cr_assert_eq (cm_jwt_sign (gateway, ISS, AUD, &in, token, sizeof token), -1,
                  "public keys cannot sign");
    cr_assert_str_eq (token, "");
    cm_jwt_keys_destroy (&gateway);
    cr_assert_null (gateway);
    cm_jwt_keys_destroy (&gateway);
}

Test (cm_jwt, bad_public_jwks_refused, .timeout = TEST_TIMEOUT)
{
    cm_jwt_keys_t *keys = cm_jwt_keys_new ();
    EVP_PKEY *key = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    unsigned char bx [32], by [32];
    char x [64], y [64], kid [64];
    s_xy (key, bx, by);
    s_b64 (bx, 32, x);
    s_b64 (by, 32, y);
    s_thumbprint (key, kid);

    cr_assert_eq (cm_jwt_keys_add_public_jwk (keys, "", x, y), -1);
    cr_assert_eq (cm_jwt_keys_add_public_jwk (keys, "../etc", x, y), -1);
    cr_assert_eq (cm_jwt_keys_add_public_jwk (keys, kid, y, y), -1, "point not on the curve");
    cr_assert_eq (cm_jwt_keys_add_public_jwk (keys, kid, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                              "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), -1);
    char padded [72];
    snprintf (padded, sizeof padded, "%s=", x);
    cr_assert_eq (cm_jwt_keys_add_public_jwk (keys, kid, padded, y), -1);
    cr_assert_eq (cm_jwt_keys_add_public_jwk (keys, kid, x + 1, y), -1, "42 chars");
    cr_assert_eq (cm_jwt_keys_count (keys), 0);
    cr_assert_eq (cm_jwt_keys_add_public_jwk (keys, kid, x, y), 0);
    cr_assert_eq (cm_jwt_keys_count (keys), 1);
    EVP_PKEY_free (key);
    cm_jwt_keys_destroy (&keys);
}

Test (cm_jwt, bad_key_dirs_refused, .timeout = TEST_TIMEOUT)
{
    char dir [64] = "/tmp/cm_jwt_XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    cm_jwt_keys_t *keys = cm_jwt_keys_new ();
    EVP_PKEY *key = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    char kid [64], path [256];
    s_thumbprint (key, kid);

    cr_assert_eq (cm_jwt_keys_load_dir (keys, dir), -1, "no key at all");
    cr_assert_eq (cm_jwt_keys_load_dir (keys, "/nonexistent/cm_jwt"), -1);

    //  Readable by others
    s_write_key (dir, kid, key, 0644, time (NULL));
    cr_assert_eq (cm_jwt_keys_load_dir (keys, dir), -1);
    snprintf (path, sizeof path, "%s/%s.pem", dir, kid);
    cr_assert_eq (chmod (path, 0600), 0);
    //  A file whose name is not its key's thumbprint
    s_write_key (dir, "not-the-thumbprint", key, 0600, time (NULL));
    cr_assert_eq (cm_jwt_keys_load_dir (keys, dir), -1);
    cr_assert_eq (cm_jwt_keys_count (keys), 0, "a failed load leaves the set alone");
    snprintf (path, sizeof path, "%s/not-the-thumbprint.pem", dir);
    cr_assert_eq (unlink (path), 0);
    //  Not a key at all
    snprintf (path, sizeof path, "%s/garbage.pem", dir);
    FILE *file = fopen (path, "w");
    //  A PEM frame around garbage (split so key scanners see no key here)
    fputs ("-----BEGIN " "PRIVATE KEY-----\nnonsense\n-----END " "PRIVATE KEY-----\n", file);
    fclose (file);
    cr_assert_eq (chmod (path, 0600), 0);
    cr_assert_eq (cm_jwt_keys_load_dir (keys, dir), -1);
    cr_assert_eq (unlink (path), 0);

    //  Files that are not *.pem are none of our business
    snprintf (path, sizeof path, "%s/%s.pem.tmp", dir, kid);
    file = fopen (path, "w");
    fclose (file);
    cr_assert_eq (cm_jwt_keys_load_dir (keys, dir), 0);
    cr_assert_eq (cm_jwt_keys_count (keys), 1);
    cr_assert_eq (cm_jwt_keys_load_dir (keys, dir), -1, "one signing key per set");
    cr_assert_eq (cm_jwt_keys_count (keys), 1);

    EVP_PKEY_free (key);
    cm_jwt_keys_destroy (&keys);
    s_remove_dir (dir);
}

//  --------------------------------------------------------------------------
//  Replace dir/rotation with text.

static void
s_write_rotation (const char *dir, const char *text)
{
    char path [256];
    snprintf (path, sizeof path, "%s/rotation", dir);
    unlink (path);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file, "cannot create %s", path);
    cr_assert_geq (fputs (text, file), 0);
    cr_assert_eq (fclose (file), 0);
}


//  --------------------------------------------------------------------------
//  Assert that keys signs as kid with key: the set names it, a token it
//  issues carries it, and only key's public half verifies that token.

static void
s_assert_signs_with (const cm_jwt_keys_t *keys, const char *kid, EVP_PKEY *key)
{
    const char *signer = cm_jwt_keys_signer (keys);
    cr_assert_not_null (signer, "the set does not sign");
    cr_assert_str_eq (signer, kid);

    cm_jwt_claims_t in, out;
    char token [CM_JWT_TOKEN_MAX + 1], header [256], header_b64 [512];
    s_claims (&in);
    cr_assert_eq (cm_jwt_sign (keys, ISS, AUD, &in, token, sizeof token), 0);
    s_header (header, sizeof header, kid);
    s_b64 (header, strlen (header), header_b64);
    cr_assert_eq (strncmp (token, header_b64, strlen (header_b64)), 0, "token not under %s", kid);
    cr_assert_eq (token [strlen (header_b64)], '.');

    cm_jwt_keys_t *verifier = cm_jwt_keys_new ();
    cr_assert_not_null (verifier);
    unsigned char bx [32], by [32];
    char x [64], y [64];
    s_xy (key, bx, by);
    s_b64 (bx, 32, x);
    s_b64 (by, 32, y);
    cr_assert_eq (cm_jwt_keys_add_public_jwk (verifier, kid, x, y), 0);
    cr_assert_eq (cm_jwt_verify (verifier, token, ISS, AUD, NOW, 0, &out), CM_JWT_OK,
                  "not signed by %s's key", kid);
    cm_jwt_keys_destroy (&verifier);
}

Test (cm_jwt, rotation_file_names_the_signer, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    //  Without the file the newest key signs (s_setup loaded s_keys so)
    s_assert_signs_with (s_keys, s_new_kid, s_new_key);

    //  The older key named as signing wins over mtime; the newer only verifies
    char text [512];
    snprintf (text, sizeof text, "%s signing 1760000000\n%s next 1760000100\n",
              s_old_kid, s_new_kid);
    s_write_rotation (s_dir, text);
    cm_jwt_keys_t *keys = cm_jwt_keys_new ();
    cr_assert_not_null (keys);
    cr_assert_eq (cm_jwt_keys_load_dir (keys, s_dir), 0);
    cr_assert_eq (cm_jwt_keys_count (keys), 2, "every key is published");
    s_assert_signs_with (keys, s_old_kid, s_old_key);
    //  Its tokens verify on a set that learned both keys before
    cm_jwt_claims_t in, out;
    char token [CM_JWT_TOKEN_MAX + 1];
    s_claims (&in);
    cr_assert_eq (cm_jwt_sign (keys, ISS, AUD, &in, token, sizeof token), 0);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 0, &out), CM_JWT_OK);
    cm_jwt_keys_destroy (&keys);

    //  After the promotion the new one signs; a line left for a key whose
    //  file is already gone does no harm
    snprintf (text, sizeof text,
              "%s retired 1760000200\n%s signing 1760000200\nc29tZS1vdGhlci1rZXk retired 5\n",
              s_old_kid, s_new_kid);
    s_write_rotation (s_dir, text);
    keys = cm_jwt_keys_new ();
    cr_assert_eq (cm_jwt_keys_load_dir (keys, s_dir), 0);
    cr_assert_eq (cm_jwt_keys_count (keys), 2);
    s_assert_signs_with (keys, s_new_kid, s_new_key);
    cm_jwt_keys_destroy (&keys);
}

Test (cm_jwt, rotation_signer_without_key_refused, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    //  A set that already holds a verify-only key, to see it left alone
    EVP_PKEY *other = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    cr_assert_not_null (other);
    unsigned char bx [32], by [32];
    char x [64], y [64], other_kid [64], text [512];
    s_xy (other, bx, by);
    s_b64 (bx, 32, x);
    s_b64 (by, 32, y);
    s_thumbprint (other, other_kid);
    cm_jwt_keys_t *keys = cm_jwt_keys_new ();
    cr_assert_not_null (keys);
    cr_assert_eq (cm_jwt_keys_add_public_jwk (keys, other_kid, x, y), 0);

    //  The signer named is a real key's thumbprint, but its .pem is not here
    snprintf (text, sizeof text, "%s retired 1760000000\n%s signing 1760000000\n",
              s_old_kid, other_kid);
    s_write_rotation (s_dir, text);
    cr_assert_eq (cm_jwt_keys_load_dir (keys, s_dir), -1);
    cr_assert_eq (cm_jwt_keys_count (keys), 1, "a failed load leaves the set alone");
    cr_assert_null (cm_jwt_keys_signer (keys));
    //  ... nor a kid of no key at all
    s_write_rotation (s_dir, "c29tZS1vdGhlci1rZXk signing 1760000000\n");
    cr_assert_eq (cm_jwt_keys_load_dir (keys, s_dir), -1);
    cr_assert_eq (cm_jwt_keys_count (keys), 1);
    cr_assert_null (cm_jwt_keys_signer (keys));

    //  Naming a key that is here, the same set loads
    snprintf (text, sizeof text, "%s signing 1760000000\n", s_old_kid);
    s_write_rotation (s_dir, text);
    cr_assert_eq (cm_jwt_keys_load_dir (keys, s_dir), 0);
    cr_assert_eq (cm_jwt_keys_count (keys), 3);
    s_assert_signs_with (keys, s_old_kid, s_old_key);
    cm_jwt_keys_destroy (&keys);
    EVP_PKEY_free (other);
}

Test (cm_jwt, malformed_rotation_refused, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    char bad [5][512];
    snprintf (bad [0], sizeof bad [0], "%s signing\n", s_old_kid);
    snprintf (bad [1], sizeof bad [1], "%s signing 1\n%s signing 2\n", s_old_kid, s_new_kid);
    snprintf (bad [2], sizeof bad [2], "%s signing 1\n%s retired 2\n", s_old_kid, s_old_kid);
    snprintf (bad [3], sizeof bad [3], "%s promoted 1\n", s_old_kid);
    snprintf (bad [4], sizeof bad [4], "%s signing 1\n../%s next 2\n", s_old_kid, s_new_kid);
    for (size_t i = 0; i < 5; i++) {
        s_write_rotation (s_dir, bad [i]);
        cm_jwt_keys_t *keys = cm_jwt_keys_new ();
        cr_assert_eq (cm_jwt_keys_load_dir (keys, s_dir), -1, "accepted: %s", bad [i]);
        cr_assert_eq (cm_jwt_keys_count (keys), 0, "%s", bad [i]);
        cr_assert_null (cm_jwt_keys_signer (keys), "%s", bad [i]);
        cm_jwt_keys_destroy (&keys);
    }
    //  A rotation "file" that is a directory is no file at all
    char path [256];
    snprintf (path, sizeof path, "%s/rotation", s_dir);
    cr_assert_eq (unlink (path), 0);
    cr_assert_eq (mkdir (path, 0700), 0);
    cm_jwt_keys_t *keys = cm_jwt_keys_new ();
    cr_assert_eq (cm_jwt_keys_load_dir (keys, s_dir), -1, "directory accepted");
    cr_assert_eq (cm_jwt_keys_count (keys), 0);
    cr_assert_eq (rmdir (path), 0);

    //  Control: the first line alone, well formed, loads
    char good [512];
    snprintf (good, sizeof good, "%s signing 1\n", s_old_kid);
    s_write_rotation (s_dir, good);
    cr_assert_eq (cm_jwt_keys_load_dir (keys, s_dir), 0);
    s_assert_signs_with (keys, s_old_kid, s_old_key);
    cm_jwt_keys_destroy (&keys);
}

Test (cm_jwt, rotation_without_signer_refused, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    //  A file that names keys but none as signing must not fall back to
    //  mtime: auth would sign with a key the operator did not choose
    char text [512];
    snprintf (text, sizeof text, "%s retired 1760000000\n%s next 1760000000\n",
              s_old_kid, s_new_kid);
    const char *texts [] = { text, "" };
    for (size_t i = 0; i < 2; i++) {
        s_write_rotation (s_dir, texts [i]);
        cm_jwt_keys_t *keys = cm_jwt_keys_new ();
        cr_assert_eq (cm_jwt_keys_load_dir (keys, s_dir), -1, "accepted '%s'", texts [i]);
        cr_assert_eq (cm_jwt_keys_count (keys), 0);
        cr_assert_null (cm_jwt_keys_signer (keys));
        cm_jwt_keys_destroy (&keys);
    }
    //  Control: with the file gone the newest signs again
    char path [256];
    snprintf (path, sizeof path, "%s/rotation", s_dir);
    cr_assert_eq (unlink (path), 0);
    cm_jwt_keys_t *keys = cm_jwt_keys_new ();
    cr_assert_eq (cm_jwt_keys_load_dir (keys, s_dir), 0);
    s_assert_signs_with (keys, s_new_kid, s_new_key);
    cm_jwt_keys_destroy (&keys);
}

Test (cm_jwt, sign_refuses_bad_claims, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    cm_jwt_claims_t claims;
    char token [CM_JWT_TOKEN_MAX + 1];

    s_claims (&claims);
    claims.exp = claims.iat + 901;
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &claims, token, sizeof token), -1);
    cr_assert_str_eq (token, "");
    s_claims (&claims);
    claims.sub [0] = 'G';
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &claims, token, sizeof token), -1);
    s_claims (&claims);
    claims.roles_count = 9;
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &claims, token, sizeof token), -1);
    s_claims (&claims);
    claims.amr_count = 0;
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &claims, token, sizeof token), -1);
    s_claims (&claims);
    snprintf (claims.roles [0], sizeof claims.roles [0], "a\"b");
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &claims, token, sizeof token), -1);
    s_claims (&claims);
    cr_assert_eq (cm_jwt_sign (s_keys, "", AUD, &claims, token, sizeof token), -1);
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &claims, token, 100), -1, "too small");
    cr_assert_str_eq (token, "");
}

Test (cm_jwt, tampering_refused, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    cm_jwt_claims_t in, out;
    char token [CM_JWT_TOKEN_MAX + 1], copy [CM_JWT_TOKEN_MAX + 8];
    s_claims (&in);
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &in, token, sizeof token), 0);
    char *payload = strchr (token, '.') + 1;
    char *signature = strrchr (token, '.') + 1;

    //  One flipped character in the middle of the payload, then the signature
    memcpy (copy, token, sizeof token);
    size_t at = (size_t) (payload - token) + 10;
    copy [at] = copy [at] == 'A'? 'B': 'A';
    cr_assert_eq (cm_jwt_verify (s_keys, copy, ISS, AUD, NOW, 0, &out), CM_JWT_BAD_SIGNATURE);
    cr_assert_eq (out.sub [0], '\0');
    memcpy (copy, token, sizeof token);
    at = (size_t) (signature - token) + 20;
    copy [at] = copy [at] == 'A'? 'B': 'A';
    cr_assert_eq (cm_jwt_verify (s_keys, copy, ISS, AUD, NOW, 0, &out), CM_JWT_BAD_SIGNATURE);

    //  Characters from plain base64, padding, whitespace: not base64url
    const char *intruders [] = { "+", "/", "=", " ", "\n" };
    for (size_t i = 0; i < 5; i++) {
        memcpy (copy, token, sizeof token);
        copy [(size_t) (payload - token) + 10] = intruders [i][0];
        cr_assert_eq (cm_jwt_verify (s_keys, copy, ISS, AUD, NOW, 0, &out), CM_JWT_MALFORMED,
                      "payload with '%s'", intruders [i]);
    }
    snprintf (copy, sizeof copy, "%s==", token);
    cr_assert_eq (cm_jwt_verify (s_keys, copy, ISS, AUD, NOW, 0, &out), CM_JWT_MALFORMED);
    //  The 86-char signature as padded base64 "...==" (88 chars)
    memcpy (copy, token, sizeof token);
    size_t len = strlen (copy);
    copy [len - 2] = '=';
    copy [len - 1] = '=';
    cr_assert_eq (cm_jwt_verify (s_keys, copy, ISS, AUD, NOW, 0, &out), CM_JWT_MALFORMED);
}

Test (cm_jwt, signature_length_and_range, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    char header [256], payload [1024], token [CM_JWT_TOKEN_MAX + 256];
    cm_jwt_claims_t claims;
    s_header (header, sizeof header, s_new_kid);
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, NOW - 10, NOW - 10, NOW + 100, "");

    s_forge (header, payload, s_new_key, 64, token, sizeof token);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 0, &claims), CM_JWT_OK);
    s_forge (header, payload, s_new_key, 63, token, sizeof token);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 0, &claims), CM_JWT_BAD_SIGNATURE);
    s_forge (header, payload, s_new_key, 65, token, sizeof token);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 0, &claims), CM_JWT_BAD_SIGNATURE);

    //  r = 0, r = n, s = n: out of range, refused before any curve work
    static const unsigned char order [32] = {
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51
    };
    unsigned char raw [64];
    char input [CM_JWT_TOKEN_MAX], sig [128];
    s_signing_input (header, payload, input, sizeof input);
    for (int variant = 0; variant < 4; variant++) {
        s_es256 (s_new_key, input, raw);
        if (variant == 0)
            memset (raw, 0, 32);
        else
        if (variant == 1)
            memcpy (raw, order, 32);
        else
        if (variant == 2)
            memcpy (raw + 32, order, 32);
        else
            memset (raw, 0, 64);
        s_b64 (raw, 64, sig);
        snprintf (token, sizeof token, "%s.%s", input, sig);
        cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 0, &claims),
                      CM_JWT_BAD_SIGNATURE, "variant %d", variant);
    }
}

Test (cm_jwt, alg_none_refused, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    char payload [1024], h [256], p [2048], token [CM_JWT_TOKEN_MAX];
    cm_jwt_claims_t claims;
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, NOW - 10, NOW - 10, NOW + 100, "");
    s_b64 (payload, strlen (payload), p);
    const char *headers [] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",
        "{\"alg\":\"none\"}",
        "{\"alg\":\"None\",\"typ\":\"JWT\"}",
        "{\"typ\":\"JWT\"}",
    };
    for (size_t i = 0; i < 4; i++) {
        s_b64 (headers [i], strlen (headers [i]), h);
        snprintf (token, sizeof token, "%s.%s.", h, p);
        cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 0, &claims), CM_JWT_BAD_ALG,
                      "%s", headers [i]);
    }
    //  alg none naming a real kid is no better
    char header [256];
    snprintf (header, sizeof header, "{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"%s\"}", s_new_kid);
    s_b64 (header, strlen (header), h);
    snprintf (token, sizeof token, "%s.%s.", h, p);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 0, &claims), CM_JWT_BAD_ALG);
}

Test (cm_jwt, hs256_key_confusion_refused, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    //  The classic attack: HMAC keyed with the verifier's public key, in
    //  the hope that it is handed to HMAC as a "secret"
    char payload [1024], header [256], input [CM_JWT_TOKEN_MAX], token [CM_JWT_TOKEN_MAX + 128];
    char mac64 [64];
    unsigned char mac [32], point [65];
    unsigned int mac_len = 0;
    cm_jwt_claims_t claims;
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, NOW - 10, NOW - 10, NOW + 100, "");
    snprintf (header, sizeof header, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", s_new_kid);
    s_signing_input (header, payload, input, sizeof input);

    //  Keyed with the public key as PEM text, then as the raw point
    BIO *bio = BIO_new (BIO_s_mem ());
    cr_assert (PEM_write_bio_PUBKEY (bio, s_new_key));
    char *pem = NULL;
    long pem_len = BIO_get_mem_data (bio, &pem);
    cr_assert_not_null (HMAC (EVP_sha256 (), pem, (int) pem_len, (const unsigned char *) input,
                              strlen (input), mac, &mac_len));
    s_b64 (mac, mac_len, mac64);
    snprintf (token, sizeof token, "%s.%s", input, mac64);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 0, &claims), CM_JWT_BAD_ALG);
    BIO_free (bio);

    point [0] = 4;
    s_xy (s_new_key, point + 1, point + 33);
    cr_assert_not_null (HMAC (EVP_sha256 (), point, sizeof point, (const unsigned char *) input,
                              strlen (input), mac, &mac_len));
    s_b64 (mac, mac_len, mac64);
    snprintf (token, sizeof token, "%s.%s", input, mac64);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 0, &claims), CM_JWT_BAD_ALG);

    //  Other algorithms and spellings, each properly ES256-signed
    const char *algs [] = { "RS256", "ES384", "es256", "ES256 ", "PS256", "EdDSA" };
    for (size_t i = 0; i < 6; i++) {
        snprintf (header, sizeof header, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
                  algs [i], s_new_kid);
        cr_assert_eq (s_verify_forged (header, payload), CM_JWT_BAD_ALG, "%s", algs [i]);
    }
    snprintf (header, sizeof header, "{\"alg\":[\"ES256\"],\"kid\":\"%s\"}", s_new_kid);
    cr_assert_eq (s_verify_forged (header, payload), CM_JWT_BAD_ALG);
}

Test (cm_jwt, header_extras_refused, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    char payload [1024], header [1024];
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, NOW - 10, NOW - 10, NOW + 100, "");

    //  An attacker-supplied key embedded in the header, signed with that key
    EVP_PKEY *mallory = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    unsigned char bx [32], by [32];
    char x [64], y [64], token [CM_JWT_TOKEN_MAX];
    cm_jwt_claims_t claims;
    s_xy (mallory, bx, by);
    s_b64 (bx, 32, x);
    s_b64 (by, 32, y);
    snprintf (header, sizeof header,
              "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\","
              "\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}}",
              s_new_kid, x, y);
    s_forge (header, payload, mallory, 64, token, sizeof token);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 0, &claims), CM_JWT_BAD_ALG);
    //  ... even when signed with the real key
    cr_assert_eq (s_verify_forged (header, payload), CM_JWT_BAD_ALG);
    EVP_PKEY_free (mallory);

    const char *extras [] = {
        ",\"jku\":\"https://evil.test/jwks.json\"",
        ",\"x5u\":\"https://evil.test/cert.pem\"",
        ",\"x5c\":[\"MIIB\"]",
        ",\"crit\":[\"exp\"]",
        ",\"cty\":\"JWT\"",
    };
    for (size_t i = 0; i < 5; i++) {
        snprintf (header, sizeof header, "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"%s}",
                  s_new_kid, extras [i]);
        cr_assert_eq (s_verify_forged (header, payload), CM_JWT_BAD_ALG, "%s", extras [i]);
    }
    snprintf (header, sizeof header, "{\"alg\":\"ES256\",\"typ\":\"JWS\",\"kid\":\"%s\"}", s_new_kid);
    cr_assert_eq (s_verify_forged (header, payload), CM_JWT_BAD_ALG);
    //  typ is optional
    snprintf (header, sizeof header, "{\"alg\":\"ES256\",\"kid\":\"%s\"}", s_new_kid);
    cr_assert_eq (s_verify_forged (header, payload), CM_JWT_OK);
    //  Duplicate members in the header are not JSON we accept
    snprintf (header, sizeof header, "{\"alg\":\"ES256\",\"alg\":\"none\",\"kid\":\"%s\"}",
              s_new_kid);
    cr_assert_eq (s_verify_forged (header, payload), CM_JWT_MALFORMED);
    cr_assert_eq (s_verify_forged ("[\"ES256\"]", payload), CM_JWT_MALFORMED);
    cr_assert_eq (s_verify_forged ("not json", payload), CM_JWT_MALFORMED);
}

Test (cm_jwt, unknown_kid_refused, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    char payload [1024], header [256];
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, NOW - 10, NOW - 10, NOW + 100, "");
    s_header (header, sizeof header, "c29tZS1vdGhlci1rZXk");
    cr_assert_eq (s_verify_forged (header, payload), CM_JWT_UNKNOWN_KID);
    cr_assert_eq (s_verify_forged ("{\"alg\":\"ES256\",\"typ\":\"JWT\"}", payload),
                  CM_JWT_UNKNOWN_KID);
    cr_assert_eq (s_verify_forged ("{\"alg\":\"ES256\",\"kid\":7}", payload), CM_JWT_UNKNOWN_KID);
    //  A prefix of a real kid is not that kid
    char prefix [64];
    snprintf (prefix, sizeof prefix, "%.20s", s_new_kid);
    s_header (header, sizeof header, prefix);
    cr_assert_eq (s_verify_forged (header, payload), CM_JWT_UNKNOWN_KID);
}

Test (cm_jwt, issuer_and_audience, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    char payload [1024], token [CM_JWT_TOKEN_MAX + 1];
    cm_jwt_claims_t in, out;
    s_claims (&in);
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &in, token, sizeof token), 0);
    cr_assert_eq (cm_jwt_verify (s_keys, token, "https://evil.test", AUD, NOW, 0, &out),
                  CM_JWT_BAD_ISSUER);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS "/", AUD, NOW, 0, &out), CM_JWT_BAD_ISSUER);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, "other-api", NOW, 0, &out),
                  CM_JWT_BAD_AUDIENCE);
    cr_assert_eq (cm_jwt_verify (s_keys, token, ISS, "api.example", NOW, 0, &out),
                  CM_JWT_BAD_AUDIENCE);

    s_payload (payload, sizeof payload, "[\"other\",\"" AUD "\"]", SUB, NOW - 10, NOW - 10,
               NOW + 100, "");
    cr_assert_eq (s_verify_payload (payload), CM_JWT_OK);
    s_payload (payload, sizeof payload, "[\"other\"]", SUB, NOW - 10, NOW - 10, NOW + 100, "");
    cr_assert_eq (s_verify_payload (payload), CM_JWT_BAD_AUDIENCE);
    s_payload (payload, sizeof payload, "[]", SUB, NOW - 10, NOW - 10, NOW + 100, "");
    cr_assert_eq (s_verify_payload (payload), CM_JWT_BAD_AUDIENCE);
    s_payload (payload, sizeof payload, "[\"" AUD "\",7]", SUB, NOW - 10, NOW - 10, NOW + 100, "");
    cr_assert_eq (s_verify_payload (payload), CM_JWT_BAD_AUDIENCE);
    s_payload (payload, sizeof payload, "null", SUB, NOW - 10, NOW - 10, NOW + 100, "");
    cr_assert_eq (s_verify_payload (payload), CM_JWT_BAD_AUDIENCE);
}

Test (cm_jwt, time_window, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    char payload [1024];
    //  Expired, at the edge, and inside the 30 s leeway s_verify_forged allows
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, NOW - 400, NOW - 400, NOW - 100, "");
    cr_assert_eq (s_verify_payload (payload), CM_JWT_EXPIRED);
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, NOW - 400, NOW - 400, NOW - 30, "");
    cr_assert_eq (s_verify_payload (payload), CM_JWT_EXPIRED);
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, NOW - 400, NOW - 400, NOW - 29, "");
    cr_assert_eq (s_verify_payload (payload), CM_JWT_OK);

    //  Not yet valid
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, NOW - 10, NOW + 100, NOW + 500, "");
    cr_assert_eq (s_verify_payload (payload), CM_JWT_NOT_YET_VALID);
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, NOW - 10, NOW + 30, NOW + 500, "");
    cr_assert_eq (s_verify_payload (payload), CM_JWT_OK);
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, NOW + 100, NOW - 10, NOW + 500, "");
    cr_assert_eq (s_verify_payload (payload), CM_JWT_NOT_YET_VALID, "issued in the future");

    //  Lifetime: 900 s is the most we issue
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, NOW - 10, NOW - 10, NOW + 890, "");
    cr_assert_eq (s_verify_payload (payload), CM_JWT_OK);
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, NOW - 10, NOW - 10, NOW + 891, "");
    cr_assert_eq (s_verify_payload (payload), CM_JWT_BAD_CLAIMS);
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, NOW - 10, NOW - 10,
               NOW + 86400 * 365, "");
    cr_assert_eq (s_verify_payload (payload), CM_JWT_BAD_CLAIMS);
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, NOW - 10, NOW - 10,
               9223372036854775807LL, "");
    cr_assert_eq (s_verify_payload (payload), CM_JWT_BAD_CLAIMS, "exp near INT64_MAX");
}

Test (cm_jwt, claim_types_and_bounds, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    char payload [2048];
    const long long iat = NOW - 10, exp = NOW + 100;

    //  sub and sid must be canonical lower-case UUIDs
    const char *subs [] = {
        "not-a-uuid", "0B6C1F9E-3D2A-4C8B-9F1E-7A5D3C2B1A09", "0b6c1f9e3d2a4c8b9f1e7a5d3c2b1a09",
        "{0b6c1f9e-3d2a-4c8b-9f1e-7a5d3c2b1a09}", "0b6c1f9e-3d2a-4c8b-9f1e-7a5d3c2b1a0", ""
    };
    for (size_t i = 0; i < 6; i++) {
        s_payload (payload, sizeof payload, "\"" AUD "\"", subs [i], iat, iat, exp, "");
        cr_assert_eq (s_verify_payload (payload), CM_JWT_BAD_CLAIMS, "sub '%s'", subs [i]);
    }
    snprintf (payload, sizeof payload,
              "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"sid\":\"" SID "\","
              "\"roles\":[],\"iat\":%lld,\"exp\":%lld,\"auth_time\":%lld,\"amr\":[\"pwd\"],"
              "\"jti\":\"j\"}", iat, exp, iat);
    cr_assert_eq (s_verify_payload (payload), CM_JWT_OK, "nbf optional, roles may be empty");

    //  Numbers must be integers
    snprintf (payload, sizeof payload,
              "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"sid\":\"" SID "\","
              "\"roles\":[],\"iat\":%lld,\"exp\":%lld.0,\"auth_time\":%lld,\"amr\":[\"pwd\"],"
              "\"jti\":\"j\"}", iat, exp, iat);
    cr_assert_eq (s_verify_payload (payload), CM_JWT_BAD_CLAIMS, "exp as a float");
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, iat, iat, exp, ",\"exp\":1");
    cr_assert_eq (s_verify_payload (payload), CM_JWT_MALFORMED, "duplicate exp");
    snprintf (payload, sizeof payload,
              "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"sid\":\"" SID "\","
              "\"roles\":[],\"iat\":\"%lld\",\"exp\":%lld,\"auth_time\":%lld,\"amr\":[\"pwd\"],"
              "\"jti\":\"j\"}", iat, exp, iat);
    cr_assert_eq (s_verify_payload (payload), CM_JWT_BAD_CLAIMS, "iat as a string");
    snprintf (payload, sizeof payload,
              "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"sid\":\"" SID "\","
              "\"roles\":[],\"exp\":%lld,\"auth_time\":%lld,\"amr\":[\"pwd\"],\"jti\":\"j\"}",
              exp, iat);
    cr_assert_eq (s_verify_payload (payload), CM_JWT_BAD_CLAIMS, "no iat");

    //  roles, amr, jti, auth_time
    const char *extras [] = {
        ",\"roles\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]",
        ",\"roles\":[\"abcdefghijklmnopqrstuvwxyz0123456\"]",
        ",\"roles\":[\"\"]",
        ",\"roles\":[\"a b\"]",
        ",\"roles\":\"admin\"",
        ",\"amr\":[\"pwd\",\"otp\",\"hwk\",\"mfa\",\"sms\"]",
        ",\"amr\":[\"abcdefghijklmnop\"]",
        ",\"amr\":[]",
        ",\"jti\":7",
    };
    for (size_t i = 0; i < sizeof extras / sizeof extras [0]; i++) {
        //  s_payload writes roles, amr and jti first; replace them by
        //  writing the whole object without the one being tested
        char body [1024];
        snprintf (body, sizeof body,
                  "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"sub\":\"" SUB "\",\"sid\":\"" SID "\","
                  "\"iat\":%lld,\"exp\":%lld,\"auth_time\":%lld%s%s%s%s}", iat, exp, iat,
                  strstr (extras [i], "roles")? "": ",\"roles\":[\"user\"]",
                  strstr (extras [i], "amr")? "": ",\"amr\":[\"pwd\"]",
                  strstr (extras [i], "jti")? "": ",\"jti\":\"j\"",
                  extras [i]);
        cr_assert_eq (s_verify_payload (body), CM_JWT_BAD_CLAIMS, "%s", extras [i]);
    }
    s_payload (payload, sizeof payload, "\"" AUD "\"", SUB, iat, iat, exp, "");
    char *auth_time = strstr (payload, "\"auth_time\":");
    snprintf (auth_time, sizeof payload - (size_t) (auth_time - payload), "\"auth_time\":%lld,\"amr\":[\"pwd\"],\"jti\":\"j1\"}", NOW + 3600);
    cr_assert_eq (s_verify_payload (payload), CM_JWT_BAD_CLAIMS, "auth_time in the future");

    cr_assert_eq (s_verify_payload ("[1,2]"), CM_JWT_MALFORMED);
    cr_assert_eq (s_verify_payload ("{\"iss\":"), CM_JWT_MALFORMED);
}

Test (cm_jwt, structure_refused, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    cm_jwt_claims_t in, out;
    char token [CM_JWT_TOKEN_MAX + 1], copy [CM_JWT_TOKEN_MAX + 8];
    s_claims (&in);
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &in, token, sizeof token), 0);

    snprintf (copy, sizeof copy, "%s.", token);
    cr_assert_eq (cm_jwt_verify (s_keys, copy, ISS, AUD, NOW, 0, &out), CM_JWT_MALFORMED);
    snprintf (copy, sizeof copy, "%s.AAAA", token);
    cr_assert_eq (cm_jwt_verify (s_keys, copy, ISS, AUD, NOW, 0, &out), CM_JWT_MALFORMED);
    snprintf (copy, sizeof copy, ".%s", token);
    cr_assert_eq (cm_jwt_verify (s_keys, copy, ISS, AUD, NOW, 0, &out), CM_JWT_MALFORMED);
    //  Two parts only
    snprintf (copy, sizeof copy, "%s", token);
    *strrchr (copy, '.') = '\0';
    cr_assert_eq (cm_jwt_verify (s_keys, copy, ISS, AUD, NOW, 0, &out), CM_JWT_MALFORMED);
    //  A doubled dot (empty payload)
    snprintf (copy, sizeof copy, "%.*s..%s", (int) (strchr (token, '.') - token), token,
              strrchr (token, '.') + 1);
    cr_assert_eq (cm_jwt_verify (s_keys, copy, ISS, AUD, NOW, 0, &out), CM_JWT_MALFORMED);
    cr_assert_eq (cm_jwt_verify (s_keys, "", ISS, AUD, NOW, 0, &out), CM_JWT_MALFORMED);
    cr_assert_eq (cm_jwt_verify (s_keys, NULL, ISS, AUD, NOW, 0, &out), CM_JWT_MALFORMED);
    cr_assert_eq (cm_jwt_verify (s_keys, "..", ISS, AUD, NOW, 0, &out), CM_JWT_MALFORMED);
    cr_assert_eq (cm_jwt_verify (s_keys, "a.b.c", ISS, AUD, NOW, 0, &out), CM_JWT_MALFORMED);

    //  5000 bytes: a valid token padded out in the payload (still base64url)
    char *big = (char *) malloc (5001);
    cr_assert_not_null (big);
    memset (big, 'A', 5000);
    big [5000] = '\0';
    memcpy (big, token, strchr (token, '.') - token + 1);
    big [4000] = '.';
    cr_assert_eq (cm_jwt_verify (s_keys, big, ISS, AUD, NOW, 0, &out), CM_JWT_MALFORMED);
    free (big);
    //  Exactly at the limit is still read (and then fails on content)
    char *edge = (char *) malloc (CM_JWT_TOKEN_MAX + 1);
    memset (edge, 'A', CM_JWT_TOKEN_MAX);
    edge [CM_JWT_TOKEN_MAX] = '\0';
    edge [100] = '.';
    edge [CM_JWT_TOKEN_MAX - 90] = '.';
    cm_jwt_result_t result = cm_jwt_verify (s_keys, edge, ISS, AUD, NOW, 0, &out);
    cr_assert_neq (result, CM_JWT_OK);
    free (edge);
    cr_assert_str_eq (cm_jwt_result_str (CM_JWT_BAD_ALG), "bad_alg");
    cr_assert_str_eq (cm_jwt_result_str (CM_JWT_BAD_CLAIMS), "bad_claims");
}

typedef struct {
    const char *token;
    int failures;
} worker_t;

static void *
s_worker (void *arg)
{
    worker_t *work = (worker_t *) arg;
    cm_jwt_claims_t claims;
    for (int i = 0; i < 500; i++)
        if (cm_jwt_verify (s_keys, work->token, ISS, AUD, NOW, 0, &claims) != CM_JWT_OK
        ||  strcmp (claims.sub, SUB) != 0)
            work->failures++;
    return NULL;
}

Test (cm_jwt, shared_set_across_threads, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    cm_jwt_claims_t in;
    char token [CM_JWT_TOKEN_MAX + 1];
    s_claims (&in);
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &in, token, sizeof token), 0);
    pthread_t threads [8];
    worker_t work [8];
    for (int i = 0; i < 8; i++) {
        work [i] = (worker_t) { token, 0 };
        cr_assert_eq (pthread_create (&threads [i], NULL, s_worker, &work [i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join (threads [i], NULL);
        cr_expect_eq (work [i].failures, 0, "thread %d", i);
    }
}

Test (cm_jwt, verify_speed, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT)
{
    cm_jwt_claims_t in, out;
    char token [CM_JWT_TOKEN_MAX + 1];
    s_claims (&in);
    cr_assert_eq (cm_jwt_sign (s_keys, ISS, AUD, &in, token, sizeof token), 0);
    struct timespec start, stop;
    clock_gettime (CLOCK_MONOTONIC, &start);
    int ok = 0;
    for (int i = 0; i < 10000; i++)
        ok += cm_jwt_verify (s_keys, token, ISS, AUD, NOW, 0, &out) == CM_JWT_OK;
    clock_gettime (CLOCK_MONOTONIC, &stop);
    cr_assert_eq (ok, 10000);
    double us = ((double) (stop.tv_sec - start.tv_sec) * 1e6
               + (double) (stop.tv_nsec - start.tv_nsec) / 1e3) / 10000.0;
    cr_log_info ("cm_jwt_verify: %.1f us per verify (10000 runs)", us);
}


//  --------------------------------------------------------------------------
//  Kubernetes Secret volumes. The kubelet writes the files of a Secret into
//  a fresh ..<timestamp>/ directory, points the ..data link at it (a rename,
//  so the swap is atomic) and shows each file as <name> -> ..data/<name>,
//  mode 0440 with the pod's fsGroup as group.

#define TS_FIRST    "..2026_01_02_03_04_05.000000001"
#define TS_SECOND   "..2026_01_09_03_04_05.000000002"

static void
s_remove_tree (const char *dir)
{
    cr_expect_eq (tmpdir_remove (dir), 0, "%s", dir);
}

//  A Secret volume in dir holding the count keys of kids/keys (mode mode,
//  group gid) and, when rotation is not NULL, that rotation file, written
//  the kubelet's way into the timestamped directory ts
static void
s_secret_volume (const char *dir, const char *ts, EVP_PKEY **keys, char (*kids) [64],
                 size_t count, const char *rotation, mode_t mode, gid_t gid)
{
    char data [128], path [512], link [512];
    snprintf (data, sizeof data, "%s/%s", dir, ts);
    cr_assert_eq (mkdir (data, 0755), 0, "mkdir %s: %s", data, strerror (errno));
    for (size_t i = 0; i < count; i++) {
        s_write_key (data, kids [i], keys [i], mode, time (NULL) - (time_t) i);
        snprintf (path, sizeof path, "%s/%s.pem", data, kids [i]);
        cr_assert_eq (chown (path, (uid_t) -1, gid), 0, "chown %s", path);
        cr_assert_eq (chmod (path, mode), 0);
    }
    if (rotation) {
        s_write_rotation (data, rotation);
        snprintf (path, sizeof path, "%s/rotation", data);
        cr_assert_eq (chown (path, (uid_t) -1, gid), 0);
        cr_assert_eq (chmod (path, 0440), 0);
    }
    //  ..data_tmp -> ts, renamed over ..data
    snprintf (link, sizeof link, "%s/..data_tmp", dir);
    cr_assert_eq (symlink (ts, link), 0);
    snprintf (path, sizeof path, "%s/..data", dir);
    cr_assert_eq (rename (link, path), 0);
    for (size_t i = 0; i < count + (rotation? 1: 0); i++) {
        char name [128], target [160];
        if (i < count)
            snprintf (name, sizeof name, "%s.pem", kids [i]);
        else
            snprintf (name, sizeof name, "rotation");
        snprintf (target, sizeof target, "..data/%s", name);
        snprintf (link, sizeof link, "%s/%s", dir, name);
        if (symlink (target, link) != 0)
            cr_assert_eq (errno, EEXIST, "symlink %s", link);
    }
}

//  Make openat2 look absent, as on kernels before 5.6: the loader must
//  fall back to its own check and keep the same rules
static void
s_without_openat2 (void)
{
    struct sock_filter filter [] = {
        BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
        BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
        BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = { (unsigned short) (sizeof filter / sizeof filter [0]), filter };
    cr_assert_eq (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    cr_assert_eq (prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program), 0, "seccomp: %s",
                  strerror (errno));
    struct open_how how = { .flags = O_RDONLY };
    cr_assert_eq (syscall (SYS_openat2, AT_FDCWD, "/", &how, sizeof how), -1);
    cr_assert_eq (errno, ENOSYS);
}

//  A gid that is neither our effective group nor a supplementary one
static gid_t
s_foreign_gid (void)
{
    gid_t groups [256];
    int count = getgroups (256, groups);
    cr_assert_geq (count, 0);
    for (gid_t gid = 4242;; gid++) {
        bool ours = gid == getegid ();
        for (int i = 0; i < count; i++)
            ours = ours || groups [i] == gid;
        if (!ours)
            return gid;
    }
}

static int
s_load (const char *dir, cm_jwt_keys_t **keys_p)
{
    *keys_p = cm_jwt_keys_new ();
    cr_assert_not_null (*keys_p);
    return cm_jwt_keys_load_dir (*keys_p, dir);
}

//  The layout loads with the signer the rotation file names, and a new
//  Secret version (..data swapped) brings its own keys and signer
static void
s_check_secret_volume_loads (void)
{
    char dir [64] = "/tmp/cm_jwt_secret_XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    EVP_PKEY *keys [3];
    char kids [3][64];
    for (int i = 0; i < 3; i++) {
        keys [i] = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
        cr_assert_not_null (keys [i]);
        s_thumbprint (keys [i], kids [i]);
    }
    //  The older key signs although the other is newer: the rotation file says so
    char text [512];
    snprintf (text, sizeof text, "%s next 1760000100\n%s signing 1760000000\n", kids [0], kids [1]);
    s_secret_volume (dir, TS_FIRST, keys, kids, 2, text, 0440, getegid ());
    cm_jwt_keys_t *set;
    cr_assert_eq (s_load (dir, &set), 0, "a Secret volume's layout loads");
    cr_assert_eq (cm_jwt_keys_count (set), 2);
    s_assert_signs_with (set, kids [1], keys [1]);
    cm_jwt_keys_destroy (&set);

    //  0640 is as good as 0440
    char path [256];
    snprintf (path, sizeof path, "%s/%s/%s.pem", dir, TS_FIRST, kids [0]);
    cr_assert_eq (chmod (path, 0640), 0);
    cr_assert_eq (s_load (dir, &set), 0);
    cm_jwt_keys_destroy (&set);

    //  The next version: key 0 promoted, key 1 gone, key 2 published
    snprintf (text, sizeof text, "%s signing 1760000200\n%s next 1760000200\n", kids [0], kids [2]);
    EVP_PKEY *next_keys [2] = { keys [0], keys [2] };
    char next_kids [2][64];
    snprintf (next_kids [0], 64, "%s", kids [0]);
    snprintf (next_kids [1], 64, "%s", kids [2]);
    s_secret_volume (dir, TS_SECOND, next_keys, next_kids, 2, text, 0440, getegid ());
    //  While the kubelet has not yet removed key 1's link, it dangles: refused
    cr_assert_eq (s_load (dir, &set), -1, "a dangling link is no key");
    cm_jwt_keys_destroy (&set);
    snprintf (path, sizeof path, "%s/%s.pem", dir, kids [1]);
    cr_assert_eq (unlink (path), 0);
    cr_assert_eq (s_load (dir, &set), 0);
    cr_assert_eq (cm_jwt_keys_count (set), 2);
    s_assert_signs_with (set, kids [0], keys [0]);
    cm_jwt_keys_destroy (&set);

    for (int i = 0; i < 3; i++)
        EVP_PKEY_free (keys [i]);
    s_remove_tree (dir);
}

Test (cm_jwt_secret_volume, kubelet_layout_loads, .timeout = TEST_TIMEOUT)
{
    s_check_secret_volume_loads ();
}

Test (cm_jwt_secret_volume, kubelet_layout_loads_without_openat2, .timeout = TEST_TIMEOUT)
{
    s_without_openat2 ();
    s_check_secret_volume_loads ();
}

//  Links that lead out of the key directory are refused, whichever file
//  they stand for and however they get there
static void
s_check_links_out_refused (void)
{
    char dir [64] = "/tmp/cm_jwt_secret_XXXXXX";
    char outside [64] = "/tmp/cm_jwt_outside_XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    cr_assert_not_null (mkdtemp (outside));
    EVP_PKEY *key = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    char kid [64], link [256], target [256], text [256];
    s_thumbprint (key, kid);
    //  A good key, private to us, but outside dir
    s_write_key (outside, kid, key, 0600, time (NULL));
    snprintf (link, sizeof link, "%s/%s.pem", dir, kid);
    cm_jwt_keys_t *set;

    //  An absolute link
    snprintf (target, sizeof target, "%s/%s.pem", outside, kid);
    cr_assert_eq (symlink (target, link), 0);
    cr_assert_eq (s_load (dir, &set), -1, "absolute link out of dir accepted");
    cm_jwt_keys_destroy (&set);
    //  A relative one climbing out
    cr_assert_eq (unlink (link), 0);
    snprintf (target, sizeof target, "../%s/%s.pem", outside + 5, kid);
    cr_assert_eq (symlink (target, link), 0);
    cr_assert_eq (s_load (dir, &set), -1, "relative link out of dir accepted");
    cm_jwt_keys_destroy (&set);
    //  ..data itself pointing out, the key's link staying "inside"
    cr_assert_eq (unlink (link), 0);
    snprintf (target, sizeof target, "%s/..data", dir);
    cr_assert_eq (symlink (outside, target), 0);
    snprintf (target, sizeof target, "..data/%s.pem", kid);
    cr_assert_eq (symlink (target, link), 0);
    cr_assert_eq (s_load (dir, &set), -1, "..data pointing out of dir accepted");
    cm_jwt_keys_destroy (&set);

    //  The rotation file too: a good key inside, the rotation file outside
    cr_assert_eq (unlink (link), 0);
    s_write_key (dir, kid, key, 0600, time (NULL));
    snprintf (text, sizeof text, "%s signing 1760000000\n", kid);
    s_write_rotation (outside, text);
    snprintf (link, sizeof link, "%s/rotation", dir);
    snprintf (target, sizeof target, "%s/rotation", outside);
    cr_assert_eq (symlink (target, link), 0);
    cr_assert_eq (s_load (dir, &set), -1, "rotation file out of dir accepted");
    cm_jwt_keys_destroy (&set);
    //  Control: without that link the key loads
    cr_assert_eq (unlink (link), 0);
    cr_assert_eq (s_load (dir, &set), 0);
    cm_jwt_keys_destroy (&set);

    EVP_PKEY_free (key);
    s_remove_tree (dir);
    s_remove_tree (outside);
}

Test (cm_jwt_secret_volume, link_out_of_dir_refused, .timeout = TEST_TIMEOUT)
{
    s_check_links_out_refused ();
}

Test (cm_jwt_secret_volume, link_out_of_dir_refused_without_openat2, .timeout = TEST_TIMEOUT)
{
    s_without_openat2 ();
    s_check_links_out_refused ();
}

Test (cm_jwt_secret_volume, group_read_only_for_our_own_group, .timeout = TEST_TIMEOUT)
{
    char dir [64] = "/tmp/cm_jwt_secret_XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    EVP_PKEY *key = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    char kids [1][64], path [256];
    s_thumbprint (key, kids [0]);
    s_secret_volume (dir, TS_FIRST, &key, kids, 1, NULL, 0440, getegid ());
    snprintf (path, sizeof path, "%s/%s/%s.pem", dir, TS_FIRST, kids [0]);
    cm_jwt_keys_t *set;
    cr_assert_eq (s_load (dir, &set), 0, "0440, our group");
    cm_jwt_keys_destroy (&set);

    //  Group write or execute is never private, whoever the group is
    const mode_t loose [] = { 0460, 0450, 0660, 0470 };
    for (size_t i = 0; i < sizeof loose / sizeof loose [0]; i++) {
        cr_assert_eq (chmod (path, loose [i]), 0);
        cr_assert_eq (s_load (dir, &set), -1, "mode %o accepted", (unsigned) loose [i]);
        cm_jwt_keys_destroy (&set);
    }

    //  A group we are not in could read it: refused. Only root can give a
    //  file a group it is not in itself
    if (geteuid () != 0)
        cr_log_warn ("not root: the foreign-group case is not exercised");
    else {
        gid_t foreign = s_foreign_gid ();
        cr_assert_eq (chown (path, (uid_t) -1, foreign), 0);
        const mode_t modes [] = { 0440, 0640 };
        for (size_t i = 0; i < 2; i++) {
            cr_assert_eq (chmod (path, modes [i]), 0);
            cr_assert_eq (s_load (dir, &set), -1, "mode %o, group %u accepted",
                          (unsigned) modes [i], (unsigned) foreign);
            cm_jwt_keys_destroy (&set);
        }
        //  Owner-only stays fine whatever the group
        cr_assert_eq (chmod (path, 0400), 0);
        cr_assert_eq (s_load (dir, &set), 0, "0400, foreign group");
        cm_jwt_keys_destroy (&set);
    }
    EVP_PKEY_free (key);
    s_remove_tree (dir);
}

Test (cm_jwt_secret_volume, other_readable_refused, .timeout = TEST_TIMEOUT)
{
    char dir [64] = "/tmp/cm_jwt_secret_XXXXXX";
    cr_assert_not_null (mkdtemp (dir));
    EVP_PKEY *key = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    char kids [1][64], path [256];
    s_thumbprint (key, kids [0]);
    //  Our own group, through the kubelet's links, and still refused:
    //  anyone on the machine could read it
    s_secret_volume (dir, TS_FIRST, &key, kids, 1, NULL, 0444, getegid ());
    snprintf (path, sizeof path, "%s/%s/%s.pem", dir, TS_FIRST, kids [0]);
    const mode_t modes [] = { 0444, 0404, 0644, 0604, 0402, 0401 };
    cm_jwt_keys_t *set;
    for (size_t i = 0; i < sizeof modes / sizeof modes [0]; i++) {
        cr_assert_eq (chmod (path, modes [i]), 0);
        cr_assert_eq (s_load (dir, &set), -1, "mode %o accepted", (unsigned) modes [i]);
        cm_jwt_keys_destroy (&set);
    }
    //  A plain file too
    char plain [64] = "/tmp/cm_jwt_plain_XXXXXX";
    cr_assert_not_null (mkdtemp (plain));
    s_write_key (plain, kids [0], key, 0444, time (NULL));
    cr_assert_eq (s_load (plain, &set), -1, "plain 0444 accepted");
    cm_jwt_keys_destroy (&set);
    EVP_PKEY_free (key);
    s_remove_tree (dir);
    s_remove_tree (plain);
}
