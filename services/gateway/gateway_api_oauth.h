/*  gateway_api_oauth - sign-in with external providers over HTTP

    start and callback are browser navigations: they answer 302 with the
    Location auth decides (the provider, or the client's redirect_uri with
    login_code= or error=), and JSON only when there is nowhere safe to
    send the browser. exchange, link and identity removal are JSON calls.
*/
#ifndef GATEWAY_API_OAUTH_H_INCLUDED
#define GATEWAY_API_OAUTH_H_INCLUDED

#include "gateway_http.h"

void gateway_api_oauth_start (gateway_req_t *req);
void gateway_api_oauth_callback (gateway_req_t *req);
void gateway_api_oauth_exchange (gateway_req_t *req);
void gateway_api_oauth_link (gateway_req_t *req);
void gateway_api_identity_unlink (gateway_req_t *req);

#endif
