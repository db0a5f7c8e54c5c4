/*  cm_cursor - keyset page cursors: the key of the last item of a page

    A cursor is base64url (no padding) of "<created_at in epoch
    microseconds>.<row id>", ordered newest first by (created_at, id). It is
    opaque to clients; anything that does not decode to exactly that shape
    is refused. Missions and evidence page their lists with it.
*/
#ifndef CM_CURSOR_H_INCLUDED
#define CM_CURSOR_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  Room for a cursor: base64url of at most 18 digits, a dot and a UUID
#define CM_CURSOR_SIZE      80
//  created_at bounds a cursor may carry: 1970 to the end of year 9999
#define CM_CURSOR_US_MAX    INT64_C (253402300799999999)

//  ----------------------------------------------------------------------
//  Encode the cursor after the item (created_us, id) into out (size >=
//  CM_CURSOR_SIZE). id must be a lower-case UUID and created_us
//  0..CM_CURSOR_US_MAX. Returns 0, or -1 when the arguments break that
//  (out is then "").
int
    cm_cursor_encode (int64_t created_us, const char *id, char *out, size_t size);

//  ----------------------------------------------------------------------
//  Decode a cursor made by cm_cursor_encode into *created_us and id [37].
//  Returns 0, or -1 for anything else: bad base64url, extra or missing
//  parts, signs, leading zeros, out-of-range time, a UUID that is not
//  canonical lower-case.
int
    cm_cursor_decode (const char *cursor, int64_t *created_us, char *id);

#endif
