/*  test_auth_sessions - idle and absolute session timeouts, recent sign-in

    Waiting out the real timeouts (30 min idle, 12 h absolute, 10 min for a
    recent sign-in) is not an option in a test run, so the test ages a
    session in the database as the superuser, then uses the API as a
    client would: the service must judge age by the stored times.
*/
#include <criterion/criterion.h>
#include "api.h"

TestSuite (auth_sessions, .timeout = 60);

//  The id of the session access belongs to (the one listed as current)
static void
s_current_session (const char *access, char *sid)
{
    stack_http_t *res = malloc (sizeof *res);
    cr_assert_eq (api_get ("/api/v1/auth/sessions", access, res), 200, "%s", res->body);
    json_t *list = api_json (res);
    json_t *items = json_object_get (list, "items");
    *sid = 0;
    for (size_t i = 0; i < json_array_size (items); i++) {
        json_t *item = json_array_get (items, i);
        if (json_is_true (json_object_get (item, "current")))
            snprintf (sid, 37, "%s", api_str (item, "id"));
    }
    json_decref (list);
    free (res);
    cr_assert_eq (strlen (sid), 36, "no current session listed");
}

//  Move one column of a session into the past; returns rows changed
static long
s_age (const char *sid, const char *column, const char *interval)
{
    char sql [512];
    snprintf (sql, sizeof sql,
              "WITH u AS (UPDATE auth.sessions SET %s = %s - interval '%s' WHERE id = '%s' RETURNING 1)"
              " SELECT count (*) FROM u", column, column, interval, sid);
    return stack_db_long (sql);
}

static bool
s_listed (const char *access, const char *sid)
{
    stack_http_t *res = malloc (sizeof *res);
    cr_assert_eq (api_get ("/api/v1/auth/sessions", access, res), 200, "%s", res->body);
    bool found = strstr (res->body, sid) != NULL;
    free (res);
    return found;
}

//  Signs email in twice: one session to age, one to look from
static void
s_two_sessions (const char *tag, char *email, char *access, char *refresh, char *sid, char *watcher)
{
    stack_http_t *res = malloc (sizeof *res);
    api_email (email, 128, tag);
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201, "%s", res->body);
    cr_assert_eq (api_login (email, API_PASSWORD, access, refresh, res), 200);
    cr_assert_eq (api_login (email, API_PASSWORD, watcher, NULL, res), 200);
    s_current_session (access, sid);
    free (res);
}

Test (auth_sessions, an_idle_session_ends)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128], access [API_TOKEN_MAX], refresh [API_REFRESH_MAX], sid [37];
    char watcher [API_TOKEN_MAX], a2 [API_TOKEN_MAX], r2 [API_REFRESH_MAX];
    s_two_sessions ("idle", email, access, refresh, sid, watcher);

    //  Used 29 minutes ago (idle limit 30): still alive, and refreshing renews it
    cr_assert_eq (s_age (sid, "last_seen_at", "29 minutes"), 1);
    cr_assert_eq (api_refresh (refresh, a2, r2, res), 200, "%s", res->body);
    cr_assert (s_listed (watcher, sid));
    //  Unused for 31 minutes: over
    cr_assert_eq (s_age (sid, "last_seen_at", "31 minutes"), 1);
    cr_assert_eq (api_refresh (r2, a2, NULL, res), 401, "an idle session cannot be refreshed");
    cr_assert_not_null (strstr (res->body, "invalid_token"), "%s", res->body);
    cr_assert_not (s_listed (watcher, sid), "an idle session is not listed as active");
    free (res);
}

Test (auth_sessions, an_old_session_ends_however_busy)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128], access [API_TOKEN_MAX], refresh [API_REFRESH_MAX], sid [37];
    char watcher [API_TOKEN_MAX], a2 [API_TOKEN_MAX], r2 [API_REFRESH_MAX];
    s_two_sessions ("absolute", email, access, refresh, sid, watcher);

    //  11 h 59 min old: refreshable; 12 h old: over, even though just used
    cr_assert_eq (s_age (sid, "created_at", "11 hours 59 minutes"), 1);
    cr_assert_eq (api_refresh (refresh, a2, r2, res), 200, "%s", res->body);
    cr_assert_eq (s_age (sid, "created_at", "2 minutes"), 1);
    cr_assert_eq (api_refresh (r2, a2, NULL, res), 401, "a session past its absolute limit ends");
    cr_assert_not (s_listed (watcher, sid));
    //  Signing in again starts a new session
    cr_assert_eq (api_login (email, API_PASSWORD, a2, NULL, res), 200);
    cr_assert_eq (api_get ("/api/v1/users/me", a2, res), 200);
    free (res);
}

static long
s_send_code (const char *method, const char *path, const char *access, const char *code, stack_http_t *res)
{
    char body [128];
    snprintf (body, sizeof body, "{\"code\":\"%s\"}", code);
    return api_call (method, path, access, body, res);
}

Test (auth_sessions, turning_mfa_off_needs_a_recent_sign_in)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128], access [API_TOKEN_MAX], refresh [API_REFRESH_MAX], sid [37], code [16];
    char watcher [API_TOKEN_MAX], a2 [API_TOKEN_MAX], r2 [API_REFRESH_MAX];
    s_two_sessions ("reauth", email, access, refresh, sid, watcher);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/mfa/totp", access, NULL, res), 201, "%s", res->body);
    json_t *enrol = api_json (res);
    char secret [64], recovery [3][32];
    snprintf (secret, sizeof secret, "%s", api_str (enrol, "secret"));
    for (size_t i = 0; i < 3; i++)
        snprintf (recovery [i], 32, "%s", json_string_value (json_array_get (json_object_get (enrol, "recovery_codes"), i)));
    json_decref (enrol);
    api_totp (secret, 0, code);
    cr_assert_eq (s_send_code ("POST", "/api/v1/auth/mfa/totp/verify", access, code, res), 204, "%s", res->body);

    //  Signed in 11 minutes ago (limit 10): a refreshed token keeps that
    //  sign-in time, so it is not a fresh proof of identity
    cr_assert_eq (s_age (sid, "auth_time", "11 minutes"), 1);
    cr_assert_eq (api_refresh (refresh, a2, r2, res), 200, "%s", res->body);
    cr_assert_eq (s_send_code ("DELETE", "/api/v1/auth/mfa/totp", a2, recovery [0], res), 403, "%s", res->body);
    cr_assert_not_null (strstr (res->body, "\"code\":\"reauth_required\""), "%s", res->body);
    cr_assert_eq (api_get ("/api/v1/users/me", a2, res), 200);
    cr_assert_not_null (strstr (res->body, "\"mfa_enabled\":true"), "nothing changed: %s", res->body);

    //  A fresh sign-in (with a second factor) may; the refused attempt
    //  did not use up its recovery code
    cr_assert_eq (api_login_with (email, API_PASSWORD, recovery [1], a2, NULL, res), 200, "%s", res->body);
    cr_assert_eq (s_send_code ("DELETE", "/api/v1/auth/mfa/totp", a2, recovery [0], res), 204, "%s", res->body);
    free (res);
}

Test (auth_sessions, administering_accounts_needs_a_recent_sign_in)
{
    stack_http_t *res = malloc (sizeof *res);
    const char *admin_email = stack_env ("ADMIN_EMAILS");
    long status = api_register (admin_email, API_PASSWORD, res);
    cr_assert (status == 201 || status == 409, "%ld %s", status, res->body);
    char admin [API_TOKEN_MAX], refresh [API_REFRESH_MAX], sid [37], a2 [API_TOKEN_MAX];
    cr_assert_eq (api_login (admin_email, API_PASSWORD, admin, refresh, res), 200, "%s", res->body);
    s_current_session (admin, sid);
    char target [API_TOKEN_MAX], target_id [37], path [128];
    api_new_user ("target", target, target_id);
    snprintf (path, sizeof path, "/api/v1/admin/users/%s/lock", target_id);

    cr_assert_eq (s_age (sid, "auth_time", "11 minutes"), 1);
    cr_assert_eq (api_refresh (refresh, a2, NULL, res), 200, "%s", res->body);
    cr_assert_eq (api_call ("POST", path, a2, NULL, res), 403, "%s", res->body);
    cr_assert_not_null (strstr (res->body, "\"code\":\"reauth_required\""), "%s", res->body);
    cr_assert_eq (api_get ("/api/v1/users/me", target, res), 200, "the account was not locked");

    cr_assert_eq (api_login (admin_email, API_PASSWORD, a2, NULL, res), 200);
    cr_assert_eq (api_call ("POST", path, a2, NULL, res), 204, "%s", res->body);
    cr_assert_eq (api_get ("/api/v1/users/me", target, res), 401, "locking ends the target's sessions");
    free (res);
}
