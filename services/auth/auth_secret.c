/*  auth_secret - opaque tokens, their stored hashes and constant-time compare */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "auth_secret.h"
#include "../../common/cm_hex.h"

//  ---------------------------------------------------------------------
//  A new token: 32 random bytes as unpadded base64url. 0 or -1.
int
auth_secret_token (char *out, size_t size)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    assert (out && size > 0);
    uint8_t raw [AUTH_SECRET_TOKEN_BYTES];
    int rc = -1;
    out [0] = 0;
    if (size < AUTH_SECRET_TOKEN_SIZE || RAND_bytes (raw, sizeof raw) != 1)
        goto cleanup;

    size_t pos = 0;
    uint32_t bits = 0;                      //  pending bits, at most 12
    int count = 0;
    for (size_t i = 0; i < sizeof raw; i++) {
        bits = (bits << 8) | raw [i];
        count += 8;
        while (count >= 6) {
            out [pos++] = alphabet [(bits >> (count - 6)) & 63];
            count -= 6;
        }
        bits &= (1u << count) - 1;
    }
    if (count > 0)
        out [pos++] = alphabet [(bits << (6 - count)) & 63];
    out [pos] = 0;
    assert (pos == AUTH_SECRET_TOKEN_SIZE - 1);
    rc = 0;

cleanup:
    OPENSSL_cleanse (raw, sizeof raw);
    return rc;
}

//  ---------------------------------------------------------------------
//  SHA-256 of token as lower-case hex. 0 or -1.
int
auth_secret_hash (const char *token, char out_hex [AUTH_SECRET_HASH_SIZE])
{
    assert (token);
    assert (out_hex);
    uint8_t digest [EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    out_hex [0] = 0;
    if (!EVP_Digest (token, strlen (token), digest, &digest_len, EVP_sha256 (), NULL)
    ||  digest_len != 32)
        return -1;
    cm_hex_encode (digest, digest_len, out_hex);
    return 0;
}

//  ---------------------------------------------------------------------
//  True when a and b are equal; constant time for equal lengths.
bool
auth_secret_equal (const char *a, const char *b)
{
    assert (a && b);
    size_t len = strlen (a);
    //  Tokens and hashes have public, fixed lengths: only contents are secret
    if (strlen (b) != len)
        return false;
    return CRYPTO_memcmp (a, b, len) == 0;
}
