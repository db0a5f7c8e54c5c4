/*  proto_envelope - envelope encode and strict decode */
#include <stdio.h>
#include <string.h>
#include "proto_envelope.h"

int
proto_envelope_encode (const proto_envelope_t *env, const proto_desc_t *body_desc,
                       const void *body, msgpack_sbuffer *buf, proto_error_t *err)
{
    if (proto_validate (&proto_envelope_desc, env, err))
        return -1;
    if (body_desc && proto_validate (body_desc, body, err))
        return -1;

    //  The raw body member is for decoded envelopes; the typed body goes
    //  in as one extra entry after the envelope's own fields
    proto_envelope_t head = *env;
    head.body = NULL;
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    int rc = proto_encode_open (&proto_envelope_desc, &head, &pk, body_desc? 1: 0);
    if (rc == 0 && body_desc) {
        msgpack_pack_str (&pk, 4);
        msgpack_pack_str_body (&pk, "body", 4);
        rc = proto_encode (body_desc, body, &pk);
    }
    if (rc == 0 && buf->size > PROTO_MAX_FRAME) {
        snprintf (err->message, sizeof err->message, "message larger than %d bytes", PROTO_MAX_FRAME);
        err->field [0] = 0;
        rc = -1;
    }
    return rc;
}

cm_err_t
proto_envelope_decode (const void *data, size_t size, msgpack_unpacked *upk,
                       proto_envelope_t *env, proto_error_t *err)
{
    memset (env, 0, sizeof *env);
    err->field [0] = 0;
    if (size == 0 || size > PROTO_MAX_FRAME) {
        snprintf (err->message, sizeof err->message, "frame size %zu out of bounds", size);
        return CM_INVALID_REQUEST;
    }
    if (!proto_is_bounded (data, size)) {
        snprintf (err->message, sizeof err->message, "frame declares more entries than it holds");
        return CM_INVALID_REQUEST;
    }
    size_t offset = 0;
    msgpack_unpack_return ret;
    if (upk->zone) {
        msgpack_zone_clear (upk->zone);
        ret = msgpack_unpack (data, size, &offset, upk->zone, &upk->data);
    }
    else
        ret = msgpack_unpack_next (upk, data, size, &offset);
    //  Trailing bytes are refused below, with their own message
    if (ret != MSGPACK_UNPACK_SUCCESS && ret != MSGPACK_UNPACK_EXTRA_BYTES) {
        snprintf (err->message, sizeof err->message, "frame is not one complete msgpack value");
        return CM_INVALID_REQUEST;
    }
    if (offset != size) {
        snprintf (err->message, sizeof err->message, "trailing bytes after the envelope");
        return CM_INVALID_REQUEST;
    }
    if (upk->data.type != MSGPACK_OBJECT_MAP) {
        snprintf (err->message, sizeof err->message, "envelope must be a map");
        return CM_INVALID_REQUEST;
    }
    //  Version first: a newer peer gets a precise answer, not a field error
    const msgpack_object_map *map = &upk->data.via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *key = &map->ptr [i].key;
        if (key->type == MSGPACK_OBJECT_STR && key->via.str.size == 1 && key->via.str.ptr [0] == 'v') {
            const msgpack_object *v = &map->ptr [i].val;
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 != PROTO_VERSION) {
                snprintf (err->message, sizeof err->message, "protocol version must be %d", PROTO_VERSION);
                snprintf (err->field, sizeof err->field, "v");
                return CM_UNSUPPORTED_VERSION;
            }
        }
    }
    if (proto_decode (&proto_envelope_desc, &upk->data, env, err))
        return CM_INVALID_REQUEST;
    return CM_OK;
}
