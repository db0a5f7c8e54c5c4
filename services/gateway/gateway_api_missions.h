/*  gateway_api_missions - the /api/v1/missions routes */
#ifndef GATEWAY_API_MISSIONS_H_INCLUDED
#define GATEWAY_API_MISSIONS_H_INCLUDED

#include "gateway_http.h"

void gateway_api_missions_list (gateway_req_t *req);
void gateway_api_missions_create (gateway_req_t *req);
void gateway_api_missions_get (gateway_req_t *req);
void gateway_api_missions_update (gateway_req_t *req);
void gateway_api_missions_delete (gateway_req_t *req);

#endif
