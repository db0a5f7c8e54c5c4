/*  cm_crypt - AES-256-GCM for small secrets a service must read back

    Secrets that cannot be hashed (TOTP secrets: the server computes codes
    from them; evidence data keys) are sealed with a key from a file
    outside the database, and bound to their row by associated data: a
    sealed value copied to another user does not open.
*/
#ifndef CM_CRYPT_H_INCLUDED
#define CM_CRYPT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define CM_CRYPT_KEY_BYTES   32
#define CM_CRYPT_OVERHEAD    28       //  12-byte nonce + 16-byte tag

//  Read a key file of 64 hex digits (either case) on its first line; 0,
//  or -1 when it is missing or holds anything else
int
    cm_crypt_load_key (const char *path, uint8_t key [CM_CRYPT_KEY_BYTES]);

//  Where the key called name lives, into path [size]: the configured file
//  when set, else keys_dir/secrets/<name>.key. 0, or -1 when it does not fit
int
    cm_crypt_key_path (const char *keys_dir, const char *configured, const char *name,
                       char *path, size_t size);

//  Seal len bytes into out (len + CM_CRYPT_OVERHEAD bytes): nonce, ciphertext, tag
int
    cm_crypt_seal (const uint8_t *key, const char *aad, const uint8_t *in, size_t len, uint8_t *out);

//  Open a sealed value of len bytes into out (len - OVERHEAD bytes); -1 when
//  it was tampered with, sealed under another key or for another aad
int
    cm_crypt_open (const uint8_t *key, const char *aad, const uint8_t *in, size_t len, uint8_t *out);

#endif
