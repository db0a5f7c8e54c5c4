/*  privacy_cursor - where the next part of an export begins

    An export is one JSON document made in parts of at most 1 MiB. The
    cursor of a part says exactly where the next one begins: the section,
    how far the section's array got, the page of its source service, and
    for evidence the item, the content offset and the bytes not yet
    base64-encoded. Privacy keeps nothing between parts, so any replica can
    make any part and memory stays bounded whatever the user owns.

    The cursor travels only between privacy and the gateway; it is still
    decoded strictly (one spelling per position, every field in range), and
    it names no user: the next part is made for the identity of its own
    request, so another user's cursor can only lead into nothing.

    Text form: "p1.<section>.<opened>.<page>.<item>.<streaming>.<offset>.<carry>"
    with page in unpadded base64url, item a UUID or empty, carry in hex.
*/
#ifndef PRIVACY_CURSOR_H_INCLUDED
#define PRIVACY_CURSOR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The document's members, in order
typedef enum {
    PRIVACY_SECTION_USER,           //  {"user":{...}
    PRIVACY_SECTION_PREFERENCES,    //  ,"preferences":{...}
    PRIVACY_SECTION_SESSIONS,       //  ,"sessions":[...]
    PRIVACY_SECTION_MISSIONS,       //  ,"missions":[...]   paged
    PRIVACY_SECTION_EVIDENCE,       //  ,"evidence":[...]   paged, content streamed
    PRIVACY_SECTION_AUDIT,          //  ,"audit_events":[...] paged
    PRIVACY_SECTION_TAIL,           //  ,"exported_at":"..."}
    PRIVACY_SECTION_DONE            //  nothing left (never encoded)
} privacy_section_t;

//  How much of a paged section's array is written
#define PRIVACY_CURSOR_CLOSED   0   //  nothing yet
#define PRIVACY_CURSOR_OPENED   1   //  its key and '['
#define PRIVACY_CURSOR_ITEMS    2   //  and at least one item (the next needs a comma)

#define PRIVACY_CURSOR_PAGE_MAX 256             //  bytes of a source's page cursor
#define PRIVACY_CURSOR_SIZE     1025            //  encoded text, NUL included
#define PRIVACY_CURSOR_CHUNK    (256 * 1024)    //  evidence content offsets are multiples
#define PRIVACY_CURSOR_OFFSET_MAX (INT64_C (1) << 40)

typedef struct {
    privacy_section_t section;      //  the member being written
    int opened;                     //  PRIVACY_CURSOR_CLOSED, _OPENED or _ITEMS
    char page [PRIVACY_CURSOR_PAGE_MAX + 1];    //  source cursor of the current page, "" = first
    char item [37];                 //  evidence: the item to go on with, "" = the page's first
    bool streaming;                 //  evidence: item's content under way (its head is written)
    int64_t offset;                 //  evidence: next content offset (a multiple of the chunk)
    uint8_t carry [2];              //  evidence: content bytes not yet base64-encoded
    uint8_t carry_len;              //  0..2
} privacy_cursor_t;

//  ----------------------------------------------------------------------
//  The beginning of an export
void
    privacy_cursor_init (privacy_cursor_t *self);

//  ----------------------------------------------------------------------
//  Encode a cursor into out (size >= PRIVACY_CURSOR_SIZE). Returns 0, or -1
//  when the cursor breaks its own rules (out is then "").
int
    privacy_cursor_encode (const privacy_cursor_t *self, char *out, size_t size);

//  ----------------------------------------------------------------------
//  Decode text made by privacy_cursor_encode into self. Returns 0, or -1
//  for anything else (self is then the beginning).
int
    privacy_cursor_decode (const char *text, privacy_cursor_t *self);

#endif
