/*  gateway_api_audit - the /api/v1/admin/audit routes (admin role only) */
#ifndef GATEWAY_API_AUDIT_H_INCLUDED
#define GATEWAY_API_AUDIT_H_INCLUDED

#include "gateway_http.h"

void gateway_api_audit_list (gateway_req_t *req);
void gateway_api_audit_verify (gateway_req_t *req);

#endif
