/*  gateway_api_auth - HTTP <-> auth service for the auth routes

    Each handler parses and bounds the HTTP input, calls auth over its
    CURVE link with the verified identity, and renders the reply in the
    contract's JSON. Validation that needs the account store (password
    policy, email syntax) happens in auth; the gateway only refuses what
    is malformed.
*/
#include <jansson.h>
#include "gateway_api.h"
#include "gateway_api_auth.h"
#include "gateway_edge.h"
#include "gateway_auth.h"
#include "gateway_body.h"

//  Every call of these routes goes to auth
static cm_err_t
s_call (gateway_req_t *req, int msg_id, const void *body, void *reply, cm_reply_info_t *info)
{
    return gateway_api_call (req, CM_SVC_AUTH, msg_id, body, reply, info);
}

static json_t *
s_user_json (const proto_auth_user_t *user, bool full)
{
    json_t *roles = json_array ();
    for (uint32_t i = 0; i < user->roles_count; i++)
        json_array_append_new (roles, json_string (user->roles [i]));
    json_t *out = json_pack ("{s:s, s:s, s:o, s:o, s:s}", "id", user->id, "email", user->email,
                             "name", user->name? json_string (user->name): json_null (),
                             "roles", roles, "created_at", user->created_at);
    if (out && full) {
        json_object_set_new (out, "mfa_enabled", json_boolean (user->mfa_enabled));
        json_object_set_new (out, "email_verified", json_boolean (user->email_verified));
        json_t *identities = json_array ();
        for (uint32_t i = 0; i < user->identities_count; i++) {
            const proto_auth_identity_t *identity = &user->identities [i];
            json_array_append_new (identities, json_pack ("{s:s, s:o, s:s}", "provider", identity->provider,
                                   "email", identity->email? json_string (identity->email): json_null (),
                                   "created_at", identity->created_at));
        }
        json_object_set_new (out, "identities", identities);
    }
    return out;
}

void
gateway_api_register (gateway_req_t *req)
{
    json_t *body = gateway_api_json_body (req);
    if (!body)
        return;
    static const char *const fields [] = { "email", "password", "name", NULL };
    char error [160];
    const char *email = NULL, *password = NULL, *name = NULL;
    int status = gateway_body_only_fields (body, fields, error, sizeof error);
    if (!status)
        status = gateway_body_string (body, "email", true, 1, 254, &email, error, sizeof error);
    if (!status)
        //  Over 128 characters is refused by the policy, never truncated
        status = gateway_body_string (body, "password", true, 1, 1024, &password, error, sizeof error);
    if (!status)
        status = gateway_body_string (body, "name", false, 0, 200, &name, error, sizeof error);
    if (status) {
        gateway_api_send_invalid (req, status, error);
        json_decref (body);
        return;
    }
    proto_auth_register_req_t call = { .email = (char *) email, .password = (char *) password,
                                       .name = (char *) name };
    proto_auth_register_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_auth_register, &call, &reply, &info);
    json_decref (body);
    if (result == CM_CREATED)
        gateway_api_send_value (req, 201, s_user_json (reply.user, false));
    else
        gateway_api_send_backend_error (req, result, &info);
    proto_clear (&proto_auth_register_rep_desc, &reply);
}

static void
s_send_tokens (gateway_req_t *req, const proto_auth_tokens_t *tokens)
{
    gateway_api_send_value (req, 200, json_pack ("{s:s, s:s, s:I, s:s}",
                            "access_token", tokens->access_token, "token_type", "bearer",
                            "expires_in", (json_int_t) tokens->expires_in,
                            "refresh_token", tokens->refresh_token));
}

int
gateway_api_token_form (const char *data, size_t len, gateway_api_token_form_t *form)
{
    memset (form, 0, sizeof *form);
    int status = gateway_body_form_get (data, len, "grant_type", form->grant_type,
                                        sizeof form->grant_type, &form->has_grant_type)
              || gateway_body_form_get (data, len, "username", form->username,
                                        sizeof form->username, &form->has_username)
              || gateway_body_form_get (data, len, "password", form->password,
                                        sizeof form->password, &form->has_password)
              || gateway_body_form_get (data, len, "otp", form->otp, sizeof form->otp,
                                        &form->has_otp)
              || gateway_body_form_get (data, len, "refresh_token", form->refresh_token,
                                        sizeof form->refresh_token, &form->has_refresh_token);
    return status || !form->has_grant_type? 400: 0;
}

void
gateway_api_token (gateway_req_t *req)
{
    if (gateway_body_check_type (mg_get_header (req->conn, "Content-Type"),
                                 "application/x-www-form-urlencoded")) {
        gateway_send_error (req, 415, "unsupported_media_type", "send application/x-www-form-urlencoded");
        return;
    }
    char *data = NULL;
    size_t len = 0;
    int status = gateway_body_read (req->conn, 16 * 1024, &data, &len);
    if (status) {
        gateway_api_send_read_error (req, status);
        return;
    }
    gateway_api_token_form_t form;
    status = gateway_api_token_form (data, len, &form);
    explicit_bzero (data, len);
    free (data);
    if (status) {
        gateway_send_error (req, 400, "invalid_request", "the form is malformed or has no grant_type");
        return;
    }
    const char *agent = mg_get_header (req->conn, "User-Agent");
    char user_agent [513];
    snprintf (user_agent, sizeof user_agent, "%s", agent? agent: "");
    cm_reply_info_t info;
    cm_err_t result;
    if (streq (form.grant_type, "password")) {
        if (!form.has_username || !form.has_password || !*form.username || !*form.password) {
            gateway_send_error (req, 400, "invalid_request", "username and password are required");
            return;
        }
        //  Per account as well as per IP: spreading guesses over many
        //  addresses does not buy more tries at one account
        if (gateway_edge_limit (req->edge, req, GATEWAY_RL_TOKEN_ACCOUNT, form.username)) {
            explicit_bzero (&form, sizeof form);
            return;
        }
        proto_auth_login_req_t call = { .email = form.username, .password = form.password,
                                        .otp = form.has_otp && *form.otp? form.otp: NULL,
                                        .user_agent = user_agent };
        proto_auth_login_rep_t reply = { 0 };
        result = s_call (req, PROTO_MSG_auth_login, &call, &reply, &info);
        if (result == CM_OK)
            s_send_tokens (req, reply.tokens);
        proto_clear (&proto_auth_login_rep_desc, &reply);
    }
    else
    if (streq (form.grant_type, "refresh_token")) {
        if (!form.has_refresh_token || !*form.refresh_token) {
            gateway_send_error (req, 400, "invalid_request", "refresh_token is required");
            return;
        }
        proto_auth_refresh_req_t call = { .refresh_token = form.refresh_token, .user_agent = user_agent };
        proto_auth_refresh_rep_t reply = { 0 };
        result = s_call (req, PROTO_MSG_auth_refresh, &call, &reply, &info);
        if (result == CM_OK)
            s_send_tokens (req, reply.tokens);
        proto_clear (&proto_auth_refresh_rep_desc, &reply);
    }
    else {
        gateway_send_error (req, 400, "unsupported_grant_type", "grant_type must be password or refresh_token");
        return;
    }
    if (result != CM_OK)
        gateway_api_send_backend_error (req, result, &info);
}

void
gateway_api_logout (gateway_req_t *req)
{
    proto_auth_logout_req_t call = { 0 };
    proto_auth_logout_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_auth_logout, &call, &reply, &info);
    gateway_api_send_done (req, result, &info);
}

void
gateway_api_sessions (gateway_req_t *req)
{
    proto_auth_sessions_req_t call = { 0 };
    proto_auth_sessions_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_auth_sessions, &call, &reply, &info);
    if (result == CM_OK) {
        json_t *items = json_array ();
        for (uint32_t i = 0; i < reply.items_count; i++) {
            const proto_auth_session_t *s = &reply.items [i];
            json_array_append_new (items, json_pack ("{s:s, s:s, s:s, s:o, s:b}", "id", s->id,
                "created_at", s->created_at, "last_seen_at", s->last_seen_at,
                "user_agent", s->user_agent? json_string (s->user_agent): json_null (),
                "current", s->current));
        }
        gateway_api_send_value (req, 200, json_pack ("{s:o}", "items", items));
    }
    else
        gateway_api_send_backend_error (req, result, &info);
    proto_clear (&proto_auth_sessions_rep_desc, &reply);
}

void
gateway_api_session_revoke (gateway_req_t *req)
{
    if (!gateway_api_path_id (req, "no such session"))
        return;
    proto_auth_session_revoke_req_t call = { .id = req->params [0] };
    proto_auth_session_revoke_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_auth_session_revoke, &call, &reply, &info);
    gateway_api_send_done (req, result, &info);
}

void
gateway_api_me (gateway_req_t *req)
{
    proto_auth_me_req_t call = { 0 };
    proto_auth_me_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_auth_me, &call, &reply, &info);
    if (result == CM_OK)
        gateway_api_send_value (req, 200, s_user_json (reply.user, true));
    else
        gateway_api_send_backend_error (req, result, &info);
    proto_clear (&proto_auth_me_rep_desc, &reply);
}

void
gateway_api_jwks (gateway_req_t *req)
{
    char body [8192];
    size_t len = gateway_auth_jwks_json (req, body, sizeof body);
    if (len)
        gateway_send_json (req, 200, body, len);
    else
        gateway_send_error (req, 503, "service_unavailable", "auth is not reachable");
}

void
gateway_api_mfa_enroll (gateway_req_t *req)
{
    proto_auth_mfa_enroll_req_t call = { 0 };
    proto_auth_mfa_enroll_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, PROTO_MSG_auth_mfa_enroll, &call, &reply, &info);
    if (result == CM_CREATED) {
        json_t *codes = json_array ();
        for (uint32_t i = 0; i < reply.recovery_codes_count; i++)
            json_array_append_new (codes, json_string (reply.recovery_codes [i]));
        gateway_api_send_value (req, 201, json_pack ("{s:s, s:s, s:o}", "secret", reply.secret,
                                "otpauth_uri", reply.otpauth_uri, "recovery_codes", codes));
    }
    else
        gateway_api_send_backend_error (req, result, &info);
    proto_clear (&proto_auth_mfa_enroll_rep_desc, &reply);
}

//  POST /mfa/totp/verify and DELETE /mfa/totp both take {code}
static void
s_mfa_code (gateway_req_t *req, int msg_id)
{
    json_t *body = gateway_api_json_body (req);
    if (!body)
        return;
    static const char *const fields [] = { "code", NULL };
    char error [160];
    const char *code = NULL;
    int status = gateway_body_only_fields (body, fields, error, sizeof error);
    if (!status)
        status = gateway_body_string (body, "code", true, 1, 64, &code, error, sizeof error);
    if (status) {
        gateway_api_send_invalid (req, status, error);
        json_decref (body);
        return;
    }
    proto_auth_mfa_verify_req_t call = { .code = (char *) code };
    proto_auth_mfa_verify_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, msg_id, &call, &reply, &info);
    json_decref (body);
    gateway_api_send_done (req, result, &info);
}

void
gateway_api_mfa_verify (gateway_req_t *req)
{
    s_mfa_code (req, PROTO_MSG_auth_mfa_verify);
}

void
gateway_api_mfa_disable (gateway_req_t *req)
{
    //  auth.mfa_disable has the same body as auth.mfa_verify
    s_mfa_code (req, PROTO_MSG_auth_mfa_disable);
}

//  Binds a JSON body of string fields to msg_id's request (the message's
//  own description says which fields exist and how long they may be;
//  user_agent comes from the header, never the body), calls auth, and
//  answers: tokens for a token reply, 202 or 204 with no more to say
static void
s_forward_strings (gateway_req_t *req, int msg_id)
{
    const proto_desc_t *desc = proto_msgs [msg_id].req;
    void *call = zmalloc (desc->size);
    json_t *body = NULL;
    const char *allowed [PROTO_MAX_FIELDS + 1];
    size_t count = 0;
    for (size_t i = 0; i < desc->field_count; i++)
        if (!streq (desc->fields [i].name, "user_agent"))
            allowed [count++] = desc->fields [i].name;
    allowed [count] = NULL;
    if (count && !(body = gateway_api_json_body (req))) {
        free (call);
        return;
    }
    char error [160];
    int status = body? gateway_body_only_fields (body, allowed, error, sizeof error): 0;
    for (size_t i = 0; !status && i < desc->field_count; i++) {
        const proto_field_t *f = &desc->fields [i];
        assert (f->kind == PROTO_K_STR);
        const char *value = NULL;
        if (streq (f->name, "user_agent"))
            value = mg_get_header (req->conn, "User-Agent");
        else
            status = gateway_body_string (body, f->name, f->required, 1, (size_t) f->max, &value,
                                          error, sizeof error);
        //  Borrowed pointers: the codec only reads them; cleared before free
        if (value && strlen (value) <= (size_t) f->max)
            *(const char **) ((char *) call + f->offset) = value;
    }
    if (status) {
        gateway_api_send_invalid (req, status, error);
        free (call);
        json_decref (body);
        return;
    }
    const proto_desc_t *rep_desc = proto_msgs [msg_id].rep;
    void *reply = zmalloc (rep_desc->size);
    cm_reply_info_t info;
    cm_err_t result = s_call (req, msg_id, call, reply, &info);
    if (result == CM_OK && rep_desc == &proto_auth_magic_verify_rep_desc)
        s_send_tokens (req, ((proto_auth_magic_verify_rep_t *) reply)->tokens);
    else
    if (result == CM_ACCEPTED) {
        static const char accepted [] = "{\"status\":\"accepted\"}";
        gateway_send_json (req, 202, accepted, sizeof accepted - 1);
    }
    else
    gateway_api_send_done (req, result, &info);
    proto_clear (rep_desc, reply);
    free (reply);
    free (call);                        //  its strings belong to body
    json_decref (body);
}

void gateway_api_magic_link (gateway_req_t *req)      { s_forward_strings (req, PROTO_MSG_auth_magic_link); }
void gateway_api_magic_verify (gateway_req_t *req)    { s_forward_strings (req, PROTO_MSG_auth_magic_verify); }
void gateway_api_password_change (gateway_req_t *req) { s_forward_strings (req, PROTO_MSG_auth_password_change); }
void gateway_api_password_forgot (gateway_req_t *req) { s_forward_strings (req, PROTO_MSG_auth_password_forgot); }
void gateway_api_password_reset (gateway_req_t *req)  { s_forward_strings (req, PROTO_MSG_auth_password_reset); }
void gateway_api_email_verify (gateway_req_t *req)    { s_forward_strings (req, PROTO_MSG_auth_email_verify); }
void gateway_api_email_resend (gateway_req_t *req)    { s_forward_strings (req, PROTO_MSG_auth_email_resend); }

static void
s_admin (gateway_req_t *req, int msg_id, bool locked)
{
    if (!gateway_api_path_id (req, "no such user"))
        return;
    proto_auth_admin_lock_req_t lock = { .id = req->params [0], .locked = locked, .has_locked = true };
    proto_auth_admin_revoke_req_t revoke = { .id = req->params [0] };
    proto_auth_admin_lock_rep_t reply = { 0 };
    cm_reply_info_t info;
    cm_err_t result = s_call (req, msg_id, msg_id == PROTO_MSG_auth_admin_lock? (void *) &lock: (void *) &revoke,
                              &reply, &info);
    gateway_api_send_done (req, result, &info);
}

void gateway_api_admin_lock (gateway_req_t *req)    { s_admin (req, PROTO_MSG_auth_admin_lock, true); }
void gateway_api_admin_unlock (gateway_req_t *req)  { s_admin (req, PROTO_MSG_auth_admin_lock, false); }
void gateway_api_admin_revoke (gateway_req_t *req)  { s_admin (req, PROTO_MSG_auth_admin_revoke, false); }
