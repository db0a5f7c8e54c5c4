/*  test_missions_rules - mission field rules on both sides of each limit */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../../services/missions/missions_rules.h"

//  count copies of piece into a fresh string (caller frees)
static char *
s_repeat (const char *piece, size_t count)
{
    size_t len = strlen (piece);
    char *out = malloc (len * count + 1);
    for (size_t i = 0; i < count; i++)
        memcpy (out + i * len, piece, len);
    out [len * count] = 0;
    return out;
}

Test (missions_rules, code_points_not_bytes)
{
    cr_assert_eq (missions_rules_code_points ("", 0), 0);
    cr_assert_eq (missions_rules_code_points ("abc", 3), 3);
    cr_assert_eq (missions_rules_code_points ("\xc3\xa9", 2), 1);               //  é
    cr_assert_eq (missions_rules_code_points ("\xe2\x82\xac", 3), 1);           //  €
    cr_assert_eq (missions_rules_code_points ("\xf0\x9f\x9a\x80", 4), 1);       //  rocket
    cr_assert_eq (missions_rules_code_points ("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x9a\x80", 10), 4);
    //  Not UTF-8: a lone continuation, a truncated sequence, overlong, surrogate, NUL
    cr_assert_eq (missions_rules_code_points ("\x80", 1), -1);
    cr_assert_eq (missions_rules_code_points ("\xc3", 1), -1);
    cr_assert_eq (missions_rules_code_points ("\xc0\xaf", 2), -1);
    cr_assert_eq (missions_rules_code_points ("\xed\xa0\x80", 3), -1);
    cr_assert_eq (missions_rules_code_points ("a\0b", 3), -1);
}

Test (missions_rules, title_is_trimmed_then_1_to_200_characters)
{
    char out [MISSIONS_TITLE_SIZE];
    cr_assert_eq (missions_rules_title ("  Survey the north ridge \t", out, sizeof out), 0);
    cr_assert_str_eq (out, "Survey the north ridge");
    cr_assert_eq (missions_rules_title ("\r\n\v\f x y \n", out, sizeof out), 0);
    cr_assert_str_eq (out, "x y", "inner white space stays");
    cr_assert_eq (missions_rules_title ("a", out, sizeof out), 0);
    cr_assert_str_eq (out, "a");

    //  Nothing left after trimming, or nothing at all
    const char *empty [] = { "", " ", "\t\r\n\v\f ", NULL };
    for (size_t i = 0; i < sizeof empty / sizeof empty [0]; i++) {
        strcpy (out, "x");
        cr_assert_eq (missions_rules_title (empty [i], out, sizeof out), -1, "accepted '%s'", empty [i]);
        cr_assert_str_empty (out);
    }
    //  200 accepted, 201 refused, whatever the bytes per character
    const char *pieces [] = { "a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x9a\x80" };
    for (size_t p = 0; p < sizeof pieces / sizeof pieces [0]; p++) {
        char *ok = s_repeat (pieces [p], 200);
        char *over = s_repeat (pieces [p], 201);
        cr_assert_eq (missions_rules_title (ok, out, sizeof out), 0, "200 x %zu-byte", strlen (pieces [p]));
        cr_assert_str_eq (out, ok);
        cr_assert_eq (missions_rules_title (over, out, sizeof out), -1, "201 x %zu-byte", strlen (pieces [p]));
        free (ok);
        free (over);
    }
    //  Trimmed white space does not count towards the 200
    char *padded = malloc (1024);
    char *body = s_repeat ("\xc3\xa9", 200);
    snprintf (padded, 1024, "   \t%s\n  ", body);
    cr_assert_eq (missions_rules_title (padded, out, sizeof out), 0);
    cr_assert_str_eq (out, body);
    free (body);
    free (padded);
    //  Only ASCII white space is trimmed: a no-break space is a character
    cr_assert_eq (missions_rules_title ("\xc2\xa0", out, sizeof out), 0);
    cr_assert_str_eq (out, "\xc2\xa0");
    //  Invalid UTF-8 is refused
    cr_assert_eq (missions_rules_title ("ab\xff", out, sizeof out), -1);
}

Test (missions_rules, description_up_to_5000_characters)
{
    cr_assert_eq (missions_rules_description (NULL), 0, "none is fine");
    cr_assert_eq (missions_rules_description (""), 0, "empty is fine");
    const char *pieces [] = { "d", "\xc3\xa9", "\xf0\x9f\x9a\x80" };
    for (size_t p = 0; p < sizeof pieces / sizeof pieces [0]; p++) {
        char *ok = s_repeat (pieces [p], 5000);
        char *over = s_repeat (pieces [p], 5001);
        cr_assert_eq (missions_rules_description (ok), 0);
        cr_assert_eq (missions_rules_description (over), -1);
        free (ok);
        free (over);
    }
    //  Stored as given: white space counts and is not trimmed
    char *spaced = s_repeat (" ", 5001);
    cr_assert_eq (missions_rules_description (spaced), -1);
    free (spaced);
    cr_assert_eq (missions_rules_description ("\xc3"), -1, "invalid UTF-8");
}

Test (missions_rules, duration_from_1_to_480)
{
    cr_assert_eq (missions_rules_duration (1), 0);
    cr_assert_eq (missions_rules_duration (30), 0);
    cr_assert_eq (missions_rules_duration (480), 0);
    cr_assert_eq (missions_rules_duration (0), -1);
    cr_assert_eq (missions_rules_duration (481), -1);
    cr_assert_eq (missions_rules_duration (-1), -1);
    cr_assert_eq (missions_rules_duration (INT64_MIN), -1);
    cr_assert_eq (missions_rules_duration (INT64_MAX), -1);
    cr_assert_eq (missions_rules_duration ((int64_t) 1 << 32 | 30), -1, "no truncation to int");
}

Test (missions_rules, status_is_one_of_three_exactly)
{
    cr_assert_eq (missions_rules_status ("pending"), 0);
    cr_assert_eq (missions_rules_status ("in_progress"), 0);
    cr_assert_eq (missions_rules_status ("completed"), 0);
    const char *bad [] = { NULL, "", "done", "PENDING", "Pending", " pending", "pending ",
                           "in progress", "in-progress", "complete", "completed\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        cr_assert_eq (missions_rules_status (bad [i]), -1, "accepted '%s'", bad [i]? bad [i]: "(null)");
}

Test (missions_rules, limit_defaults_to_20_and_is_1_to_100)
{
    cr_assert_eq (missions_rules_limit (false, 0), 20);
    cr_assert_eq (missions_rules_limit (false, 500), 20, "an absent value is not looked at");
    cr_assert_eq (missions_rules_limit (true, 1), 1);
    cr_assert_eq (missions_rules_limit (true, 20), 20);
    cr_assert_eq (missions_rules_limit (true, 100), 100);
    cr_assert_eq (missions_rules_limit (true, 0), -1);
    cr_assert_eq (missions_rules_limit (true, 101), -1);
    cr_assert_eq (missions_rules_limit (true, -1), -1);
    cr_assert_eq (missions_rules_limit (true, INT64_MIN), -1);
    cr_assert_eq (missions_rules_limit (true, INT64_MAX), -1);
}

Test (missions_rules, idempotency_key_is_1_to_255_printable_characters)
{
    cr_assert_eq (missions_rules_idempotency_key ("order-7f3a"), 0);
    cr_assert_eq (missions_rules_idempotency_key ("a"), 0);
    cr_assert_eq (missions_rules_idempotency_key ("with space"), 0);
    char *ok = s_repeat ("k", 255), *over = s_repeat ("k", 256);
    cr_assert_eq (missions_rules_idempotency_key (ok), 0);
    cr_assert_eq (missions_rules_idempotency_key (over), -1);
    free (ok);
    free (over);
    ok = s_repeat ("\xc3\xa9", 255);
    over = s_repeat ("\xc3\xa9", 256);
    cr_assert_eq (missions_rules_idempotency_key (ok), 0, "counted in characters");
    cr_assert_eq (missions_rules_idempotency_key (over), -1);
    free (ok);
    free (over);
    const char *bad [] = { NULL, "", "a\tb", "a\nb", "a\rb", "\x7f", "a\xc2\x85" "b", "\xff" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        cr_assert_eq (missions_rules_idempotency_key (bad [i]), -1, "accepted key %zu", i);
}

Test (missions_rules, request_hash_tells_requests_apart)
{
    char a [MISSIONS_HASH_SIZE], b [MISSIONS_HASH_SIZE];
    cr_assert_eq (missions_rules_request_hash ("t", NULL, 15, "pending", a), 0);
    cr_assert_eq (strlen (a), 64);
    for (size_t i = 0; i < 64; i++)
        cr_assert (strchr ("0123456789abcdef", a [i]), "lower-case hex: %s", a);
    cr_assert_eq (missions_rules_request_hash ("t", NULL, 15, "pending", b), 0);
    cr_assert_str_eq (a, b, "deterministic");

    struct { const char *title, *description; int64_t duration; const char *status; } other [] = {
        { "T", NULL, 15, "pending" },
        { "t", "", 15, "pending" },                 //  empty is not none
        { "t", NULL, 16, "pending" },
        { "t", NULL, 15, "completed" },
        { "t,", NULL, 15, "pending" },
    };
    for (size_t i = 0; i < sizeof other / sizeof other [0]; i++) {
        cr_assert_eq (missions_rules_request_hash (other [i].title, other [i].description,
                                                   other [i].duration, other [i].status, b), 0);
        cr_assert_str_neq (a, b, "case %zu collides", i);
    }
    //  Length prefixes: moving bytes from one field to the next changes it
    cr_assert_eq (missions_rules_request_hash ("ab", "c", 1, "pending", a), 0);
    cr_assert_eq (missions_rules_request_hash ("a", "bc", 1, "pending", b), 0);
    cr_assert_str_neq (a, b);
    cr_assert_eq (missions_rules_request_hash ("1:a,", NULL, 1, "pending", a), 0);
    cr_assert_eq (missions_rules_request_hash ("", "a", 1, "pending", b), 0);
    cr_assert_str_neq (a, b);
}
