/*  test_auth_keys - JWT signing key rotation on a running stack

    keygen --rotate-jwt is run against the stack's own KEYS_DIR, as an
    operator would; auth must pick each step up without a restart, publish
    a key before it signs and keep a retired key until it is pruned, and
    the gateway must accept tokens of every published key throughout.
*/
#include <criterion/criterion.h>
#include "api.h"
#include "cm_jwt.h"

TestSuite (auth_keys, .timeout = 90);

//  The kid in the header of token
static void
s_kid (const char *token, char *kid, size_t size)
{
    const char *dot = strchr (token, '.');
    cr_assert_not_null (dot);
    uint8_t header [512];
    size_t len = 0;
    cr_assert_eq (cm_jwt_b64url_decode (token, (size_t) (dot - token), header, sizeof header - 1, &len), 0);
    header [len] = 0;
    json_t *json = json_loads ((const char *) header, 0, NULL);
    cr_assert_not_null (json);
    snprintf (kid, size, "%s", api_str (json, "kid"));
    json_decref (json);
}

//  Runs one rotation step; returns its output's first line in line
static void
s_rotate (char *line, size_t size)
{
    char command [1024];
    snprintf (command, sizeof command, "'%s' --dir '%s' --rotate-jwt --lead 0 --keep 0 2>&1",
              stack_env ("KEYGEN_BIN"), stack_env ("KEYS_DIR"));
    FILE *out = popen (command, "r");
    cr_assert_not_null (out);
    char all [2048] = "";
    size_t len = fread (all, 1, sizeof all - 1, out);
    all [len] = 0;
    cr_assert_eq (pclose (out), 0, "keygen --rotate-jwt failed: %s", all);
    snprintf (line, size, "%s", all);
}

//  The public kids published at /.well-known/jwks.json, comma-joined
static void
s_published (char *kids, size_t size)
{
    stack_http_t *res = malloc (sizeof *res);
    stack_http ("GET", "/.well-known/jwks.json", NULL, NULL, res);
    cr_assert_eq (res->status, 200, "%s", res->body);
    json_t *jwks = api_json (res);
    json_t *keys = json_object_get (jwks, "keys");
    *kids = 0;
    for (size_t i = 0; i < json_array_size (keys); i++) {
        const char *kid = api_str (json_array_get (keys, i), "kid");
        cr_assert_null (json_object_get (json_array_get (keys, i), "d"), "no private part");
        snprintf (kids + strlen (kids), size - strlen (kids), "%s%s", i? ",": "", kid);
    }
    json_decref (jwks);
    free (res);
}

//  Waits (auth looks at its key directory every 2 s) until kid is or is
//  not published
static bool
s_wait_published (const char *kid, bool want)
{
    char kids [2048];
    int64_t until = zclock_mono () + 10000;
    do {
        s_published (kids, sizeof kids);
        if ((strstr (kids, kid) != NULL) == want)
            return true;
        zclock_sleep (200);
    } while (zclock_mono () < until);
    return false;
}

//  Signs email in until a token signed by kid comes back (or 10 s pass)
static bool
s_wait_signer (const char *email, const char *kid, char *access)
{
    stack_http_t *res = malloc (sizeof *res);
    char got [CM_JWT_KID_MAX] = "";
    int64_t until = zclock_mono () + 10000;
    do {
        cr_assert_eq (api_login (email, API_PASSWORD, access, NULL, res), 200, "%s", res->body);
        s_kid (access, got, sizeof got);
        if (streq (got, kid))
            break;
        zclock_sleep (500);
    } while (zclock_mono () < until);
    free (res);
    return streq (got, kid);
}

Test (auth_keys, rotation_publishes_first_signs_later_and_retires_last)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128], first [API_TOKEN_MAX], second [API_TOKEN_MAX], access [API_TOKEN_MAX];
    char old_kid [CM_JWT_KID_MAX], kid [CM_JWT_KID_MAX], line [2048], kids [2048];
    api_email (email, sizeof email, "rotor");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201, "%s", res->body);
    cr_assert_eq (api_login (email, API_PASSWORD, first, NULL, res), 200);
    s_kid (first, old_kid, sizeof old_kid);

    //  Step 1: a next key is published but does not sign yet
    s_rotate (line, sizeof line);
    cr_assert_eq (sscanf (line, "created %*s\npublished %63[A-Za-z0-9_-]", kid), 1, "%s", line);
    cr_assert (s_wait_published (kid, true), "the next key is published without a restart");
    s_published (kids, sizeof kids);
    cr_assert_not_null (strstr (kids, old_kid), "%s", kids);
    cr_assert_eq (api_login (email, API_PASSWORD, access, NULL, res), 200);
    char signer [CM_JWT_KID_MAX];
    s_kid (access, signer, sizeof signer);
    cr_assert_str_eq (signer, old_kid, "a published key does not sign before it is promoted");

    //  Step 2: the next key signs; tokens of the old one still work
    s_rotate (line, sizeof line);
    cr_assert_not_null (strstr (line, "signing with"), "%s", line);
    cr_assert (s_wait_signer (email, kid, second), "the promoted key signs without a restart");
    cr_assert_eq (api_get ("/api/v1/users/me", second, res), 200, "%s", res->body);
    cr_assert_eq (api_get ("/api/v1/users/me", first, res), 200, "a retired key still verifies");
    cr_assert (s_wait_published (old_kid, true));

    //  Step 3 (keep 0): the retired key goes, a new next key comes
    s_rotate (line, sizeof line);
    cr_assert_not_null (strstr (line, "removed"), "%s", line);
    cr_assert (s_wait_published (old_kid, false), "a pruned key is no longer published");
    cr_assert_eq (api_get ("/api/v1/users/me", second, res), 200);
    cr_assert_eq (api_login (email, API_PASSWORD, access, NULL, res), 200);
    s_kid (access, signer, sizeof signer);
    cr_assert_str_eq (signer, kid, "the signer stays until the next promotion");
    free (res);
}
