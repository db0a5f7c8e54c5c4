/*  test_auth_totp - base32, HOTP/TOTP against the RFC vectors, URIs, recovery codes */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../../services/auth/auth_totp.h"

//  The key of RFC 4226 Appendix D and RFC 6238 Appendix B (SHA-1)
static const uint8_t s_key [] = "12345678901234567890";
#define KEY_LEN 20

//  ---------------------------------------------------------------------
//  Base32 (RFC 4648 section 10)

static const struct { const char *plain, *encoded, *padded; } s_base32_vectors [] = {
    { "",       "",           "" },
    { "f",      "MY",         "MY======" },
    { "fo",     "MZXQ",       "MZXQ====" },
    { "foo",    "MZXW6",      "MZXW6===" },
    { "foob",   "MZXW6YQ",    "MZXW6YQ=" },
    { "fooba",  "MZXW6YTB",   "MZXW6YTB" },
    { "foobar", "MZXW6YTBOI", "MZXW6YTBOI======" },
};
#define BASE32_VECTORS (sizeof s_base32_vectors / sizeof s_base32_vectors [0])

Test (auth_totp, base32_encodes_the_rfc_4648_vectors_without_padding)
{
    for (size_t i = 0; i < BASE32_VECTORS; i++) {
        char out [32];
        const char *plain = s_base32_vectors [i].plain;
        int rc = auth_totp_base32_encode ((const uint8_t *) plain, strlen (plain), out, sizeof out);
        cr_assert_eq (rc, (int) strlen (s_base32_vectors [i].encoded), "'%s'", plain);
        cr_assert_str_eq (out, s_base32_vectors [i].encoded);
    }
    //  Exactly enough room, then one byte less
    char out [11];
    cr_assert_eq (auth_totp_base32_encode ((const uint8_t *) "foobar", 6, out, 11), 10);
    cr_assert_eq (auth_totp_base32_encode ((const uint8_t *) "foobar", 6, out, 10), -1);
    cr_assert_str_empty (out);
}

Test (auth_totp, base32_decodes_either_case_with_or_without_padding)
{
    for (size_t i = 0; i < BASE32_VECTORS; i++) {
        const char *plain = s_base32_vectors [i].plain;
        const char *inputs [3] = { s_base32_vectors [i].encoded, s_base32_vectors [i].padded, NULL };
        char lower [32];
        size_t n;
        for (n = 0; inputs [0][n]; n++)
            lower [n] = (char) (inputs [0][n] >= 'A' && inputs [0][n] <= 'Z'?
                                inputs [0][n] - 'A' + 'a': inputs [0][n]);
        lower [n] = 0;
        inputs [2] = lower;
        for (int k = 0; k < 3; k++) {
            uint8_t out [16];
            int rc = auth_totp_base32_decode (inputs [k], out, sizeof out);
            cr_assert_eq (rc, (int) strlen (plain), "'%s'", inputs [k]);
            cr_assert_eq (memcmp (out, plain, strlen (plain)), 0, "'%s'", inputs [k]);
        }
    }
}

Test (auth_totp, base32_refuses_what_is_not_canonical)
{
    const char *bad [] = {
        "MZ1W",             //  '1' is not in the alphabet
        "MZXW6YTB!",
        "MZXW 6YTB",        //  no spaces
        "M",                //  1, 3 or 6 characters cannot end a group
        "MZX",
        "MZXW6Y",
        "MY=",              //  padding short of the group
        "MY=======",        //  padding past the group
        "MY======X",        //  data after padding
        "M=Y=====",
        "MZ",               //  non-zero bits after the last byte
        "MZXW7",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        uint8_t out [16];
        cr_expect_eq (auth_totp_base32_decode (bad [i], out, sizeof out), -1, "'%s'", bad [i]);
    }
    uint8_t small [5];
    cr_assert_eq (auth_totp_base32_decode ("MZXW6YTB", small, sizeof small), 5);
    cr_assert_eq (auth_totp_base32_decode ("MZXW6YTBOI", small, sizeof small), -1);
}

Test (auth_totp, a_new_secret_is_20_random_bytes_in_base32)
{
    char a [AUTH_TOTP_SECRET_SIZE], b [AUTH_TOTP_SECRET_SIZE];
    cr_assert_eq (auth_totp_secret_new (a), 0);
    cr_assert_eq (auth_totp_secret_new (b), 0);
    cr_assert_eq (strlen (a), 32);
    cr_assert_eq (strspn (a, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 32);
    cr_assert_str_neq (a, b);
    uint8_t key [32];
    cr_assert_eq (auth_totp_base32_decode (a, key, sizeof key), AUTH_TOTP_SECRET_BYTES);
}

//  ---------------------------------------------------------------------
//  HOTP and TOTP

Test (auth_totp, hotp_matches_rfc_4226_appendix_d)
{
    static const int expected [10] = {
        755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489
    };
    for (uint64_t count = 0; count < 10; count++)
        cr_expect_eq (auth_totp_code (s_key, KEY_LEN, count), expected [count],
                      "counter %llu", (unsigned long long) count);
    cr_assert_eq (auth_totp_code (s_key, 0, 0), -1, "an empty key is refused");
}

//  RFC 6238 Appendix B, SHA-1: the 8-digit values' last 6 digits
static const struct { int64_t time; const char *code; } s_totp_vectors [] = {
    { 59,          "287082" },      //  94287082
    { 1111111109,  "081804" },      //  07081804
    { 1111111111,  "050471" },      //  14050471
    { 1234567890,  "005924" },      //  89005924
    { 2000000000,  "279037" },      //  69279037
    { 20000000000, "353130" },      //  65353130
};
#define TOTP_VECTORS (sizeof s_totp_vectors / sizeof s_totp_vectors [0])

Test (auth_totp, totp_matches_rfc_6238_appendix_b)
{
    for (size_t i = 0; i < TOTP_VECTORS; i++) {
        int64_t time = s_totp_vectors [i].time;
        int code = auth_totp_code (s_key, KEY_LEN, (uint64_t) (time / 30));
        cr_expect_eq (code, atoi (s_totp_vectors [i].code), "T=%lld", (long long) time);

        int64_t step = -1;
        cr_expect_eq (auth_totp_verify (s_key, KEY_LEN, s_totp_vectors [i].code, time, 0, &step), 0,
                      "T=%lld", (long long) time);
        cr_expect_eq (step, time / 30);
    }
}

Test (auth_totp, verify_accepts_only_the_window_and_reports_the_step)
{
    const int64_t now = 1111111111;         //  step 37037037
    const int64_t step = now / 30;
    char codes [5][7];                      //  steps - 2 .. + 2
    for (int d = -2; d <= 2; d++) {
        int value = auth_totp_code (s_key, KEY_LEN, (uint64_t) (step + d));
        cr_assert_geq (value, 0);
        snprintf (codes [d + 2], sizeof codes [0], "%06d", value);
    }
    //  These five codes differ, so each step can only match itself
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            cr_assert_str_neq (codes [i], codes [j]);

    int64_t matched = -1;
    cr_assert_eq (auth_totp_verify (s_key, KEY_LEN, codes [3], now, 1, &matched), 0);
    cr_assert_eq (matched, step + 1);
    cr_assert_eq (auth_totp_verify (s_key, KEY_LEN, codes [1], now, 1, &matched), 0);
    cr_assert_eq (matched, step - 1);
    cr_assert_eq (auth_totp_verify (s_key, KEY_LEN, codes [2], now, 1, &matched), 0);
    cr_assert_eq (matched, step);

    matched = -1;
    cr_assert_eq (auth_totp_verify (s_key, KEY_LEN, codes [3], now, 0, &matched), 1);
    cr_assert_eq (auth_totp_verify (s_key, KEY_LEN, codes [0], now, 1, &matched), 1);
    cr_assert_eq (auth_totp_verify (s_key, KEY_LEN, codes [4], now, 1, &matched), 1);
    cr_assert_eq (matched, -1, "a refused code leaves matched_step alone");
    cr_assert_eq (auth_totp_verify (s_key, KEY_LEN, codes [4], now, 2, &matched), 0);
    cr_assert_eq (matched, step + 2);

    //  The last second of a step still belongs to it
    cr_assert_eq (auth_totp_verify (s_key, KEY_LEN, codes [2], step * 30 + 29, 0, &matched), 0);
    cr_assert_eq (auth_totp_verify (s_key, KEY_LEN, codes [2], step * 30 + 30, 0, &matched), 1);
}

Test (auth_totp, verify_refuses_anything_but_six_ascii_digits)
{
    const int64_t now = 59;
    int64_t matched = -1;
    const char *bad [] = {
        "", "28708", "2870820", "28708a", " 287082", "287082 ", "+28708", "-28708",
        "\xef\xbc\x92\xef\xbc\x98\xef\xbc\x97\xef\xbc\x90\xef\xbc\x98\xef\xbc\x92",   //  fullwidth
        "287082\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        cr_expect_eq (auth_totp_verify (s_key, KEY_LEN, bad [i], now, 1, &matched), -1,
                      "'%s'", bad [i]);
    cr_assert_eq (matched, -1);
    //  Nonsense arguments are refused, not clamped
    cr_assert_eq (auth_totp_verify (s_key, KEY_LEN, "287082", -1, 1, &matched), -1);
    cr_assert_eq (auth_totp_verify (s_key, KEY_LEN, "287082", now, -1, &matched), -1);
    cr_assert_eq (auth_totp_verify (s_key, KEY_LEN, "287082", now, AUTH_TOTP_MAX_WINDOW + 1,
                                    &matched), -1);
    cr_assert_eq (auth_totp_verify (s_key, 0, "287082", now, 1, &matched), -1);
    cr_assert_eq (matched, -1);
    //  Near the epoch, steps before 0 are skipped, not wrapped
    cr_assert_eq (auth_totp_verify (s_key, KEY_LEN, "287082", now, 3, &matched), 0);
    cr_assert_eq (matched, 1);
}

Test (auth_totp, a_secret_round_trips_into_working_codes)
{
    //  What the service does: make a secret, store it, decode it to verify
    char secret [AUTH_TOTP_SECRET_SIZE];
    cr_assert_eq (auth_totp_secret_new (secret), 0);
    uint8_t key [AUTH_TOTP_SECRET_BYTES];
    cr_assert_eq (auth_totp_base32_decode (secret, key, sizeof key), AUTH_TOTP_SECRET_BYTES);
    const int64_t now = 1700000000;
    char code [7];
    snprintf (code, sizeof code, "%06d", auth_totp_code (key, sizeof key, (uint64_t) (now / 30)));
    int64_t matched = -1;
    cr_assert_eq (auth_totp_verify (key, sizeof key, code, now, 1, &matched), 0);
    cr_assert_eq (matched, now / 30);
}

//  ---------------------------------------------------------------------
//  otpauth:// URIs

Test (auth_totp, uri_percent_encodes_issuer_and_email)
{
    char uri [512];
    cr_assert_eq (auth_totp_uri (uri, sizeof uri, "Acme Corp", "alice+mfa@example.com",
                                 "JBSWY3DPEHPK3PXP"), 0);
    cr_assert_str_eq (uri, "otpauth://totp/Acme%20Corp:alice%2Bmfa%40example.com"
                           "?secret=JBSWY3DPEHPK3PXP&issuer=Acme%20Corp"
                           "&algorithm=SHA1&digits=6&period=30");
    cr_assert_eq (auth_totp_uri (uri, sizeof uri, "Caf\xc3\xa9 & Co", "bob@example.org",
                                 "JBSWY3DPEHPK3PXP"), 0);
    cr_assert_str_eq (uri, "otpauth://totp/Caf%C3%A9%20%26%20Co:bob%40example.org"
                           "?secret=JBSWY3DPEHPK3PXP&issuer=Caf%C3%A9%20%26%20Co"
                           "&algorithm=SHA1&digits=6&period=30");
}

Test (auth_totp, uri_refuses_bad_values_and_small_buffers)
{
    char uri [512] = "x";
    cr_assert_eq (auth_totp_uri (uri, sizeof uri, "Acme:Evil", "a@b.c", "JBSWY3DP"), -1);
    cr_assert_str_empty (uri);
    cr_assert_eq (auth_totp_uri (uri, sizeof uri, "Acme", "a:b@c.d", "JBSWY3DP"), -1);
    cr_assert_eq (auth_totp_uri (uri, sizeof uri, "", "a@b.c", "JBSWY3DP"), -1);
    cr_assert_eq (auth_totp_uri (uri, sizeof uri, "Acme", "a@b.c", "JBSWY3DP&x=1"), -1);
    cr_assert_eq (auth_totp_uri (uri, sizeof uri, "Acme", "a@b.c", ""), -1);

    //  Exactly enough room, then one byte less
    char exact [200];
    cr_assert_eq (auth_totp_uri (exact, sizeof exact, "Acme", "a@b.c", "JBSWY3DP"), 0);
    size_t need = strlen (exact) + 1;
    cr_assert_eq (auth_totp_uri (uri, need, "Acme", "a@b.c", "JBSWY3DP"), 0);
    cr_assert_str_eq (uri, exact);
    cr_assert_eq (auth_totp_uri (uri, need - 1, "Acme", "a@b.c", "JBSWY3DP"), -1);
    cr_assert_str_empty (uri);
}

//  ---------------------------------------------------------------------
//  Recovery codes

static bool
s_recovery_format (const char *code)
{
    if (strlen (code) != 14 || code [4] != '-' || code [9] != '-')
        return false;
    for (int i = 0; i < 14; i++)
        if (i != 4 && i != 9 && !strchr (AUTH_TOTP_RECOVERY_ALPHABET, code [i]))
            return false;
    return strpbrk (code, "0o1l") == NULL;
}

Test (auth_totp, recovery_codes_are_ten_distinct_well_formed_codes)
{
    cr_assert_eq (strlen (AUTH_TOTP_RECOVERY_ALPHABET), 32, "5 bits a character, 60 a code");
    char codes [AUTH_TOTP_RECOVERY_COUNT][AUTH_TOTP_RECOVERY_LEN];
    char other [AUTH_TOTP_RECOVERY_COUNT][AUTH_TOTP_RECOVERY_LEN];
    cr_assert_eq (auth_totp_recovery_codes (codes), 0);
    cr_assert_eq (auth_totp_recovery_codes (other), 0);
    for (int i = 0; i < AUTH_TOTP_RECOVERY_COUNT; i++) {
        cr_assert (s_recovery_format (codes [i]), "'%s'", codes [i]);
        for (int j = 0; j < AUTH_TOTP_RECOVERY_COUNT; j++) {
            if (j != i)
                cr_assert_str_neq (codes [i], codes [j]);
            cr_assert_str_neq (codes [i], other [j], "two sets share a code");
        }
    }
}

Test (auth_totp, recovery_codes_use_the_whole_alphabet)
{
    //  200 codes hold 2400 symbols: each of the 32 shows up about 75 times,
    //  so a missing symbol means a biased or truncated generator
    int seen [256] = { 0 };
    for (int round = 0; round < 20; round++) {
        char codes [AUTH_TOTP_RECOVERY_COUNT][AUTH_TOTP_RECOVERY_LEN];
        cr_assert_eq (auth_totp_recovery_codes (codes), 0);
        for (int i = 0; i < AUTH_TOTP_RECOVERY_COUNT; i++)
            for (const char *c = codes [i]; *c; c++)
                seen [(unsigned char) *c]++;
    }
    for (const char *c = AUTH_TOTP_RECOVERY_ALPHABET; *c; c++)
        cr_expect_gt (seen [(unsigned char) *c], 20, "'%c' seen %d times", *c,
                      seen [(unsigned char) *c]);
}

Test (auth_totp, recovery_input_is_normalised)
{
    char out [AUTH_TOTP_RECOVERY_LEN];
    const char *same [] = { "abcd-efgh-jkmn", "ABCD-EFGH-JKMN", "abcd efgh jkmn", "abcdefghjkmn",
                            " abcd - efgh - jkmn " };
    for (size_t i = 0; i < sizeof same / sizeof same [0]; i++) {
        cr_assert_eq (auth_totp_recovery_normalize (same [i], out), 0, "'%s'", same [i]);
        cr_assert_str_eq (out, "abcd-efgh-jkmn");
    }
    const char *bad [] = { "", "abcd-efgh-jkm", "abcd-efgh-jkmnp", "abcd-efgh-jkm0",
                           "abcd-efgh-jkmo", "abcd-efgh-jkm1", "abcd-efgh-jkml", "abcd_efgh_jkmn" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        cr_expect_eq (auth_totp_recovery_normalize (bad [i], out), -1, "'%s'", bad [i]);
        cr_expect_str_empty (out);
    }
    //  What recovery_codes makes normalises to itself
    char codes [AUTH_TOTP_RECOVERY_COUNT][AUTH_TOTP_RECOVERY_LEN];
    cr_assert_eq (auth_totp_recovery_codes (codes), 0);
    cr_assert_eq (auth_totp_recovery_normalize (codes [0], out), 0);
    cr_assert_str_eq (out, codes [0]);
}
