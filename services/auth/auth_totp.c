/*  auth_totp - TOTP second factor (RFC 6238) and recovery codes

    Nothing here keeps state, so any thread may call anything. Key material
    and computed codes are wiped from the stack before returning.
*/
#include <assert.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include "auth_totp.h"

static const char s_base32 [] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

//  Value of one base32 character in either case, or -1
static int
s_base32_value (char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

//  ---------------------------------------------------------------------
//  RFC 4648 base32 of data into out, no padding. Characters written, or -1.
int
auth_totp_base32_encode (const uint8_t *data, size_t len, char *out, size_t size)
{
    assert (data || len == 0);
    assert (out && size > 0);
    out [0] = 0;
    if (len > (SIZE_MAX - 4) / 8 || (len * 8 + 4) / 5 >= size || (len * 8 + 4) / 5 > INT_MAX)
        return -1;
    size_t pos = 0;
    uint32_t bits = 0;                      //  pending bits, at most 12
    int count = 0;                          //  how many of them are valid
    for (size_t i = 0; i < len; i++) {
        bits = (bits << 8) | data [i];
        count += 8;
        while (count >= 5) {
            out [pos++] = s_base32 [(bits >> (count - 5)) & 31];
            count -= 5;
        }
        bits &= (1u << count) - 1;
    }
    if (count > 0)
        out [pos++] = s_base32 [(bits << (5 - count)) & 31];
    out [pos] = 0;
    return (int) pos;
}

//  ---------------------------------------------------------------------
//  Decode base32 text (either case, optional exact padding) into out.
//  Bytes written, or -1.
int
auth_totp_base32_decode (const char *text, uint8_t *out, size_t size)
{
    assert (text);
    assert (out || size == 0);
    size_t chars = strcspn (text, "=");
    size_t pads = strlen (text + chars);
    //  Padding is all '=' to the end, and exactly what completes the last
    //  8-character group; data lengths of 1, 3 or 6 mod 8 cannot occur
    static const int expected_pads [8] = { 0, -1, 6, -1, 4, 3, -1, 1 };
    int expect = expected_pads [chars % 8];
    if (expect < 0)
        return -1;
    for (size_t i = 0; i < pads; i++)
        if (text [chars + i] != '=')
            return -1;
    if (pads != 0 && pads != (size_t) expect)
        return -1;
    size_t bytes = chars / 8 * 5 + (size_t) (chars % 8 * 5 / 8);
    if (bytes > size || bytes > INT_MAX)
        return -1;

    size_t pos = 0;
    uint32_t bits = 0;
    int count = 0;
    for (size_t i = 0; i < chars; i++) {
        int value = s_base32_value (text [i]);
        if (value < 0)
            return -1;
        bits = (bits << 5) | (uint32_t) value;
        count += 5;
        if (count >= 8) {
            out [pos++] = (uint8_t) (bits >> (count - 8));
            count -= 8;
            bits &= (1u << count) - 1;
        }
    }
    //  Bits past the last byte must be zero, so each value has one spelling
    if (bits != 0)
        return -1;
    assert (pos == bytes);
    return (int) pos;
}

//  ---------------------------------------------------------------------
//  A new secret: 20 random bytes as base32. 0 or -1.
int
auth_totp_secret_new (char out [AUTH_TOTP_SECRET_SIZE])
{
    uint8_t key [AUTH_TOTP_SECRET_BYTES];
    int rc = -1;
    out [0] = 0;
    if (RAND_bytes (key, sizeof key) != 1)
        goto cleanup;
    if (auth_totp_base32_encode (key, sizeof key, out, AUTH_TOTP_SECRET_SIZE) != 32)
        goto cleanup;
    rc = 0;

cleanup:
    OPENSSL_cleanse (key, sizeof key);
    return rc;
}

//  ---------------------------------------------------------------------
//  HOTP (RFC 4226) of key for counter: 0..999999, or -1.
int
auth_totp_code (const uint8_t *key, size_t len, uint64_t counter)
{
    assert (key || len == 0);
    if (len == 0 || len > INT_MAX)
        return -1;
    uint8_t message [8];
    for (int i = 7; i >= 0; i--) {
        message [i] = (uint8_t) (counter & 0xFF);
        counter >>= 8;
    }
    uint8_t mac [EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    int code = -1;
    if (!HMAC (EVP_sha1 (), key, (int) len, message, sizeof message, mac, &mac_len)
    ||  mac_len != 20)
        goto cleanup;
    //  Dynamic truncation: the low nibble of the last byte picks 4 bytes
    int offset = mac [19] & 0x0F;
    uint32_t binary = ((uint32_t) (mac [offset] & 0x7F) << 24)
                    | ((uint32_t) mac [offset + 1] << 16)
                    | ((uint32_t) mac [offset + 2] << 8)
                    |  (uint32_t) mac [offset + 3];
    code = (int) (binary % 1000000);

cleanup:
    OPENSSL_cleanse (mac, sizeof mac);
    return code;
}

//  ---------------------------------------------------------------------
//  Check a 6-digit code against the steps around now. 0 and *matched_step
//  on a match, 1 on no match, -1 on malformed input.
int
auth_totp_verify (const uint8_t *key, size_t len, const char *code, int64_t now,
                  int window, int64_t *matched_step)
{
    assert (code);
    assert (matched_step);
    //  The terminating NUL is not a digit, so this never reads past it
    for (int i = 0; i < AUTH_TOTP_DIGITS; i++)
        if (code [i] < '0' || code [i] > '9')
            return -1;
    if (code [AUTH_TOTP_DIGITS] != 0)
        return -1;
    if (now < 0 || window < 0 || window > AUTH_TOTP_MAX_WINDOW || !key || len == 0)
        return -1;

    int64_t step = now / AUTH_TOTP_PERIOD;
    bool found = false;
    bool failed = false;
    char expected [AUTH_TOTP_DIGITS + 1];
    //  Every step is computed and compared, whichever matches, so the time
    //  taken says nothing about how far the client's clock is off
    for (int64_t s = step - window; s <= step + window; s++) {
        if (s < 0)
            continue;
        int value = auth_totp_code (key, len, (uint64_t) s);
        if (value < 0) {
            failed = true;
            continue;
        }
        for (int i = AUTH_TOTP_DIGITS - 1; i >= 0; i--, value /= 10)
            expected [i] = (char) ('0' + value % 10);
        expected [AUTH_TOTP_DIGITS] = 0;
        bool equal = CRYPTO_memcmp (expected, code, AUTH_TOTP_DIGITS) == 0;
        if (equal && !found) {
            found = true;
            *matched_step = s;
        }
    }
    OPENSSL_cleanse (expected, sizeof expected);
    if (failed)
        return -1;
    return found? 0: 1;
}

//  Appends s to out at *pos, percent-encoding all but RFC 3986 unreserved
//  characters when encode is set. -1 when it does not fit.
static int
s_append (char *out, size_t size, size_t *pos, const char *s, bool encode)
{
    static const char hex [] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        bool plain = !encode
                  || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                  || (c >= '0' && c <= '9')
                  || c == '-' || c == '.' || c == '_' || c == '~';
        size_t need = plain? 1: 3;
        if (*pos + need >= size)
            return -1;
        if (plain)
            out [(*pos)++] = (char) c;
        else {
            out [(*pos)++] = '%';
            out [(*pos)++] = hex [c >> 4];
            out [(*pos)++] = hex [c & 15];
        }
    }
    out [*pos] = 0;
    return 0;
}

//  ---------------------------------------------------------------------
//  The otpauth://totp/ URI for issuer, email and secret into out. 0 or -1.
int
auth_totp_uri (char *out, size_t size, const char *issuer, const char *email,
               const char *secret)
{
    assert (out && size > 0);
    assert (issuer && email && secret);
    out [0] = 0;
    //  The label's ':' separates issuer from account, so neither may hold one
    if (!*issuer || !*email || !*secret || strchr (issuer, ':') || strchr (email, ':'))
        return -1;
    for (const char *c = secret; *c; c++)
        if (!strchr (s_base32, *c))
            return -1;
    size_t pos = 0;
    if (s_append (out, size, &pos, "otpauth://totp/", false)
    ||  s_append (out, size, &pos, issuer, true)
    ||  s_append (out, size, &pos, ":", false)
    ||  s_append (out, size, &pos, email, true)
    ||  s_append (out, size, &pos, "?secret=", false)
    ||  s_append (out, size, &pos, secret, false)
    ||  s_append (out, size, &pos, "&issuer=", false)
    ||  s_append (out, size, &pos, issuer, true)
    ||  s_append (out, size, &pos, "&algorithm=SHA1&digits=6&period=30", false)) {
        out [0] = 0;
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Ten distinct recovery codes "xxxx-xxxx-xxxx". 0 or -1.
int
auth_totp_recovery_codes (char codes [AUTH_TOTP_RECOVERY_COUNT][AUTH_TOTP_RECOVERY_LEN])
{
    static const char alphabet [] = AUTH_TOTP_RECOVERY_ALPHABET;
    _Static_assert (sizeof alphabet - 1 == 32, "one random byte's low 5 bits pick a symbol");
    uint8_t raw [12];
    int rc = -1;
    for (int i = 0; i < AUTH_TOTP_RECOVERY_COUNT; i++) {
        bool unique = false;
        //  A repeat has odds of 2^-60 per pair; a few tries cover a broken RNG
        for (int attempt = 0; attempt < 4 && !unique; attempt++) {
            if (RAND_bytes (raw, sizeof raw) != 1)
                goto cleanup;
            char *code = codes [i];
            int pos = 0;
            for (int k = 0; k < 12; k++) {
                if (k == 4 || k == 8)
                    code [pos++] = '-';
                code [pos++] = alphabet [raw [k] & 31];
            }
            code [pos] = 0;
            unique = true;
            for (int j = 0; j < i; j++)
                if (strcmp (codes [j], code) == 0)
                    unique = false;
        }
        if (!unique)
            goto cleanup;
    }
    rc = 0;

cleanup:
    OPENSSL_cleanse (raw, sizeof raw);
    if (rc)
        for (int i = 0; i < AUTH_TOTP_RECOVERY_COUNT; i++)
            codes [i][0] = 0;
    return rc;
}

//  ---------------------------------------------------------------------
//  Canonical form of a typed recovery code. 0 or -1.
int
auth_totp_recovery_normalize (const char *input, char out [AUTH_TOTP_RECOVERY_LEN])
{
    assert (input);
    static const char alphabet [] = AUTH_TOTP_RECOVERY_ALPHABET;
    int kept = 0;
    int pos = 0;
    out [0] = 0;
    for (const char *c = input; *c; c++) {
        if (*c == ' ' || *c == '-')
            continue;
        char lower = (*c >= 'A' && *c <= 'Z')? (char) (*c - 'A' + 'a'): *c;
        if (kept == 12 || !strchr (alphabet, lower)) {
            out [0] = 0;
            return -1;
        }
        if (kept == 4 || kept == 8)
            out [pos++] = '-';
        out [pos++] = lower;
        kept++;
    }
    out [pos] = 0;
    if (kept != 12) {
        out [0] = 0;
        return -1;
    }
    return 0;
}
