/*  cm_err - status catalogue lookups */
#include <string.h>
#include "cm_err.h"

#define CM_ERR_ROW(name, http, code, msg) { http, code, msg },
static const struct { int http; const char *code; const char *msg; } s_rows [] = {
    PROTO_STATUSES (CM_ERR_ROW)
};
#undef CM_ERR_ROW

static int
s_valid (cm_err_t err)
{
    return (int) err >= 0 && err < CM_ERR_COUNT;
}

const char *
cm_err_code (cm_err_t err)
{
    return s_valid (err)? s_rows [err].code: "internal_error";
}

int
cm_err_http (cm_err_t err)
{
    return s_valid (err)? s_rows [err].http: 500;
}

const char *
cm_err_str (cm_err_t err)
{
    return s_valid (err)? s_rows [err].msg: "internal error";
}

cm_err_t
cm_err_from_code (const char *code)
{
    if (code)
        for (int i = 0; i < CM_ERR_COUNT; i++)
            if (strcmp (s_rows [i].code, code) == 0)
                return (cm_err_t) i;
    return CM_BAD_GATEWAY;
}
