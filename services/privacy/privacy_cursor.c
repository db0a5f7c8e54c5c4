/*  privacy_cursor - export cursors, encoded and checked */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "privacy_cursor.h"
#include "../../common/cm_jwt.h"
#include "../../proto/proto_codec.h"

#define FIELDS 8
#define PREFIX "p1"

void
privacy_cursor_init (privacy_cursor_t *self)
{
    assert (self);
    memset (self, 0, sizeof *self);
    self->section = PRIVACY_SECTION_USER;
}

//  The rules every cursor keeps, whichever way it was made
static bool
s_valid (const privacy_cursor_t *self)
{
    if ((int) self->section < PRIVACY_SECTION_USER || self->section >= PRIVACY_SECTION_DONE)
        return false;
    if (self->opened < PRIVACY_CURSOR_CLOSED || self->opened > PRIVACY_CURSOR_ITEMS)
        return false;
    size_t page_len = strnlen (self->page, sizeof self->page);
    if (page_len > PRIVACY_CURSOR_PAGE_MAX || !proto_is_utf8 (self->page, page_len))
        return false;
    if (self->item [0] && !proto_is_uuid (self->item))
        return false;
    if (self->carry_len > 2)
        return false;
    bool paged = self->section == PRIVACY_SECTION_MISSIONS || self->section == PRIVACY_SECTION_EVIDENCE
              || self->section == PRIVACY_SECTION_AUDIT;
    //  Whole members are written at once: no position inside them
    if (!paged && (self->opened || page_len))
        return false;
    //  Nothing of a section before it is opened
    if (self->opened == PRIVACY_CURSOR_CLOSED && (page_len || self->item [0]))
        return false;
    if (self->section != PRIVACY_SECTION_EVIDENCE && (self->item [0] || self->streaming))
        return false;
    if (self->streaming)
        return self->item [0] && self->opened == PRIVACY_CURSOR_ITEMS
            && self->offset >= 0 && self->offset <= PRIVACY_CURSOR_OFFSET_MAX
            && self->offset % PRIVACY_CURSOR_CHUNK == 0;
    return self->offset == 0 && self->carry_len == 0;
}

int
privacy_cursor_encode (const privacy_cursor_t *self, char *out, size_t size)
{
    assert (self && out && size >= PRIVACY_CURSOR_SIZE);
    *out = 0;
    if (!s_valid (self))
        return -1;
    char page [2 * PRIVACY_CURSOR_PAGE_MAX];
    if (cm_jwt_b64url_encode ((const uint8_t *) self->page, strlen (self->page), page, sizeof page) < 0)
        return -1;
    char carry [5] = "";
    for (uint8_t i = 0; i < self->carry_len; i++)
        snprintf (carry + 2 * i, 3, "%02x", self->carry [i]);
    int len = snprintf (out, size, PREFIX ".%d.%d.%s.%s.%d.%" PRId64 ".%s", (int) self->section,
                        self->opened, page, self->item, self->streaming? 1: 0, self->offset, carry);
    if (len < 0 || (size_t) len >= size) {
        *out = 0;
        return -1;
    }
    return 0;
}

//  A decimal of at most max_digits digits without leading zeros; -1 when not
static int64_t
s_number (const char *text, size_t len, size_t max_digits)
{
    if (len == 0 || len > max_digits || (len > 1 && text [0] == '0'))
        return -1;
    int64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        if (text [i] < '0' || text [i] > '9')
            return -1;
        value = value * 10 + (text [i] - '0');
    }
    return value;
}

static int
s_hex_digit (char c)
{
    return c >= '0' && c <= '9'? c - '0': c >= 'a' && c <= 'f'? c - 'a' + 10: -1;
}

int
privacy_cursor_decode (const char *text, privacy_cursor_t *self)
{
    assert (self);
    privacy_cursor_init (self);
    if (!text)
        return -1;
    size_t text_len = strnlen (text, PRIVACY_CURSOR_SIZE);
    if (text_len >= PRIVACY_CURSOR_SIZE)
        return -1;
    //  Exactly FIELDS fields between dots (base64url, UUIDs, digits and hex have none)
    const char *field [FIELDS];
    size_t field_len [FIELDS];
    const char *p = text;
    for (int i = 0; i < FIELDS; i++) {
        const char *dot = strchr (p, '.');
        if ((i < FIELDS - 1) != (dot != NULL))
            return -1;
        field [i] = p;
        field_len [i] = dot? (size_t) (dot - p): strlen (p);
        p = dot? dot + 1: p + field_len [i];
    }
    privacy_cursor_t cursor;
    privacy_cursor_init (&cursor);
    int64_t section = s_number (field [1], field_len [1], 1);
    int64_t opened = s_number (field [2], field_len [2], 1);
    int64_t streaming = s_number (field [5], field_len [5], 1);
    int64_t offset = s_number (field [6], field_len [6], 13);
    if (field_len [0] != strlen (PREFIX) || memcmp (field [0], PREFIX, field_len [0]) != 0
    ||  section < 0 || opened < 0 || streaming < 0 || streaming > 1 || offset < 0)
        return -1;
    cursor.section = (privacy_section_t) section;
    cursor.opened = (int) opened;
    cursor.streaming = streaming == 1;
    cursor.offset = offset;
    size_t page_len = 0;
    if (field_len [3]
    &&  cm_jwt_b64url_decode (field [3], field_len [3], (uint8_t *) cursor.page,
                              PRIVACY_CURSOR_PAGE_MAX, &page_len))
        return -1;
    cursor.page [page_len] = 0;
    //  A page cursor is text: no NUL inside, valid UTF-8 (checked with the rest)
    if (strlen (cursor.page) != page_len)
        return -1;
    if (field_len [4] != 0 && field_len [4] != 36)
        return -1;
    memcpy (cursor.item, field [4], field_len [4]);
    cursor.item [field_len [4]] = 0;
    if (field_len [7] != 0 && field_len [7] != 2 && field_len [7] != 4)
        return -1;
    cursor.carry_len = (uint8_t) (field_len [7] / 2);
    for (size_t i = 0; i < cursor.carry_len; i++) {
        int high = s_hex_digit (field [7][2 * i]), low = s_hex_digit (field [7][2 * i + 1]);
        if (high < 0 || low < 0)
            return -1;
        cursor.carry [i] = (uint8_t) (high << 4 | low);
    }
    if (!s_valid (&cursor))
        return -1;
    *self = cursor;
    return 0;
}
