/*  evidence_magic - accepted types, file signatures, text and filenames */
#include <string.h>
#include <strings.h>
#include "evidence_magic.h"
#include "../../proto/proto_codec.h"

static const char *s_types [] = {
    "image/png", "image/jpeg", "image/webp", "application/pdf", "text/plain"
};

static bool
s_ows (char c)
{
    return c == ' ' || c == '\t';
}

const char *
evidence_magic_type (const char *declared)
{
    if (!declared)
        return NULL;
    const char *semi = strchr (declared, ';');
    const char *start = declared;
    const char *end = semi? semi: declared + strlen (declared);
    while (start < end && s_ows (*start))
        start++;
    while (end > start && s_ows (end [-1]))
        end--;
    const char *type = NULL;
    for (size_t i = 0; i < sizeof s_types / sizeof s_types [0]; i++)
        if (strlen (s_types [i]) == (size_t) (end - start)
        &&  strncasecmp (s_types [i], start, (size_t) (end - start)) == 0)
            type = s_types [i];
    if (!type || !semi)
        return type;
    //  One parameter, on text/plain only, and only the charset we check for
    if (strcmp (type, "text/plain") != 0)
        return NULL;
    const char *param = semi + 1;
    while (s_ows (*param))
        param++;
    if (strncasecmp (param, "charset=", 8) != 0)
        return NULL;
    const char *value = param + 8;
    size_t len = 0;
    if (strncasecmp (value, "utf-8", 5) == 0)
        len = 5;
    else
    if (strncasecmp (value, "\"utf-8\"", 7) == 0)
        len = 7;
    if (!len)
        return NULL;
    value += len;
    while (s_ows (*value))
        value++;
    return *value? NULL: type;
}

bool
evidence_magic_match (const char *type, const uint8_t *head, size_t len)
{
    if (!type || !head)
        return false;
    if (strcmp (type, "image/png") == 0)
        return len >= 8 && memcmp (head, "\x89PNG\r\n\x1a\n", 8) == 0;
    if (strcmp (type, "image/jpeg") == 0)
        return len >= 3 && memcmp (head, "\xff\xd8\xff", 3) == 0;
    if (strcmp (type, "image/webp") == 0)
        return len >= 12 && memcmp (head, "RIFF", 4) == 0 && memcmp (head + 8, "WEBP", 4) == 0;
    if (strcmp (type, "application/pdf") == 0)
        return len >= 5 && memcmp (head, "%PDF-", 5) == 0;
    if (strcmp (type, "text/plain") == 0) {
        evidence_magic_utf8_t text;
        evidence_magic_utf8_init (&text);
        evidence_magic_utf8_feed (&text, head, len);
        return !text.bad;               //  a character cut at the end is fine here
    }
    return false;
}

//  Bytes in the character a lead byte starts (1 for anything that is not a
//  multi-byte lead: proto_is_utf8 then judges it)
static size_t
s_sequence (uint8_t lead)
{
    return (lead & 0xE0) == 0xC0? 2: (lead & 0xF0) == 0xE0? 3: (lead & 0xF8) == 0xF0? 4: 1;
}

void
evidence_magic_utf8_init (evidence_magic_utf8_t *self)
{
    memset (self, 0, sizeof *self);
}

void
evidence_magic_utf8_feed (evidence_magic_utf8_t *self, const uint8_t *data, size_t len)
{
    if (self->bad || !len)
        return;
    //  Complete the character the previous piece cut, and judge it alone
    size_t i = 0;
    if (self->carry_len) {
        size_t want = s_sequence (self->carry [0]);
        while (self->carry_len < want && i < len)
            self->carry [self->carry_len++] = data [i++];
        if (self->carry_len < want)
            return;
        self->bad = !proto_is_utf8 ((const char *) self->carry, self->carry_len);
        self->carry_len = 0;
        if (self->bad)
            return;
    }
    //  Hold back a character this piece cuts short (at most 3 bytes)
    const uint8_t *rest = data + i;
    size_t count = len - i, tail = 0;
    for (size_t k = 1; k <= 3 && k <= count; k++) {
        uint8_t byte = rest [count - k];
        if ((byte & 0xC0) == 0x80)
            continue;                   //  a continuation byte: look further back
        if (s_sequence (byte) > k)
            tail = k;
        break;
    }
    if (!proto_is_utf8 ((const char *) rest, count - tail))
        self->bad = true;
    else {
        memcpy (self->carry, rest + count - tail, tail);
        self->carry_len = tail;
    }
}

bool
evidence_magic_utf8_valid (const evidence_magic_utf8_t *self)
{
    return !self->bad && self->carry_len == 0;
}

int
evidence_magic_filename (const char *given, char *out, size_t size)
{
    if (size)
        out [0] = 0;
    if (!given || size < EVIDENCE_MAGIC_NAME_SIZE)
        return EVIDENCE_MAGIC_NAME_LENGTH;
    const char *start = given;
    const char *end = given + strlen (given);
    while (start < end && strchr (" \t\n\v\f\r", *start))
        start++;
    while (end > start && strchr (" \t\n\v\f\r", end [-1]))
        end--;
    size_t bytes = (size_t) (end - start);
    if (bytes == 0 || bytes > 4 * EVIDENCE_MAGIC_NAME_MAX)
        return EVIDENCE_MAGIC_NAME_LENGTH;
    size_t chars = 0;
    for (size_t i = 0; i < bytes; i++) {
        uint8_t byte = (uint8_t) start [i];
        chars += (byte & 0xC0) != 0x80;
        //  C0 controls, DEL, and C1 controls (U+0080..U+009F: C2 80..C2 9F)
        if (byte < 0x20 || byte == 0x7F || byte == '/' || byte == '\\'
        ||  (byte == 0xC2 && i + 1 < bytes && (uint8_t) start [i + 1] >= 0x80
                                          && (uint8_t) start [i + 1] <= 0x9F))
            return EVIDENCE_MAGIC_NAME_CHARS;
    }
    if (!proto_is_utf8 (start, bytes))
        return EVIDENCE_MAGIC_NAME_CHARS;
    if (chars > EVIDENCE_MAGIC_NAME_MAX)
        return EVIDENCE_MAGIC_NAME_LENGTH;
    memcpy (out, start, bytes);
    out [bytes] = 0;
    return 0;
}
