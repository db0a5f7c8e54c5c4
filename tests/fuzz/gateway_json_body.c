/*  gateway_json_body - fuzz the JSON body parser and every field getter the routes use

    A body is parsed with the gateway's limits; what parses is read the way
    the routes read it: each member with every getter, then each request
    message's fields with the bounds of its description (the routes bind
    bodies to those), and the routes' own fixed fields.
*/
#include <assert.h>
#include "../../services/gateway/gateway_api.h"
#include "../../services/gateway/gateway_body.h"

static const char *const s_choices [] = { "planned", "active", "done", NULL };

//  Every getter on one member, with tight and loose bounds
static void
s_member (json_t *body, const char *name)
{
    char error [160];
    const char *value;
    char copy [4 * 16 + 1];
    bool present, flag;
    int64_t number;
    gateway_body_string (body, name, true, 1, 16, &value, error, sizeof error);
    gateway_body_string (body, name, false, 0, SIZE_MAX, &value, error, sizeof error);
    for (int trim = 0; trim < 2; trim++)
        if (gateway_body_string_copy (body, name, true, 1, 16, trim, copy, sizeof copy,
                                      &present, error, sizeof error) == 0)
            assert (strlen (copy) < sizeof copy);
    gateway_body_integer (body, name, true, -5, 5, &number, &present, error, sizeof error);
    gateway_body_integer (body, name, false, INT64_MIN, INT64_MAX, &number, &present,
                          error, sizeof error);
    gateway_body_boolean (body, name, true, &flag, &present, error, sizeof error);
    gateway_body_enum (body, name, true, s_choices, &value, error, sizeof error);
}

//  The fields of one request description, as gateway_api binds them
static void
s_request (json_t *body, const proto_desc_t *desc)
{
    const char *allowed [PROTO_MAX_FIELDS + 1];
    char error [160];
    for (size_t i = 0; i < desc->field_count; i++) {
        const proto_field_t *f = &desc->fields [i];
        allowed [i] = f->name;
        const char *value;
        int64_t number;
        bool present, flag;
        if (f->kind == PROTO_K_STR || f->kind == PROTO_K_UUID) {
            if (gateway_api_body_string (body, desc, f->name, &value, error, sizeof error) == 0
            &&  value && f->kind == PROTO_K_STR)
                assert (strlen (value) <= (size_t) f->max);
        }
        else
        if (f->kind == PROTO_K_I64) {
            if (gateway_api_body_integer (body, desc, f->name, &number, &present,
                                          error, sizeof error) == 0 && present)
                assert (number >= f->min && number <= f->max);
        }
        else
        if (f->kind == PROTO_K_BOOL)
            gateway_body_boolean (body, f->name, f->required, &flag, &present, error, sizeof error);
    }
    allowed [desc->field_count] = NULL;
    gateway_body_only_fields (body, allowed, error, sizeof error);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char error [160];
    json_t *body = gateway_body_json ((const char *) data, size, error, sizeof error);
    if (!body)
        return 0;
    assert (json_is_object (body));
    const char *key;
    json_t *member;
    json_object_foreach (body, key, member)
        s_member (body, key);
    for (int id = 0; id < PROTO_MSG_COUNT; id++)
        s_request (body, proto_msgs [id].req);
    json_decref (body);
    return 0;
}
