/*  test_cm_cursor - keyset page cursors round-trip; forged and garbled ones are refused */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cm_cursor.h"
#include "cm_jwt.h"

#define UUID_A "0b3c6f1e-2d4a-4c8b-9e7f-a1b2c3d4e5f6"

//  count copies of c into a fresh string (caller frees)
static char *
s_repeat (char c, size_t count)
{
    char *out = malloc (count + 1);
    memset (out, c, count);
    out [count] = 0;
    return out;
}

//  base64url of text, for hand-made cursors
static void
s_b64 (const char *text, char *out, size_t size)
{
    cr_assert_geq (cm_jwt_b64url_encode ((const uint8_t *) text, strlen (text), out, size), 0);
}

Test (cm_cursor, cursor_round_trip)
{
    struct { int64_t us; const char *id; } cases [] = {
        { 1763900741123456, UUID_A },
        { 0, "00000000-0000-4000-8000-000000000000" },
        { 1, "ffffffff-ffff-4fff-bfff-ffffffffffff" },
        { CM_CURSOR_US_MAX, UUID_A },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char cursor [CM_CURSOR_SIZE], id [37];
        int64_t us = -1;
        cr_assert_eq (cm_cursor_encode (cases [i].us, cases [i].id, cursor, sizeof cursor), 0);
        for (const char *c = cursor; *c; c++)
            cr_assert (strchr ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *c),
                       "URL-safe: %s", cursor);
        cr_assert_eq (cm_cursor_decode (cursor, &us, id), 0, "%s", cursor);
        cr_assert_eq (us, cases [i].us);
        cr_assert_str_eq (id, cases [i].id);
    }
    //  It is the base64url of "<microseconds>.<id>"
    char cursor [CM_CURSOR_SIZE], expected [CM_CURSOR_SIZE];
    cr_assert_eq (cm_cursor_encode (1763900741123456, UUID_A, cursor, sizeof cursor), 0);
    s_b64 ("1763900741123456." UUID_A, expected, sizeof expected);
    cr_assert_str_eq (cursor, expected);
}

Test (cm_cursor, cursor_encode_refuses_what_it_cannot_hold)
{
    char cursor [CM_CURSOR_SIZE];
    cr_assert_eq (cm_cursor_encode (-1, UUID_A, cursor, sizeof cursor), -1);
    cr_assert_str_empty (cursor);
    cr_assert_eq (cm_cursor_encode (CM_CURSOR_US_MAX + 1, UUID_A, cursor, sizeof cursor), -1);
    cr_assert_eq (cm_cursor_encode (1, NULL, cursor, sizeof cursor), -1);
    cr_assert_eq (cm_cursor_encode (1, "0B3C6F1E-2D4A-4C8B-9E7F-A1B2C3D4E5F6", cursor, sizeof cursor), -1);
    cr_assert_eq (cm_cursor_encode (1, "not-a-uuid", cursor, sizeof cursor), -1);
}

Test (cm_cursor, cursor_decode_refuses_forged_and_garbled)
{
    char good [CM_CURSOR_SIZE];
    cr_assert_eq (cm_cursor_encode (1763900741123456, UUID_A, good, sizeof good), 0);
    size_t good_len = strlen (good);

    //  Payloads that are not "<canonical digits>.<lower-case uuid>"
    const char *payloads [] = {
        "not-a-cursor",
        "",
        ".",
        "1763900741123456",
        "1763900741123456.",
        "." UUID_A,
        "-1." UUID_A,
        "+1." UUID_A,
        " 1." UUID_A,
        "01." UUID_A,
        "00." UUID_A,
        "1e6." UUID_A,
        "1.5." UUID_A,
        "0x10." UUID_A,
        "1763900741123456." "0B3C6F1E-2D4A-4C8B-9E7F-A1B2C3D4E5F6",
        "1763900741123456." "0b3c6f1e2d4a4c8b9e7fa1b2c3d4e5f6",
        "1763900741123456." "0b3c6f1e-2d4a-4c8b-9e7f-a1b2c3d4e5f",
        "1763900741123456." UUID_A "0",
        "1763900741123456." UUID_A ".",
        "1763900741123456," UUID_A,
        "1763900741123456:" UUID_A,
        "253402300800000000." UUID_A,          //  CM_CURSOR_US_MAX + 1
        "9999999999999999999." UUID_A,         //  past int64
        "99999999999999999999999." UUID_A,
        UUID_A "." "1763900741123456",
    };
    for (size_t i = 0; i < sizeof payloads / sizeof payloads [0]; i++) {
        char cursor [CM_CURSOR_SIZE * 2], id [37] = "x";
        int64_t us = 42;
        s_b64 (payloads [i], cursor, sizeof cursor);
        cr_assert_eq (cm_cursor_decode (cursor, &us, id), -1, "accepted '%s'", payloads [i]);
        cr_assert_eq (us, 0);
        cr_assert_str_empty (id);
    }
    //  A NUL inside the payload
    char with_nul [CM_CURSOR_SIZE], id [37];
    int64_t us;
    const char raw [] = "17639\0" "0741123456." UUID_A;
    cr_assert_geq (cm_jwt_b64url_encode ((const uint8_t *) raw, sizeof raw - 1, with_nul, sizeof with_nul), 0);
    cr_assert_eq (cm_cursor_decode (with_nul, &us, id), -1);

    //  Text that is not canonical unpadded base64url
    char *garbled [12];
    size_t n = 0;
    garbled [n++] = strdup ("");
    garbled [n++] = strdup ("!!!!");
    garbled [n++] = strdup ("not a cursor");
    garbled [n++] = malloc (good_len + 3);
    sprintf (garbled [n - 1], "%s==", good);                        //  padding
    garbled [n++] = malloc (good_len + 2);
    sprintf (garbled [n - 1], "%s=", good);
    garbled [n++] = malloc (good_len + 2);
    sprintf (garbled [n - 1], "%sA", good);                         //  one character too many
    garbled [n++] = strndup (good, good_len - 1);                   //  truncated
    garbled [n++] = strdup (good);
    garbled [n - 1] [good_len / 2] = '+';                           //  base64, not base64url
    garbled [n++] = strdup (good);
    garbled [n - 1] [good_len / 2] = '/';
    garbled [n++] = strdup (good);
    garbled [n - 1] [3] = ' ';
    garbled [n++] = s_repeat ('A', 200);                            //  far too long
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq (cm_cursor_decode (garbled [i], &us, id), -1, "accepted '%s'", garbled [i]);
        free (garbled [i]);
    }
    cr_assert_eq (cm_cursor_decode (NULL, &us, id), -1);

    //  Non-zero leftover bits: a second spelling of the same bytes
    char other [CM_CURSOR_SIZE];
    snprintf (other, sizeof other, "%s", good);
    if (good_len % 4) {
        char *last = &other [good_len - 1];
        const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        *last = alphabet [(strchr (alphabet, *last) - alphabet) | 1];
        if (strcmp (other, good))
            cr_assert_eq (cm_cursor_decode (other, &us, id), -1, "accepted '%s'", other);
    }
    //  Every single-character change of a good cursor decodes to another
    //  valid cursor or is refused; it never crashes or reads past the end
    for (size_t i = 0; i < good_len; i++) {
        snprintf (other, sizeof other, "%s", good);
        other [i] = other [i] == 'z'? '0': 'z';
        int rc = cm_cursor_decode (other, &us, id);
        cr_assert (rc == 0 || rc == -1);
    }
    //  And the good one still decodes
    cr_assert_eq (cm_cursor_decode (good, &us, id), 0);
}
