/*  cm_cursor - keyset page cursors, encoded and strictly decoded */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "cm_cursor.h"
#include "cm_jwt.h"
#include "../proto/proto_codec.h"

//  The longest cursor text: 18 digits (CM_CURSOR_US_MAX), a dot, a UUID
#define CURSOR_DIGITS_MAX 18
#define CURSOR_TEXT_MAX (CURSOR_DIGITS_MAX + 1 + 36)

int
cm_cursor_encode (int64_t created_us, const char *id, char *out, size_t size)
{
    assert (out && size >= CM_CURSOR_SIZE);
    *out = 0;
    if (created_us < 0 || created_us > CM_CURSOR_US_MAX || !id || !proto_is_uuid (id))
        return -1;
    char text [CURSOR_TEXT_MAX + 1];
    int len = snprintf (text, sizeof text, "%" PRId64 ".%s", created_us, id);
    if (len < 0 || len > CURSOR_TEXT_MAX
    ||  cm_jwt_b64url_encode ((const uint8_t *) text, (size_t) len, out, size) < 0) {
        *out = 0;
        return -1;
    }
    return 0;
}

int
cm_cursor_decode (const char *cursor, int64_t *created_us, char *id)
{
    assert (created_us && id);
    *created_us = 0;
    *id = 0;
    if (!cursor)
        return -1;
    size_t len = strnlen (cursor, CM_CURSOR_SIZE);
    if (len == 0 || len >= CM_CURSOR_SIZE)
        return -1;
    //  The decoder is strict: no padding, no stray characters, no leftover
    //  bits, so each payload has exactly one spelling
    uint8_t text [CURSOR_TEXT_MAX];
    size_t text_len = 0;
    if (cm_jwt_b64url_decode (cursor, len, text, sizeof text, &text_len))
        return -1;
    //  "<digits>.<uuid>": the UUID is the last 36 bytes, after the one dot
    if (text_len < 2 + 36 || text [text_len - 37] != '.')
        return -1;
    size_t digits = text_len - 37;
    if (digits > CURSOR_DIGITS_MAX || (digits > 1 && text [0] == '0'))
        return -1;
    int64_t value = 0;
    for (size_t i = 0; i < digits; i++) {
        if (text [i] < '0' || text [i] > '9')
            return -1;
        value = value * 10 + (text [i] - '0');      //  18 digits cannot overflow
    }
    if (value > CM_CURSOR_US_MAX || !proto_is_uuid_n ((const char *) text + digits + 1, 36))
        return -1;
    *created_us = value;
    memcpy (id, text + digits + 1, 36);
    id [36] = 0;
    return 0;
}
