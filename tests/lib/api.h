/*  api - the public HTTP API as integration tests use it

    Thin helpers over stack_http for what most tests do first: make a
    user, sign in, call an endpoint with a bearer token. They assert on
    what must hold for a test to go on (a JSON body, a field present).
*/
#ifndef TEST_API_H_INCLUDED
#define TEST_API_H_INCLUDED

#include <jansson.h>
#include "stack.h"

#define API_PASSWORD "correct horse battery staple 42"
#define API_TOKEN_MAX 4096              //  access token buffers
#define API_REFRESH_MAX 256             //  refresh token buffers

//  A unique address per call (mixed case: the service normalises it)
void
    api_email (char *out, size_t size, const char *tag);

//  The response body as JSON (asserts that it is); caller decrefs
json_t *
    api_json (const stack_http_t *res);

//  A string member of obj (asserts that it is there)
const char *
    api_str (json_t *obj, const char *key);

//  POST /api/v1/auth/register with a name; returns the status
long
    api_register (const char *email, const char *password, stack_http_t *res);

//  Password grant (with otp when not NULL); on 200 the tokens go into
//  access (API_TOKEN_MAX) and refresh (API_REFRESH_MAX); either may be NULL
long
    api_login_with (const char *email, const char *password, const char *otp,
                    char *access, char *refresh, stack_http_t *res);
long
    api_login (const char *email, const char *password, char *access, char *refresh,
               stack_http_t *res);

//  Refresh grant; on 200 the new pair goes into new_access and new_refresh
//  (either may be NULL)
long
    api_refresh (const char *refresh, char *new_access, char *new_refresh, stack_http_t *res);

//  method path with a bearer token (none when access is NULL) and a JSON
//  body (none when NULL); returns the status
long
    api_call (const char *method, const char *path, const char *access, const char *body,
              stack_http_t *res);

//  GET path with a bearer token
long
    api_get (const char *path, const char *access, stack_http_t *res);

//  A new user, signed in: access token into access (API_TOKEN_MAX), the
//  user id into user_id (37 bytes) unless NULL
void
    api_new_user (const char *tag, char *access, char *user_id);

//  The code an authenticator app shows for secret, offset_s from now
//  (oathtool); code needs 16 bytes
void
    api_totp (const char *secret, int offset_s, char *code);

//  Whether a mail to `to` whose text contains needle is in the stack's
//  outbox (RUN_DIR/outbox/*.eml); waits up to 5 s for it
bool
    api_mail_with (const char *to, const char *needle);

#endif
