/*  auth_secret - opaque tokens, their stored hashes and constant-time compare

    Refresh, magic-link, reset and email tokens and recovery codes are shown
    to the user once and stored only as SHA-256 hashes: a leaked table then
    holds nothing that signs anyone in. Tokens carry 256 random bits, so a
    plain hash (no salt, no stretching) is enough to protect them.
*/
#ifndef AUTH_SECRET_H_INCLUDED
#define AUTH_SECRET_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define AUTH_SECRET_TOKEN_BYTES     32      //  random bytes in a token
#define AUTH_SECRET_TOKEN_SIZE      44      //  43 base64url characters + NUL
#define AUTH_SECRET_HASH_SIZE       65      //  64 hex digits + NUL

//  ----------------------------------------------------------------------
//  A new token: 32 random bytes as base64url without padding (43 chars)
//  into out (size >= AUTH_SECRET_TOKEN_SIZE). 0, or -1 (out is then "").
int
    auth_secret_token (char *out, size_t size);

//  ----------------------------------------------------------------------
//  SHA-256 of token as 64 lower-case hex digits into out_hex, the form in
//  which tokens are stored and looked up. 0, or -1 (out_hex is then "").
int
    auth_secret_hash (const char *token, char out_hex [AUTH_SECRET_HASH_SIZE]);

//  ----------------------------------------------------------------------
//  True when a and b are the same string. Time depends only on the length
//  when they are as long as each other; different lengths are false at once.
bool
    auth_secret_equal (const char *a, const char *b);

#endif
