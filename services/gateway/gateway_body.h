/*  gateway_body - request bodies: bounded reading, media types, strict JSON and forms

    Everything a route handler needs before it trusts a body. Reading holds
    at most limit bytes; JSON is parsed only after a raw pre-scan has bounded
    its depth and size, then walked against hard limits; field getters give
    the contract's 422 messages naming the field; the form reader follows
    RFC 6749 (no repeated parameters) and reads query strings too. All but
    gateway_body_read are pure.
*/
#ifndef GATEWAY_BODY_H_INCLUDED
#define GATEWAY_BODY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct mg_connection;

#define GATEWAY_BODY_MAX_DEPTH      16      //  nested objects and arrays, top level included
#define GATEWAY_BODY_MAX_ITEMS      256     //  object members plus array elements, in total
#define GATEWAY_BODY_MAX_STRING     65536   //  bytes of one string value
#define GATEWAY_BODY_MAX_KEY        128     //  bytes of one object key
#define GATEWAY_BODY_MAX_FORM       32      //  parameters of one form body
#define GATEWAY_BODY_ECHO_MAX       64      //  characters of a client's name echoed in a message

//  The message for a form or query string refused as a whole (400)
#define GATEWAY_BODY_FORM_MALFORMED "the parameters are malformed or repeated"

//  ----------------------------------------------------------------------
//  Read the request body into a malloc'd, NUL-terminated buffer of at most
//  limit bytes (the caller frees *data_p). Returns 0, 413 when the body is
//  over limit (unread if Content-Length says so), 400 when reading fails or
//  the body is shorter than Content-Length, 500 when memory runs out.
int
    gateway_body_read (struct mg_connection *conn, size_t limit, char **data_p, size_t *len_p);

//  ----------------------------------------------------------------------
//  Check a Content-Type header against want ("application/json"): case and
//  parameters ignored, but a charset other than utf-8 is refused. Returns
//  0, or 415 when the header is missing, malformed or another type.
int
    gateway_body_check_type (const char *content_type, const char *want);

//  ----------------------------------------------------------------------
//  Parse a body that must be one JSON object within the limits above;
//  duplicate keys and trailing data are refused. Returns a new reference
//  (caller decrefs), or NULL with a short message in error (answer 400).
json_t *
    gateway_body_json (const char *data, size_t len, char *error, size_t error_size);

//  ----------------------------------------------------------------------
//  Get a string member, borrowed from obj (*value NULL when absent). Length
//  is counted in code points. Returns 0, 422 naming the field when missing
//  but required, not a string or of the wrong length, 400 if obj is no object.
int
    gateway_body_string (json_t *obj, const char *field, bool required,
                         size_t min_chars, size_t max_chars,
                         const char **value, char *error, size_t size);

//  ----------------------------------------------------------------------
//  Like gateway_body_string, but copy the value into out; when trim, ASCII
//  whitespace at both ends is dropped before lengths are checked. out needs
//  4 * max_chars + 1 bytes: a value that does not fit is refused with 422.
int
    gateway_body_string_copy (json_t *obj, const char *field, bool required,
                              size_t min_chars, size_t max_chars, bool trim,
                              char *out, size_t out_size, bool *present,
                              char *error, size_t size);

//  ----------------------------------------------------------------------
//  Get an integer member within min..max; reals (5.0), booleans and strings
//  are refused. Returns 0 (*present says if it was there), or 422/400.
int
    gateway_body_integer (json_t *obj, const char *field, bool required,
                          int64_t min, int64_t max, int64_t *value, bool *present,
                          char *error, size_t size);

//  ----------------------------------------------------------------------
//  Get a true/false member. Returns 0 (*present says if it was there),
//  or 422/400.
int
    gateway_body_boolean (json_t *obj, const char *field, bool required,
                          bool *value, bool *present, char *error, size_t size);

//  ----------------------------------------------------------------------
//  Get a string member that must be one of allowed (NULL-terminated).
//  *value points into allowed, so it outlives obj; NULL when absent.
//  Returns 0, or 422 listing the choices, or 400.
int
    gateway_body_enum (json_t *obj, const char *field, bool required,
                       const char *const *allowed, const char **value,
                       char *error, size_t size);

//  ----------------------------------------------------------------------
//  Refuse any member of obj not in allowed (NULL-terminated). Returns 0, or
//  422 "unknown field '<name>'" with the name made safe to echo, or 400.
int
    gateway_body_only_fields (json_t *obj, const char *const *allowed, char *error, size_t size);

//  ----------------------------------------------------------------------
//  Find name in an application/x-www-form-urlencoded body and decode its
//  value into value (always NUL-terminated). Returns 0 (*present says if
//  found), or 400 when any parameter is malformed, repeated or too long.
int
    gateway_body_form_get (const char *data, size_t len, const char *name,
                           char *value, size_t size, bool *present);

//  ----------------------------------------------------------------------
//  Find name in a form body or query string (the same encoding) and parse
//  its value as a decimal integer: an optional minus, digits, nothing else,
//  within int64. Returns 0 (*present says if found), 400 when any parameter
//  is malformed or repeated, or 422 "<name> must be an integer".
int
    gateway_body_form_integer (const char *data, size_t len, const char *name,
                               int64_t *value, bool *present, char *error, size_t size);

#endif
