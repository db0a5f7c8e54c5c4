/*  evidence_url - HMAC-SHA256 signatures of upload URLs */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "evidence_url.h"
#include "../../common/cm_jwt.h"

int
evidence_url_sign (const uint8_t key [32], const char *user_id, const char *evidence_id,
                   const char *content_type, int64_t size_bytes, int64_t expires,
                   char sig [EVIDENCE_URL_SIG_SIZE])
{
    sig [0] = 0;
    if (!user_id || !evidence_id || !content_type)
        return -1;
    //  Fields are bounded (UUIDs, a 64-byte type, two integers); a message
    //  that did not fit would sign something else, so it is refused
    char message [512];
    int len = snprintf (message, sizeof message, "v1\n%s\n%s\n%s\n%lld\n%lld", user_id, evidence_id,
                        content_type, (long long) size_bytes, (long long) expires);
    if (len < 0 || (size_t) len >= sizeof message)
        return -1;
    uint8_t mac [EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC (EVP_sha256 (), key, 32, (const uint8_t *) message, (size_t) len, mac, &mac_len)
    ||  mac_len != 32
    ||  cm_jwt_b64url_encode (mac, mac_len, sig, EVIDENCE_URL_SIG_SIZE) != EVIDENCE_URL_SIG_LEN) {
        sig [0] = 0;
        return -1;
    }
    return 0;
}

int
evidence_url_verify (const uint8_t key [32], const char *user_id, const char *evidence_id,
                     const char *content_type, int64_t size_bytes, int64_t expires,
                     const char *sig, int64_t now)
{
    char expected [EVIDENCE_URL_SIG_SIZE];
    if (!sig || evidence_url_sign (key, user_id, evidence_id, content_type, size_bytes,
                                   expires, expected))
        return EVIDENCE_URL_BAD;
    //  The length of a signature is public; its bytes are compared in
    //  constant time so a forger learns nothing from how long a refusal takes
    bool same = strnlen (sig, EVIDENCE_URL_SIG_SIZE) == EVIDENCE_URL_SIG_LEN
             && CRYPTO_memcmp (expected, sig, EVIDENCE_URL_SIG_LEN) == 0;
    if (!same)
        return EVIDENCE_URL_BAD;
    return now > expires? EVIDENCE_URL_EXPIRED: EVIDENCE_URL_VALID;
}
