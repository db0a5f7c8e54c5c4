/*  cm_log - structured JSON log lines on stderr

    One line per event: {"ts","level","service","rid","msg", extra fields}.
    The request id is per thread, set when a request starts. Never pass a
    secret here: log lines leave the process.
*/
#ifndef CM_LOG_H_INCLUDED
#define CM_LOG_H_INCLUDED

#include <stddef.h>

typedef enum { CM_LOG_DEBUG, CM_LOG_INFO, CM_LOG_WARN, CM_LOG_ERROR } cm_log_level_t;

//  Set once at start-up, before threads
void
    cm_log_init (const char *service, cm_log_level_t level);

//  Parse "debug", "info", "warn", "error"; -1 when unknown
int
    cm_log_level_parse (const char *name);

//  The calling thread's request id ("" clears it)
void
    cm_log_set_request_id (const char *rid);
const char *
    cm_log_request_id (void);

//  A message from a printf format
void
    cm_log (cm_log_level_t level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

//  A message with extra string fields: key, value pairs ended by NULL
void
    cm_log_fields (cm_log_level_t level, const char *msg, ...) __attribute__ ((sentinel));

#define cm_debug(...) cm_log (CM_LOG_DEBUG, __VA_ARGS__)
#define cm_info(...)  cm_log (CM_LOG_INFO, __VA_ARGS__)
#define cm_warn(...)  cm_log (CM_LOG_WARN, __VA_ARGS__)
#define cm_error(...) cm_log (CM_LOG_ERROR, __VA_ARGS__)

//  ----------------------------------------------------------------------
//  Append s as JSON string content (no quotes) to dest of size bytes at
//  *len; control characters are escaped. Returns -1 when it did not fit.
int
    cm_json_escape (char *dest, size_t size, size_t *len, const char *s);

#endif
