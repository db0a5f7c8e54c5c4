/*  proto_decode - fuzz the envelope decoder and the typed decoding of every message

    The first byte picks what the rest is: below 128 a whole frame, decoded
    as a server or client does (envelope, then its body as the request and
    as the reply of the type it names); otherwise it and the next byte pick
    one description of the catalogue and the rest is a msgpack body decoded
    against it, so every message, reply and object is reached. Whatever decodes must validate, and encode to bytes
    that decode and encode again to the same bytes.
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "proto_envelope.h"

#define S_DESC(id, FIELDS) &proto_##id##_desc,
#define S_MSG_DESCS(id, wire, REQ, REP, idem) &proto_##id##_req_desc, &proto_##id##_rep_desc,
static const proto_desc_t *const s_descs [] = {
    &proto_envelope_desc, PROTO_OBJECTS (S_DESC) PROTO_MESSAGES (S_MSG_DESCS)
};
#define S_DESC_COUNT (sizeof s_descs / sizeof s_descs [0])

//  Encodes obj into a fresh buffer; a decoded struct must always encode
static void
s_encode (const proto_desc_t *desc, const void *obj, msgpack_sbuffer *buf)
{
    msgpack_sbuffer_init (buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    assert (proto_encode (desc, obj, &pk) == 0);
}

//  obj was decoded from untrusted bytes: it validates, and its encoding
//  is a fixed point of decode + encode
static void
s_round_trip (const proto_desc_t *desc, const void *obj)
{
    proto_error_t err;
    assert (proto_validate (desc, obj, &err) == 0);
    msgpack_sbuffer first, second;
    s_encode (desc, obj, &first);

    msgpack_unpacked upk;
    msgpack_unpacked_init (&upk);
    size_t offset = 0;
    assert (msgpack_unpack_next (&upk, first.data, first.size, &offset) == MSGPACK_UNPACK_SUCCESS);
    assert (offset == first.size);
    void *again = calloc (1, desc->size);
    assert (again);
    assert (proto_decode (desc, &upk.data, again, &err) == 0);
    s_encode (desc, again, &second);
    assert (second.size == first.size && memcmp (second.data, first.data, first.size) == 0);

    proto_clear (desc, again);
    free (again);
    msgpack_unpacked_destroy (&upk);
    msgpack_sbuffer_destroy (&first);
    msgpack_sbuffer_destroy (&second);
}

//  Decodes body against desc as a service would, checks what it gets
static void
s_decode_body (const proto_desc_t *desc, const msgpack_object *body)
{
    void *obj = calloc (1, desc->size);
    assert (obj);
    proto_error_t err;
    if (proto_decode (desc, body, obj, &err) == 0)
        s_round_trip (desc, obj);
    else
        assert (err.message [0]);       //  every refusal says why
    proto_clear (desc, obj);
    free (obj);
}

static void
s_frame (const uint8_t *data, size_t size)
{
    msgpack_unpacked upk;
    msgpack_unpacked_init (&upk);
    proto_envelope_t env;
    proto_error_t err;
    if (proto_envelope_decode (data, size, &upk, &env, &err) == CM_OK) {
        s_round_trip (&proto_envelope_desc, &env);
        int id = proto_msg_lookup (env.type);
        if (id >= 0 && env.body) {
            s_decode_body (proto_msgs [id].req, env.body);
            s_decode_body (proto_msgs [id].rep, env.body);
        }
    }
    proto_clear (&proto_envelope_desc, &env);
    msgpack_unpacked_destroy (&upk);
}

static void
s_body (const proto_desc_t *desc, const uint8_t *data, size_t size)
{
    msgpack_unpacked upk;
    msgpack_unpacked_init (&upk);
    size_t offset = 0;
    //  A body only ever arrives inside a frame that passed this check
    if (proto_is_bounded (data, size)
    &&  msgpack_unpack_next (&upk, (const char *) data, size, &offset) == MSGPACK_UNPACK_SUCCESS)
        s_decode_body (desc, &upk.data);
    msgpack_unpacked_destroy (&upk);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size >= 1 && data [0] < 128)
        s_frame (data + 1, size - 1);
    else
    if (size >= 2)
        s_body (s_descs [((size_t) (data [0] - 128) << 8 | data [1]) % S_DESC_COUNT],
                data + 2, size - 2);
    return 0;
}
