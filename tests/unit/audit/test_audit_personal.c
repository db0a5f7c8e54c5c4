/*  test_audit_personal - personal data split off events, sealed under the
    subject's key, merged back, and gone with that key */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "../../../services/audit/audit_personal.h"

#define USER    "2d8f5e40-ac73-4e3f-9041-3c4d5e6f7081"
#define EVENT   "0b6f3c2e-8a51-4c1d-9e2f-1a2b3c4d5e6f"

Test (audit_personal, personal_member_names)
{
    const char *yes [] = { "email", "name", "user_agent", "ip", "new_email", "client_ip", "full_name", "phone" };
    for (size_t i = 0; i < sizeof yes / sizeof yes [0]; i++)
        cr_assert (audit_personal_is_personal (yes [i]), "%s", yes [i]);
    const char *no [] = { "reason", "session_id", "route", "status", "mission_id", "filename", "emails_sent" };
    for (size_t i = 0; i < sizeof no / sizeof no [0]; i++)
        cr_assert_not (audit_personal_is_personal (no [i]), "%s", no [i]);
}

Test (audit_personal, nothing_personal_leaves_the_detail_as_it_came)
{
    char *public_detail, *personal;
    const char *detail = "{\"status\": 401, \"route\":\"/x\"}";
    cr_assert_eq (audit_personal_split (detail, &public_detail, &personal), 0);
    cr_assert_str_eq (public_detail, detail, "the very bytes");
    cr_assert_null (personal);
    free (public_detail);
    cr_assert_eq (audit_personal_split (NULL, &public_detail, &personal), 0);
    cr_assert_null (public_detail);
    cr_assert_null (personal);
}

Test (audit_personal, personal_members_are_split_off_and_merged_back)
{
    char *public_detail, *personal;
    const char *detail = "{\"reason\":\"locked\",\"email\":\"erin@example.com\",\"name\":\"Erin\","
                         "\"user_agent\":\"UA/1.0\"}";
    cr_assert_eq (audit_personal_split (detail, &public_detail, &personal), 0);
    cr_assert_str_eq (public_detail, "{\"reason\":\"locked\"}");
    cr_assert_not_null (personal);
    cr_assert_not_null (strstr (personal, "erin@example.com"));

    char *merged;
    cr_assert_eq (audit_personal_merge (public_detail, personal, 4096, &merged), 0);
    json_error_t error;
    json_t *m = json_loads (merged, 0, &error);
    cr_assert_str_eq (json_string_value (json_object_get (m, "reason")), "locked");
    cr_assert_str_eq (json_string_value (json_object_get (m, "email")), "erin@example.com");
    cr_assert_str_eq (json_string_value (json_object_get (m, "name")), "Erin");
    cr_assert_str_eq (json_string_value (json_object_get (m, "user_agent")), "UA/1.0");
    json_decref (m);
    free (merged);

    //  Without the personal part (erased): the public detail
    cr_assert_eq (audit_personal_merge (public_detail, NULL, 4096, &merged), 0);
    cr_assert_str_eq (merged, "{\"reason\":\"locked\"}");
    free (merged);
    //  Too long once merged: public only
    cr_assert_eq (audit_personal_merge (public_detail, personal, 20, &merged), 0);
    cr_assert_str_eq (merged, "{\"reason\":\"locked\"}");
    free (merged);
    free (public_detail);
    free (personal);
}

Test (audit_personal, a_detail_that_is_not_an_object_is_personal_whole)
{
    char *public_detail, *personal;
    cr_assert_eq (audit_personal_split ("login by erin@example.com", &public_detail, &personal), 0);
    cr_assert_null (public_detail);
    cr_assert_not_null (strstr (personal, "erin@example.com"));
    char *merged;
    cr_assert_eq (audit_personal_merge (NULL, personal, 4096, &merged), 0);
    cr_assert_str_eq (merged, "login by erin@example.com");
    free (merged);
    free (personal);
    cr_assert_eq (audit_personal_merge (NULL, "not json", 4096, &merged), -1);
}

Test (audit_personal, a_detail_that_grows_when_re_encoded_stays_whole)
{
    //  Twenty numbers that each grow by two bytes outweigh the email that goes
    char detail [512] = "{\"email\":\"a@b.c\"";
    for (int i = 0; i < 20; i++)
        snprintf (detail + strlen (detail), sizeof detail - strlen (detail), ",\"n%d\":1e2", i);
    strcat (detail, "}");
    char *public_detail, *personal;
    cr_assert_eq (audit_personal_split (detail, &public_detail, &personal), 0);
    cr_assert_null (public_detail, "%s", public_detail);
    char *merged;
    cr_assert_eq (audit_personal_merge (NULL, personal, 4096, &merged), 0);
    cr_assert_str_eq (merged, detail);
    free (merged);
    free (personal);
}

Test (audit_personal, subjects)
{
    char subject [AUDIT_PERSONAL_SUBJECT_SIZE];
    cr_assert_eq (audit_personal_subject (USER, 0, subject), 0);
    cr_assert_str_eq (subject, USER);
    cr_assert_eq (audit_personal_subject (NULL, 1714564800000, subject), 0);
    cr_assert_str_eq (subject, "anon:2024-05");
    cr_assert_eq (audit_personal_subject ("", 1704067199999, subject), 0);
    cr_assert_str_eq (subject, "anon:2023-12");
}

Test (audit_personal, sealed_data_opens_only_with_its_key_and_event)
{
    uint8_t master [32], other_master [32];
    memset (master, 3, sizeof master);
    memset (other_master, 4, sizeof other_master);
    uint8_t wrapped [AUDIT_PERSONAL_WRAPPED], key [32], unwrapped [32];
    cr_assert_eq (audit_personal_new_key (master, USER, wrapped, key), 0);
    cr_assert_eq (audit_personal_unwrap (master, USER, wrapped, sizeof wrapped, unwrapped), 0);
    cr_assert_eq (memcmp (key, unwrapped, 32), 0);
    cr_assert_eq (audit_personal_unwrap (master, "anon:2024-05", wrapped, sizeof wrapped, unwrapped), -1,
                  "another subject's key");
    cr_assert_eq (audit_personal_unwrap (other_master, USER, wrapped, sizeof wrapped, unwrapped), -1);

    const char *document = "{\"ip\":\"203.0.113.7\"}";
    uint8_t *sealed;
    size_t len;
    cr_assert_eq (audit_personal_seal (key, EVENT, document, &sealed, &len), 0);
    cr_assert_eq (len, strlen (document) + 28);
    cr_assert_null (memmem (sealed, len, "203.0.113.7", 11), "no plaintext");
    char *opened = audit_personal_open (key, EVENT, sealed, len);
    cr_assert_str_eq (opened, document);
    free (opened);
    cr_assert_null (audit_personal_open (key, "1c7e4d3f-9b62-4d2e-8f30-2b3c4d5e6f70", sealed, len),
                    "moved to another event");
    uint8_t fresh [32];
    cr_assert_eq (audit_personal_new_key (master, USER, wrapped, fresh), 0);
    cr_assert_null (audit_personal_open (fresh, EVENT, sealed, len), "a new key for the same user");
    sealed [len - 1] ^= 1;
    cr_assert_null (audit_personal_open (key, EVENT, sealed, len));
    free (sealed);
}
