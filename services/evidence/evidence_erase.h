/*  evidence_erase - what privacy asks of the evidence service

    evidence.list_user pages through all of a user's evidence for the
    export (the content then comes through evidence.content as for any
    download); evidence.erase_user removes the user's files, rows and data
    key for a deletion. Both act for the envelope's user and answer only
    the privacy service: any other peer gets CM_FORBIDDEN.
*/
#ifndef EVIDENCE_ERASE_H_INCLUDED
#define EVIDENCE_ERASE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "evidence_handlers.h"

#define EVIDENCE_ERASE_PAGE         100     //  items per page of evidence.list_user
#define EVIDENCE_ERASE_CURSOR_SIZE  80      //  a page cursor, NUL included

cm_handler_fn evidence_erase_user;
cm_handler_fn evidence_erase_list_user;

//  ----------------------------------------------------------------------
//  The page cursor after the row (created_us, id): base64url of
//  "<created_us>.<id>" into out (EVIDENCE_ERASE_CURSOR_SIZE). 0, or -1
//  when the arguments are out of range.
int
    evidence_erase_cursor_encode (int64_t created_us, const char *id, char *out, size_t size);

//  Decode such a cursor; 0, or -1 for anything not made by the encoder
int
    evidence_erase_cursor_decode (const char *cursor, int64_t *created_us, char *id);

#endif
