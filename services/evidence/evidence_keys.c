/*  evidence_keys - master key, URL key, per-user data keys, file keys */
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include "evidence_keys.h"
#include "../../common/cm_log.h"

static int
s_load (const char *configured, const char *keys_dir, const char *name, uint8_t *key)
{
    char path [1024];
    if (cm_crypt_key_path (keys_dir, configured, name, path, sizeof path) || cm_crypt_load_key (path, key)) {
        cm_error ("cannot load the %s key %s (64 hex digits)", name, path);
        return -1;
    }
    return 0;
}

int
evidence_keys_load (evidence_keys_t *self, const cm_config_t *cfg)
{
    int rc = s_load (cfg->evidence_master_key_file, cfg->keys_dir, "evidence_master", self->master);
    if (s_load (cfg->upload_url_key_file, cfg->keys_dir, "upload_url", self->url))
        rc = -1;
    //  One key for two jobs would let a URL signature stand for something else
    if (rc == 0 && memcmp (self->master, self->url, EVIDENCE_KEYS_BYTES) == 0) {
        cm_error ("the evidence master key and the upload URL key must differ");
        rc = -1;
    }
    if (rc)
        explicit_bzero (self, sizeof *self);
    return rc;
}

int
evidence_keys_new_wrapped (const uint8_t *master, const char *user_id, uint8_t *wrapped)
{
    uint8_t data_key [EVIDENCE_KEYS_BYTES];
    int rc = RAND_bytes (data_key, sizeof data_key) == 1
          && cm_crypt_seal (master, user_id, data_key, sizeof data_key, wrapped) == 0? 0: -1;
    explicit_bzero (data_key, sizeof data_key);
    return rc;
}

int
evidence_keys_unwrap (const uint8_t *master, const char *user_id, const uint8_t *wrapped,
                      size_t len, uint8_t data_key [EVIDENCE_KEYS_BYTES])
{
    if (len != EVIDENCE_KEYS_WRAPPED)
        return -1;
    return cm_crypt_open (master, user_id, wrapped, len, data_key);
}

//  The 16 bytes of a UUID in its text form; 0 or -1
static int
s_uuid_bytes (const char *uuid, uint8_t *out)
{
    if (!uuid || strlen (uuid) != 36)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (uuid [i] != '-')
                return -1;
            continue;
        }
        char c = uuid [i];
        int value = c >= '0' && c <= '9'? c - '0'
                  : c >= 'a' && c <= 'f'? c - 'a' + 10
                  : c >= 'A' && c <= 'F'? c - 'A' + 10: -1;
        if (value < 0)
            return -1;
        if (n % 2 == 0)
            out [n / 2] = (uint8_t) (value << 4);
        else
            out [n / 2] |= (uint8_t) value;
        n++;
    }
    return 0;
}

int
evidence_keys_file_key (const uint8_t data_key [EVIDENCE_KEYS_BYTES], const char *evidence_id,
                        uint8_t file_key [EVIDENCE_KEYS_BYTES])
{
    static const char info [] = "evidence file v1";
    uint8_t salt [16];
    if (s_uuid_bytes (evidence_id, salt))
        return -1;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id (EVP_PKEY_HKDF, NULL);
    size_t len = EVIDENCE_KEYS_BYTES;
    int rc = -1;
    if (ctx && EVP_PKEY_derive_init (ctx) == 1
    &&  EVP_PKEY_CTX_set_hkdf_md (ctx, EVP_sha256 ()) == 1
    &&  EVP_PKEY_CTX_set1_hkdf_salt (ctx, salt, sizeof salt) == 1
    &&  EVP_PKEY_CTX_set1_hkdf_key (ctx, data_key, EVIDENCE_KEYS_BYTES) == 1
    &&  EVP_PKEY_CTX_add1_hkdf_info (ctx, (const unsigned char *) info, sizeof info - 1) == 1
    &&  EVP_PKEY_derive (ctx, file_key, &len) == 1 && len == EVIDENCE_KEYS_BYTES)
        rc = 0;
    EVP_PKEY_CTX_free (ctx);
    if (rc)
        explicit_bzero (file_key, EVIDENCE_KEYS_BYTES);
    return rc;
}
