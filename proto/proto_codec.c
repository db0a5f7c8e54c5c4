/*  proto_codec - encode, decode and validate described structs

    The decoder trusts nothing: every msgpack type, length and count is
    checked against the description before anything is copied, and an
    error anywhere frees whatever was already decoded.
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "proto_codec.h"

#define MEMBER(obj, off, type) ((type *) ((char *) (obj) + (off)))
#define CMEMBER(obj, off, type) ((const type *) ((const char *) (obj) + (off)))
typedef char *const *s_strlist_t;

static int
s_fail (proto_error_t *err, const char *field, const char *fmt, ...)
{
    if (err) {
        snprintf (err->field, sizeof err->field, "%s", field? field: "");
        va_list args;
        va_start (args, fmt);
        vsnprintf (err->message, sizeof err->message, fmt, args);
        va_end (args);
    }
    return -1;
}

bool
proto_is_utf8 (const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p [i];
        size_t extra;
        uint32_t cp;
        if (c == 0)
            return false;
        if (c < 0x80) { i++; continue; }
        else if ((c & 0xE0) == 0xC0) { extra = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { extra = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { extra = 3; cp = c & 0x07; }
        else return false;
        if (len - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((p [i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p [i + k] & 0x3F);
        }
        //  Overlong forms, surrogates and values past Unicode are refused
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800)
        ||  (extra == 3 && cp < 0x10000) || cp > 0x10FFFF
        ||  (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += extra + 1;
    }
    return true;
}

//  Reads an n-byte big-endian length at *pos; false when the bytes end first
static bool
s_read_length (const uint8_t *p, size_t size, size_t *pos, size_t n, uint64_t *value)
{
    if (size - *pos < n)
        return false;
    *value = 0;
    for (size_t i = 0; i < n; i++)
        *value = *value << 8 | p [(*pos)++];
    return true;
}

bool
proto_is_bounded (const void *data, size_t size)
{
    const uint8_t *p = (const uint8_t *) data;
    size_t pos = 0;
    //  Objects still to read; each takes at least one byte, so a count that
    //  makes this larger than the bytes left is a lie (and it stays <= size)
    uint64_t pending = 1;
    while (pending) {
        if (pos >= size)
            return false;
        uint8_t c = p [pos++];
        pending--;
        uint64_t items = 0;             //  entries a container adds
        uint64_t skip = 0;              //  payload bytes after the header
        uint64_t length = 0;
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
            ;                           //  fixint, nil, false, true
        else
        if (c <= 0x8f)
            items = 2 * (uint64_t) (c & 0x0f);
        else
        if (c <= 0x9f)
            items = c & 0x0f;
        else
        if (c <= 0xbf)
            skip = c & 0x1f;
        else
        switch (c) {
            case 0xc4: case 0xc5: case 0xc6:        //  bin 8/16/32
            case 0xd9: case 0xda: case 0xdb: {      //  str 8/16/32
                size_t n = (size_t) 1 << ((c >= 0xd9? c - 0xd9: c - 0xc4));
                if (!s_read_length (p, size, &pos, n, &length))
                    return false;
                skip = length;
                break;
            }
            case 0xc7: case 0xc8: case 0xc9:        //  ext 8/16/32: length, type, data
                if (!s_read_length (p, size, &pos, (size_t) 1 << (c - 0xc7), &length))
                    return false;
                skip = length + 1;
                break;
            case 0xca: skip = 4; break;             //  float 32/64
            case 0xcb: skip = 8; break;
            case 0xcc: case 0xcd: case 0xce: case 0xcf:     //  uint 8..64
                skip = (uint64_t) 1 << (c - 0xcc);
                break;
            case 0xd0: case 0xd1: case 0xd2: case 0xd3:     //  int 8..64
                skip = (uint64_t) 1 << (c - 0xd0);
                break;
            case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:     //  fixext 1..16
                skip = 1 + ((uint64_t) 1 << (c - 0xd4));
                break;
            case 0xdc: case 0xdd:                   //  array 16/32
                if (!s_read_length (p, size, &pos, c == 0xdc? 2: 4, &items))
                    return false;
                break;
            case 0xde: case 0xdf:                   //  map 16/32
                if (!s_read_length (p, size, &pos, c == 0xde? 2: 4, &items))
                    return false;
                items *= 2;
                break;
            default:                                //  0xc1 is never used
                return false;
        }
        if (skip > size - pos)
            return false;
        pos += (size_t) skip;
        if (items > size - pos || pending + items > size - pos)
            return false;
        pending += items;
    }
    return true;
}

//  Checks exactly len bytes: wire strings are not NUL-terminated
bool
proto_is_uuid_n (const char *s, size_t len)
{
    if (!s || len != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        char c = s [i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        }
        else
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

bool
proto_is_uuid (const char *s)
{
    return s && proto_is_uuid_n (s, strnlen (s, 37));
}

//  Bounds shared by the decoder (wire values) and the validator (structs)
static int
s_check_i64 (const proto_field_t *f, int64_t v, proto_error_t *err)
{
    if (v < f->min || v > f->max)
        return s_fail (err, f->name, "field '%s': must be between %" PRId64 " and %" PRId64,
                       f->name, f->min, f->max);
    return 0;
}

static int
s_check_str (const proto_field_t *f, const char *s, size_t len, int64_t max, proto_error_t *err)
{
    if (f->kind == PROTO_K_UUID) {
        if (!proto_is_uuid_n (s, len))
            return s_fail (err, f->name, "field '%s': must be a lower-case UUID", f->name);
        return 0;
    }
    if ((int64_t) len < (f->kind == PROTO_K_STRS? 0: f->min))
        return s_fail (err, f->name, "field '%s': shorter than %" PRId64 " bytes", f->name, f->min);
    if ((int64_t) len > max)
        return s_fail (err, f->name, "field '%s': longer than %" PRId64 " bytes", f->name, max);
    if (!proto_is_utf8 (s, len))
        return s_fail (err, f->name, "field '%s': not valid UTF-8 text", f->name);
    return 0;
}

static bool
s_present (const proto_field_t *f, const void *obj)
{
    switch (f->kind) {
        case PROTO_K_I64:
        case PROTO_K_BOOL:
            return *CMEMBER (obj, f->aux_offset, bool);
        case PROTO_K_STR:
        case PROTO_K_UUID:
            return *CMEMBER (obj, f->offset, char *) != NULL;
        case PROTO_K_BIN:
            return *CMEMBER (obj, f->offset, uint8_t *) != NULL;
        case PROTO_K_STRS:
        case PROTO_K_OBJS:
            //  A required list is always sent, even empty
            return f->required || *CMEMBER (obj, f->aux_offset, uint32_t) > 0;
        case PROTO_K_OBJ:
            return *CMEMBER (obj, f->offset, void *) != NULL;
        case PROTO_K_RAW:
            return *CMEMBER (obj, f->offset, msgpack_object *) != NULL;
    }
    return false;
}

static void
s_pack_str (msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, s, len);
}

int
proto_encode (const proto_desc_t *desc, const void *obj, msgpack_packer *pk)
{
    return proto_encode_open (desc, obj, pk, 0);
}

int
proto_encode_open (const proto_desc_t *desc, const void *obj, msgpack_packer *pk, size_t extra)
{
    size_t count = extra;
    for (size_t i = 0; i < desc->field_count; i++) {
        const proto_field_t *f = &desc->fields [i];
        if (s_present (f, obj))
            count++;
        else
        if (f->required)
            return -1;
    }
    msgpack_pack_map (pk, count);
    for (size_t i = 0; i < desc->field_count; i++) {
        const proto_field_t *f = &desc->fields [i];
        if (!s_present (f, obj))
            continue;
        s_pack_str (pk, f->name, strlen (f->name));
        switch (f->kind) {
            case PROTO_K_I64:
                msgpack_pack_int64 (pk, *CMEMBER (obj, f->offset, int64_t));
                break;
            case PROTO_K_BOOL:
                if (*CMEMBER (obj, f->offset, bool))
                    msgpack_pack_true (pk);
                else
                    msgpack_pack_false (pk);
                break;
            case PROTO_K_STR:
            case PROTO_K_UUID: {
                const char *s = *CMEMBER (obj, f->offset, char *);
                s_pack_str (pk, s, strlen (s));
                break;
            }
            case PROTO_K_BIN: {
                size_t len = *CMEMBER (obj, f->aux_offset, size_t);
                msgpack_pack_bin (pk, len);
                msgpack_pack_bin_body (pk, *CMEMBER (obj, f->offset, uint8_t *), len);
                break;
            }
            case PROTO_K_STRS: {
                uint32_t n = *CMEMBER (obj, f->aux_offset, uint32_t);
                char *const *items = *CMEMBER (obj, f->offset, s_strlist_t);
                msgpack_pack_array (pk, n);
                for (uint32_t k = 0; k < n; k++)
                    s_pack_str (pk, items [k], strlen (items [k]));
                break;
            }
            case PROTO_K_OBJ:
                if (proto_encode (f->sub, *CMEMBER (obj, f->offset, void *), pk))
                    return -1;
                break;
            case PROTO_K_OBJS: {
                uint32_t n = *CMEMBER (obj, f->aux_offset, uint32_t);
                const char *items = *CMEMBER (obj, f->offset, char *);
                msgpack_pack_array (pk, n);
                for (uint32_t k = 0; k < n; k++)
                    if (proto_encode (f->sub, items + k * f->sub->size, pk))
                        return -1;
                break;
            }
            case PROTO_K_RAW:
                msgpack_pack_object (pk, **CMEMBER (obj, f->offset, msgpack_object *));
                break;
        }
    }
    return 0;
}

static char *
s_strdup_n (const char *s, size_t len)
{
    char *copy = malloc (len + 1);
    if (copy) {
        memcpy (copy, s, len);
        copy [len] = 0;
    }
    return copy;
}

static int
s_nested_fail (proto_error_t *err, const proto_field_t *f, long index)
{
    //  Prefix the inner field with its place, e.g. "items[3].title"
    if (err) {
        char inner [sizeof err->field];
        char path [256];
        memcpy (inner, err->field, sizeof inner);
        if (index >= 0)
            snprintf (path, sizeof path, "%s[%ld].%s", f->name, index, inner);
        else
            snprintf (path, sizeof path, "%s.%s", f->name, inner);
        snprintf (err->field, sizeof err->field, "%.*s", (int) sizeof err->field - 1, path);
    }
    return -1;
}

static int
s_decode_field (const proto_field_t *f, const msgpack_object *v, void *obj, proto_error_t *err)
{
    switch (f->kind) {
        case PROTO_K_I64: {
            int64_t value;
            if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                if (v->via.u64 > INT64_MAX)
                    return s_fail (err, f->name, "field '%s': out of range", f->name);
                value = (int64_t) v->via.u64;
            }
            else
            if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                value = v->via.i64;
            else
                return s_fail (err, f->name, "field '%s': must be an integer", f->name);
            if (s_check_i64 (f, value, err))
                return -1;
            *MEMBER (obj, f->offset, int64_t) = value;
            *MEMBER (obj, f->aux_offset, bool) = true;
            return 0;
        }
        case PROTO_K_BOOL:
            if (v->type != MSGPACK_OBJECT_BOOLEAN)
                return s_fail (err, f->name, "field '%s': must be a boolean", f->name);
            *MEMBER (obj, f->offset, bool) = v->via.boolean;
            *MEMBER (obj, f->aux_offset, bool) = true;
            return 0;
        case PROTO_K_STR:
        case PROTO_K_UUID: {
            if (v->type != MSGPACK_OBJECT_STR)
                return s_fail (err, f->name, "field '%s': must be a string", f->name);
            if (s_check_str (f, v->via.str.ptr, v->via.str.size, f->max, err))
                return -1;
            char *copy = s_strdup_n (v->via.str.ptr, v->via.str.size);
            if (!copy)
                return s_fail (err, f->name, "out of memory");
            *MEMBER (obj, f->offset, char *) = copy;
            return 0;
        }
        case PROTO_K_BIN: {
            if (v->type != MSGPACK_OBJECT_BIN)
                return s_fail (err, f->name, "field '%s': must be bytes", f->name);
            size_t len = v->via.bin.size;
            if ((int64_t) len < f->min || (int64_t) len > f->max)
                return s_fail (err, f->name, "field '%s': size must be between %" PRId64
                               " and %" PRId64 " bytes", f->name, f->min, f->max);
            uint8_t *copy = malloc (len? len: 1);
            if (!copy)
                return s_fail (err, f->name, "out of memory");
            if (len)
                memcpy (copy, v->via.bin.ptr, len);
            *MEMBER (obj, f->offset, uint8_t *) = copy;
            *MEMBER (obj, f->aux_offset, size_t) = len;
            return 0;
        }
        case PROTO_K_STRS: {
            if (v->type != MSGPACK_OBJECT_ARRAY)
                return s_fail (err, f->name, "field '%s': must be a list", f->name);
            uint32_t n = v->via.array.size;
            if ((int64_t) n > f->max)
                return s_fail (err, f->name, "field '%s': more than %" PRId64 " items", f->name, f->max);
            char **items = calloc (n? n: 1, sizeof (char *));
            if (!items)
                return s_fail (err, f->name, "out of memory");
            //  Stored before the items so that proto_clear frees a partial list
            *MEMBER (obj, f->offset, char **) = items;
            for (uint32_t k = 0; k < n; k++) {
                const msgpack_object *item = &v->via.array.ptr [k];
                if (item->type != MSGPACK_OBJECT_STR)
                    return s_fail (err, f->name, "field '%s': items must be strings", f->name);
                if (s_check_str (f, item->via.str.ptr, item->via.str.size, f->item_max, err))
                    return -1;
                items [k] = s_strdup_n (item->via.str.ptr, item->via.str.size);
                if (!items [k])
                    return s_fail (err, f->name, "out of memory");
                *MEMBER (obj, f->aux_offset, uint32_t) = k + 1;
            }
            return 0;
        }
        case PROTO_K_OBJ: {
            if (v->type != MSGPACK_OBJECT_MAP)
                return s_fail (err, f->name, "field '%s': must be an object", f->name);
            void *sub = calloc (1, f->sub->size);
            if (!sub)
                return s_fail (err, f->name, "out of memory");
            if (proto_decode (f->sub, v, sub, err)) {
                free (sub);
                return s_nested_fail (err, f, -1);
            }
            *MEMBER (obj, f->offset, void *) = sub;
            return 0;
        }
        case PROTO_K_OBJS: {
            if (v->type != MSGPACK_OBJECT_ARRAY)
                return s_fail (err, f->name, "field '%s': must be a list", f->name);
            uint32_t n = v->via.array.size;
            if ((int64_t) n > f->max)
                return s_fail (err, f->name, "field '%s': more than %" PRId64 " items", f->name, f->max);
            char *items = calloc (n? n: 1, f->sub->size);
            if (!items)
                return s_fail (err, f->name, "out of memory");
            *MEMBER (obj, f->offset, char *) = items;
            for (uint32_t k = 0; k < n; k++) {
                if (v->via.array.ptr [k].type != MSGPACK_OBJECT_MAP) {
                    s_fail (err, "", "must be an object");
                    return s_nested_fail (err, f, k);
                }
                if (proto_decode (f->sub, &v->via.array.ptr [k], items + k * f->sub->size, err))
                    return s_nested_fail (err, f, k);
                *MEMBER (obj, f->aux_offset, uint32_t) = k + 1;
            }
            return 0;
        }
        case PROTO_K_RAW:
            *MEMBER (obj, f->offset, const msgpack_object *) = v;
            return 0;
    }
    return s_fail (err, f->name, "field '%s': unsupported kind", f->name);
}

//  Copies a key into printable ASCII so a hostile name cannot forge log lines
static void
s_printable (char *dest, size_t size, const char *src, size_t len)
{
    size_t i;
    for (i = 0; i < len && i + 1 < size && i < 40; i++)
        dest [i] = (src [i] >= 0x20 && src [i] < 0x7F && src [i] != '"' && src [i] != '\\')? src [i]: '?';
    dest [i] = 0;
}

int
proto_decode (const proto_desc_t *desc, const msgpack_object *in, void *obj, proto_error_t *err)
{
    if (!in || in->type != MSGPACK_OBJECT_MAP)
        return s_fail (err, "", "%s: must be a map", desc->name);
    const msgpack_object_map *map = &in->via.map;
    if (map->size > desc->field_count)
        return s_fail (err, "", "%s: too many fields", desc->name);

    bool seen [PROTO_MAX_FIELDS] = { false };
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *key = &map->ptr [i].key;
        if (key->type != MSGPACK_OBJECT_STR) {
            s_fail (err, "", "%s: keys must be strings", desc->name);
            goto failed;
        }
        size_t index = desc->field_count;
        for (size_t k = 0; k < desc->field_count; k++) {
            const char *name = desc->fields [k].name;
            if (strlen (name) == key->via.str.size
            &&  memcmp (name, key->via.str.ptr, key->via.str.size) == 0) {
                index = k;
                break;
            }
        }
        if (index == desc->field_count) {
            char shown [48];
            s_printable (shown, sizeof shown, key->via.str.ptr, key->via.str.size);
            s_fail (err, shown, "unknown field '%s'", shown);
            goto failed;
        }
        if (index >= PROTO_MAX_FIELDS || seen [index]) {
            s_fail (err, desc->fields [index].name, "field '%s': given twice", desc->fields [index].name);
            goto failed;
        }
        seen [index] = true;
        if (s_decode_field (&desc->fields [index], &map->ptr [i].val, obj, err))
            goto failed;
    }
    for (size_t k = 0; k < desc->field_count; k++)
        if (desc->fields [k].required && !seen [k]) {
            s_fail (err, desc->fields [k].name, "field '%s' is required", desc->fields [k].name);
            goto failed;
        }
    return 0;

failed:
    proto_clear (desc, obj);
    return -1;
}

int
proto_validate (const proto_desc_t *desc, const void *obj, proto_error_t *err)
{
    for (size_t i = 0; i < desc->field_count; i++) {
        const proto_field_t *f = &desc->fields [i];
        if (!s_present (f, obj)) {
            if (f->required)
                return s_fail (err, f->name, "field '%s' is required", f->name);
            continue;
        }
        switch (f->kind) {
            case PROTO_K_I64:
                if (s_check_i64 (f, *CMEMBER (obj, f->offset, int64_t), err))
                    return -1;
                break;
            case PROTO_K_STR:
            case PROTO_K_UUID: {
                const char *s = *CMEMBER (obj, f->offset, char *);
                if (s_check_str (f, s, strlen (s), f->max, err))
                    return -1;
                break;
            }
            case PROTO_K_BIN: {
                size_t len = *CMEMBER (obj, f->aux_offset, size_t);
                if ((int64_t) len < f->min || (int64_t) len > f->max)
                    return s_fail (err, f->name, "field '%s': size out of bounds", f->name);
                break;
            }
            case PROTO_K_STRS: {
                uint32_t n = *CMEMBER (obj, f->aux_offset, uint32_t);
                char *const *items = *CMEMBER (obj, f->offset, s_strlist_t);
                if ((int64_t) n > f->max)
                    return s_fail (err, f->name, "field '%s': more than %" PRId64 " items", f->name, f->max);
                for (uint32_t k = 0; k < n; k++)
                    if (!items [k] || s_check_str (f, items [k], strlen (items [k]), f->item_max, err))
                        return s_fail (err, f->name, "field '%s': bad item %u", f->name, k);
                break;
            }
            case PROTO_K_OBJ:
                if (proto_validate (f->sub, *CMEMBER (obj, f->offset, void *), err))
                    return s_nested_fail (err, f, -1);
                break;
            case PROTO_K_OBJS: {
                uint32_t n = *CMEMBER (obj, f->aux_offset, uint32_t);
                const char *items = *CMEMBER (obj, f->offset, char *);
                if ((int64_t) n > f->max)
                    return s_fail (err, f->name, "field '%s': more than %" PRId64 " items", f->name, f->max);
                for (uint32_t k = 0; k < n; k++)
                    if (proto_validate (f->sub, items + k * f->sub->size, err))
                        return s_nested_fail (err, f, k);
                break;
            }
            case PROTO_K_BOOL:
            case PROTO_K_RAW:
                break;
        }
    }
    return 0;
}

void
proto_clear (const proto_desc_t *desc, void *obj)
{
    if (!obj)
        return;
    for (size_t i = 0; i < desc->field_count; i++) {
        const proto_field_t *f = &desc->fields [i];
        switch (f->kind) {
            case PROTO_K_STR:
            case PROTO_K_UUID:
            case PROTO_K_BIN:
                free (*MEMBER (obj, f->offset, void *));
                break;
            case PROTO_K_STRS: {
                char **items = *MEMBER (obj, f->offset, char **);
                uint32_t n = *MEMBER (obj, f->aux_offset, uint32_t);
                for (uint32_t k = 0; items && k < n; k++)
                    free (items [k]);
                free (items);
                break;
            }
            case PROTO_K_OBJ: {
                void *sub = *MEMBER (obj, f->offset, void *);
                proto_clear (f->sub, sub);
                free (sub);
                break;
            }
            case PROTO_K_OBJS: {
                char *items = *MEMBER (obj, f->offset, char *);
                uint32_t n = *MEMBER (obj, f->aux_offset, uint32_t);
                for (uint32_t k = 0; items && k < n; k++)
                    proto_clear (f->sub, items + k * f->sub->size);
                free (items);
                break;
            }
            case PROTO_K_I64:
            case PROTO_K_BOOL:
            case PROTO_K_RAW:
                break;
        }
    }
    memset (obj, 0, desc->size);
}
