/*  gateway_api_auth - the /api/v1/auth and /api/v1/users/me routes */
#ifndef GATEWAY_API_AUTH_H_INCLUDED
#define GATEWAY_API_AUTH_H_INCLUDED

#include "gateway_http.h"

//  The parameters of an OAuth2 token request (RFC 6749 4.3 and 6), decoded;
//  each buffer holds the longest value the route takes
typedef struct {
    char grant_type [32];
    char username [1025];
    char password [1025];               //  a secret
    char otp [65];
    char refresh_token [257];
    bool has_grant_type, has_username, has_password, has_otp, has_refresh_token;
} gateway_api_token_form_t;

//  ----------------------------------------------------------------------
//  Read a token request's application/x-www-form-urlencoded body into form
//  (pure, no I/O). Returns 0, or 400 when the form is malformed, repeats a
//  parameter, has a value too long for its buffer, or has no grant_type.
int
    gateway_api_token_form (const char *data, size_t len, gateway_api_token_form_t *form);

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
