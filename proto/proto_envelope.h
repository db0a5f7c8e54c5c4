/*  proto_envelope - the envelope codec: one msgpack frame per request or reply

    Decoding checks the frame size, that the frame is exactly one msgpack
    map with no trailing bytes, the protocol version, and every envelope
    field; the body stays a borrowed msgpack object for the typed decoder.
*/
#ifndef PROTO_ENVELOPE_H_INCLUDED
#define PROTO_ENVELOPE_H_INCLUDED

#include "proto_msgs.h"
#include "../common/cm_err.h"

#define PROTO_VERSION       1
//  Largest frame any socket accepts: a 1 MiB JSON body plus room, or one
//  evidence chunk (256 KiB) with its envelope
#define PROTO_MAX_FRAME     (2 * 1024 * 1024)

//  ----------------------------------------------------------------------
//  Encode envelope + typed body (body_desc may be NULL for no body) into buf,
//  which the caller has initialised. Returns 0, or -1 when a field breaks
//  its description or the result is larger than PROTO_MAX_FRAME.
int
    proto_envelope_encode (const proto_envelope_t *env, const proto_desc_t *body_desc,
                           const void *body, msgpack_sbuffer *buf, proto_error_t *err);

//  ----------------------------------------------------------------------
//  Decode a frame. upk must be initialised by the caller and outlives env
//  (env->body points into it). A zone the caller gave upk (msgpack_zone_new)
//  is cleared and reused, so a loop of frames allocates none; without one,
//  msgpack makes one per frame. Returns CM_OK, CM_UNSUPPORTED_VERSION or
//  CM_INVALID_REQUEST with err filled; env is left empty on error.
cm_err_t
    proto_envelope_decode (const void *data, size_t size, msgpack_unpacked *upk,
                           proto_envelope_t *env, proto_error_t *err);

#endif
