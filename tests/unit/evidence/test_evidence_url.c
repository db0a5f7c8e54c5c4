/*  test_evidence_url - upload URL signatures bind every field, compare
    whole, and expire */
#include <criterion/criterion.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "../../../common/cm_jwt.h"
#include "../../../services/evidence/evidence_url.h"

#define USER    "5d0c7a4e-8f31-4b7a-9a54-0e1f2d3c4b5a"
#define ID      "0b6f1f0e-9d3c-4c1a-8f4e-2a7d5b9c1e23"
#define TYPE    "image/png"
#define SIZE    1234
#define EXPIRES 1900000000

static uint8_t s_key [32];

static void
s_setup (void)
{
    for (int i = 0; i < 32; i++)
        s_key [i] = (uint8_t) (i * 13 + 1);
}

TestSuite (evidence_url, .init = s_setup);

static void
s_sign (char *sig)
{
    cr_assert_eq (evidence_url_sign (s_key, USER, ID, TYPE, SIZE, EXPIRES, sig), 0);
}

Test (evidence_url, a_signature_is_base64url_hmac_sha256_of_the_fields)
{
    char sig [EVIDENCE_URL_SIG_SIZE], again [EVIDENCE_URL_SIG_SIZE];
    s_sign (sig);
    s_sign (again);
    cr_assert_eq (strlen (sig), EVIDENCE_URL_SIG_LEN);
    cr_assert_eq (strspn (sig, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                  EVIDENCE_URL_SIG_LEN);
    cr_assert_str_eq (sig, again, "deterministic");
    //  The recipe written out independently
    const char *message = "v1\n" USER "\n" ID "\n" TYPE "\n1234\n1900000000";
    uint8_t mac [32];
    unsigned int len = 0;
    HMAC (EVP_sha256 (), s_key, sizeof s_key, (const uint8_t *) message, strlen (message), mac, &len);
    char expected [64];
    cr_assert_eq (cm_jwt_b64url_encode (mac, len, expected, sizeof expected), EVIDENCE_URL_SIG_LEN);
    cr_assert_str_eq (sig, expected);
}

Test (evidence_url, the_signature_binds_each_field)
{
    char sig [EVIDENCE_URL_SIG_SIZE];
    s_sign (sig);
    int64_t now = EXPIRES - 100;
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, EXPIRES, sig, now), EVIDENCE_URL_VALID);
    const char *other_user = "5d0c7a4e-8f31-4b7a-9a54-0e1f2d3c4b5b";
    const char *other_id = "0b6f1f0e-9d3c-4c1a-8f4e-2a7d5b9c1e24";
    cr_assert_eq (evidence_url_verify (s_key, other_user, ID, TYPE, SIZE, EXPIRES, sig, now), EVIDENCE_URL_BAD);
    cr_assert_eq (evidence_url_verify (s_key, USER, other_id, TYPE, SIZE, EXPIRES, sig, now), EVIDENCE_URL_BAD);
    cr_assert_eq (evidence_url_verify (s_key, ID, USER, TYPE, SIZE, EXPIRES, sig, now), EVIDENCE_URL_BAD,
                  "user and id swapped");
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, "image/jpeg", SIZE, EXPIRES, sig, now), EVIDENCE_URL_BAD);
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, "IMAGE/PNG", SIZE, EXPIRES, sig, now), EVIDENCE_URL_BAD);
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE + 1, EXPIRES, sig, now), EVIDENCE_URL_BAD);
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE - 1, EXPIRES, sig, now), EVIDENCE_URL_BAD);
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, EXPIRES + 1, sig, now), EVIDENCE_URL_BAD,
                  "a later expiry is not signed");
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, EXPIRES - 1, sig, now), EVIDENCE_URL_BAD);
    //  Fields cannot slide into each other across the separators
    char shifted [EVIDENCE_URL_SIG_SIZE];
    cr_assert_eq (evidence_url_sign (s_key, USER, ID, "image/png\n1", 234, EXPIRES, shifted), 0);
    cr_assert_str_neq (shifted, sig);
    //  Another key
    uint8_t other_key [32];
    memcpy (other_key, s_key, 32);
    other_key [0] ^= 1;
    cr_assert_eq (evidence_url_verify (other_key, USER, ID, TYPE, SIZE, EXPIRES, sig, now), EVIDENCE_URL_BAD);
}

Test (evidence_url, the_whole_signature_is_compared)
{
    char sig [EVIDENCE_URL_SIG_SIZE], bad [EVIDENCE_URL_SIG_SIZE + 8];
    s_sign (sig);
    int64_t now = EXPIRES;
    //  A change at any position is refused: the compare does not stop early
    //  and does not skip the end
    for (int i = 0; i < EVIDENCE_URL_SIG_LEN; i++) {
        snprintf (bad, sizeof bad, "%s", sig);
        bad [i] = bad [i] == 'A'? 'B': 'A';
        cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, EXPIRES, bad, now), EVIDENCE_URL_BAD,
                      "position %d", i);
    }
    //  Prefixes, extensions, padding, empty, NULL
    snprintf (bad, sizeof bad, "%.*s", EVIDENCE_URL_SIG_LEN - 1, sig);
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, EXPIRES, bad, now), EVIDENCE_URL_BAD);
    snprintf (bad, sizeof bad, "%sA", sig);
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, EXPIRES, bad, now), EVIDENCE_URL_BAD);
    snprintf (bad, sizeof bad, "%s=", sig);
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, EXPIRES, bad, now), EVIDENCE_URL_BAD);
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, EXPIRES, "", now), EVIDENCE_URL_BAD);
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, EXPIRES, NULL, now), EVIDENCE_URL_BAD);
    //  A very long presented value is looked at only as far as it must be
    char *longer = (char *) malloc (70000);
    memset (longer, 'A', 69999);
    memcpy (longer, sig, EVIDENCE_URL_SIG_LEN);
    longer [69999] = 0;
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, EXPIRES, longer, now), EVIDENCE_URL_BAD);
    free (longer);
    //  Unsigned fields are refused rather than signed
    cr_assert_eq (evidence_url_sign (s_key, NULL, ID, TYPE, SIZE, EXPIRES, bad), -1);
    cr_assert_str_empty (bad);
    char huge [600];
    memset (huge, 'x', sizeof huge - 1);
    huge [sizeof huge - 1] = 0;
    cr_assert_eq (evidence_url_sign (s_key, USER, ID, huge, SIZE, EXPIRES, bad), -1, "too long to sign");
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, huge, SIZE, EXPIRES, sig, now), EVIDENCE_URL_BAD);
}

Test (evidence_url, a_signature_expires)
{
    char sig [EVIDENCE_URL_SIG_SIZE];
    s_sign (sig);
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, EXPIRES, sig, 0), EVIDENCE_URL_VALID);
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, EXPIRES, sig, EXPIRES), EVIDENCE_URL_VALID,
                  "valid through its last second");
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, EXPIRES, sig, EXPIRES + 1),
                  EVIDENCE_URL_EXPIRED);
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, EXPIRES, sig, INT64_MAX),
                  EVIDENCE_URL_EXPIRED);
    //  A bad signature is bad whatever the time: an expired forgery does
    //  not learn that its expiry was the problem
    sig [0] = sig [0] == 'A'? 'B': 'A';
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, EXPIRES, sig, EXPIRES + 1),
                  EVIDENCE_URL_BAD);
    //  Extreme expiries sign and verify like any other
    char edge [EVIDENCE_URL_SIG_SIZE];
    cr_assert_eq (evidence_url_sign (s_key, USER, ID, TYPE, SIZE, INT64_MIN, edge), 0);
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, INT64_MIN, edge, 0), EVIDENCE_URL_EXPIRED);
    cr_assert_eq (evidence_url_sign (s_key, USER, ID, TYPE, SIZE, INT64_MAX, edge), 0);
    cr_assert_eq (evidence_url_verify (s_key, USER, ID, TYPE, SIZE, INT64_MAX, edge, INT64_MAX),
                  EVIDENCE_URL_VALID);
}
