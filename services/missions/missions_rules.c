/*  missions_rules - field rules of the missions service */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include "missions_rules.h"
#include "../../common/cm_hex.h"
#include "../../proto/proto_codec.h"

static bool
s_ascii_space (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int64_t
missions_rules_code_points (const char *text, size_t len)
{
    assert (text || len == 0);
    if (!proto_is_utf8 (text, len))
        return -1;
    //  Valid UTF-8: every byte that is not a continuation starts a code point
    int64_t count = 0;
    for (size_t i = 0; i < len; i++)
        count += ((unsigned char) text [i] & 0xC0) != 0x80;
    return count;
}

int
missions_rules_title (const char *title, char *out, size_t size)
{
    assert (out && size >= MISSIONS_TITLE_SIZE);
    *out = 0;
    if (!title)
        return -1;
    const char *start = title;
    const char *end = title + strlen (title);
    while (start < end && s_ascii_space (*start))
        start++;
    while (end > start && s_ascii_space (end [-1]))
        end--;
    size_t len = (size_t) (end - start);
    int64_t chars = missions_rules_code_points (start, len);
    if (chars < 1 || chars > MISSIONS_TITLE_MAX)
        return -1;
    //  200 code points take at most 800 bytes: it fits
    memcpy (out, start, len);
    out [len] = 0;
    return 0;
}

int
missions_rules_description (const char *description)
{
    if (!description)
        return 0;
    int64_t chars = missions_rules_code_points (description, strlen (description));
    return chars >= 0 && chars <= MISSIONS_DESCRIPTION_MAX? 0: -1;
}

int
missions_rules_duration (int64_t minutes)
{
    return minutes >= MISSIONS_DURATION_MIN && minutes <= MISSIONS_DURATION_MAX? 0: -1;
}

int
missions_rules_status (const char *status)
{
    return status && (strcmp (status, "pending") == 0 || strcmp (status, "in_progress") == 0
                      || strcmp (status, "completed") == 0)? 0: -1;
}

int64_t
missions_rules_limit (bool given, int64_t limit)
{
    if (!given)
        return MISSIONS_LIMIT_DEFAULT;
    return limit >= 1 && limit <= MISSIONS_LIMIT_MAX? limit: -1;
}

int
missions_rules_idempotency_key (const char *key)
{
    if (!key)
        return -1;
    size_t len = strlen (key);
    int64_t chars = missions_rules_code_points (key, len);
    if (chars < 1 || chars > MISSIONS_KEY_MAX)
        return -1;
    //  Header values never carry control characters; C1 controls are
    //  U+0080..U+009F, encoded C2 80..C2 9F
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) key [i];
        if (c < 0x20 || c == 0x7F)
            return -1;
        if (c == 0xC2 && i + 1 < len && (unsigned char) key [i + 1] <= 0x9F)
            return -1;
    }
    return 0;
}

//  Appends "<length>:<bytes>," to the digest, or "-," for NULL
static int
s_hash_field (EVP_MD_CTX *md, const char *value)
{
    char prefix [32];
    if (!value)
        return EVP_DigestUpdate (md, "-,", 2) == 1? 0: -1;
    size_t len = strlen (value);
    int n = snprintf (prefix, sizeof prefix, "%zu:", len);
    return EVP_DigestUpdate (md, prefix, (size_t) n) == 1
        && EVP_DigestUpdate (md, value, len) == 1
        && EVP_DigestUpdate (md, ",", 1) == 1? 0: -1;
}

int
missions_rules_request_hash (const char *title, const char *description,
                             int64_t duration_minutes, const char *status, char *hex)
{
    assert (title && status && hex);
    *hex = 0;
    char duration [24];
    snprintf (duration, sizeof duration, "%" PRId64, duration_minutes);
    unsigned char digest [EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new ();
    int rc = md && EVP_DigestInit_ex (md, EVP_sha256 (), NULL) == 1? 0: -1;
    //  A version tag first, so a future change of fields cannot collide
    if (rc == 0)
        rc = s_hash_field (md, "missions.create v1");
    if (rc == 0)
        rc = s_hash_field (md, title);
    if (rc == 0)
        rc = s_hash_field (md, description);
    if (rc == 0)
        rc = s_hash_field (md, duration);
    if (rc == 0)
        rc = s_hash_field (md, status);
    if (rc == 0 && (EVP_DigestFinal_ex (md, digest, &digest_len) != 1 || digest_len != 32))
        rc = -1;
    EVP_MD_CTX_free (md);
    if (rc)
        return -1;
    cm_hex_encode (digest, digest_len, hex);
    return 0;
}
