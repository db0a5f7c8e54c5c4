/*  test_audit_rules - query filters, RFC 3339 times and cursors */
#include <criterion/criterion.h>
#include <string.h>
#include "../../../services/audit/audit_rules.h"
#include "../../../common/cm_jwt.h"

Test (audit_rules, event_types)
{
    const char *good [] = { "auth.login.failure", "authz.denied", "alert.denied_per_ip", "a", "x1.y_2" };
    for (size_t i = 0; i < sizeof good / sizeof good [0]; i++)
        cr_assert_eq (audit_rules_type (good [i]), 0, "%s", good [i]);
    const char *bad [] = { "", ".auth", "auth.", "auth..login", "Auth.login", "auth login", "auth-login",
                           "_auth", "auth._x", "auth.login;drop", NULL };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        cr_assert_eq (audit_rules_type (bad [i]), -1, "%s", bad [i]? bad [i]: "NULL");
    char longest [66];
    memset (longest, 'a', 64);
    longest [64] = 0;
    cr_assert_eq (audit_rules_type (longest), 0);
    longest [64] = 'a';
    longest [65] = 0;
    cr_assert_eq (audit_rules_type (longest), -1);
}

Test (audit_rules, limits)
{
    cr_assert_eq (audit_rules_limit (false, 0), 50);
    cr_assert_eq (audit_rules_limit (true, 1), 1);
    cr_assert_eq (audit_rules_limit (true, 100), 100);
    cr_assert_eq (audit_rules_limit (true, 0), -1);
    cr_assert_eq (audit_rules_limit (true, 101), -1);
    cr_assert_eq (audit_rules_limit (true, -5), -1);
}

Test (audit_rules, rfc3339_times_parse)
{
    int64_t ms;
    cr_assert_eq (audit_rules_time_parse ("2024-05-01T12:00:00Z", &ms), 0);
    cr_assert_eq (ms, 1714564800000);
    cr_assert_eq (audit_rules_time_parse ("2024-05-01t12:00:00.1234z", &ms), 0);
    cr_assert_eq (ms, 1714564800123, "fractions below a millisecond go");
    cr_assert_eq (audit_rules_time_parse ("2024-05-01T14:30:00+02:30", &ms), 0);
    cr_assert_eq (ms, 1714564800000);
    cr_assert_eq (audit_rules_time_parse ("2024-05-01T09:00:00.5-03:00", &ms), 0);
    cr_assert_eq (ms, 1714564800500);
    cr_assert_eq (audit_rules_time_parse ("1970-01-01T00:00:00Z", &ms), 0);
    cr_assert_eq (ms, 0);
    cr_assert_eq (audit_rules_time_parse ("2024-02-29T00:00:00Z", &ms), 0, "a leap day");
    cr_assert_eq (audit_rules_time_parse ("2016-12-31T23:59:60Z", &ms), 0, "a leap second");
    cr_assert_eq (ms, 1483228799999);
    const char *bad [] = {
        "2024-05-01", "2024-05-01T12:00:00", "2024-05-01 12:00:00Z", "2024-13-01T00:00:00Z",
        "2023-02-29T00:00:00Z", "2024-04-31T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T12:60:00Z",
        "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00.1234567890Z", "2024-05-01T12:00:00+0200",
        "2024-05-01T12:00:00+24:00", "2024-05-01T12:00:00Zjunk", "yesterday", "", "0000-01-01T00:00:00Z",
        "+2024-05-01T12:00:00Z", NULL
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        cr_assert_eq (audit_rules_time_parse (bad [i], &ms), -1, "%s", bad [i]? bad [i]: "NULL");
}

Test (audit_rules, times_format_and_round_trip)
{
    char text [AUDIT_TIME_SIZE];
    cr_assert_eq (audit_rules_time_format (1714564800123, text), 0);
    cr_assert_str_eq (text, "2024-05-01T12:00:00.123Z");
    cr_assert_eq (audit_rules_time_format (0, text), 0);
    cr_assert_str_eq (text, "1970-01-01T00:00:00.000Z");
    cr_assert_eq (audit_rules_time_format (951782400000, text), 0);
    cr_assert_str_eq (text, "2000-02-29T00:00:00.000Z");
    cr_assert_eq (audit_rules_time_format (-1, text), -1);
    cr_assert_eq (audit_rules_time_format (INT64_MAX, text), -1);
    for (int64_t ms = 0; ms < INT64_C (253402300799999); ms += INT64_C (9876543210987)) {
        int64_t back;
        cr_assert_eq (audit_rules_time_format (ms, text), 0);
        cr_assert_eq (audit_rules_time_parse (text, &back), 0, "%s", text);
        cr_assert_eq (back, ms, "%s", text);
    }
}

Test (audit_rules, cursors)
{
    char cursor [AUDIT_CURSOR_SIZE];
    int64_t seq;
    cr_assert_eq (audit_rules_cursor_encode (42, cursor), 0);
    cr_assert_eq (audit_rules_cursor_decode (cursor, &seq), 0);
    cr_assert_eq (seq, 42);
    cr_assert_eq (audit_rules_cursor_encode (INT64_MAX, cursor), 0);
    cr_assert_eq (audit_rules_cursor_decode (cursor, &seq), 0);
    cr_assert_eq (seq, INT64_MAX);
    cr_assert_eq (audit_rules_cursor_encode (0, cursor), -1);
    //  Only what encode makes
    char made [64];
    const char *texts [] = { "0", "012", "-1", "1a", "9223372036854775808", "" };
    for (size_t i = 0; i < sizeof texts / sizeof texts [0]; i++) {
        cr_assert_geq (cm_jwt_b64url_encode ((const uint8_t *) texts [i], strlen (texts [i]), made, sizeof made), 0);
        cr_assert_eq (audit_rules_cursor_decode (made, &seq), -1, "%s", texts [i]);
    }
    cr_assert_eq (audit_rules_cursor_decode ("NDI=", &seq), -1, "padding");
    cr_assert_eq (audit_rules_cursor_decode ("!!", &seq), -1);
    cr_assert_eq (audit_rules_cursor_decode (NULL, &seq), -1);
}
