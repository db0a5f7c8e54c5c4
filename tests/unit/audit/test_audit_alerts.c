/*  test_audit_alerts - which events count towards which rule, when a rule
    fires (more than N within the window, once per window), subject tags,
    webhook URLs and bodies */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "../../../services/audit/audit_alerts.h"

#define USER "2d8f5e40-ac73-4e3f-9041-3c4d5e6f7081"

static audit_alerts_config_t
s_config (void)
{
    audit_alerts_config_t config = { .window_ms = 60000 };
    config.threshold [AUDIT_ALERT_DENIED_PER_IP] = 50;
    config.threshold [AUDIT_ALERT_DENIED_PER_ACCOUNT] = 20;
    config.threshold [AUDIT_ALERT_LOGIN_FAILURES_PER_IP] = 20;
    config.threshold [AUDIT_ALERT_LOGIN_FAILURES_PER_ACCOUNT] = 5;
    return config;
}

Test (audit_alerts, settings_become_rules)
{
    cm_config_t cfg = { .alert_window_s = 30, .alert_denied_per_ip = 1, .alert_denied_per_account = 2,
                        .alert_login_failures_per_ip = 3, .alert_login_failures_per_account = 0 };
    audit_alerts_config_t config;
    audit_alerts_config (&config, &cfg);
    cr_assert_eq (config.window_ms, 30000);
    cr_assert_eq (config.threshold [AUDIT_ALERT_DENIED_PER_IP], 1);
    cr_assert_eq (config.threshold [AUDIT_ALERT_DENIED_PER_ACCOUNT], 2);
    cr_assert_eq (config.threshold [AUDIT_ALERT_LOGIN_FAILURES_PER_IP], 3);
    cr_assert_eq (config.threshold [AUDIT_ALERT_LOGIN_FAILURES_PER_ACCOUNT], 0);
    cr_assert_str_eq (audit_alerts_rule_name (AUDIT_ALERT_LOGIN_FAILURES_PER_ACCOUNT), "login_failures_per_account");
}

Test (audit_alerts, events_count_towards_their_rules)
{
    audit_alerts_config_t config = s_config ();
    audit_alerts_hit_t hits [AUDIT_ALERT_RULES];
    cr_assert_eq (audit_alerts_match (&config, "authz.denied", "10.0.0.1", USER, hits), 2);
    cr_assert_eq (hits [0].rule, AUDIT_ALERT_DENIED_PER_IP);
    cr_assert_str_eq (hits [0].value, "10.0.0.1");
    cr_assert_eq (hits [1].rule, AUDIT_ALERT_DENIED_PER_ACCOUNT);
    cr_assert_str_eq (hits [1].value, USER);
    //  Anonymous: per IP only; no IP: per account only
    cr_assert_eq (audit_alerts_match (&config, "authz.denied", "10.0.0.1", NULL, hits), 1);
    cr_assert_eq (hits [0].rule, AUDIT_ALERT_DENIED_PER_IP);
    cr_assert_eq (audit_alerts_match (&config, "auth.login.failure", "", USER, hits), 1);
    cr_assert_eq (hits [0].rule, AUDIT_ALERT_LOGIN_FAILURES_PER_ACCOUNT);
    //  Other types count towards nothing
    cr_assert_eq (audit_alerts_match (&config, "auth.login.success", "10.0.0.1", USER, hits), 0);
    cr_assert_eq (audit_alerts_match (&config, "alert.denied_per_ip", "10.0.0.1", USER, hits), 0);
    cr_assert_eq (audit_alerts_match (&config, NULL, "10.0.0.1", USER, hits), 0);
    //  A threshold of 0 turns its rule off
    config.threshold [AUDIT_ALERT_DENIED_PER_IP] = 0;
    cr_assert_eq (audit_alerts_match (&config, "authz.denied", "10.0.0.1", USER, hits), 1);
    cr_assert_eq (hits [0].rule, AUDIT_ALERT_DENIED_PER_ACCOUNT);
}

Test (audit_alerts, more_than_the_threshold_fires_once_per_window)
{
    audit_alerts_config_t config = s_config ();
    audit_alert_rule_t rule = AUDIT_ALERT_LOGIN_FAILURES_PER_ACCOUNT;      //  more than 5
    int64_t t = 1714564800000;
    cr_assert_not (audit_alerts_fires (&config, rule, 5, 0, t), "5 is not more than 5");
    cr_assert (audit_alerts_fires (&config, rule, 6, 0, t));
    //  Raised at t: not again within the window, however many more come
    cr_assert_not (audit_alerts_fires (&config, rule, 7, t, t + 1));
    cr_assert_not (audit_alerts_fires (&config, rule, 500, t, t + 59999));
    cr_assert (audit_alerts_fires (&config, rule, 6, t, t + 60000));
    //  Still needs the count, after the window too
    cr_assert_not (audit_alerts_fires (&config, rule, 3, t, t + 120000));
    //  An event older than the last alert (delivered late) raises nothing
    cr_assert_not (audit_alerts_fires (&config, rule, 9, t, t - 5));
    config.threshold [rule] = 0;
    cr_assert_not (audit_alerts_fires (&config, rule, 1000, 0, t), "off");
}

Test (audit_alerts, subject_tags_hide_the_value_and_differ_per_rule)
{
    uint8_t key [32], other [32];
    memset (key, 1, sizeof key);
    memset (other, 2, sizeof other);
    char a [65], b [65], c [65], d [65];
    cr_assert_eq (audit_alerts_tag (key, AUDIT_ALERT_DENIED_PER_IP, "10.0.0.1", a), 0);
    cr_assert_eq (audit_alerts_tag (key, AUDIT_ALERT_DENIED_PER_IP, "10.0.0.1", b), 0);
    cr_assert_str_eq (a, b, "the same subject, the same tag");
    cr_assert_eq (strlen (a), 64);
    cr_assert_null (strstr (a, "10.0.0.1"));
    cr_assert_eq (audit_alerts_tag (key, AUDIT_ALERT_LOGIN_FAILURES_PER_IP, "10.0.0.1", c), 0);
    cr_assert_str_neq (a, c);
    cr_assert_eq (audit_alerts_tag (other, AUDIT_ALERT_DENIED_PER_IP, "10.0.0.1", d), 0);
    cr_assert_str_neq (a, d, "another key, another tag");
}

Test (audit_alerts, webhook_urls)
{
    cr_assert_eq (audit_alerts_check_url ("https://hooks.example.com/alerts"), 0);
    cr_assert_eq (audit_alerts_check_url ("HTTPS://hooks.example.com:8443/a?b=c"), 0);
    cr_assert_eq (audit_alerts_check_url ("http://127.0.0.1:9999/hook"), 0);
    cr_assert_eq (audit_alerts_check_url ("http://localhost/hook"), 0);
    cr_assert_eq (audit_alerts_check_url ("http://[::1]:80/hook"), 0);
    //  Plain HTTP elsewhere, user info, other schemes, odd bytes: no
    cr_assert_eq (audit_alerts_check_url ("http://hooks.example.com/alerts"), -1);
    cr_assert_eq (audit_alerts_check_url ("http://127.0.0.1.evil.example/"), -1);
    cr_assert_eq (audit_alerts_check_url ("http://localhost@evil.example/"), -1);
    cr_assert_eq (audit_alerts_check_url ("https://user:pw@hooks.example.com/"), -1);
    cr_assert_eq (audit_alerts_check_url ("ftp://hooks.example.com/"), -1);
    cr_assert_eq (audit_alerts_check_url ("https://hooks.example.com/a b"), -1);
    cr_assert_eq (audit_alerts_check_url ("https://hooks.example.com\\@x/"), -1);
    cr_assert_eq (audit_alerts_check_url ("https://"), -1);
    cr_assert_eq (audit_alerts_check_url (NULL), -1);
}

Test (audit_alerts, detail_and_webhook_body)
{
    audit_alert_t alert = {
        .rule = AUDIT_ALERT_DENIED_PER_ACCOUNT, .count = 21, .threshold = 20, .window_ms = 60000,
        .at_ms = 1714564800000, .seq = 77, .event_id = "0b6f3c2e-8a51-4c1d-9e2f-1a2b3c4d5e6f",
        .trigger_id = "1c7e4d3f-9b62-4d2e-8f30-2b3c4d5e6f70", .user_id = strdup (USER),
        .ip = strdup ("10.0.0.1")
    };
    char *detail = audit_alerts_detail (&alert);
    json_error_t error;
    json_t *d = json_loads (detail, 0, &error);
    cr_assert_not_null (d, "%s", detail);
    cr_assert_str_eq (json_string_value (json_object_get (d, "rule")), "denied_per_account");
    cr_assert_eq (json_integer_value (json_object_get (d, "count")), 21);
    cr_assert_eq (json_integer_value (json_object_get (d, "window_s")), 60);
    cr_assert_null (json_object_get (d, "ip"), "the IP is kept with the event, apart from the chain");
    json_decref (d);
    free (detail);

    char *body = audit_alerts_webhook_body (&alert);
    json_t *b = json_loads (body, 0, &error);
    cr_assert_not_null (b, "%s", body);
    cr_assert_str_eq (json_string_value (json_object_get (b, "type")), "alert.denied_per_account");
    cr_assert_str_eq (json_string_value (json_object_get (b, "at")), "2024-05-01T12:00:00.000Z");
    cr_assert_eq (json_integer_value (json_object_get (b, "seq")), 77);
    cr_assert_str_eq (json_string_value (json_object_get (b, "user_id")), USER);
    json_decref (b);
    free (body);
    audit_alerts_clear (&alert);
    cr_assert_null (alert.user_id);
}

Test (audit_alerts, posting_without_a_sender_drops_quietly)
{
    char *body = strdup ("{}");
    audit_alerts_webhook_post (&body);
    cr_assert_null (body);
    cr_assert_eq (audit_alerts_webhook_start ("http://example.com/", 1000), -1, "plain HTTP elsewhere");
    //  A sender started and stopped with nothing to send
    cr_assert_eq (audit_alerts_webhook_start ("http://127.0.0.1:9/hook", 200), 0);
    audit_alerts_webhook_stop ();
}
