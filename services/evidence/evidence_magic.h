/*  evidence_magic - what an evidence file may be: its type, its first
    bytes, its text and its name

    Five types are accepted. A declared type is compared without regard to
    letter case and kept lower-case; only text/plain takes a parameter, and
    only charset=utf-8, which is dropped. The first bytes of a file must be
    those of its type (PNG, JPEG, WebP and PDF signatures); text/plain must
    be UTF-8 without NUL bytes all through, checked as the bytes stream by.
    The client's filename is metadata: trimmed, 1 to 255 characters, no
    path separators or control characters.
*/
#ifndef EVIDENCE_MAGIC_H_INCLUDED
#define EVIDENCE_MAGIC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVIDENCE_MAGIC_TYPES     "image/png, image/jpeg, image/webp, application/pdf, text/plain"
#define EVIDENCE_MAGIC_NAME_MAX  255        //  code points in a filename
#define EVIDENCE_MAGIC_NAME_SIZE 1021       //  255 code points of up to 4 bytes + NUL

#define EVIDENCE_MAGIC_NAME_LENGTH  -1      //  empty after trimming, or too long
#define EVIDENCE_MAGIC_NAME_CHARS   -2      //  a '/', '\' or control character

//  ----------------------------------------------------------------------
//  The stored form of a declared type (a static string such as
//  "image/png"), or NULL when it is not one of the accepted types.
const char *
    evidence_magic_type (const char *declared);

//  ----------------------------------------------------------------------
//  True when the first len bytes of a file (its first chunk) begin as files
//  of type (a stored form) do. text/plain has no signature: true unless a
//  NUL or an invalid UTF-8 sequence is already there (evidence_magic_utf8_*
//  checks the rest).
bool
    evidence_magic_match (const char *type, const uint8_t *head, size_t len);

//  ----------------------------------------------------------------------
//  UTF-8 without NUL over bytes fed in any pieces (a character may be split
//  between two pieces)
typedef struct {
    uint8_t carry [4];              //  start of a character the last piece cut
    size_t carry_len;
    bool bad;                       //  an invalid sequence or a NUL was seen
} evidence_magic_utf8_t;

void
    evidence_magic_utf8_init (evidence_magic_utf8_t *self);
void
    evidence_magic_utf8_feed (evidence_magic_utf8_t *self, const uint8_t *data, size_t len);

//  True when everything fed so far is valid and ends on a whole character
bool
    evidence_magic_utf8_valid (const evidence_magic_utf8_t *self);

//  ----------------------------------------------------------------------
//  Check a client's filename (valid UTF-8) and write its trimmed form into
//  out (size >= EVIDENCE_MAGIC_NAME_SIZE). Returns 0, or
//  EVIDENCE_MAGIC_NAME_LENGTH / EVIDENCE_MAGIC_NAME_CHARS.
int
    evidence_magic_filename (const char *given, char *out, size_t size);

#endif
