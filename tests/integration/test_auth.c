/*  test_auth - sign-up, sign-in, tokens and sessions over HTTP at the gateway */
#include <criterion/criterion.h>
#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include "api.h"

TestSuite (auth, .timeout = 60);

Test (auth, register_then_sign_in_and_read_me)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128], access [4096], refresh [256];
    api_email (email, sizeof email, "alice");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201, "%s", res->body);
    json_t *user = api_json (res);
    cr_assert_eq (strlen (api_str (user, "id")), 36);
    //  The domain is lower-cased, the local part kept
    cr_assert_not_null (strstr (api_str (user, "email"), "@example.com"));
    cr_assert_str_eq (api_str (user, "name"), "Test User");
    cr_assert_str_eq (json_string_value (json_array_get (json_object_get (user, "roles"), 0)), "user");
    cr_assert_null (json_object_get (user, "password"), "never echo a password");
    cr_assert_null (json_object_get (user, "password_hash"));
    char id [37];
    snprintf (id, sizeof id, "%s", api_str (user, "id"));
    json_decref (user);

    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 200, "%s", res->body);
    json_t *tokens = api_json (res);
    cr_assert_str_eq (api_str (tokens, "token_type"), "bearer");
    json_int_t expires = json_integer_value (json_object_get (tokens, "expires_in"));
    cr_assert (expires > 0 && expires <= 900);
    json_decref (tokens);

    cr_assert_eq (api_get ("/api/v1/users/me", access, res), 200, "%s", res->body);
    json_t *me = api_json (res);
    cr_assert_str_eq (api_str (me, "id"), id);
    cr_assert (json_is_false (json_object_get (me, "mfa_enabled")));
    cr_assert (json_is_false (json_object_get (me, "email_verified")));
    json_decref (me);
    free (res);
}

Test (auth, registration_rules)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128];
    api_email (email, sizeof email, "rules");
    cr_assert_eq (api_register (email, "short-pw-11", res), 422);
    cr_assert_not_null (strstr (res->body, "\"code\":\"weak_password\""), "%s", res->body);
    cr_assert_eq (api_register (email, "password1234", res), 422, "a common password is refused");
    cr_assert_not_null (strstr (res->body, "weak_password"));
    char long_pw [140];
    memset (long_pw, 'k', 129);
    long_pw [129] = 0;
    cr_assert_eq (api_register (email, long_pw, res), 422, "129 characters: refused, not truncated");
    long_pw [128] = 0;
    cr_assert_eq (api_register (email, long_pw, res), 201, "128 characters: accepted: %s", res->body);

    //  The same address in another letter case is the same account
    char upper [128];
    snprintf (upper, sizeof upper, "%s", email);
    for (char *c = upper; *c && *c != '@'; c++)
        *c = (char) toupper ((unsigned char) *c);
    cr_assert_eq (api_register (upper, API_PASSWORD, res), 409);
    cr_assert_not_null (strstr (res->body, "\"code\":\"email_taken\""));

    cr_assert_eq (api_register ("not-an-email", API_PASSWORD, res), 422);
    cr_assert_not_null (strstr (res->body, "email"), "the message names the field: %s", res->body);
    stack_http ("POST", "/api/v1/auth/register", NULL, "{\"email\":", res);
    cr_assert_eq (res->status, 400);
    stack_http ("POST", "/api/v1/auth/register", "Content-Type: text/plain", "{}", res);
    cr_assert_eq (res->status, 415);
    stack_http ("POST", "/api/v1/auth/register", NULL,
                "{\"email\":\"x@example.com\",\"password\":\"long enough password\",\"roles\":[\"admin\"]}", res);
    cr_assert_eq (res->status, 422, "unknown fields (like roles) are refused");
    free (res);
}

Test (auth, wrong_password_and_unknown_email_look_the_same)
{
    stack_http_t *a = malloc (sizeof *a), *b = malloc (sizeof *b);
    char email [128], access [4096], refresh [256];
    api_email (email, sizeof email, "bob");
    cr_assert_eq (api_register (email, API_PASSWORD, a), 201);
    cr_assert_eq (api_login (email, "wrong password entirely", access, refresh, a), 401);
    char nobody [128];
    api_email (nobody, sizeof nobody, "nobody");
    cr_assert_eq (api_login (nobody, "wrong password entirely", access, refresh, b), 401);
    //  Same body but for the request id
    json_t *ja = api_json (a), *jb = api_json (b);
    cr_assert (json_equal (json_object_get (ja, "error"), json_object_get (jb, "error")),
               "%s vs %s", a->body, b->body);
    cr_assert_str_eq (json_string_value (json_object_get (json_object_get (ja, "error"), "code")),
                      "invalid_credentials");
    json_decref (ja);
    json_decref (jb);
    free (a);
    free (b);
}

Test (auth, bearer_tokens_are_checked)
{
    stack_http_t *res = malloc (sizeof *res);
    stack_http ("GET", "/api/v1/users/me", NULL, NULL, res);
    cr_assert_eq (res->status, 401);
    char value [64];
    cr_assert (stack_http_header (res, "WWW-Authenticate", value, sizeof value));
    cr_assert_str_eq (value, "Bearer");

    char email [128], access [4096], refresh [256];
    api_email (email, sizeof email, "carol");
    api_register (email, API_PASSWORD, res);
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 200);
    //  Flip one character of the payload
    char tampered [4096];
    snprintf (tampered, sizeof tampered, "%s", access);
    char *dot = strchr (tampered, '.');
    dot [5] = dot [5] == 'A'? 'B': 'A';
    cr_assert_eq (api_get ("/api/v1/users/me", tampered, res), 401);
    cr_assert_not_null (strstr (res->body, "invalid_token"));
    //  alg "none" with the same claims
    char none [4096];
    snprintf (none, sizeof none, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0%.*s.", (int) (strrchr (access, '.') - dot), dot);
    cr_assert_eq (api_get ("/api/v1/users/me", none, res), 401);
    cr_assert_eq (api_get ("/api/v1/users/me", "garbage", res), 401);
    free (res);
}

Test (auth, refresh_rotates_and_reuse_revokes_the_session)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128], access [4096], refresh [256], access2 [4096], refresh2 [256], access3 [4096], refresh3 [256];
    api_email (email, sizeof email, "dave");
    api_register (email, API_PASSWORD, res);
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 200);
    cr_assert_eq (api_refresh (refresh, access2, refresh2, res), 200, "%s", res->body);
    cr_assert_str_neq (refresh, refresh2);
    cr_assert_eq (api_get ("/api/v1/users/me", access2, res), 200);
    //  The rotated token again: refused, and the whole session ends
    cr_assert_eq (api_refresh (refresh, access3, refresh3, res), 401);
    cr_assert_not_null (strstr (res->body, "invalid_token"));
    cr_assert_eq (api_refresh (refresh2, access3, refresh3, res), 401, "the newer token died with the session");
    cr_assert_eq (api_get ("/api/v1/users/me", access2, res), 401, "and so did its access token");
    int64_t until = zclock_mono () + 10000;
    long events = 0;
    while ((events = stack_db_long ("SELECT count (*) FROM audit.events WHERE type = 'auth.token.reuse_detected'")) < 1
           && zclock_mono () < until)
        zclock_sleep (100);
    cr_assert_geq (events, 1, "reuse is an audit event");
    free (res);
}

Test (auth, sessions_list_revoke_and_logout)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128], access [4096], refresh [256], access2 [4096], refresh2 [256], tmp [4096], tmp2 [256];
    api_email (email, sizeof email, "erin");
    api_register (email, API_PASSWORD, res);
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 200);
    cr_assert_eq (api_login (email, API_PASSWORD, access2, refresh2, res), 200);
    cr_assert_eq (api_get ("/api/v1/auth/sessions", access, res), 200, "%s", res->body);
    json_t *list = api_json (res);
    json_t *items = json_object_get (list, "items");
    cr_assert_eq (json_array_size (items), 2);
    int current = 0;
    char other [37] = "";
    for (size_t i = 0; i < 2; i++) {
        json_t *item = json_array_get (items, i);
        if (json_is_true (json_object_get (item, "current")))
            current++;
        else
            snprintf (other, sizeof other, "%s", api_str (item, "id"));
    }
    cr_assert_eq (current, 1);
    json_decref (list);

    //  Another user cannot revoke it: 404, as if it did not exist
    char mallory [128], m_access [4096], m_refresh [256];
    api_email (mallory, sizeof mallory, "mallory");
    api_register (mallory, API_PASSWORD, res);
    cr_assert_eq (api_login (mallory, API_PASSWORD, m_access, m_refresh, res), 200);
    char path [128], header [4200];
    snprintf (path, sizeof path, "/api/v1/auth/sessions/%s", other);
    snprintf (header, sizeof header, "Authorization: Bearer %s", m_access);
    stack_http ("DELETE", path, header, NULL, res);
    cr_assert_eq (res->status, 404);
    //  Its owner can; its refresh token then stops working
    snprintf (header, sizeof header, "Authorization: Bearer %s", access);
    stack_http ("DELETE", path, header, NULL, res);
    cr_assert_eq (res->status, 204);
    cr_assert_eq (api_refresh (refresh2, tmp, tmp2, res), 401);
    //  The revoked session's access token is refused at once
    cr_assert_eq (api_get ("/api/v1/users/me", access2, res), 401, "%s", res->body);
    //  Logout ends the current session: its access token within 1 s, its refresh token too
    cr_assert_eq (api_get ("/api/v1/users/me", access, res), 200);
    stack_http ("POST", "/api/v1/auth/logout", header, NULL, res);
    cr_assert_eq (res->status, 204);
    int64_t deadline = zclock_mono () + 1000;
    long status;
    while ((status = api_get ("/api/v1/users/me", access, res)) != 401 && zclock_mono () < deadline)
        zclock_sleep (20);
    cr_assert_eq (status, 401, "the access token still works after logout");
    cr_assert_eq (api_refresh (refresh, tmp, tmp2, res), 401);
    //  The other user is untouched
    cr_assert_eq (api_get ("/api/v1/users/me", m_access, res), 200);
    free (res);
}

Test (auth, admin_emails_get_the_admin_role)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128];
    snprintf (email, sizeof email, "%s", stack_env ("ADMIN_EMAILS"));
    long status = api_register (email, API_PASSWORD, res);
    cr_assert (status == 201 || status == 409, "%ld %s", status, res->body);
    char access [4096], refresh [256];
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 200);
    cr_assert_eq (api_get ("/api/v1/users/me", access, res), 200);
    cr_assert_not_null (strstr (res->body, "\"admin\""), "%s", res->body);
    free (res);
}

Test (auth, jwks_lists_public_keys_only)
{
    stack_http_t *res = malloc (sizeof *res);
    stack_http ("GET", "/.well-known/jwks.json", NULL, NULL, res);
    cr_assert_eq (res->status, 200, "%s", res->body);
    json_t *jwks = api_json (res);
    json_t *key = json_array_get (json_object_get (jwks, "keys"), 0);
    cr_assert_not_null (key);
    cr_assert_str_eq (api_str (key, "kty"), "EC");
    cr_assert_str_eq (api_str (key, "alg"), "ES256");
    cr_assert_str_eq (api_str (key, "use"), "sig");
    cr_assert_gt (strlen (api_str (key, "kid")), 10);
    cr_assert_null (json_object_get (key, "d"), "no private part");
    json_decref (jwks);
    free (res);
}

Test (auth, audit_records_registration_and_sign_in)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128], access [4096], refresh [256];
    api_email (email, sizeof email, "frank");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201);
    json_t *user = api_json (res);
    char sql [256];
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.events WHERE user_id = '%s'"
              " AND type IN ('auth.register', 'auth.login.success')", api_str (user, "id"));
    json_decref (user);
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 200);
    int64_t until = zclock_mono () + 10000;
    long events = 0;
    while ((events = stack_db_long (sql)) < 2 && zclock_mono () < until)
        zclock_sleep (100);
    cr_assert_eq (events, 2);
    free (res);
}

Test (auth, ten_failures_lock_sign_in_for_that_email)
{
    stack_http_t *res = malloc (sizeof *res), *other = malloc (sizeof *other);
    char email [128], access [4096], refresh [256];
    api_email (email, sizeof email, "grace");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201);
    for (int i = 0; i < 10; i++)
        cr_assert_eq (api_login (email, "not the password at all", access, refresh, res), 401, "attempt %d", i);
    //  Locked: the right password gets the same 429 as a wrong one
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 429, "%s", res->body);
    cr_assert_not_null (strstr (res->body, "\"code\":\"account_locked\""), "%s", res->body);
    char value [32];
    cr_assert (stack_http_header (res, "Retry-After", value, sizeof value));
    cr_assert (atoi (value) > 3000 && atoi (value) <= 3600, "Retry-After %s", value);
    cr_assert_eq (api_login (email, "still wrong password", access, refresh, other), 429);
    json_t *a = api_json (res), *b = api_json (other);
    cr_assert (json_equal (json_object_get (a, "error"), json_object_get (b, "error")));
    json_decref (a);
    json_decref (b);
    //  An email without an account locks the same way, so the lock reveals nothing
    char nobody [128];
    api_email (nobody, sizeof nobody, "ghost");
    for (int i = 0; i < 10; i++)
        api_login (nobody, "whatever password", access, refresh, res);
    cr_assert_eq (api_login (nobody, "whatever password", access, refresh, res), 429);
    free (res);
    free (other);
}

static long
s_login_otp (const char *email, const char *otp, char *access, char *refresh, stack_http_t *res)
{
    return api_login_with (email, API_PASSWORD, otp, access, refresh, res);
}

static long
s_send_code (const char *method, const char *path, const char *access, const char *code, stack_http_t *res)
{
    char header [4200], body [128];
    snprintf (header, sizeof header, "Authorization: Bearer %s", access);
    snprintf (body, sizeof body, "{\"code\":\"%s\"}", code);
    stack_http (method, path, header, body, res);
    return res->status;
}

Test (auth, totp_enrol_confirm_sign_in_and_turn_off)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128], access [4096], refresh [256], code [16];
    api_email (email, sizeof email, "heidi");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201);
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 200);

    char header [4200];
    snprintf (header, sizeof header, "Authorization: Bearer %s", access);
    stack_http ("POST", "/api/v1/auth/mfa/totp", header, NULL, res);
    cr_assert_eq (res->status, 201, "%s", res->body);
    json_t *enrol = api_json (res);
    char secret [64];
    snprintf (secret, sizeof secret, "%s", api_str (enrol, "secret"));
    cr_assert_eq (strncmp (api_str (enrol, "otpauth_uri"), "otpauth://totp/", 15), 0);
    cr_assert_not_null (strstr (api_str (enrol, "otpauth_uri"), secret));
    json_t *codes = json_object_get (enrol, "recovery_codes");
    cr_assert_eq (json_array_size (codes), 10);
    char recovery [2][32];
    snprintf (recovery [0], 32, "%s", json_string_value (json_array_get (codes, 0)));
    snprintf (recovery [1], 32, "%s", json_string_value (json_array_get (codes, 1)));
    json_decref (enrol);

    //  Not on until confirmed: sign-in without a code still works
    char a2 [4096], r2 [256];
    cr_assert_eq (api_login (email, API_PASSWORD, a2, r2, res), 200);
    cr_assert_eq (s_send_code ("POST", "/api/v1/auth/mfa/totp/verify", access, "000000", res), 422);
    cr_assert_not_null (strstr (res->body, "invalid_code"), "%s", res->body);
    api_totp (secret, 0, code);
    cr_assert_eq (s_send_code ("POST", "/api/v1/auth/mfa/totp/verify", access, code, res), 204, "%s", res->body);
    cr_assert_eq (api_get ("/api/v1/users/me", access, res), 200);
    cr_assert_not_null (strstr (res->body, "\"mfa_enabled\":true"), "%s", res->body);

    //  Sign-in now needs a code; a wrong one and a replayed one are refused
    cr_assert_eq (api_login (email, API_PASSWORD, a2, r2, res), 401);
    cr_assert_not_null (strstr (res->body, "\"code\":\"mfa_required\""), "%s", res->body);
    cr_assert_eq (s_login_otp (email, "123456", a2, r2, res), 401);
    cr_assert_eq (s_login_otp (email, code, a2, r2, res), 401, "the code used to confirm was replayed");
    char next [16];
    api_totp (secret, 30, next);
    cr_assert_eq (s_login_otp (email, next, a2, r2, res), 200, "%s", res->body);
    cr_assert_eq (s_login_otp (email, next, a2, r2, res), 401, "a code works once");
    //  A recovery code works once in place of a code
    cr_assert_eq (s_login_otp (email, recovery [0], a2, r2, res), 200, "%s", res->body);
    cr_assert_eq (s_login_otp (email, recovery [0], a2, r2, res), 401);

    //  Turning it off needs a valid code (a recovery code here)
    cr_assert_eq (s_send_code ("DELETE", "/api/v1/auth/mfa/totp", a2, "999999", res), 422);
    cr_assert_eq (s_send_code ("DELETE", "/api/v1/auth/mfa/totp", a2, recovery [1], res), 204, "%s", res->body);
    cr_assert_eq (api_login (email, API_PASSWORD, a2, r2, res), 200);
    int64_t until = zclock_mono () + 10000;
    long events = 0;
    while ((events = stack_db_long ("SELECT count (*) FROM audit.events WHERE type IN"
                                    " ('auth.mfa.enabled', 'auth.mfa.disabled')")) < 2 && zclock_mono () < until)
        zclock_sleep (100);
    cr_assert_geq (events, 2, "enabling and disabling MFA are audit events");
    //  The account holder hears of both by mail
    char command [700];
    snprintf (command, sizeof command, "grep -l -r -i 'To: %s' %s/outbox | xargs grep -l 'Subject: Two-step sign-in' | wc -l",
              email, stack_env ("RUN_DIR"));
    FILE *out = popen (command, "r");
    char count [16] = "";
    cr_assert_not_null (fgets (count, sizeof count, out));
    pclose (out);
    cr_assert_eq (atoi (count), 2, "MFA on and off notices: %s", count);
    free (res);
}

Test (auth, totp_secret_is_encrypted_at_rest)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128], access [4096], refresh [256];
    api_email (email, sizeof email, "ivan");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201);
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 200);
    char header [4200];
    snprintf (header, sizeof header, "Authorization: Bearer %s", access);
    stack_http ("POST", "/api/v1/auth/mfa/totp", header, NULL, res);
    cr_assert_eq (res->status, 201);
    json_t *enrol = api_json (res);
    char sql [512];
    //  Neither the secret nor a recovery code appears in the database
    snprintf (sql, sizeof sql, "SELECT count (*) FROM auth.users WHERE position (convert_to ('%s', 'UTF8')"
              " IN totp_secret_enc) > 0", api_str (enrol, "secret"));
    cr_assert_eq (stack_db_long (sql), 0);
    snprintf (sql, sizeof sql, "SELECT count (*) FROM auth.recovery_codes WHERE code_hash = '%s'",
              json_string_value (json_array_get (json_object_get (enrol, "recovery_codes"), 0)));
    cr_assert_eq (stack_db_long (sql), 0);
    snprintf (sql, sizeof sql, "SELECT count (*) FROM auth.users WHERE lower (email) = lower ('%s')"
              " AND totp_secret_enc IS NOT NULL AND length (totp_secret_enc) > 40", email);
    cr_assert_eq (stack_db_long (sql), 1);
    json_decref (enrol);
    free (res);
}

//  Signs in as the ADMIN_EMAILS account (registering it on first use)
static void
s_admin_access (char *access, stack_http_t *res)
{
    char refresh [256];
    const char *email = stack_env ("ADMIN_EMAILS");
    long status = api_register (email, API_PASSWORD, res);
    cr_assert (status == 201 || status == 409, "%ld %s", status, res->body);
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 200, "%s", res->body);
}

static long
s_admin_call (const char *method, const char *user_id, const char *action, const char *access, stack_http_t *res)
{
    char path [160], header [4200];
    snprintf (path, sizeof path, "/api/v1/admin/users/%s/%s", user_id, action);
    snprintf (header, sizeof header, "Authorization: Bearer %s", access);
    stack_http (method, path, header, NULL, res);
    return res->status;
}

Test (auth, admin_lock_unlock_and_revoke)
{
    stack_http_t *res = malloc (sizeof *res);
    char admin [4096], email [128], access [4096], refresh [256], id [37];
    s_admin_access (admin, res);
    api_email (email, sizeof email, "judy");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201);
    json_t *user = api_json (res);
    snprintf (id, sizeof id, "%s", api_str (user, "id"));
    json_decref (user);
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 200);

    //  A plain user is refused (403), and cannot lock anyone
    cr_assert_eq (s_admin_call ("POST", id, "lock", access, res), 403);
    cr_assert_eq (s_admin_call ("POST", "0b6f3c2e-8a51-4c1d-9e2f-1a2b3c4d5e6f", "lock", admin, res), 404);

    cr_assert_eq (s_admin_call ("POST", id, "lock", admin, res), 204, "%s", res->body);
    cr_assert_eq (api_get ("/api/v1/users/me", access, res), 401, "locking ends every session");
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 401, "a locked account cannot sign in");
    cr_assert_eq (s_admin_call ("POST", id, "unlock", admin, res), 204);
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 200);

    cr_assert_eq (s_admin_call ("DELETE", id, "sessions", admin, res), 204);
    cr_assert_eq (api_get ("/api/v1/users/me", access, res), 401);
    char a2 [4096], r2 [256];
    cr_assert_eq (api_refresh (refresh, a2, r2, res), 401);

    //  Unlocking also lifts the failed-sign-in lock of the email
    for (int i = 0; i < 10; i++)
        api_login (email, "wrong wrong wrong", access, refresh, res);
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 429);
    cr_assert_eq (s_admin_call ("POST", id, "unlock", admin, res), 204);
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 200);
    free (res);
}

//  Runs a redis-cli command against the stack's Redis (test clean-up)
static void
s_redis (const char *args)
{
    char command [1024];
    snprintf (command, sizeof command,
              "REDISCLI_AUTH=$(cat %s/redis.password) redis-cli -h 127.0.0.1 -p %s %s >/dev/null 2>&1",
              stack_env ("KEYS_DIR"), stack_env ("REDIS_PORT"), args);
    cr_assert_eq (system (command), 0, "redis-cli %s", args);
}

//  Whatever happens in the test, the address is let go: every later test
//  signs in from it too
static void
s_let_the_address_go (void)
{
    s_redis ("DEL login_fail_ip:127.0.0.1");
}

Test (auth, many_failures_from_one_address_pause_that_address, .fini = s_let_the_address_go)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128], access [4096], refresh [256];
    api_email (email, sizeof email, "kim");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201);
    int limit = atoi (stack_env ("RATE_LIMIT_LOGIN_FAILURES_PER_IP"));
    cr_assert_gt (limit, 3);
    //  All but the last three failures are counted beforehand: a hundred
    //  real ones would cost a hundred password checks
    char seed [96];
    snprintf (seed, sizeof seed, "SET login_fail_ip:127.0.0.1 %d EX 900", limit - 3);
    s_redis (seed);
    //  Each attempt uses another email, so only the address limit can trip
    long status = 401;
    int attempts = 0;
    while (status == 401 && attempts <= limit) {
        char other [128];
        api_email (other, sizeof other, "spray");
        status = api_login (other, "guessing guessing", access, refresh, res);
        attempts++;
    }
    cr_assert_eq (status, 429, "not paused after %d failures", attempts);
    cr_assert_eq (attempts, 4, "paused after %d more failures, not at the limit", attempts);
    cr_assert_not_null (strstr (res->body, "\"code\":\"rate_limited\""), "%s", res->body);
    char value [32];
    cr_assert (stack_http_header (res, "Retry-After", value, sizeof value));
    cr_assert (atoi (value) > 0 && atoi (value) <= 900);
    //  The paused address cannot sign in even with the right password ...
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 429);
    //  ... and the account itself is not locked: once the address is let go it can
    s_redis ("DEL login_fail_ip:127.0.0.1");
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 200, "%s", res->body);
    free (res);
}

Test (auth, refusals_at_the_gateway_are_audited)
{
    stack_http_t *res = malloc (sizeof *res);
    stack_http ("GET", "/api/v1/users/me", "Authorization: Bearer not.a.token", NULL, res);
    cr_assert_eq (res->status, 401);
    char rid [80];
    cr_assert (stack_http_header (res, "X-Request-Id", rid, sizeof rid));
    char sql [256];
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.events WHERE type = 'authz.denied'"
              " AND service = 'gateway' AND request_id = '%s'", rid);
    int64_t until = zclock_mono () + 10000;
    long events = 0;
    while ((events = stack_db_long (sql)) < 1 && zclock_mono () < until)
        zclock_sleep (100);
    cr_assert_eq (events, 1, "the 401 is an authz.denied event carrying its request id");
    free (res);
}
