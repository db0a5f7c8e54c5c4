/*  test_cm_hex - lower-case hex out, strict hex in */
#include <criterion/criterion.h>
#include <string.h>
#include "cm_hex.h"

Test (cm_hex, encodes_lower_case)
{
    const uint8_t data [] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
    char hex [2 * sizeof data + 1];
    memset (hex, 'x', sizeof hex);
    cm_hex_encode (data, sizeof data, hex);
    cr_assert_str_eq (hex, "00017f80abff");
    cm_hex_encode (data, 0, hex);
    cr_assert_str_eq (hex, "");
}

Test (cm_hex, round_trips_every_byte)
{
    uint8_t data [256], back [256];
    for (int i = 0; i < 256; i++)
        data [i] = (uint8_t) i;
    char hex [2 * sizeof data + 1];
    cm_hex_encode (data, sizeof data, hex);
    cr_assert_eq (cm_hex_decode (hex, back, sizeof back), 0);
    cr_assert_eq (memcmp (data, back, sizeof data), 0);
}

Test (cm_hex, decodes_exactly_the_expected_length)
{
    uint8_t out [4];
    cr_assert_eq (cm_hex_decode ("deadbeef", out, 4), 0);
    cr_assert_eq (out [0], 0xde);
    cr_assert_eq (out [3], 0xef);
    cr_assert_eq (cm_hex_decode ("deadbee", out, 4), -1, "too short");
    cr_assert_eq (cm_hex_decode ("deadbeef0", out, 4), -1, "trailing digit");
    cr_assert_eq (cm_hex_decode ("deadbeef00", out, 4), -1, "too long");
    cr_assert_eq (cm_hex_decode ("deadbeef\n", out, 4), -1, "trailing newline");
    cr_assert_eq (cm_hex_decode ("", out, 0), 0, "nothing is zero bytes");
    cr_assert_eq (cm_hex_decode ("00", out, 0), -1);
}

Test (cm_hex, rejects_anything_but_lower_case_digits)
{
    uint8_t out [2];
    cr_assert_eq (cm_hex_decode ("DEAD", out, 2), -1, "upper case");
    cr_assert_eq (cm_hex_decode ("de g", out, 2), -1);
    cr_assert_eq (cm_hex_decode (" dea", out, 2), -1, "leading space");
    cr_assert_eq (cm_hex_decode ("+dea", out, 2), -1, "sign");
    cr_assert_eq (cm_hex_decode ("0x12", out, 2), -1, "prefix");
    cr_assert_eq (cm_hex_decode ("de\0d", out, 2), -1, "embedded NUL");
}
