/*  test_cm_config - the table loads, validates and names every bad variable */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cm_config.h"

//  Values come from a NULL-terminated name/value list instead of getenv
static const char *
s_get (const char *name, void *arg)
{
    const char **pairs = (const char **) arg;
    for (int i = 0; pairs [i]; i += 2)
        if (strcmp (pairs [i], name) == 0)
            return pairs [i + 1];
    return NULL;
}

static int
s_load (cm_config_t *cfg, cm_svc_t svc, const char **pairs, char *errors, size_t size)
{
    FILE *out = fmemopen (errors, size, "w");
    int rc = cm_config_load (cfg, svc, s_get, pairs, out);
    fclose (out);
    return rc;
}

Test (cm_config, defaults_follow_the_service)
{
    const char *env [] = { "DATABASE_URL", "postgresql://missions_svc@127.0.0.1/app", NULL };
    cm_config_t cfg;
    char errors [2048] = "";
    cr_assert_eq (s_load (&cfg, CM_SVC_MISSIONS, env, errors, sizeof errors), 0, "%s", errors);
    cr_assert_str_eq (cfg.bind, "tcp://127.0.0.1:7102");
    cr_assert_str_eq (cfg.endpoints [CM_SVC_EVIDENCE], "tcp://127.0.0.1:7103");
    cr_assert_str_eq (cfg.endpoints [CM_SVC_AUDIT], "tcp://127.0.0.1:7105");
    cr_assert_null (cfg.endpoints [CM_SVC_AUTH], "missions never calls auth");
    cr_assert_str_eq (cfg.allowed_peers, "gateway,privacy");
    cr_assert_eq (cfg.workers, 4);
    cm_config_clear (&cfg);
}

Test (cm_config, every_problem_is_reported_by_name)
{
    const char *env [] = {
        "SERVICE_WORKERS", "0",
        "LOG_LEVEL", "loud",
        "MISSIONS_BIND", "http://0.0.0.0:80",
        "AUDIT_ENDPOINTS", "tcp://127.0.0.1:7105,tcp://bad",
        "ALLOWED_PEERS", "gateway,mallory",
        "REQUEST_TIMEOUT_MS", "12abc",
        NULL
    };
    cm_config_t cfg;
    char errors [4096] = "";
    cr_assert_eq (s_load (&cfg, CM_SVC_MISSIONS, env, errors, sizeof errors), -1);
    const char *names [] = { "SERVICE_WORKERS", "LOG_LEVEL", "MISSIONS_BIND", "AUDIT_ENDPOINTS",
                             "ALLOWED_PEERS", "REQUEST_TIMEOUT_MS", "DATABASE_URL" };
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++)
        cr_expect_not_null (strstr (errors, names [i]), "%s not reported in:\n%s", names [i], errors);
    cm_config_clear (&cfg);
}

Test (cm_config, passwords_never_in_urls_and_secret_files_are_read)
{
    const char *with_password [] = { "DATABASE_URL", "postgresql://auth_svc:hunter2@db/app", NULL };
    cm_config_t cfg;
    char errors [2048] = "";
    cr_assert_eq (s_load (&cfg, CM_SVC_AUTH, with_password, errors, sizeof errors), -1);
    cr_assert_not_null (strstr (errors, "DATABASE_URL"));
    cr_assert_null (strstr (errors, "hunter2"), "the secret was echoed: %s", errors);
    cm_config_clear (&cfg);

    char path [] = "/tmp/cm_config_secretXXXXXX";
    int fd = mkstemp (path);
    cr_assert (fd >= 0);
    cr_assert_eq (write (fd, "s3cret\n", 7), 7);
    close (fd);
    const char *with_file [] = { "DATABASE_URL", "postgresql://auth_svc@db/app",
                                 "DATABASE_PASSWORD_FILE", path, NULL };
    cr_assert_eq (s_load (&cfg, CM_SVC_AUTH, with_file, errors, sizeof errors), 0, "%s", errors);
    cr_assert_str_eq (cfg.database_password, "s3cret");
    cm_config_clear (&cfg);
    unlink (path);

    const char *missing_file [] = { "DATABASE_URL", "postgresql://auth_svc@db/app",
                                    "DATABASE_PASSWORD_FILE", "/nonexistent/pw", NULL };
    cr_assert_eq (s_load (&cfg, CM_SVC_AUTH, missing_file, errors, sizeof errors), -1);
    cr_assert_not_null (strstr (errors, "DATABASE_PASSWORD_FILE"));
    cm_config_clear (&cfg);
}

Test (cm_config, gateway_needs_no_database)
{
    const char *env [] = { "GATEWAY_HTTP_PORT", "18080", NULL };
    cm_config_t cfg;
    char errors [2048] = "";
    cr_assert_eq (s_load (&cfg, CM_SVC_GATEWAY, env, errors, sizeof errors), 0, "%s", errors);
    cr_assert_eq (cfg.gateway_http_port, 18080);
    cr_assert_null (cfg.database_url);
    cr_assert_null (cfg.bind, "the gateway binds no ZeroMQ endpoint");
    for (int svc = CM_SVC_AUTH; svc < CM_SVC_COUNT; svc++)
        cr_assert_not_null (cfg.endpoints [svc]);
    cm_config_clear (&cfg);

    const char *bad_port [] = { "GATEWAY_HTTP_PORT", "70000", NULL };
    cr_assert_eq (s_load (&cfg, CM_SVC_GATEWAY, bad_port, errors, sizeof errors), -1);
    cr_assert_not_null (strstr (errors, "GATEWAY_HTTP_PORT"));
    cm_config_clear (&cfg);
}

Test (cm_config, split_trims_and_bounds)
{
    char *items [3];
    cr_assert_eq (cm_config_split (" a, b ,,c ", items, 3), 3);
    cr_assert_str_eq (items [0], "a");
    cr_assert_str_eq (items [1], "b");
    cr_assert_str_eq (items [2], "c");
    for (int i = 0; i < 3; i++)
        free (items [i]);
    cr_assert_eq (cm_config_split ("a,b,c,d", items, 3), -1);
    cr_assert_eq (cm_config_split ("", items, 3), 0);
}

Test (cm_config, sign_in_providers_are_found_in_the_environment)
{
    //  Names come from the environment, values through the getter
    setenv ("OIDC_ACME_ISSUER", "https://idp.example", 1);
    setenv ("OIDC_GITHUB_ISSUER", "https://github.com", 1);
    const char *env [] = {
        "DATABASE_URL", "postgresql://auth_svc@127.0.0.1/app",
        "OIDC_ACME_ISSUER", "https://idp.example", "OIDC_ACME_CLIENT_ID", "acme-client",
        "OIDC_GITHUB_ISSUER", "https://github.com", "OIDC_GITHUB_CLIENT_ID", "gh",
        "OAUTH_ALLOWED_REDIRECTS", "https://app.example/done",
        NULL
    };
    cm_config_t cfg;
    char errors [2048] = "";
    cr_assert_eq (s_load (&cfg, CM_SVC_AUTH, env, errors, sizeof errors), 0, "%s", errors);
    cr_assert_eq (cfg.oidc_count, 2);
    cr_assert_str_eq (cfg.oauth_allowed_redirects, "https://app.example/done");
    for (int i = 0; i < cfg.oidc_count; i++) {
        const cm_oidc_provider_t *p = &cfg.oidc [i];
        bool github = strcmp (p->name, "github") == 0;
        cr_assert (github || strcmp (p->name, "acme") == 0, "%s", p->name);
        cr_assert_str_eq (p->kind, github? "github": "oidc");
        cr_assert_str_eq (p->scopes, github? "read:user user:email": "openid email profile");
        cr_assert_null (p->client_secret, "a public client");
    }
    cm_config_clear (&cfg);
    //  Other services never look
    const char *missions [] = { "DATABASE_URL", "postgresql://missions_svc@127.0.0.1/app", NULL };
    cr_assert_eq (s_load (&cfg, CM_SVC_MISSIONS, missions, errors, sizeof errors), 0);
    cr_assert_eq (cfg.oidc_count, 0);
    cm_config_clear (&cfg);
}

Test (cm_config, a_bad_provider_is_named)
{
    setenv ("OIDC_BAD_ISSUER", "http://idp.example", 1);
    const char *env [] = {
        "DATABASE_URL", "postgresql://auth_svc@127.0.0.1/app",
        "OIDC_BAD_ISSUER", "http://idp.example", "OIDC_BAD_KIND", "saml",
        "OIDC_BAD_CLIENT_SECRET_FILE", "/nonexistent/secret",
        NULL
    };
    cm_config_t cfg;
    char errors [4096] = "";
    cr_assert_eq (s_load (&cfg, CM_SVC_AUTH, env, errors, sizeof errors), -1);
    const char *names [] = { "OIDC_BAD_ISSUER", "OIDC_BAD_CLIENT_ID", "OIDC_BAD_KIND", "OIDC_BAD_CLIENT_SECRET_FILE" };
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++)
        cr_expect_not_null (strstr (errors, names [i]), "%s not reported in:\n%s", names [i], errors);
    cm_config_clear (&cfg);
}
