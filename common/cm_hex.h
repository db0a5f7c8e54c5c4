/*  cm_hex - bytes as lower-case hex, the one text form they are stored in

    Hashes, sealed values and wrapped keys go into text columns and files as
    lower-case hex. Decoding is strict: exactly the expected number of
    lower-case digits, nothing before or after.
*/
#ifndef CM_HEX_H_INCLUDED
#define CM_HEX_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  len bytes of data as lower-case hex into out [2 * len + 1]
void
    cm_hex_encode (const uint8_t *data, size_t len, char *out);

//  Exactly 2 * len lower-case hex digits, then the string's end, into
//  out [len]; 0, or -1 for anything else (out is then undefined)
int
    cm_hex_decode (const char *hex, uint8_t *out, size_t len);

#endif
