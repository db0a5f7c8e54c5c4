/*  test_oauth - sign-in with providers, as a new user's browser follows it

    tests/run.sh starts two test providers (tests/oidc_provider): "test"
    (OpenID Connect) and "gh" (GitHub-shaped), on loopback HTTPS under a
    throwaway CA given to auth as OIDC_CA_FILE; "down" is configured with
    nothing listening. Each test sets the provider's next user (and what it
    does wrong) through its /control endpoint, then walks start -> provider
    -> callback -> the client's redirect_uri like a browser, one redirect
    at a time, and checks what came back and what the database holds.
*/
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <czmq.h>
#include <openssl/evp.h>
#include "api.h"
#include "cm_jwt.h"

TestSuite (oauth, .timeout = 90);

#define CLIENT_REDIRECT "http://127.0.0.1:9/app/oauth-done"
#define URL_MAX 8192

typedef struct {
    char *data;
    size_t used;
} sink_t;

static size_t
s_sink (char *ptr, size_t size, size_t nmemb, void *arg)
{
    sink_t *sink = (sink_t *) arg;
    size_t len = size * nmemb;
    if (sink->used + len < 16000) {
        memcpy (sink->data + sink->used, ptr, len);
        sink->used += len;
        sink->data [sink->used] = 0;
    }
    return len;
}

//  GET target (a gateway path or a full URL) like a browser that does not
//  follow redirects; Location into location (when not NULL). Returns the status.
static long
s_get (const char *target, char *location, size_t size, char *body, size_t body_size)
{
    char url [URL_MAX];
    if (strncmp (target, "http", 4) == 0)
        snprintf (url, sizeof url, "%s", target);
    else
        snprintf (url, sizeof url, "http://127.0.0.1:%s%s", stack_env ("GATEWAY_HTTP_PORT"), target);
    static char data [16384];
    sink_t sink = { data, 0 };
    data [0] = 0;
    CURL *curl = curl_easy_init ();
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CAINFO, stack_env ("OIDC_CA_FILE"));
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_sink);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 30000L);
    long status = 0;
    char *redirect = NULL;
    if (curl_easy_perform (curl) == CURLE_OK) {
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo (curl, CURLINFO_REDIRECT_URL, &redirect);
    }
    if (location)
        snprintf (location, size, "%s", redirect? redirect: "");
    if (body)
        snprintf (body, body_size, "%s", data);
    curl_easy_cleanup (curl);
    return status;
}

//  Tell provider ("TEST" or "GH") what to do next
static void
s_control (const char *provider, const char *query)
{
    char name [64], url [1024];
    snprintf (name, sizeof name, "OIDC_%s_ISSUER", provider);
    snprintf (url, sizeof url, "%s/control?%s", stack_env (name), query);
    cr_assert_eq (s_get (url, NULL, 0, NULL, 0), 200, "control %s", query);
}

//  A fresh provider user: sub and a lower-case email unique to this run
static void
s_user (const char *provider, const char *mode, const char *email, bool verified, char *sub, size_t size)
{
    snprintf (sub, size, "%lld%d", (long long) zclock_usecs (), rand () % 1000);
    char query [512];
    snprintf (query, sizeof query, "mode=%s&sub=%s&email=%s&verified=%d&name=Pat", mode, sub, email, verified);
    s_control (provider, query);
}

static void
s_email (char *out, size_t size, const char *tag)
{
    snprintf (out, size, "%s-%lld-%d@example.org", tag, (long long) zclock_usecs (), rand () % 100000);
}

//  The value of name in url's query into out ("" when absent)
static void
s_param (const char *url, const char *name, char *out, size_t size)
{
    char key [64];
    snprintf (key, sizeof key, "%s=", name);
    out [0] = 0;
    const char *query = strchr (url, '?');
    for (const char *p = query? query + 1: NULL; p && *p; ) {
        const char *end = strchr (p, '&');
        size_t len = end? (size_t) (end - p): strlen (p);
        if (strncmp (p, key, strlen (key)) == 0) {
            snprintf (out, size, "%.*s", (int) (len - strlen (key)), p + strlen (key));
            return;
        }
        p = end? end + 1: NULL;
    }
}

//  start at the gateway and the provider's approval: the callback URL the
//  provider sent the browser to (the step a test may tamper with or replay)
static void
s_to_callback (const char *provider, char *callback, size_t size)
{
    char path [512], authorize [URL_MAX];
    snprintf (path, sizeof path, "/api/v1/auth/oauth/%s/start?redirect_uri=%s", provider,
              "http%3A%2F%2F127.0.0.1%3A9%2Fapp%2Foauth-done");
    cr_assert_eq (s_get (path, authorize, sizeof authorize, NULL, 0), 302, "start");
    char issuer_var [64];
    snprintf (issuer_var, sizeof issuer_var, "OIDC_%s_ISSUER", streq (provider, "gh")? "GH": "TEST");
    cr_assert (strncmp (authorize, stack_env (issuer_var), strlen (stack_env (issuer_var))) == 0,
               "start goes to the provider: %s", authorize);
    char value [256];
    s_param (authorize, "code_challenge_method", value, sizeof value);
    cr_assert_str_eq (value, "S256");
    s_param (authorize, "state", value, sizeof value);
    cr_assert_geq (strlen (value), 43, "a state of 256 bits");
    cr_assert_eq (s_get (authorize, callback, size, NULL, 0), 302, "the provider approves");
    cr_assert (strstr (callback, "/callback?code="), "back to the gateway: %s", callback);
}

//  The whole way: where the browser ends up (the client's redirect_uri)
static void
s_browser (const char *provider, char *final, size_t size)
{
    char callback [URL_MAX];
    s_to_callback (provider, callback, sizeof callback);
    cr_assert_eq (s_get (callback, final, size, NULL, 0), 302, "the callback redirects");
    cr_assert (strncmp (final, CLIENT_REDIRECT "?", strlen (CLIENT_REDIRECT) + 1) == 0,
               "back to the client: %s", final);
}

static long
s_exchange (const char *code, stack_http_t *res)
{
    char body [512];
    snprintf (body, sizeof body, "{\"code\":\"%s\"}", code);
    stack_http ("POST", "/api/v1/auth/oauth/exchange", NULL, body, res);
    return res->status;
}

static long
s_count (const char *sql_format, const char *value)
{
    char sql [1024];
    snprintf (sql, sizeof sql, sql_format, value);
    return stack_db_long (sql);
}

//  The payload of a JWT, parsed
static json_t *
s_claims (const char *token)
{
    const char *dot1 = strchr (token, '.');
    const char *dot2 = dot1? strchr (dot1 + 1, '.'): NULL;
    cr_assert (dot2);
    uint8_t payload [4096];
    size_t len = 0;
    cr_assert_eq (cm_jwt_b64url_decode (dot1 + 1, (size_t) (dot2 - dot1 - 1), payload, sizeof payload, &len), 0);
    json_t *claims = json_loadb ((const char *) payload, len, 0, NULL);
    cr_assert_not_null (claims);
    return claims;
}

//  A full sign-in with the provider's current user: the access token
static void
s_sign_in (const char *provider, char *access)
{
    char final [URL_MAX], code [128];
    s_browser (provider, final, sizeof final);
    s_param (final, "login_code", code, sizeof code);
    cr_assert_eq (strlen (code), 43, "a login code, not an error: %s", final);
    stack_http_t *res = malloc (sizeof *res);
    cr_assert_eq (s_exchange (code, res), 200, "%s", res->body);
    json_t *pair = api_json (res);
    snprintf (access, API_TOKEN_MAX, "%s", api_str (pair, "access_token"));
    json_decref (pair);
    free (res);
}

//  A refused sign-in: the error the client got, and nothing created
static void
s_refused (const char *mode, const char *expected_error)
{
    char email [128], sub [64], final [URL_MAX], value [128];
    s_email (email, sizeof email, mode);
    s_user ("TEST", mode, email, true, sub, sizeof sub);
    s_browser ("test", final, sizeof final);
    s_control ("TEST", "mode=normal");
    s_param (final, "error", value, sizeof value);
    cr_assert_str_eq (value, expected_error, "%s: %s", mode, final);
    s_param (final, "login_code", value, sizeof value);
    cr_assert_str_empty (value, "no login code on a failure");
    cr_assert_eq (s_count ("SELECT count (*) FROM auth.users WHERE lower (email) = lower ('%s')", email), 0,
                  "%s created no account", mode);
    cr_assert_eq (s_count ("SELECT count (*) FROM auth.identities WHERE subject = '%s'", sub), 0,
                  "%s linked no identity", mode);
}

Test (oauth, a_new_user_signs_in_and_gets_an_account)
{
    char email [128], sub [64], access [API_TOKEN_MAX];
    s_email (email, sizeof email, "new");
    s_user ("TEST", "normal", email, true, sub, sizeof sub);
    s_sign_in ("test", access);
    json_t *claims = s_claims (access);
    json_t *amr = json_object_get (claims, "amr");
    cr_assert_eq (json_array_size (amr), 1);
    cr_assert_str_eq (json_string_value (json_array_get (amr, 0)), "oauth");
    json_decref (claims);
    stack_http_t *res = malloc (sizeof *res);
    cr_assert_eq (api_get ("/api/v1/users/me", access, res), 200);
    json_t *me = api_json (res);
    cr_assert_str_eq (api_str (me, "email"), email);
    cr_assert (json_is_true (json_object_get (me, "email_verified")), "the provider verified it");
    json_t *identities = json_object_get (me, "identities");
    cr_assert_eq (json_array_size (identities), 1, "%s", res->body);
    cr_assert_str_eq (api_str (json_array_get (identities, 0), "provider"), "test");
    json_decref (me);
    cr_assert_eq (s_count ("SELECT count (*) FROM auth.identities WHERE subject = '%s' AND provider = 'test'", sub), 1);
    cr_assert_eq (s_count ("SELECT count (*) FROM auth.users WHERE email = '%s' AND password_hash IS NULL", email), 1);
    //  The same provider user again: the same account, no second one
    char again [API_TOKEN_MAX];
    s_sign_in ("test", again);
    json_t *first = s_claims (access), *second = s_claims (again);
    cr_assert_str_eq (api_str (first, "sub"), api_str (second, "sub"));
    json_decref (first);
    json_decref (second);
    cr_assert_eq (s_count ("SELECT count (*) FROM auth.users WHERE email = '%s'", email), 1);
    free (res);
}

Test (oauth, a_login_code_works_once)
{
    char email [128], sub [64], final [URL_MAX], code [128];
    s_email (email, sizeof email, "once");
    s_user ("TEST", "normal", email, true, sub, sizeof sub);
    s_browser ("test", final, sizeof final);
    s_param (final, "login_code", code, sizeof code);
    cr_assert (!strstr (final, "access_token") && !strstr (final, "refresh_token"), "never tokens in a URL");
    stack_http_t *res = malloc (sizeof *res);
    cr_assert_eq (s_exchange (code, res), 200);
    cr_assert_eq (s_exchange (code, res), 401);
    cr_assert (strstr (res->body, "invalid_token"), "%s", res->body);
    cr_assert_eq (s_exchange ("not-a-code-at-all-not-a-code-at-all-1234567", res), 401);
    free (res);
}

Test (oauth, a_login_code_expires_after_60_seconds)
{
    char email [128], sub [64], final [URL_MAX], code [128];
    s_email (email, sizeof email, "late");
    s_user ("TEST", "normal", email, true, sub, sizeof sub);
    s_browser ("test", final, sizeof final);
    s_param (final, "login_code", code, sizeof code);
    //  Stored as its SHA-256 only, with a 60 s lifetime
    uint8_t digest [32];
    char hex [65];
    EVP_Digest (code, strlen (code), digest, NULL, EVP_sha256 (), NULL);
    for (int i = 0; i < 32; i++)
        sprintf (hex + 2 * i, "%02x", digest [i]);
    cr_assert_eq (s_count ("SELECT count (*) FROM auth.one_time_tokens WHERE token_hash = '%s' AND purpose = 'oauth_login'"
                           " AND expires_at <= now () + interval '60 seconds'", hex), 1);
    cr_assert_eq (s_count ("SELECT count (*) FROM auth.one_time_tokens WHERE token_hash = '%s'", code), 0);
    s_count ("UPDATE auth.one_time_tokens SET expires_at = now () - interval '1 second'"
             " WHERE token_hash = '%s' RETURNING 1", hex);
    stack_http_t *res = malloc (sizeof *res);
    cr_assert_eq (s_exchange (code, res), 401);
    free (res);
}

Test (oauth, a_state_works_once)
{
    char email [128], sub [64], callback [URL_MAX], final [URL_MAX], body [1024];
    s_email (email, sizeof email, "replay");
    s_user ("TEST", "normal", email, true, sub, sizeof sub);
    s_to_callback ("test", callback, sizeof callback);
    cr_assert_eq (s_get (callback, final, sizeof final, NULL, 0), 302);
    cr_assert (strstr (final, "login_code="), "%s", final);
    cr_assert_eq (s_get (callback, final, sizeof final, body, sizeof body), 400, "replayed state");
    cr_assert (strstr (body, "invalid_request"), "%s", body);
}

Test (oauth, an_unknown_state_is_refused)
{
    char callback [URL_MAX], tampered [URL_MAX], state [128], body [1024];
    s_to_callback ("test", callback, sizeof callback);
    s_param (callback, "state", state, sizeof state);
    //  The state's last character changed: the code alone is worth nothing
    snprintf (tampered, sizeof tampered, "%s", callback);
    char *at = strstr (tampered, state) + strlen (state) - 1;
    *at = *at == 'A'? 'B': 'A';
    cr_assert_eq (s_get (tampered, NULL, 0, body, sizeof body), 400);
    cr_assert_eq (s_get ("/api/v1/auth/oauth/test/callback?code=abc", NULL, 0, body, sizeof body), 400,
                  "no state");
    cr_assert_eq (s_get ("/api/v1/auth/oauth/test/callback?code=abc&state=made-up", NULL, 0, NULL, 0), 400);
}

Test (oauth, a_state_expires)
{
    char callback [URL_MAX], state [128];
    s_to_callback ("test", callback, sizeof callback);
    s_param (callback, "state", state, sizeof state);
    uint8_t digest [32];
    char hex [65];
    EVP_Digest (state, strlen (state), digest, NULL, EVP_sha256 (), NULL);
    for (int i = 0; i < 32; i++)
        sprintf (hex + 2 * i, "%02x", digest [i]);
    cr_assert_eq (s_count ("SELECT count (*) FROM auth.oauth_states WHERE state_hash = '%s'"
                           " AND expires_at <= now () + interval '10 minutes'", hex), 1, "10 minutes, as a hash");
    s_count ("UPDATE auth.oauth_states SET expires_at = now () - interval '1 second'"
             " WHERE state_hash = '%s' RETURNING 1", hex);
    cr_assert_eq (s_get (callback, NULL, 0, NULL, 0), 400);
}

Test (oauth, a_wrong_nonce_is_refused)
{
    s_refused ("wrong_nonce", "invalid_id_token");
    int64_t until = zclock_mono () + 10000;
    long events = 0;
    while ((events = stack_db_long ("SELECT count (*) FROM audit.events WHERE type = 'auth.oauth.login'"
                                    " AND outcome = 'failure'")) < 1 && zclock_mono () < until)
        zclock_sleep (100);
    cr_assert_geq (events, 1, "a refused sign-in is an audit event");
}

Test (oauth, an_id_token_signed_by_another_key_is_refused)
{
    s_refused ("other_key", "invalid_id_token");
}

Test (oauth, an_expired_id_token_is_refused)
{
    s_refused ("expired", "invalid_id_token");
}

Test (oauth, an_id_token_for_another_audience_is_refused)
{
    s_refused ("wrong_aud", "invalid_id_token");
}

Test (oauth, an_id_token_from_another_issuer_is_refused)
{
    s_refused ("wrong_iss", "invalid_id_token");
}

Test (oauth, an_unverified_email_makes_no_account)
{
    char email [128], sub [64], final [URL_MAX], value [64];
    s_email (email, sizeof email, "unverified");
    s_user ("TEST", "normal", email, false, sub, sizeof sub);
    s_browser ("test", final, sizeof final);
    s_param (final, "error", value, sizeof value);
    cr_assert_str_eq (value, "email_not_verified");
    cr_assert_eq (s_count ("SELECT count (*) FROM auth.users WHERE email = '%s'", email), 0);
}

Test (oauth, a_provider_that_is_down_creates_nothing)
{
    char body [1024], email [128], sub [64], callback [URL_MAX], final [URL_MAX], value [64];
    //  Nothing listens for "down": a clear 502 at once, no state stored
    long states = stack_db_long ("SELECT count (*) FROM auth.oauth_states");
    cr_assert_eq (s_get ("/api/v1/auth/oauth/down/start?redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fapp%2Foauth-done",
                         NULL, 0, body, sizeof body), 502);
    cr_assert (strstr (body, "provider_unavailable"), "%s", body);
    cr_assert_eq (stack_db_long ("SELECT count (*) FROM auth.oauth_states"), states);
    //  The provider goes down between approval and the code exchange
    s_email (email, sizeof email, "down");
    s_user ("TEST", "normal", email, true, sub, sizeof sub);
    s_to_callback ("test", callback, sizeof callback);
    s_control ("TEST", "mode=down");
    long status = s_get (callback, final, sizeof final, NULL, 0);
    s_control ("TEST", "mode=normal");
    cr_assert_eq (status, 302);
    s_param (final, "error", value, sizeof value);
    cr_assert_str_eq (value, "provider_unavailable", "%s", final);
    cr_assert_eq (s_count ("SELECT count (*) FROM auth.users WHERE email = '%s'", email), 0);
    cr_assert_eq (s_count ("SELECT count (*) FROM auth.identities WHERE subject = '%s'", sub), 0);
}

Test (oauth, only_allowed_redirects_and_known_providers)
{
    char body [1024];
    cr_assert_eq (s_get ("/api/v1/auth/oauth/test/start?redirect_uri=https%3A%2F%2Fevil.example%2Fsteal",
                         NULL, 0, body, sizeof body), 400);
    cr_assert (strstr (body, "redirect_uri"), "%s", body);
    //  A prefix of an allowed URL is not that URL
    cr_assert_eq (s_get ("/api/v1/auth/oauth/test/start?redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fapp%2Foauth-done%2Fx",
                         NULL, 0, NULL, 0), 400);
    cr_assert_eq (s_get ("/api/v1/auth/oauth/test/start", NULL, 0, NULL, 0), 400);
    cr_assert_eq (s_get ("/api/v1/auth/oauth/nobody/start?redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fapp%2Foauth-done",
                         NULL, 0, NULL, 0), 404);
    cr_assert_eq (s_get ("/api/v1/auth/oauth/Bad%20Name/start?redirect_uri=x", NULL, 0, NULL, 0), 404);
}

Test (oauth, the_provider_can_say_no)
{
    char callback [URL_MAX], state [128], denied [URL_MAX], final [URL_MAX], value [64];
    s_to_callback ("test", callback, sizeof callback);
    s_param (callback, "state", state, sizeof state);
    snprintf (denied, sizeof denied, "/api/v1/auth/oauth/test/callback?error=access_denied&state=%s", state);
    cr_assert_eq (s_get (denied, final, sizeof final, NULL, 0), 302);
    s_param (final, "error", value, sizeof value);
    cr_assert_str_eq (value, "access_denied");
}

Test (oauth, a_matching_email_links_only_after_the_account_proves_itself)
{
    char email [128], sub [64], final [URL_MAX], value [64], access [API_TOKEN_MAX], user_id [37];
    stack_http_t *res = malloc (sizeof *res);
    s_email (email, sizeof email, "owner");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201);
    json_t *user = api_json (res);
    snprintf (user_id, sizeof user_id, "%s", api_str (user, "id"));
    json_decref (user);
    //  The provider vouches for the same address: still no silent sign-in
    s_user ("TEST", "normal", email, true, sub, sizeof sub);
    s_browser ("test", final, sizeof final);
    s_param (final, "error", value, sizeof value);
    cr_assert_str_eq (value, "account_exists", "%s", final);
    cr_assert_eq (s_count ("SELECT count (*) FROM auth.identities WHERE subject = '%s'", sub), 0);
    //  Signed in with the password, the account links the provider itself
    cr_assert_eq (api_login (email, API_PASSWORD, access, NULL, res), 200);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/oauth/test/link", NULL,
                            "{\"redirect_uri\":\"" CLIENT_REDIRECT "\"}", res), 401, "needs a session");
    cr_assert_eq (api_call ("POST", "/api/v1/auth/oauth/test/link", access,
                            "{\"redirect_uri\":\"" CLIENT_REDIRECT "\"}", res), 200, "%s", res->body);
    json_t *link = api_json (res);
    char authorize [URL_MAX], callback [URL_MAX];
    snprintf (authorize, sizeof authorize, "%s", api_str (link, "authorization_url"));
    json_decref (link);
    cr_assert_eq (s_get (authorize, callback, sizeof callback, NULL, 0), 302);
    cr_assert_eq (s_get (callback, final, sizeof final, NULL, 0), 302);
    s_param (final, "linked", value, sizeof value);
    cr_assert_str_eq (value, "test", "%s", final);
    char sql [512];
    snprintf (sql, sizeof sql, "SELECT count (*) FROM auth.identities WHERE subject = '%s' AND user_id = '%s'",
              sub, user_id);
    cr_assert_eq (stack_db_long (sql), 1);
    //  From now on the provider signs in to that account
    char via_provider [API_TOKEN_MAX];
    s_sign_in ("test", via_provider);
    json_t *claims = s_claims (via_provider);
    cr_assert_str_eq (api_str (claims, "sub"), user_id);
    json_decref (claims);
    cr_assert_eq (api_get ("/api/v1/users/me", access, res), 200);
    cr_assert (strstr (res->body, "\"provider\":\"test\""), "%s", res->body);
    //  With a password beside it, the identity may go
    cr_assert_eq (api_call ("DELETE", "/api/v1/users/me/identities/test", access, NULL, res), 204, "%s", res->body);
    cr_assert_eq (stack_db_long (sql), 0);
    cr_assert_eq (api_call ("DELETE", "/api/v1/users/me/identities/test", access, NULL, res), 404);
    free (res);
}

Test (oauth, an_identity_linked_elsewhere_cannot_be_linked_again)
{
    char email [128], sub [64], access [API_TOKEN_MAX], final [URL_MAX], value [64];
    s_email (email, sizeof email, "taken");
    s_user ("TEST", "normal", email, true, sub, sizeof sub);
    s_sign_in ("test", access);                 //  the identity now has its own account
    stack_http_t *res = malloc (sizeof *res);
    char other [API_TOKEN_MAX];
    api_new_user ("linker", other, NULL);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/oauth/test/link", other,
                            "{\"redirect_uri\":\"" CLIENT_REDIRECT "\"}", res), 200);
    json_t *link = api_json (res);
    char callback [URL_MAX];
    cr_assert_eq (s_get (api_str (link, "authorization_url"), callback, sizeof callback, NULL, 0), 302);
    json_decref (link);
    cr_assert_eq (s_get (callback, final, sizeof final, NULL, 0), 302);
    s_param (final, "error", value, sizeof value);
    cr_assert_str_eq (value, "identity_in_use");
    cr_assert_eq (s_count ("SELECT count (*) FROM auth.identities WHERE subject = '%s'", sub), 1);
    free (res);
}

Test (oauth, the_last_way_in_cannot_be_removed)
{
    char email [128], sub [64], access [API_TOKEN_MAX];
    s_email (email, sizeof email, "only");
    s_user ("TEST", "normal", email, true, sub, sizeof sub);
    s_sign_in ("test", access);
    stack_http_t *res = malloc (sizeof *res);
    cr_assert_eq (api_call ("DELETE", "/api/v1/users/me/identities/test", access, NULL, res), 409, "%s", res->body);
    cr_assert_eq (s_count ("SELECT count (*) FROM auth.identities WHERE subject = '%s'", sub), 1);
    cr_assert_eq (api_get ("/api/v1/users/me", access, res), 200);
    cr_assert (strstr (res->body, "\"provider\":\"test\""), "%s", res->body);
    free (res);
}

Test (oauth, github_signs_in_with_its_primary_verified_email)
{
    char email [128], sub [64], access [API_TOKEN_MAX];
    s_email (email, sizeof email, "octo");
    s_user ("GH", "normal", email, true, sub, sizeof sub);
    s_sign_in ("gh", access);
    stack_http_t *res = malloc (sizeof *res);
    cr_assert_eq (api_get ("/api/v1/users/me", access, res), 200);
    json_t *me = api_json (res);
    cr_assert_str_eq (api_str (me, "email"), email);
    cr_assert_str_eq (api_str (json_array_get (json_object_get (me, "identities"), 0), "provider"), "gh");
    json_decref (me);
    cr_assert_eq (s_count ("SELECT count (*) FROM auth.identities WHERE provider = 'gh' AND subject = '%s'", sub), 1);
    //  An unverified primary address makes no account
    char unverified [128], final [URL_MAX], value [64];
    s_email (unverified, sizeof unverified, "octo-unverified");
    s_user ("GH", "normal", unverified, false, sub, sizeof sub);
    s_browser ("gh", final, sizeof final);
    s_param (final, "error", value, sizeof value);
    cr_assert_str_eq (value, "email_not_verified");
    free (res);
}
