/*  privacy_base64 - standard base64 (RFC 4648, padded) of a byte stream
    that arrives in pieces

    A piece is encoded up to its last whole group of three bytes; the one
    or two bytes left over wait (the carry) for the next piece, so pieces
    of any length (evidence chunks of 256 KiB are not a multiple of 3)
    concatenate into exactly the text of the whole. The carry is two bytes
    at most, small enough to travel in an export cursor between parts.
*/
#ifndef PRIVACY_BASE64_H_INCLUDED
#define PRIVACY_BASE64_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t carry [2];              //  bytes of the stream not yet encoded
    size_t carry_len;               //  0..2
} privacy_base64_t;

//  ----------------------------------------------------------------------
//  Characters privacy_base64_update writes for len more bytes
size_t
    privacy_base64_update_size (const privacy_base64_t *self, size_t len);

//  ----------------------------------------------------------------------
//  Encode the carry and len bytes of in into out (privacy_base64_update_size
//  characters, no NUL) but for the last len % 3 bytes, which become the
//  carry. Returns the characters written.
size_t
    privacy_base64_update (privacy_base64_t *self, const uint8_t *in, size_t len, char *out);

//  ----------------------------------------------------------------------
//  End the stream: the carry as one padded group of 4 characters into out
//  (nothing when there is no carry). Returns the characters written.
size_t
    privacy_base64_final (privacy_base64_t *self, char *out);

#endif
