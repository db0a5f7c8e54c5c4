/*  proto_fields - X-macro expansions that turn a field list into a struct
    and its description

    A field list is a macro taking (F, T) and calling F(T, kind, name, a, b, REQ|OPT)
    once per field. kind picks the member layout and the meaning of a and b:
      i64  a,b = min,max value        bool  (a,b unused)
      str  a,b = min,max bytes        uuid  (a,b unused)
      bin  a,b = min,max bytes        strs  a = max count, b = max bytes each
      obj  a = object id              objs  a = object id, b = max count
      raw  borrowed msgpack object (envelope body only)
*/
#ifndef PROTO_FIELDS_H_INCLUDED
#define PROTO_FIELDS_H_INCLUDED

#include <stddef.h>
#include "proto_codec.h"

#define PROTO_REQ true
#define PROTO_OPT false

#define PROTO_MEMBER_i64(name, a, b)   int64_t name; bool has_##name;
#define PROTO_MEMBER_bool(name, a, b)  bool name; bool has_##name;
#define PROTO_MEMBER_str(name, a, b)   char *name;
#define PROTO_MEMBER_uuid(name, a, b)  char *name;
#define PROTO_MEMBER_bin(name, a, b)   uint8_t *name; size_t name##_len;
#define PROTO_MEMBER_strs(name, a, b)  char **name; uint32_t name##_count;
#define PROTO_MEMBER_obj(name, a, b)   struct proto_##a##_s *name;
#define PROTO_MEMBER_objs(name, a, b)  struct proto_##a##_s *name; uint32_t name##_count;
#define PROTO_MEMBER_raw(name, a, b)   const msgpack_object *name;
#define PROTO_MEMBER(T, kind, name, a, b, req) PROTO_MEMBER_##kind(name, a, b)

#define PROTO_FIELD_i64(T, name, a, b, r) \
    { #name, PROTO_K_I64, offsetof (T, name), offsetof (T, has_##name), a, b, 0, r, NULL },
#define PROTO_FIELD_bool(T, name, a, b, r) \
    { #name, PROTO_K_BOOL, offsetof (T, name), offsetof (T, has_##name), 0, 1, 0, r, NULL },
#define PROTO_FIELD_str(T, name, a, b, r) \
    { #name, PROTO_K_STR, offsetof (T, name), 0, a, b, 0, r, NULL },
#define PROTO_FIELD_uuid(T, name, a, b, r) \
    { #name, PROTO_K_UUID, offsetof (T, name), 0, 36, 36, 0, r, NULL },
#define PROTO_FIELD_bin(T, name, a, b, r) \
    { #name, PROTO_K_BIN, offsetof (T, name), offsetof (T, name##_len), a, b, 0, r, NULL },
#define PROTO_FIELD_strs(T, name, a, b, r) \
    { #name, PROTO_K_STRS, offsetof (T, name), offsetof (T, name##_count), 0, a, b, r, NULL },
#define PROTO_FIELD_obj(T, name, a, b, r) \
    { #name, PROTO_K_OBJ, offsetof (T, name), 0, 0, 0, 0, r, &proto_##a##_desc },
#define PROTO_FIELD_objs(T, name, a, b, r) \
    { #name, PROTO_K_OBJS, offsetof (T, name), offsetof (T, name##_count), 0, b, 0, r, &proto_##a##_desc },
#define PROTO_FIELD_raw(T, name, a, b, r) \
    { #name, PROTO_K_RAW, offsetof (T, name), 0, 0, 0, 0, r, NULL },
#define PROTO_FIELD(T, kind, name, a, b, req) PROTO_FIELD_##kind(T, name, a, b, PROTO_##req)

//  A struct type from a field list; _reserved keeps empty lists legal C
#define PROTO_STRUCT(tag, FIELDS) \
    typedef struct tag##_s { uint8_t _reserved; FIELDS(PROTO_MEMBER, struct tag##_s) } tag##_t;

//  The description of that struct (the NULL row ends the list)
#define PROTO_DESC(tag, FIELDS) \
    static const proto_field_t s_##tag##_fields [] = { FIELDS(PROTO_FIELD, tag##_t) { .name = NULL } }; \
    const proto_desc_t tag##_desc = { #tag, sizeof (tag##_t), s_##tag##_fields, \
        sizeof (s_##tag##_fields) / sizeof (s_##tag##_fields [0]) - 1 };

#endif
