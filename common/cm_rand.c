/*  cm_rand - random identifiers */
#include <stdint.h>
#include <stdio.h>
#include <openssl/rand.h>
#include "cm_hex.h"
#include "cm_rand.h"

int
cm_rand_hex (char *out, size_t bytes)
{
    uint8_t raw [64];
    if (bytes > sizeof raw || RAND_bytes (raw, (int) bytes) != 1) {
        out [0] = 0;
        return -1;
    }
    cm_hex_encode (raw, bytes, out);
    return 0;
}

int
cm_rand_uuid (char *out)
{
    uint8_t b [16];
    if (RAND_bytes (b, sizeof b) != 1) {
        out [0] = 0;
        return -1;
    }
    b [6] = (b [6] & 0x0F) | 0x40;      //  version 4
    b [8] = (b [8] & 0x3F) | 0x80;      //  RFC 4122 variant
    snprintf (out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
              b [0], b [1], b [2], b [3], b [4], b [5], b [6], b [7],
              b [8], b [9], b [10], b [11], b [12], b [13], b [14], b [15]);
    return 0;
}
