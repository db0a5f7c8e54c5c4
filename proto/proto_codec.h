/*  proto_codec - field descriptors and the one msgpack codec that walks them

    Every message body is a msgpack map. Its fields are described once (see
    proto_msgs.h, generated from the .def files) and this codec encodes,
    decodes and validates any described struct. Decoding is strict: unknown
    or duplicate key, wrong msgpack type, value out of bounds or a missing
    required field is an error naming the field, never a crash.
*/
#ifndef PROTO_CODEC_H_INCLUDED
#define PROTO_CODEC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

typedef enum {
    PROTO_K_I64,        //  int64_t name; bool has_name           (min, max)
    PROTO_K_BOOL,       //  bool name; bool has_name
    PROTO_K_STR,        //  char *name, NULL = absent             (min, max bytes)
    PROTO_K_UUID,       //  char *name, canonical lower-case UUID
    PROTO_K_BIN,        //  uint8_t *name; size_t name_len        (min, max bytes)
    PROTO_K_STRS,       //  char **name; uint32_t name_count      (max count, max bytes)
    PROTO_K_OBJ,        //  struct *name, NULL = absent           (sub)
    PROTO_K_OBJS,       //  struct *name; uint32_t name_count     (sub, max count)
    PROTO_K_RAW         //  const msgpack_object *name, borrowed from the unpacked zone
} proto_kind_t;

typedef struct proto_desc_s proto_desc_t;

typedef struct {
    const char *name;               //  key on the wire
    proto_kind_t kind;
    size_t offset;                  //  of the value member
    size_t aux_offset;              //  of has_/_len/_count, 0 when none
    int64_t min;                    //  lower bound (value or length)
    int64_t max;                    //  upper bound (value, length or count)
    int64_t item_max;               //  STRS: bytes per item
    bool required;
    const proto_desc_t *sub;        //  OBJ/OBJS: element description
} proto_field_t;

struct proto_desc_s {
    const char *name;               //  for error messages
    size_t size;                    //  sizeof the struct
    const proto_field_t *fields;
    size_t field_count;
};

//  Ceilings that hold whatever a description says
#define PROTO_MAX_FIELDS      64
#define PROTO_ERR_MAX        160

typedef struct {
    char message [PROTO_ERR_MAX];   //  e.g. "field 'title': longer than 200 bytes"
    char field [64];                //  the offending field, "" when not one field
} proto_error_t;

//  ----------------------------------------------------------------------
//  Encode a described struct as a msgpack map. Absent optional fields are
//  left out. Returns 0, or -1 when a required field is absent.
int
    proto_encode (const proto_desc_t *desc, const void *obj, msgpack_packer *pk);

//  ----------------------------------------------------------------------
//  The same, with room for `extra` more entries that the caller packs
//  right after (the envelope adds its body this way).
int
    proto_encode_open (const proto_desc_t *desc, const void *obj, msgpack_packer *pk,
                       size_t extra);

//  ----------------------------------------------------------------------
//  Decode and validate a msgpack map into a zeroed struct of desc->size.
//  On error returns -1, fills err, and leaves nothing allocated in obj.
int
    proto_decode (const proto_desc_t *desc, const msgpack_object *in,
                  void *obj, proto_error_t *err);

//  ----------------------------------------------------------------------
//  Check a struct against its description before it is sent: the same
//  bounds the decoder enforces. Returns 0 or -1 with err filled.
int
    proto_validate (const proto_desc_t *desc, const void *obj, proto_error_t *err);

//  ----------------------------------------------------------------------
//  Free every member the codec (or a caller, with malloc) allocated and
//  zero the struct. Safe on a zeroed struct.
void
    proto_clear (const proto_desc_t *desc, void *obj);

//  True when s is a canonical lower-case UUID (8-4-4-4-12 hex)
bool
    proto_is_uuid (const char *s);

//  The same for exactly len bytes (need not be NUL-terminated)
bool
    proto_is_uuid_n (const char *s, size_t len);

//  True when the msgpack value at the start of data (size bytes) is complete
//  and none of its maps or arrays declares more entries than the bytes left
//  could hold. msgpack-c allocates a container's entries as soon as it reads
//  the count, so untrusted bytes pass this before they are unpacked.
bool
    proto_is_bounded (const void *data, size_t size);

//  True when the bytes are valid UTF-8 without NUL
bool
    proto_is_utf8 (const char *s, size_t len);

#endif
