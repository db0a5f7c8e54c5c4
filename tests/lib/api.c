/*  api - the public HTTP API as integration tests use it */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <czmq.h>
#include <dirent.h>
#include "api.h"

void
api_email (char *out, size_t size, const char *tag)
{
    snprintf (out, size, "%s-%lld-%d@Example.COM", tag, (long long) zclock_usecs (), rand () % 100000);
}

json_t *
api_json (const stack_http_t *res)
{
    json_t *value = json_loads (res->body, 0, NULL);
    cr_assert_not_null (value, "not JSON: %s", res->body);
    return value;
}

const char *
api_str (json_t *obj, const char *key)
{
    const char *value = json_string_value (json_object_get (obj, key));
    cr_assert_not_null (value, "no string '%s'", key);
    return value;
}

long
api_register (const char *email, const char *password, stack_http_t *res)
{
    char body [1024];
    snprintf (body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\",\"name\":\"Test User\"}",
              email, password);
    stack_http ("POST", "/api/v1/auth/register", NULL, body, res);
    return res->status;
}

//  Posts an OAuth2 form to the token endpoint; on 200 copies the pair out
static long
s_token (const char *form, char *access, char *refresh, stack_http_t *res)
{
    stack_http ("POST", "/api/v1/auth/token", "Content-Type: application/x-www-form-urlencoded", form, res);
    if (res->status == 200 && access) {
        json_t *tokens = api_json (res);
        snprintf (access, API_TOKEN_MAX, "%s", api_str (tokens, "access_token"));
        if (refresh)
            snprintf (refresh, API_REFRESH_MAX, "%s", api_str (tokens, "refresh_token"));
        json_decref (tokens);
    }
    return res->status;
}

long
api_login_with (const char *email, const char *password, const char *otp,
                char *access, char *refresh, stack_http_t *res)
{
    char *user = curl_easy_escape (NULL, email, 0), *pass = curl_easy_escape (NULL, password, 0);
    char form [1024];
    snprintf (form, sizeof form, "grant_type=password&username=%s&password=%s%s%s", user, pass,
              otp? "&otp=": "", otp? otp: "");
    curl_free (user);
    curl_free (pass);
    return s_token (form, access, refresh, res);
}

long
api_login (const char *email, const char *password, char *access, char *refresh, stack_http_t *res)
{
    return api_login_with (email, password, NULL, access, refresh, res);
}

long
api_refresh (const char *refresh, char *new_access, char *new_refresh, stack_http_t *res)
{
    char form [512];
    snprintf (form, sizeof form, "grant_type=refresh_token&refresh_token=%s", refresh);
    return s_token (form, new_access, new_refresh, res);
}

long
api_call (const char *method, const char *path, const char *access, const char *body,
          stack_http_t *res)
{
    char header [API_TOKEN_MAX + 64];
    if (access)
        snprintf (header, sizeof header, "Authorization: Bearer %s", access);
    stack_http (method, path, access? header: NULL, body, res);
    return res->status;
}

long
api_get (const char *path, const char *access, stack_http_t *res)
{
    return api_call ("GET", path, access, NULL, res);
}

void
api_new_user (const char *tag, char *access, char *user_id)
{
    stack_http_t *res = (stack_http_t *) malloc (sizeof *res);
    char email [128];
    api_email (email, sizeof email, tag);
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201, "%s", res->body);
    if (user_id) {
        json_t *user = api_json (res);
        snprintf (user_id, 37, "%s", api_str (user, "id"));
        json_decref (user);
    }
    cr_assert_eq (api_login (email, API_PASSWORD, access, NULL, res), 200, "%s", res->body);
    free (res);
}

void
api_totp (const char *secret, int offset_s, char *code)
{
    char command [256];
    snprintf (command, sizeof command, "oathtool --totp -b -N 'now + %d seconds' '%s'", offset_s, secret);
    FILE *out = popen (command, "r");
    cr_assert_not_null (out);
    cr_assert_not_null (fgets (code, 16, out), "oathtool printed nothing");
    pclose (out);
    code [strcspn (code, "\n")] = 0;
    cr_assert_eq (strlen (code), 6, "'%s'", code);
}

bool
api_mail_with (const char *to, const char *needle)
{
    char dir [600], recipient [400];
    snprintf (dir, sizeof dir, "%s/outbox", stack_env ("RUN_DIR"));
    snprintf (recipient, sizeof recipient, "To: %s", to);
    int64_t until = zclock_mono () + 5000;
    do {
        DIR *handle = opendir (dir);
        struct dirent *entry;
        bool found = false;
        while (handle && !found && (entry = readdir (handle))) {
            if (!strstr (entry->d_name, ".eml"))
                continue;
            char file [900], text [8192] = "";
            snprintf (file, sizeof file, "%s/%s", dir, entry->d_name);
            FILE *in = fopen (file, "r");
            if (!in)
                continue;
            size_t n = fread (text, 1, sizeof text - 1, in);
            text [n] = 0;
            fclose (in);
            found = strcasestr (text, recipient) && strstr (text, needle);
        }
        if (handle)
            closedir (handle);
        if (found)
            return true;
        zclock_sleep (100);
    } while (zclock_mono () < until);
    return false;
}
