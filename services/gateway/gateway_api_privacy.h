/*  gateway_api_privacy - the /api/v1/users/me privacy routes: export,
    account deletion, preferences */
#ifndef GATEWAY_API_PRIVACY_H_INCLUDED
#define GATEWAY_API_PRIVACY_H_INCLUDED

#include "gateway_http.h"

void gateway_api_privacy_export (gateway_req_t *req);
void gateway_api_privacy_delete (gateway_req_t *req);
void gateway_api_privacy_prefs_get (gateway_req_t *req);
void gateway_api_privacy_prefs_put (gateway_req_t *req);

#endif
