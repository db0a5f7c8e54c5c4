/*  auth_crypt - AES-256-GCM for secrets auth must be able to read back

    TOTP secrets cannot be hashed (the server computes codes from them), so
    they are sealed with a key from a file outside the database, and bound
    to their row by associated data: a sealed value copied to another user
    does not open.
*/
#ifndef AUTH_CRYPT_H_INCLUDED
#define AUTH_CRYPT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define AUTH_CRYPT_KEY_BYTES   32
#define AUTH_CRYPT_OVERHEAD    28       //  12-byte nonce + 16-byte tag

//  Read a key file of 64 hex digits; 0 or -1
int
    auth_crypt_load_key (const char *path, uint8_t key [AUTH_CRYPT_KEY_BYTES]);

//  Seal len bytes into out (len + AUTH_CRYPT_OVERHEAD bytes): nonce, ciphertext, tag
int
    auth_crypt_seal (const uint8_t *key, const char *aad, const uint8_t *in, size_t len, uint8_t *out);

//  Open a sealed value of len bytes into out (len - OVERHEAD bytes); -1 when
//  it was tampered with, sealed under another key or for another aad
int
    auth_crypt_open (const uint8_t *key, const char *aad, const uint8_t *in, size_t len, uint8_t *out);

#endif
