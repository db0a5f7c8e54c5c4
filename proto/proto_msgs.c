/*  proto_msgs - expands the catalogue into descriptions and the name table */
#include <string.h>
#include "proto_msgs.h"

#define PROTO_DEFINE_OBJ(id, FIELDS) PROTO_DESC (proto_##id, FIELDS)
PROTO_OBJECTS (PROTO_DEFINE_OBJ)

#define PROTO_DEFINE_MSG(id, wire, REQ, REP, idem) \
    PROTO_DESC (proto_##id##_req, REQ) \
    PROTO_DESC (proto_##id##_rep, REP)
PROTO_MESSAGES (PROTO_DEFINE_MSG)

PROTO_DESC (proto_envelope, PROTO_ENVELOPE)

#define PROTO_MSG_ROW(id, wire, REQ, REP, idem) \
    [PROTO_MSG_##id] = { wire, &proto_##id##_req_desc, &proto_##id##_rep_desc, idem },
const proto_msg_t proto_msgs [PROTO_MSG_COUNT] = { PROTO_MESSAGES (PROTO_MSG_ROW) };

int
proto_msg_lookup (const char *name)
{
    //  A linear scan: the catalogue is small and this runs once per request
    for (int i = 0; i < PROTO_MSG_COUNT; i++)
        if (strcmp (proto_msgs [i].name, name) == 0)
            return i;
    return -1;
}
