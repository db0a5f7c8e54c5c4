/*  test_cm_url - which URLs a service may call out to */
#include <criterion/criterion.h>
#include "cm_url.h"

Test (cm_url, https_with_host_port_and_path_passes)
{
    cr_assert_eq (cm_url_check_outbound ("https://idp.example.com/.well-known/openid-configuration", false, false), 0);
    cr_assert_eq (cm_url_check_outbound ("HTTPS://hooks.example.com:8443/a", false, false), 0);
    cr_assert_eq (cm_url_check_outbound ("https://[2001:db8::1]:443/x", false, false), 0);
}

Test (cm_url, plain_http_only_to_this_host_and_only_when_allowed)
{
    cr_assert_eq (cm_url_check_outbound ("http://127.0.0.1:9999/hook", true, false), 0);
    cr_assert_eq (cm_url_check_outbound ("http://localhost/hook", true, false), 0);
    cr_assert_eq (cm_url_check_outbound ("http://[::1]:80/hook", true, false), 0);
    cr_assert_eq (cm_url_check_outbound ("http://127.0.0.1:9999/hook", false, false), -1);
    cr_assert_eq (cm_url_check_outbound ("http://hooks.example.com/alerts", true, false), -1);
    cr_assert_eq (cm_url_check_outbound ("http://127.0.0.1.evil.example/", true, false), -1);
    cr_assert_eq (cm_url_check_outbound ("http://localhost@evil.example/", true, false), -1);
}

Test (cm_url, query_only_when_allowed)
{
    cr_assert_eq (cm_url_check_outbound ("https://hooks.example.com/a?b=c", false, true), 0);
    cr_assert_eq (cm_url_check_outbound ("https://hooks.example.com/a?b=c", false, false), -1);
}

Test (cm_url, ambiguous_or_foreign_forms_are_refused)
{
    const char *bad [] = {
        NULL, "", "ftp://hooks.example.com/", "https://", "https:///path",
        "https://user:pw@hooks.example.com/", "https://hooks.example.com/a b",
        "https://hooks.example.com\\@evil.example/", "https://hooks.example.com/#frag",
        "https://hooks.example.com:/", "https://hooks.example.com:123456/",
        "https://hooks.example.com:80x/", "https://[2001:db8::1/", "https://h\xc3\xa9.example/",
        "https://hooks.example.com/\t"
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        cr_assert_eq (cm_url_check_outbound (bad [i], true, true), -1, "%s accepted", bad [i]? bad [i]: "NULL");
}

Test (cm_url, split_names_the_scheme_and_whether_the_host_is_this_machine)
{
    bool secure = false, local = true;
    cr_assert_eq (cm_url_split ("smtps://mail.example.com:465", "smtp://", "smtps://", false, &secure, &local), 0);
    cr_assert (secure);
    cr_assert_not (local);
    cr_assert_eq (cm_url_split ("smtp://127.0.0.1:2525", "smtp://", "smtps://", false, &secure, &local), 0);
    cr_assert_not (secure);
    cr_assert (local);
    cr_assert_eq (cm_url_split ("https://mail.example.com", "smtp://", "smtps://", false, &secure, &local), -1);
    cr_assert_eq (cm_url_split ("smtp://user@mail.example.com", "smtp://", "smtps://", false, &secure, &local), -1);
}
