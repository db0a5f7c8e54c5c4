/*  proto_msgs - structs, descriptions and the catalogue of every message

    Everything here is expanded from messages.def and envelope.def; edit
    those, never this.
*/
#ifndef PROTO_MSGS_H_INCLUDED
#define PROTO_MSGS_H_INCLUDED

#include "proto_fields.h"
#include "messages.def"
#include "envelope.def"

#define PROTO_DECLARE_OBJ(id, FIELDS) \
    PROTO_STRUCT (proto_##id, FIELDS) \
    extern const proto_desc_t proto_##id##_desc;
PROTO_OBJECTS (PROTO_DECLARE_OBJ)

#define PROTO_DECLARE_MSG(id, wire, REQ, REP, idem) \
    PROTO_STRUCT (proto_##id##_req, REQ) \
    PROTO_STRUCT (proto_##id##_rep, REP) \
    extern const proto_desc_t proto_##id##_req_desc; \
    extern const proto_desc_t proto_##id##_rep_desc;
PROTO_MESSAGES (PROTO_DECLARE_MSG)

PROTO_STRUCT (proto_envelope, PROTO_ENVELOPE)
extern const proto_desc_t proto_envelope_desc;

#define PROTO_MSG_ENUM(id, wire, REQ, REP, idem) PROTO_MSG_##id,
typedef enum { PROTO_MESSAGES (PROTO_MSG_ENUM) PROTO_MSG_COUNT } proto_msg_id_t;

typedef struct {
    const char *name;               //  wire name, e.g. "missions.list"
    const proto_desc_t *req;        //  request body
    const proto_desc_t *rep;        //  reply body
    bool idempotent;                //  safe to retry on another replica
} proto_msg_t;

extern const proto_msg_t proto_msgs [PROTO_MSG_COUNT];

//  ----------------------------------------------------------------------
//  Find a message by wire name. Returns its id, or -1 when unknown.
int
    proto_msg_lookup (const char *name);

#endif
