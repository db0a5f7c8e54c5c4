/*  gateway_api_auth - the /api/v1/auth and /api/v1/users/me routes */
#ifndef GATEWAY_API_AUTH_H_INCLUDED
#define GATEWAY_API_AUTH_H_INCLUDED

#include "gateway_http.h"

void gateway_api_register (gateway_req_t *req);
void gateway_api_token (gateway_req_t *req);
void gateway_api_logout (gateway_req_t *req);
void gateway_api_sessions (gateway_req_t *req);
void gateway_api_session_revoke (gateway_req_t *req);
void gateway_api_me (gateway_req_t *req);
void gateway_api_jwks (gateway_req_t *req);
void gateway_api_mfa_enroll (gateway_req_t *req);
void gateway_api_mfa_verify (gateway_req_t *req);
void gateway_api_mfa_disable (gateway_req_t *req);
void gateway_api_magic_link (gateway_req_t *req);
void gateway_api_magic_verify (gateway_req_t *req);
void gateway_api_password_change (gateway_req_t *req);
void gateway_api_password_forgot (gateway_req_t *req);
void gateway_api_password_reset (gateway_req_t *req);
void gateway_api_email_verify (gateway_req_t *req);
void gateway_api_email_resend (gateway_req_t *req);
void gateway_api_admin_lock (gateway_req_t *req);
void gateway_api_admin_unlock (gateway_req_t *req);
void gateway_api_admin_revoke (gateway_req_t *req);

#endif
