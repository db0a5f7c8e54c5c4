/*  test_auth_mail - magic links, password reset and change, email verification

    With no SMTP_URL the stack writes mail to $RUN_DIR/outbox; these tests
    read the links from there the way a user would read their inbox.
*/
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include "api.h"

TestSuite (auth_mail, .timeout = 60);

//  The token of the newest mail to `to` whose link path contains path,
//  other than except (may be NULL); waits up to 5 s for it
static bool
s_mail_token_except (const char *to, const char *path, const char *except, char *token, size_t size)
{
    char dir [600];
    snprintf (dir, sizeof dir, "%s/outbox", stack_env ("RUN_DIR"));
    int64_t until = zclock_mono () + 5000;
    do {
        DIR *handle = opendir (dir);
        struct dirent *entry;
        char best [256] = "";
        while (handle && (entry = readdir (handle))) {
            if (!strstr (entry->d_name, ".eml") || strstr (entry->d_name, ".tmp"))
                continue;
            char file [900], text [8192] = "";
            snprintf (file, sizeof file, "%s/%s", dir, entry->d_name);
            FILE *in = fopen (file, "r");
            if (!in)
                continue;
            size_t n = fread (text, 1, sizeof text - 1, in);
            text [n] = 0;
            fclose (in);
            char needle [400];
            //  The service lower-cases the domain of the address
            snprintf (needle, sizeof needle, "To: %s", to);
            const char *link = strstr (text, path);
            if (strcasestr (text, needle) && link && strcmp (entry->d_name, best) > 0) {
                const char *t = strstr (link, "token=");
                int len = t? (int) strcspn (t + 6, " \r\n"): 0;
                bool excluded = t && except && (int) strlen (except) == len && strncmp (except, t + 6, len) == 0;
                if (t && !excluded) {
                    snprintf (best, sizeof best, "%s", entry->d_name);
                    snprintf (token, size, "%.*s", len, t + 6);
                }
            }
        }
        if (handle)
            closedir (handle);
        if (*best)
            return true;
        zclock_sleep (100);
    } while (zclock_mono () < until);
    return false;
}

static bool
s_mail_token (const char *to, const char *path, char *token, size_t size)
{
    return s_mail_token_except (to, path, NULL, token, size);
}

Test (auth_mail, registration_mail_verifies_the_address)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128], token [128], access [4096];
    api_email (email, sizeof email, "vera");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201, "%s", res->body);
    cr_assert (s_mail_token (email, "/auth/verify-email", token, sizeof token), "no verification mail");
    cr_assert_eq (strlen (token), 43);
    char body [256];
    snprintf (body, sizeof body, "{\"token\":\"%s\"}", token);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/email/verify", NULL, body, res), 204, "%s", res->body);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/email/verify", NULL, body, res), 401, "a link works once");
    cr_assert_not_null (strstr (res->body, "invalid_token"));
    cr_assert_eq (api_login (email, API_PASSWORD, access, NULL, res), 200);
    cr_assert_eq (api_get ("/api/v1/users/me", access, res), 200);
    cr_assert_not_null (strstr (res->body, "\"email_verified\":true"), "%s", res->body);
    free (res);
}

Test (auth_mail, magic_link_signs_in_once)
{
    stack_http_t *res = malloc (sizeof *res), *other = malloc (sizeof *other);
    char email [128], token [128];
    api_email (email, sizeof email, "mona");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201, "%s", res->body);
    char body [256];
    snprintf (body, sizeof body, "{\"email\":\"%s\"}", email);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/magic-link", NULL, body, res), 202);
    //  An unknown address gets the same answer
    cr_assert_eq (api_call ("POST", "/api/v1/auth/magic-link", NULL, "{\"email\":\"nobody-here@example.com\"}", other), 202);
    cr_assert_str_eq (res->body, other->body);
    cr_assert (s_mail_token (email, "/auth/magic-link", token, sizeof token), "no magic-link mail");
    snprintf (body, sizeof body, "{\"token\":\"%s\"}", token);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/magic-link/verify", NULL, body, res), 200, "%s", res->body);
    json_t *tokens = json_loads (res->body, 0, NULL);
    const char *access = json_string_value (json_object_get (tokens, "access_token"));
    cr_assert_not_null (access);
    cr_assert_eq (api_get ("/api/v1/users/me", access, other), 200);
    json_decref (tokens);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/magic-link/verify", NULL, body, res), 401, "used twice");
    cr_assert_eq (api_call ("POST", "/api/v1/auth/magic-link/verify", NULL, "{\"token\":\"forged-token-value\"}", res), 401);
    free (res);
    free (other);
}

Test (auth_mail, password_reset_ends_every_session)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128], token [128], access [4096];
    api_email (email, sizeof email, "rita");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201, "%s", res->body);
    cr_assert_eq (api_login (email, API_PASSWORD, access, NULL, res), 200);
    char body [512];
    snprintf (body, sizeof body, "{\"email\":\"%s\"}", email);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/password/forgot", NULL, body, res), 202);
    cr_assert (s_mail_token (email, "/auth/reset-password", token, sizeof token), "no reset mail");
    //  A weak choice is refused and does not spend the link
    snprintf (body, sizeof body, "{\"token\":\"%s\",\"new_password\":\"short\"}", token);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/password/reset", NULL, body, res), 422);
    snprintf (body, sizeof body, "{\"token\":\"%s\",\"new_password\":\"a brand new passphrase 77\"}", token);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/password/reset", NULL, body, res), 204, "%s", res->body);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/password/reset", NULL, body, res), 401, "used twice");
    cr_assert_eq (api_get ("/api/v1/users/me", access, res), 401, "the old session ended");
    cr_assert_eq (api_login (email, API_PASSWORD, NULL, NULL, res), 401);
    cr_assert_eq (api_login (email, "a brand new passphrase 77", NULL, NULL, res), 200);
    free (res);
}

Test (auth_mail, password_change_keeps_only_the_current_session)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128], access [4096], other [4096];
    api_email (email, sizeof email, "paul");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201, "%s", res->body);
    cr_assert_eq (api_login (email, API_PASSWORD, access, NULL, res), 200);
    cr_assert_eq (api_login (email, API_PASSWORD, other, NULL, res), 200);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/password", access,
                            "{\"current_password\":\"wrong password here\",\"new_password\":\"another fine passphrase 9\"}",
                            res), 401);
    char body [256];
    snprintf (body, sizeof body, "{\"current_password\":\"%s\",\"new_password\":\"another fine passphrase 9\"}",
              API_PASSWORD);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/password", access, body, res), 204, "%s", res->body);
    cr_assert_eq (api_get ("/api/v1/users/me", access, res), 200, "the current session stays");
    cr_assert_eq (api_get ("/api/v1/users/me", other, res), 401, "every other session ends");
    cr_assert (api_mail_with (email, "Subject: Your password was changed"), "no notification mail");
    cr_assert_eq (api_login (email, "another fine passphrase 9", NULL, NULL, res), 200);
    free (res);
}

Test (auth_mail, verification_can_be_resent_until_verified)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128], access [4096], first [128], second [128];
    api_email (email, sizeof email, "rene");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201, "%s", res->body);
    cr_assert (s_mail_token (email, "/auth/verify-email", first, sizeof first));
    cr_assert_eq (api_login (email, API_PASSWORD, access, NULL, res), 200);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/email/verify/resend", NULL, NULL, res), 401, "needs a signed-in user");
    cr_assert_eq (api_call ("POST", "/api/v1/auth/email/verify/resend", access, NULL, res), 202, "%s", res->body);
    //  A second, different link arrives
    cr_assert (s_mail_token_except (email, "/auth/verify-email", first, second, sizeof second),
               "no second verification mail");
    cr_assert_str_neq (first, second);
    char body [256];
    snprintf (body, sizeof body, "{\"token\":\"%s\"}", second);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/email/verify", NULL, body, res), 204);
    cr_assert_eq (api_get ("/api/v1/users/me", access, res), 200);
    cr_assert_not_null (strstr (res->body, "\"email_verified\":true"));
    free (res);
}
