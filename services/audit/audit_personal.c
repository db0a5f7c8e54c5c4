/*  audit_personal - split, seal, open and merge the personal data of events */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <openssl/rand.h>
#include "audit_personal.h"

#define KEY_AAD_PREFIX      "audit subject key v1:"
#define SEAL_AAD_PREFIX     "audit personal v1:"

bool
audit_personal_is_personal (const char *member)
{
    static const char *names [] = {
        "email", "name", "display_name", "full_name", "first_name", "last_name", "given_name",
        "family_name", "username", "user_agent", "ip", "phone", "address"
    };
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++)
        if (strcmp (member, names [i]) == 0)
            return true;
    size_t len = strlen (member);
    return (len > 6 && strcmp (member + len - 6, "_email") == 0)
        || (len > 3 && strcmp (member + len - 3, "_ip") == 0);
}

static char *
s_dump (json_t *value)
{
    return value? json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY): NULL;
}

int
audit_personal_split (const char *detail, char **public_p, char **personal_p)
{
    assert (public_p && personal_p);
    *public_p = *personal_p = NULL;
    json_t *personal = json_object ();
    if (!personal)
        return -1;
    int rc = 0;
    if (detail && *detail) {
        json_error_t error;
        json_t *parsed = json_loads (detail, JSON_REJECT_DUPLICATES, &error);
        if (json_is_object (parsed)) {
            json_t *fields = json_object ();
            const char *member;
            json_t *value;
            void *tmp;
            json_object_foreach_safe (parsed, tmp, member, value) {
                if (audit_personal_is_personal (member)) {
                    rc |= json_object_set (fields, member, value);
                    rc |= json_object_del (parsed, member);
                }
            }
            if (json_object_size (fields) == 0)
                *public_p = strdup (detail);        //  the very bytes that came
            else {
                *public_p = s_dump (parsed);
                rc |= json_object_set (personal, "fields", fields);
            }
            json_decref (fields);
            if (!*public_p)
                rc = -1;
            else
            if (strlen (*public_p) > strlen (detail)) {
                //  Re-encoded longer than it came (1e2 becomes 100.0): keep it
                //  whole and erasable rather than past the column's bound
                free (*public_p);
                *public_p = NULL;
                json_object_clear (personal);
                rc |= json_object_set_new (personal, "raw", json_string (detail));
            }
        }
        else
            //  Not an object: nothing tells what is in it, so all of it is erasable
            rc |= json_object_set_new (personal, "raw", json_string (detail));
        json_decref (parsed);
    }
    if (rc == 0 && json_object_size (personal) > 0) {
        *personal_p = s_dump (personal);
        if (!*personal_p)
            rc = -1;
    }
    json_decref (personal);
    if (rc) {
        free (*public_p);
        free (*personal_p);
        *public_p = *personal_p = NULL;
        return -1;
    }
    return 0;
}

static char *
s_strdup_or_null (const char *s)
{
    return s? strdup (s): NULL;
}

int
audit_personal_merge (const char *public_detail, const char *personal, size_t max_detail,
                      char **detail_p)
{
    assert (detail_p);
    *detail_p = NULL;
    if (!personal) {
        *detail_p = s_strdup_or_null (public_detail);
        return 0;
    }
    json_error_t error;
    json_t *doc = json_loads (personal, JSON_REJECT_DUPLICATES, &error);
    if (!json_is_object (doc)) {
        json_decref (doc);
        return -1;
    }
    const char *raw = json_string_value (json_object_get (doc, "raw"));
    json_t *fields = json_object_get (doc, "fields");
    char *merged = NULL;
    if (raw)
        merged = strdup (raw);
    else
    if (json_is_object (fields) && json_object_size (fields) > 0) {
        json_t *object = public_detail? json_loads (public_detail, JSON_REJECT_DUPLICATES, &error)
                                      : json_object ();
        if (json_is_object (object) && json_object_update (object, fields) == 0)
            merged = s_dump (object);
        json_decref (object);
    }
    if (!merged || strlen (merged) > max_detail) {
        free (merged);
        merged = s_strdup_or_null (public_detail);
    }
    *detail_p = merged;
    json_decref (doc);
    return 0;
}

int
audit_personal_subject (const char *user_id, int64_t at_ms, char *out)
{
    assert (out);
    if (user_id && *user_id) {
        int len = snprintf (out, AUDIT_PERSONAL_SUBJECT_SIZE, "%s", user_id);
        return len > 0 && len < AUDIT_PERSONAL_SUBJECT_SIZE? 0: -1;
    }
    time_t seconds = (time_t) (at_ms / 1000);
    struct tm tm;
    if (at_ms < 0 || !gmtime_r (&seconds, &tm))
        return -1;
    snprintf (out, AUDIT_PERSONAL_SUBJECT_SIZE, "anon:%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
    return 0;
}

//  "<prefix><value>" into aad of size bytes; 0 or -1 when it does not fit
static int
s_aad (char *aad, size_t size, const char *prefix, const char *value)
{
    int len = snprintf (aad, size, "%s%s", prefix, value? value: "");
    return len > 0 && (size_t) len < size? 0: -1;
}

int
audit_personal_new_key (const uint8_t *master, const char *subject, uint8_t *wrapped, uint8_t *key)
{
    uint8_t fresh [CM_CRYPT_KEY_BYTES];
    char aad [128];
    int rc = s_aad (aad, sizeof aad, KEY_AAD_PREFIX, subject) == 0
          && RAND_bytes (fresh, sizeof fresh) == 1
          && cm_crypt_seal (master, aad, fresh, sizeof fresh, wrapped) == 0? 0: -1;
    if (rc == 0 && key)
        memcpy (key, fresh, sizeof fresh);
    explicit_bzero (fresh, sizeof fresh);
    return rc;
}

int
audit_personal_unwrap (const uint8_t *master, const char *subject, const uint8_t *wrapped,
                       size_t len, uint8_t key [CM_CRYPT_KEY_BYTES])
{
    char aad [128];
    if (len != AUDIT_PERSONAL_WRAPPED || s_aad (aad, sizeof aad, KEY_AAD_PREFIX, subject))
        return -1;
    return cm_crypt_open (master, aad, wrapped, len, key);
}

int
audit_personal_seal (const uint8_t *key, const char *event_id, const char *personal,
                     uint8_t **out_p, size_t *len)
{
    assert (out_p && len);
    *out_p = NULL;
    *len = 0;
    char aad [128];
    if (!personal || s_aad (aad, sizeof aad, SEAL_AAD_PREFIX, event_id))
        return -1;
    size_t plain = strlen (personal);
    uint8_t *out = (uint8_t *) malloc (plain + CM_CRYPT_OVERHEAD);
    if (!out || cm_crypt_seal (key, aad, (const uint8_t *) personal, plain, out)) {
        free (out);
        return -1;
    }
    *out_p = out;
    *len = plain + CM_CRYPT_OVERHEAD;
    return 0;
}

char *
audit_personal_open (const uint8_t *key, const char *event_id, const uint8_t *sealed, size_t len)
{
    char aad [128];
    if (len < CM_CRYPT_OVERHEAD || s_aad (aad, sizeof aad, SEAL_AAD_PREFIX, event_id))
        return NULL;
    size_t plain = len - CM_CRYPT_OVERHEAD;
    char *out = (char *) malloc (plain + 1);
    if (!out)
        return NULL;
    if (cm_crypt_open (key, aad, sealed, len, (uint8_t *) out)) {
        free (out);
        return NULL;
    }
    out [plain] = 0;
    //  Only what seal wrote: text without a NUL inside
    if (strlen (out) != plain) {
        free (out);
        return NULL;
    }
    return out;
}
