/*  audit_rules - the admin query's filters, its cursors, and timestamps

    Pure functions: no database, no sockets, no state. The audit service
    is the authority on these rules, so every client gets the same 422
    messages, each naming its field first.

    A cursor is base64url (no padding) of the decimal seq of the last event
    of a page; pages go newest first, so the next page holds smaller seqs.
*/
#ifndef AUDIT_RULES_H_INCLUDED
#define AUDIT_RULES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_LIMIT_DEFAULT     50
#define AUDIT_LIMIT_MAX         100
#define AUDIT_TYPE_MAX          64
#define AUDIT_CURSOR_SIZE       32      //  base64url of at most 19 digits, and the NUL
#define AUDIT_TIME_SIZE         25      //  "2024-05-01T12:00:00.000Z" and the NUL

#define AUDIT_MSG_TYPE      "type: must be an event type such as auth.login.failure"
#define AUDIT_MSG_SINCE     "since: must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z"
#define AUDIT_MSG_LIMIT     "limit: must be an integer from 1 to 100"
#define AUDIT_MSG_CURSOR    "cursor: not a cursor from this API"

//  ----------------------------------------------------------------------
//  0 when type is 1..64 of [a-z0-9_] in dot-separated parts, each starting
//  with a letter or digit ("auth.login.failure"), else -1
int
    audit_rules_type (const char *type);

//  The page size: 50 when not given, the given value when it is 1..100,
//  else -1
int64_t
    audit_rules_limit (bool given, int64_t limit);

//  ----------------------------------------------------------------------
//  Parse an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|
//  -HH:MM), years 0001..9999) into milliseconds since 1970 UTC (fractions
//  below a millisecond are dropped). 0 or -1.
int
    audit_rules_time_parse (const char *text, int64_t *ms);

//  Format ms (0 .. year 9999) as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out
//  [AUDIT_TIME_SIZE]. 0, or -1 when out of range.
int
    audit_rules_time_format (int64_t ms, char *out);

//  ----------------------------------------------------------------------
//  Encode the cursor after seq (>= 1) into out [AUDIT_CURSOR_SIZE]; 0 or -1
int
    audit_rules_cursor_encode (int64_t seq, char *out);

//  Decode a cursor into *seq; -1 for anything encode did not make
int
    audit_rules_cursor_decode (const char *cursor, int64_t *seq);

#endif
