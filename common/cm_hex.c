/*  cm_hex - lower-case hex encode and strict decode */
#include <string.h>
#include "cm_hex.h"

void
cm_hex_encode (const uint8_t *data, size_t len, char *out)
{
    static const char digits [] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out [2 * i] = digits [data [i] >> 4];
        out [2 * i + 1] = digits [data [i] & 15];
    }
    out [2 * len] = 0;
}

int
cm_hex_decode (const char *hex, uint8_t *out, size_t len)
{
    //  strnlen: never reads past the digits plus the terminator we expect
    if (strnlen (hex, 2 * len + 1) != 2 * len)
        return -1;
    for (size_t i = 0; i < 2 * len; i++) {
        char c = hex [i];
        int value = c >= '0' && c <= '9'? c - '0': c >= 'a' && c <= 'f'? c - 'a' + 10: -1;
        if (value < 0)
            return -1;
        out [i / 2] = (uint8_t) (i % 2? out [i / 2] | value: value << 4);
    }
    return 0;
}
