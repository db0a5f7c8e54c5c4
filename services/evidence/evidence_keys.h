/*  evidence_keys - the keys of the evidence service

    Two secrets from files (64 hex digits each), loaded once at start-up:
    the master key, which wraps one random data key per user (sealed with
    the user id as associated data, so a wrapped key copied to another user
    does not open), and the key that signs upload URLs. Each file gets its
    own key, derived from its owner's data key and its evidence id by
    HKDF-SHA256: segments of different files never share a key and nonce.
*/
#ifndef EVIDENCE_KEYS_H_INCLUDED
#define EVIDENCE_KEYS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "../../common/cm_config.h"
#include "../../common/cm_crypt.h"

#define EVIDENCE_KEYS_BYTES     CM_CRYPT_KEY_BYTES
#define EVIDENCE_KEYS_WRAPPED   (CM_CRYPT_KEY_BYTES + CM_CRYPT_OVERHEAD)   //  60

typedef struct {
    uint8_t master [EVIDENCE_KEYS_BYTES];   //  wraps the per-user data keys
    uint8_t url [EVIDENCE_KEYS_BYTES];      //  signs upload URLs
} evidence_keys_t;

//  ----------------------------------------------------------------------
//  Load both keys from EVIDENCE_MASTER_KEY_FILE and UPLOAD_URL_KEY_FILE
//  (default KEYS_DIR/secrets/evidence_master.key and upload_url.key).
//  Returns 0, or -1 after logging which file is missing or malformed.
int
    evidence_keys_load (evidence_keys_t *self, const cm_config_t *cfg);

//  ----------------------------------------------------------------------
//  A fresh random data key for user_id, wrapped under master into
//  wrapped [EVIDENCE_KEYS_WRAPPED]. Returns 0 or -1.
int
    evidence_keys_new_wrapped (const uint8_t *master, const char *user_id, uint8_t *wrapped);

//  Unwrap a user's data key. Returns 0, or -1 when wrapped is not that
//  user's key under this master key (tampered, moved, or another master).
int
    evidence_keys_unwrap (const uint8_t *master, const char *user_id, const uint8_t *wrapped,
                          size_t len, uint8_t data_key [EVIDENCE_KEYS_BYTES]);

//  ----------------------------------------------------------------------
//  The key of one file: HKDF-SHA256 (data_key, salt = the 16 bytes of the
//  evidence id, info = "evidence file v1"). Returns 0, or -1 when the id is
//  not a UUID.
int
    evidence_keys_file_key (const uint8_t data_key [EVIDENCE_KEYS_BYTES], const char *evidence_id,
                            uint8_t file_key [EVIDENCE_KEYS_BYTES]);

#endif
