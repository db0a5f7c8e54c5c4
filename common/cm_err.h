/*  cm_err - the project's one status enum, from proto/status.def

    Numbered in catalogue order; CM_OK is 0. Every status maps to an HTTP
    status and a stable snake_case code that clients see.
*/
#ifndef CM_ERR_H_INCLUDED
#define CM_ERR_H_INCLUDED

#include "../proto/status.def"

#define CM_ERR_ENUM(name, http, code, msg) CM_##name,
typedef enum { PROTO_STATUSES (CM_ERR_ENUM) CM_ERR_COUNT } cm_err_t;
#undef CM_ERR_ENUM

//  Stable code, e.g. "not_found"
const char *
    cm_err_code (cm_err_t err);

//  HTTP status, e.g. 404
int
    cm_err_http (cm_err_t err);

//  Default human message
const char *
    cm_err_str (cm_err_t err);

//  Status for a code received from a peer; CM_BAD_GATEWAY when unknown
cm_err_t
    cm_err_from_code (const char *code);

#endif
