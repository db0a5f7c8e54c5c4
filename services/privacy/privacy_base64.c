/*  privacy_base64 - base64 of a stream, piece by piece */
#include <assert.h>
#include <string.h>
#include "privacy_base64.h"

static const char s_alphabet [] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

//  Three bytes into four characters
static void
s_group (const uint8_t *in, char *out)
{
    uint32_t v = (uint32_t) in [0] << 16 | (uint32_t) in [1] << 8 | in [2];
    out [0] = s_alphabet [(v >> 18) & 63];
    out [1] = s_alphabet [(v >> 12) & 63];
    out [2] = s_alphabet [(v >> 6) & 63];
    out [3] = s_alphabet [v & 63];
}

size_t
privacy_base64_update_size (const privacy_base64_t *self, size_t len)
{
    assert (self && self->carry_len <= 2);
    return (self->carry_len + len) / 3 * 4;
}

size_t
privacy_base64_update (privacy_base64_t *self, const uint8_t *in, size_t len, char *out)
{
    assert (self && self->carry_len <= 2);
    assert (in || len == 0);
    size_t written = 0;
    //  Complete the carried group first
    if (self->carry_len && self->carry_len + len >= 3) {
        uint8_t group [3];
        size_t take = 3 - self->carry_len;
        memcpy (group, self->carry, self->carry_len);
        memcpy (group + self->carry_len, in, take);
        s_group (group, out);
        written += 4;
        in += take;
        len -= take;
        self->carry_len = 0;
    }
    if (self->carry_len) {
        //  Still short of a group: everything waits
        memcpy (self->carry + self->carry_len, in, len);
        self->carry_len += len;
        return 0;
    }
    size_t whole = len / 3 * 3;
    for (size_t i = 0; i < whole; i += 3, written += 4)
        s_group (in + i, out + written);
    self->carry_len = len - whole;
    memcpy (self->carry, in + whole, self->carry_len);
    return written;
}

size_t
privacy_base64_final (privacy_base64_t *self, char *out)
{
    assert (self && self->carry_len <= 2);
    if (self->carry_len == 0)
        return 0;
    uint8_t group [3] = { 0, 0, 0 };
    memcpy (group, self->carry, self->carry_len);
    s_group (group, out);
    out [3] = '=';
    if (self->carry_len == 1)
        out [2] = '=';
    self->carry_len = 0;
    return 4;
}
