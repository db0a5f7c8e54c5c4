/*  missions_rules - the contract's rules for mission fields

    Pure functions: no database, no sockets, no state. The service is
    the authority on these rules (the gateway only checks JSON types), so
    every client gets the same 422 messages, each naming its field first.
    Lengths are Unicode code points of valid UTF-8, never bytes.

    List cursors are cm_cursor's: the key of the last mission of a page.
*/
#ifndef MISSIONS_RULES_H_INCLUDED
#define MISSIONS_RULES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MISSIONS_TITLE_MAX          200     //  code points, after trimming
#define MISSIONS_DESCRIPTION_MAX    5000    //  code points
#define MISSIONS_DURATION_MIN       1       //  minutes
#define MISSIONS_DURATION_MAX       480
#define MISSIONS_LIMIT_DEFAULT      20      //  items per page
#define MISSIONS_LIMIT_MAX          100
#define MISSIONS_KEY_MAX            255     //  Idempotency-Key, code points

//  Room for a trimmed title (4 bytes per code point at most) and its NUL
#define MISSIONS_TITLE_SIZE         (MISSIONS_TITLE_MAX * 4 + 1)
//  Hex SHA-256 and its NUL
#define MISSIONS_HASH_SIZE          65

//  The clients' messages, field first
#define MISSIONS_MSG_TITLE          "title: must be 1 to 200 characters after trimming"
#define MISSIONS_MSG_DESCRIPTION    "description: must be at most 5000 characters"
#define MISSIONS_MSG_DURATION       "duration_minutes: must be an integer from 1 to 480"
#define MISSIONS_MSG_STATUS         "status: must be one of pending, in_progress, completed"
#define MISSIONS_MSG_LIMIT          "limit: must be an integer from 1 to 100"
#define MISSIONS_MSG_CURSOR         "cursor: not a cursor from this API"
#define MISSIONS_MSG_KEY            "Idempotency-Key: must be 1 to 255 printable characters"
#define MISSIONS_MSG_EMPTY_UPDATE   "body: give at least one of title, description, duration_minutes, status"

//  ----------------------------------------------------------------------
//  Code points in len bytes of text; -1 when the bytes are not valid UTF-8
//  (or hold a NUL).
int64_t
    missions_rules_code_points (const char *text, size_t len);

//  ----------------------------------------------------------------------
//  Trim ASCII white space (space, \t, \n, \v, \f, \r) at both ends of
//  title and copy the rest into out (size >= MISSIONS_TITLE_SIZE). Returns
//  0, or -1 when the rest is not 1..200 code points (out is then "").
int
    missions_rules_title (const char *title, char *out, size_t size);

//  ----------------------------------------------------------------------
//  0 when description (NULL = none) is at most 5000 code points, else -1
int
    missions_rules_description (const char *description);

//  0 when minutes is 1..480, else -1
int
    missions_rules_duration (int64_t minutes);

//  0 when status is exactly pending, in_progress or completed, else -1
int
    missions_rules_status (const char *status);

//  ----------------------------------------------------------------------
//  The page size: 20 when not given, the given value when it is 1..100,
//  else -1.
int64_t
    missions_rules_limit (bool given, int64_t limit);

//  ----------------------------------------------------------------------
//  0 when key is 1..255 code points with no control character, else -1
int
    missions_rules_idempotency_key (const char *key);

//  ----------------------------------------------------------------------
//  The fingerprint of a create request after normalisation (trimmed
//  title, description or NULL, duration, status with its default): hex
//  SHA-256 into hex (MISSIONS_HASH_SIZE). Fields are length-prefixed, so
//  no two requests share an encoding. Returns 0, or -1 when hashing failed.
int
    missions_rules_request_hash (const char *title, const char *description,
                                 int64_t duration_minutes, const char *status, char *hex);

#endif
