/*  audit_store - the audit service's SQL */
#ifndef AUDIT_STORE_H_INCLUDED
#define AUDIT_STORE_H_INCLUDED

#include <libpq-fe.h>
#include "../../proto/proto_msgs.h"

//  Append events in one transaction; ids already stored are skipped.
//  Returns how many were new, or -1 (nothing stored).
int
    audit_store_append (PGconn *db, const proto_audit_event_t *events, uint32_t count);

#endif
