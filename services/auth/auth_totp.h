/*  auth_totp - TOTP second factor (RFC 6238) and recovery codes

    HOTP with HMAC-SHA1 and 6 digits over 30-second steps, which is what
    authenticator apps and `oathtool --totp -b SECRET` compute. Secrets travel
    as RFC 4648 base32. Pure functions: no clock is read here, the caller
    passes the time and keeps the last accepted step to refuse replays.
*/
#ifndef AUTH_TOTP_H_INCLUDED
#define AUTH_TOTP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define AUTH_TOTP_SECRET_BYTES      20      //  160-bit key, RFC 4226's recommendation
#define AUTH_TOTP_SECRET_SIZE       33      //  32 base32 characters + NUL
#define AUTH_TOTP_DIGITS            6
#define AUTH_TOTP_PERIOD            30      //  seconds per time step
#define AUTH_TOTP_MAX_WINDOW        10      //  steps either side verify accepts at most
#define AUTH_TOTP_RECOVERY_COUNT    10
#define AUTH_TOTP_RECOVERY_LEN      15      //  "xxxx-xxxx-xxxx" + NUL
//  Unambiguous alphabet of 32 symbols (no 0, o, 1, l): 5 bits a character,
//  60 bits a recovery code
#define AUTH_TOTP_RECOVERY_ALPHABET "23456789abcdefghijkmnpqrstuvwxyz"

//  ----------------------------------------------------------------------
//  RFC 4648 base32 of len bytes into out (size bytes), upper-case, no
//  padding, NUL-terminated. Returns the characters written, or -1 when
//  out is too small (out is then "").
int
    auth_totp_base32_encode (const uint8_t *data, size_t len, char *out, size_t size);

//  ----------------------------------------------------------------------
//  Decode base32 text (either case, padding optional but exact when there)
//  into out (size bytes). Returns the bytes written, or -1 on an invalid
//  character, length, padding or non-zero trailing bits, or when out is too small.
int
    auth_totp_base32_decode (const char *text, uint8_t *out, size_t size);

//  ----------------------------------------------------------------------
//  A new secret: 20 random bytes as base32 into out. 0, or -1 when the
//  random generator failed (out is then "").
int
    auth_totp_secret_new (char out [AUTH_TOTP_SECRET_SIZE]);

//  ----------------------------------------------------------------------
//  The HOTP value (RFC 4226, HMAC-SHA1, 6 digits) of key for counter:
//  0..999999, or -1 when key is empty or HMAC failed.
int
    auth_totp_code (const uint8_t *key, size_t len, uint64_t counter);

//  ----------------------------------------------------------------------
//  Check code (exactly 6 ASCII digits) against the steps now/30 - window ..
//  now/30 + window (window 0..10). Returns 0 and sets *matched_step on a
//  match, 1 on no match, -1 on a malformed code, key or time.
int
    auth_totp_verify (const uint8_t *key, size_t len, const char *code, int64_t now,
                      int window, int64_t *matched_step);

//  ----------------------------------------------------------------------
//  The otpauth:// URI an authenticator app scans, into out (size bytes):
//  otpauth://totp/<issuer>:<email>?secret=..&issuer=..&algorithm=SHA1&
//  digits=6&period=30, issuer and email percent-encoded. 0, or -1 when a
//  value is empty, contains ':', the secret is not base32, or out is too small.
int
    auth_totp_uri (char *out, size_t size, const char *issuer, const char *email,
                   const char *secret);

//  ----------------------------------------------------------------------
//  Ten distinct recovery codes "xxxx-xxxx-xxxx" from the alphabet above.
//  0, or -1 when the random generator failed (codes are then all "").
int
    auth_totp_recovery_codes (char codes [AUTH_TOTP_RECOVERY_COUNT][AUTH_TOTP_RECOVERY_LEN]);

//  ----------------------------------------------------------------------
//  Bring a typed recovery code to its canonical form (lower case, dashes
//  where they belong; spaces and dashes in the input ignored) so it can be
//  hashed and looked up. 0, or -1 when it is not a possible recovery code.
int
    auth_totp_recovery_normalize (const char *input, char out [AUTH_TOTP_RECOVERY_LEN]);

#endif
