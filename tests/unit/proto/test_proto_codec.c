/*  test_proto_codec - every catalogue type round-trips; hostile input is refused */
#include <criterion/criterion.h>
#include <string.h>
#include "proto_envelope.h"
#include "proto_msgs.h"

//  Fills every field of a described struct with a valid value
static void
s_fill (const proto_desc_t *desc, void *obj)
{
    static const char *uuid = "0b6f3c2e-8a51-4c1d-9e2f-1a2b3c4d5e6f";
    for (size_t i = 0; i < desc->field_count; i++) {
        const proto_field_t *f = &desc->fields [i];
        char *base = (char *) obj;
        switch (f->kind) {
            case PROTO_K_I64:
                *(int64_t *) (base + f->offset) = f->max < 1000? f->max: f->min + 7;
                *(bool *) (base + f->aux_offset) = true;
                break;
            case PROTO_K_BOOL:
                *(bool *) (base + f->offset) = true;
                *(bool *) (base + f->aux_offset) = true;
                break;
            case PROTO_K_STR: {
                size_t len = f->min > 3? (size_t) f->min: 3;
                char *s = malloc (len + 1);
                memset (s, 'x', len);
                s [len] = 0;
                *(char **) (base + f->offset) = s;
                break;
            }
            case PROTO_K_UUID:
                *(char **) (base + f->offset) = strdup (uuid);
                break;
            case PROTO_K_BIN: {
                uint8_t *b = malloc (4);
                memcpy (b, "\x00\x01\xfe\xff", 4);
                *(uint8_t **) (base + f->offset) = b;
                *(size_t *) (base + f->aux_offset) = 4;
                break;
            }
            case PROTO_K_STRS: {
                char **items = calloc (2, sizeof (char *));
                items [0] = strdup ("user");
                items [1] = strdup ("admin");
                *(char ***) (base + f->offset) = items;
                *(uint32_t *) (base + f->aux_offset) = 2;
                break;
            }
            case PROTO_K_OBJ: {
                void *sub = calloc (1, f->sub->size);
                s_fill (f->sub, sub);
                *(void **) (base + f->offset) = sub;
                break;
            }
            case PROTO_K_OBJS: {
                char *items = calloc (2, f->sub->size);
                s_fill (f->sub, items);
                s_fill (f->sub, items + f->sub->size);
                *(void **) (base + f->offset) = items;
                *(uint32_t *) (base + f->aux_offset) = 2;
                break;
            }
            case PROTO_K_RAW:
                break;
        }
    }
}

static void
s_round_trip (const proto_desc_t *desc)
{
    void *in = calloc (1, desc->size), *out = calloc (1, desc->size);
    s_fill (desc, in);
    proto_error_t err;
    cr_assert_eq (proto_validate (desc, in, &err), 0, "%s: %s", desc->name, err.message);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    cr_assert_eq (proto_encode (desc, in, &pk), 0, "%s encodes", desc->name);
    msgpack_unpacked upk;
    msgpack_unpacked_init (&upk);
    cr_assert_eq (msgpack_unpack_next (&upk, buf.data, buf.size, NULL), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq (proto_decode (desc, &upk.data, out, &err), 0, "%s: %s", desc->name, err.message);
    //  Re-encoding the decoded struct gives the same bytes
    msgpack_sbuffer again;
    msgpack_sbuffer_init (&again);
    msgpack_packer_init (&pk, &again, msgpack_sbuffer_write);
    cr_assert_eq (proto_encode (desc, out, &pk), 0);
    cr_assert_eq (again.size, buf.size, "%s: size differs after round trip", desc->name);
    cr_assert_eq (memcmp (again.data, buf.data, buf.size), 0, "%s: bytes differ", desc->name);
    proto_clear (desc, in);
    proto_clear (desc, out);
    free (in);
    free (out);
    msgpack_unpacked_destroy (&upk);
    msgpack_sbuffer_destroy (&buf);
    msgpack_sbuffer_destroy (&again);
}

Test (proto_codec, every_catalogue_type_round_trips)
{
    for (int i = 0; i < PROTO_MSG_COUNT; i++) {
        s_round_trip (proto_msgs [i].req);
        s_round_trip (proto_msgs [i].rep);
    }
}

Test (proto_codec, catalogue_names_are_unique_and_found)
{
    for (int i = 0; i < PROTO_MSG_COUNT; i++)
        cr_assert_eq (proto_msg_lookup (proto_msgs [i].name), i, "%s", proto_msgs [i].name);
    cr_assert_eq (proto_msg_lookup ("no.such.type"), -1);
}

//  Decodes a msgpack map built by the caller into an audit event
static int
s_decode_event (msgpack_sbuffer *buf, proto_audit_event_t *event, proto_error_t *err)
{
    msgpack_unpacked upk;
    msgpack_unpacked_init (&upk);
    cr_assert_eq (msgpack_unpack_next (&upk, buf->data, buf->size, NULL), MSGPACK_UNPACK_SUCCESS);
    int rc = proto_decode (&proto_audit_event_desc, &upk.data, event, err);
    msgpack_unpacked_destroy (&upk);
    return rc;
}

static void
s_pack_kv_str (msgpack_packer *pk, const char *key, const char *value)
{
    msgpack_pack_str (pk, strlen (key));
    msgpack_pack_str_body (pk, key, strlen (key));
    msgpack_pack_str (pk, strlen (value));
    msgpack_pack_str_body (pk, value, strlen (value));
}

//  A valid event map with one field replaced by the caller's packer callback
static void
s_event_with (msgpack_sbuffer *buf, const char *skip, void (*extra) (msgpack_packer *))
{
    const char *keys [] = { "id", "type", "service", "outcome" };
    const char *values [] = { "0b6f3c2e-8a51-4c1d-9e2f-1a2b3c4d5e6f", "auth.login", "auth", "success" };
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    int count = 1 + (extra? 1: 0);
    for (int i = 0; i < 4; i++)
        count += strcmp (keys [i], skip) != 0;
    msgpack_pack_map (&pk, count);
    msgpack_pack_str (&pk, 5);
    msgpack_pack_str_body (&pk, "at_ms", 5);
    msgpack_pack_int64 (&pk, 1700000000000);
    for (int i = 0; i < 4; i++)
        if (strcmp (keys [i], skip) != 0)
            s_pack_kv_str (&pk, keys [i], values [i]);
    if (extra)
        extra (&pk);
}

static void s_unknown_key (msgpack_packer *pk) { s_pack_kv_str (pk, "admin", "true"); }
static void s_dup_key (msgpack_packer *pk) { s_pack_kv_str (pk, "type", "again"); }
static void s_long_ip (msgpack_packer *pk)
{
    char ip [80];
    memset (ip, '1', 79);
    ip [79] = 0;
    s_pack_kv_str (pk, "ip", ip);
}
static void s_int_ip (msgpack_packer *pk)
{
    msgpack_pack_str (pk, 2);
    msgpack_pack_str_body (pk, "ip", 2);
    msgpack_pack_int (pk, 7);
}
static void s_bad_utf8 (msgpack_packer *pk)
{
    msgpack_pack_str (pk, 6);
    msgpack_pack_str_body (pk, "detail", 6);
    msgpack_pack_str (pk, 3);
    msgpack_pack_str_body (pk, "a\xc0\xaf", 3);      //  overlong '/'
}
static void s_nul_byte (msgpack_packer *pk)
{
    msgpack_pack_str (pk, 6);
    msgpack_pack_str_body (pk, "detail", 6);
    msgpack_pack_str (pk, 3);
    msgpack_pack_str_body (pk, "a\0b", 3);
}

Test (proto_codec, strict_decoding_names_the_field)
{
    struct { const char *skip; void (*extra) (msgpack_packer *); const char *field; } cases [] = {
        { "",        s_unknown_key, "admin" },
        { "",        s_dup_key,     "type" },
        { "",        s_long_ip,     "ip" },
        { "",        s_int_ip,      "ip" },
        { "",        s_bad_utf8,    "detail" },
        { "",        s_nul_byte,    "detail" },
        { "outcome", NULL,          "outcome" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        s_event_with (&buf, cases [i].skip, cases [i].extra);
        proto_audit_event_t event = { 0 };
        proto_error_t err = { "", "" };
        cr_expect_eq (s_decode_event (&buf, &event, &err), -1, "case %zu decoded", i);
        cr_expect_str_eq (err.field, cases [i].field, "case %zu: %s", i, err.message);
        //  Nothing is left allocated in a refused struct
        cr_expect_null (event.id);
        cr_expect_null (event.type);
        msgpack_sbuffer_destroy (&buf);
    }
    //  And the unmodified event is accepted
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_event_with (&buf, "", NULL);
    proto_audit_event_t event = { 0 };
    proto_error_t err;
    cr_assert_eq (s_decode_event (&buf, &event, &err), 0, "%s", err.message);
    cr_assert_str_eq (event.type, "auth.login");
    proto_clear (&proto_audit_event_desc, &event);
    msgpack_sbuffer_destroy (&buf);
}

Test (proto_codec, uuid_and_utf8_checks)
{
    cr_assert (proto_is_uuid ("0b6f3c2e-8a51-4c1d-9e2f-1a2b3c4d5e6f"));
    cr_assert_not (proto_is_uuid ("0B6F3C2E-8A51-4C1D-9E2F-1A2B3C4D5E6F"));
    cr_assert_not (proto_is_uuid ("0b6f3c2e08a51-4c1d-9e2f-1a2b3c4d5e6f"));
    cr_assert_not (proto_is_uuid ("0b6f3c2e-8a51-4c1d-9e2f-1a2b3c4d5e6"));
    const char *text = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80";
    cr_assert (proto_is_utf8 (text, strlen (text)));
    cr_assert_not (proto_is_utf8 ("\xed\xa0\x80", 3));        //  surrogate
    cr_assert_not (proto_is_utf8 ("\xf4\x90\x80\x80", 4));    //  past U+10FFFF
    cr_assert_not (proto_is_utf8 ("\xe2\x82", 2));            //  truncated
}

//  Envelope: version first, no trailing bytes, size bounds
static size_t
s_envelope (msgpack_sbuffer *buf, int version)
{
    proto_envelope_t env = { 0 };
    env.v = version; env.has_v = true;
    env.type = (char *) "ping"; env.cid = 9; env.has_cid = true; env.rid = (char *) "r-1";
    proto_error_t err;
    proto_ping_req_t ping = { 0 };
    msgpack_sbuffer_init (buf);
    if (version == PROTO_VERSION)
        cr_assert_eq (proto_envelope_encode (&env, &proto_ping_req_desc, &ping, buf, &err), 0, "%s", err.message);
    else {
        msgpack_packer pk;
        msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
        proto_encode (&proto_envelope_desc, &env, &pk);
    }
    return buf->size;
}

Test (proto_envelope, a_kept_zone_decodes_frame_after_frame_alike)
{
    msgpack_sbuffer buf;
    s_envelope (&buf, PROTO_VERSION);
    char *longer = malloc (buf.size + 1);
    memcpy (longer, buf.data, buf.size);
    longer [buf.size] = (char) 0xc0;
    msgpack_unpacked upk;
    msgpack_unpacked_init (&upk);
    upk.zone = msgpack_zone_new (MSGPACK_ZONE_CHUNK_SIZE);
    cr_assert_not_null (upk.zone);
    proto_envelope_t env;
    proto_error_t err;
    for (int round = 0; round < 3; round++) {
        cr_assert_eq (proto_envelope_decode (buf.data, buf.size, &upk, &env, &err), CM_OK, "%s", err.message);
        cr_assert_str_eq (env.type, "ping");
        cr_assert_eq (env.cid, 9);
        proto_clear (&proto_envelope_desc, &env);
        //  The same refusals as with a zone of its own
        cr_assert_eq (proto_envelope_decode (longer, buf.size + 1, &upk, &env, &err), CM_INVALID_REQUEST);
        cr_assert_eq (proto_envelope_decode (buf.data, buf.size - 1, &upk, &env, &err), CM_INVALID_REQUEST);
    }
    msgpack_unpacked_destroy (&upk);
    free (longer);
    msgpack_sbuffer_destroy (&buf);
}

Test (proto_envelope, decodes_and_refuses)
{
    msgpack_sbuffer buf;
    s_envelope (&buf, PROTO_VERSION);
    msgpack_unpacked upk;
    msgpack_unpacked_init (&upk);
    proto_envelope_t env;
    proto_error_t err;
    cr_assert_eq (proto_envelope_decode (buf.data, buf.size, &upk, &env, &err), CM_OK, "%s", err.message);
    cr_assert_str_eq (env.type, "ping");
    cr_assert_eq (env.cid, 9);
    cr_assert_not_null (env.body);
    proto_clear (&proto_envelope_desc, &env);
    msgpack_unpacked_destroy (&upk);

    //  Trailing garbage after a valid envelope
    char *longer = malloc (buf.size + 1);
    memcpy (longer, buf.data, buf.size);
    longer [buf.size] = (char) 0xc0;
    msgpack_unpacked_init (&upk);
    cr_assert_eq (proto_envelope_decode (longer, buf.size + 1, &upk, &env, &err), CM_INVALID_REQUEST);
    msgpack_unpacked_destroy (&upk);
    //  Truncated
    msgpack_unpacked_init (&upk);
    cr_assert_eq (proto_envelope_decode (buf.data, buf.size - 1, &upk, &env, &err), CM_INVALID_REQUEST);
    msgpack_unpacked_destroy (&upk);
    //  Empty and oversize frames
    msgpack_unpacked_init (&upk);
    cr_assert_eq (proto_envelope_decode (buf.data, 0, &upk, &env, &err), CM_INVALID_REQUEST);
    cr_assert_eq (proto_envelope_decode (buf.data, PROTO_MAX_FRAME + 1, &upk, &env, &err), CM_INVALID_REQUEST);
    msgpack_unpacked_destroy (&upk);
    free (longer);
    msgpack_sbuffer_destroy (&buf);

    //  Another version gets its own status
    s_envelope (&buf, 2);
    msgpack_unpacked_init (&upk);
    cr_assert_eq (proto_envelope_decode (buf.data, buf.size, &upk, &env, &err), CM_UNSUPPORTED_VERSION);
    msgpack_unpacked_destroy (&upk);
    msgpack_sbuffer_destroy (&buf);

    //  Not a map at all
    msgpack_unpacked_init (&upk);
    cr_assert_eq (proto_envelope_decode ("\x93\x01\x02\x03", 4, &upk, &env, &err), CM_INVALID_REQUEST);
    msgpack_unpacked_destroy (&upk);
}

Test (proto_envelope, every_prefix_of_a_frame_is_refused_without_crash)
{
    msgpack_sbuffer buf;
    s_envelope (&buf, PROTO_VERSION);
    for (size_t len = 1; len < buf.size; len++) {
        msgpack_unpacked upk;
        msgpack_unpacked_init (&upk);
        proto_envelope_t env;
        proto_error_t err;
        cr_expect_neq (proto_envelope_decode (buf.data, len, &upk, &env, &err), CM_OK, "prefix %zu", len);
        msgpack_unpacked_destroy (&upk);
    }
    msgpack_sbuffer_destroy (&buf);
}

//  Found by fuzzing: a map32 header claiming 2^32 - 1 entries made msgpack-c
//  ask for 128 GiB before reading one of them
Test (proto_envelope, counts_larger_than_the_frame_are_refused_unread)
{
    static const char huge_map [] = "\xdf\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x80";
    msgpack_unpacked upk;
    msgpack_unpacked_init (&upk);
    proto_envelope_t env;
    proto_error_t err;
    cr_assert_eq (proto_envelope_decode (huge_map, sizeof huge_map - 1, &upk, &env, &err),
                  CM_INVALID_REQUEST);
    cr_assert_str_eq (err.message, "frame declares more entries than it holds");
    msgpack_unpacked_destroy (&upk);

    cr_assert_not (proto_is_bounded ("\xdd\x00\x01\x00\x00", 5), "array32 of 65536, no items");
    cr_assert_not (proto_is_bounded ("\x82\x01", 2), "fixmap of 2 entries, one byte left");
    cr_assert_not (proto_is_bounded ("\xdb\x00\x00\x00\x05" "abcd", 9), "str32 cut short");
    cr_assert_not (proto_is_bounded ("\xc1", 1), "never used");
    cr_assert_not (proto_is_bounded ("", 0));
    cr_assert (proto_is_bounded ("\x82\x01\x02\xa1x\x93\xc0\xc2\xc3", 9));
    cr_assert (proto_is_bounded ("\xde\x00\x01\xd9\x01y\xc7\x01\x05z", 10), "map16, str8, ext8");
    cr_assert (proto_is_bounded ("\x91\xd8\x01" "0123456789abcdef", 19), "fixext16");
}

//  Every catalogue frame passes the bound check it is given before decoding
Test (proto_envelope, real_frames_are_bounded)
{
    msgpack_sbuffer buf;
    s_envelope (&buf, PROTO_VERSION);
    cr_assert (proto_is_bounded (buf.data, buf.size));
    cr_assert_not (proto_is_bounded (buf.data, buf.size - 1));
    msgpack_sbuffer_destroy (&buf);
}
