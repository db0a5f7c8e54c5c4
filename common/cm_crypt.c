/*  cm_crypt - AES-256-GCM seal and open */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "cm_crypt.h"
#include "cm_hex.h"

int
cm_crypt_load_key (const char *path, uint8_t key [CM_CRYPT_KEY_BYTES])
{
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    char hex [80] = "";
    char *line = fgets (hex, sizeof hex, file);
    fclose (file);
    if (!line)
        return -1;
    hex [strcspn (hex, "\r\n")] = 0;
    //  Hand-written key files may use either case
    for (char *c = hex; *c; c++)
        *c = (char) tolower ((unsigned char) *c);
    int rc = cm_hex_decode (hex, key, CM_CRYPT_KEY_BYTES);
    explicit_bzero (hex, sizeof hex);
    return rc;
}

int
cm_crypt_key_path (const char *keys_dir, const char *configured, const char *name,
                   char *path, size_t size)
{
    int len = configured && *configured
            ? snprintf (path, size, "%s", configured)
            : snprintf (path, size, "%s/secrets/%s.key", keys_dir, name);
    return len < 0 || (size_t) len >= size? -1: 0;
}

int
cm_crypt_seal (const uint8_t *key, const char *aad, const uint8_t *in, size_t len, uint8_t *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
    int n = 0, rc = -1;
    if (ctx && RAND_bytes (out, 12) == 1
    &&  EVP_EncryptInit_ex (ctx, EVP_aes_256_gcm (), NULL, key, out) == 1
    &&  EVP_EncryptUpdate (ctx, NULL, &n, (const uint8_t *) aad, (int) strlen (aad)) == 1
    &&  EVP_EncryptUpdate (ctx, out + 12, &n, in, (int) len) == 1
    &&  EVP_EncryptFinal_ex (ctx, out + 12 + n, &n) == 1
    &&  EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_GET_TAG, 16, out + 12 + len) == 1)
        rc = 0;
    EVP_CIPHER_CTX_free (ctx);
    return rc;
}

int
cm_crypt_open (const uint8_t *key, const char *aad, const uint8_t *in, size_t len, uint8_t *out)
{
    if (len < CM_CRYPT_OVERHEAD)
        return -1;
    size_t body = len - CM_CRYPT_OVERHEAD;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
    int n = 0, rc = -1;
    if (ctx && EVP_DecryptInit_ex (ctx, EVP_aes_256_gcm (), NULL, key, in) == 1
    &&  EVP_DecryptUpdate (ctx, NULL, &n, (const uint8_t *) aad, (int) strlen (aad)) == 1
    &&  EVP_DecryptUpdate (ctx, out, &n, in + 12, (int) body) == 1
    &&  EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *) (in + 12 + body)) == 1
    &&  EVP_DecryptFinal_ex (ctx, out + n, &n) == 1)
        rc = 0;
    EVP_CIPHER_CTX_free (ctx);
    if (rc)
        explicit_bzero (out, body);
    return rc;
}
