/*  gateway_spool - the gateway's audit events on disk while audit is away

    The gateway has no database, so events the audit service could not
    take wait in a file: GATEWAY_AUDIT_SPOOL_DIR/audit-spool.<n>, one JSON
    line per event, appended and fsync'd before they leave memory, read
    back oldest first, and emptied once every line was delivered. A gateway
    takes the first slot n no other live process holds (an flock lasts as
    long as the process), so replicas sharing a directory never share a
    file; at start it also takes over the lines of slots nobody holds any
    more, so what a stopped gateway left is delivered by the next one.
    Delivery is at least once: audit ignores event ids it already holds.
    The file never grows past max_bytes; what does not fit is refused.

    One owner: a spool is used by one thread at a time.
*/
#ifndef GATEWAY_SPOOL_H_INCLUDED
#define GATEWAY_SPOOL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GATEWAY_SPOOL_SLOTS     64
#define GATEWAY_SPOOL_LINE_MAX  8192    //  one event as JSON, escapes included

//  An audit event as the gateway holds it (fixed size: no allocation on
//  the request path); "" is an absent field
typedef struct {
    char id [37];
    int64_t at_ms;
    char type [65];
    char outcome [17];
    char user_id [37];
    char request_id [65];
    char ip [65];
    char detail [512];
} gateway_spool_event_t;

typedef struct gateway_spool_s gateway_spool_t;

//  ----------------------------------------------------------------------
//  Open a slot under dir (made 0700 when missing), taking over the lines
//  of unheld slots. NULL (logged) when the directory or no slot can be
//  used.
gateway_spool_t *
    gateway_spool_open (const char *dir, int64_t max_bytes);
void
    gateway_spool_destroy (gateway_spool_t **self_p);

//  ----------------------------------------------------------------------
//  Append count events, then fsync. Returns how many were written (fewer
//  when the file would pass max_bytes), or -1 on an I/O error.
int
    gateway_spool_append (gateway_spool_t *self, const gateway_spool_event_t *events, size_t count);

//  Read up to max of the oldest undelivered events into events. Returns
//  how many (0: none wait), or -1 on an I/O error. Lines that do not parse
//  (only a crash mid-append leaves one) are passed over with a warning.
int
    gateway_spool_peek (gateway_spool_t *self, gateway_spool_event_t *events, size_t max);

//  The events of the last peek were delivered: pass them. When nothing is
//  left the file is emptied. 0, or -1 on an I/O error.
int
    gateway_spool_consume (gateway_spool_t *self);

//  Bytes of undelivered events
int64_t
    gateway_spool_pending (const gateway_spool_t *self);

//  The slot's file name (borrowed)
const char *
    gateway_spool_path (const gateway_spool_t *self);

#endif
