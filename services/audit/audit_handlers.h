/*  audit_handlers - typed handlers of the audit service */
#ifndef AUDIT_HANDLERS_H_INCLUDED
#define AUDIT_HANDLERS_H_INCLUDED

#include "../../common/cm_server.h"

extern const cm_route_t audit_routes [];
extern const size_t audit_route_count;

#endif
