/*  test_privacy_cursor - export cursors: every position round-trips, nothing else decodes */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "../../../services/privacy/privacy_cursor.h"
#include "../../../common/cm_jwt.h"

#define UUID_A "0b3c6f1e-2d4a-4c8b-9e7f-a1b2c3d4e5f6"

static void
s_round_trip (const privacy_cursor_t *cursor)
{
    char text [PRIVACY_CURSOR_SIZE];
    cr_assert_eq (privacy_cursor_encode (cursor, text, sizeof text), 0);
    cr_assert_lt (strlen (text), 1024, "fits the wire bound");
    privacy_cursor_t back;
    cr_assert_eq (privacy_cursor_decode (text, &back), 0, "%s", text);
    cr_assert_eq (back.section, cursor->section);
    cr_assert_eq (back.opened, cursor->opened);
    cr_assert_str_eq (back.page, cursor->page);
    cr_assert_str_eq (back.item, cursor->item);
    cr_assert_eq (back.streaming, cursor->streaming);
    cr_assert_eq (back.offset, cursor->offset);
    cr_assert_eq (back.carry_len, cursor->carry_len);
    cr_assert_eq (memcmp (back.carry, cursor->carry, cursor->carry_len), 0);
    //  One spelling per position
    char again [PRIVACY_CURSOR_SIZE];
    cr_assert_eq (privacy_cursor_encode (&back, again, sizeof again), 0);
    cr_assert_str_eq (again, text);
}

Test (privacy_cursor, every_kind_of_position_round_trips)
{
    privacy_cursor_t cursor;
    privacy_cursor_init (&cursor);
    s_round_trip (&cursor);
    for (int section = PRIVACY_SECTION_USER; section < PRIVACY_SECTION_DONE; section++) {
        privacy_cursor_init (&cursor);
        cursor.section = (privacy_section_t) section;
        s_round_trip (&cursor);
    }
    //  A page of missions, half written
    privacy_cursor_init (&cursor);
    cursor.section = PRIVACY_SECTION_MISSIONS;
    cursor.opened = PRIVACY_CURSOR_ITEMS;
    snprintf (cursor.page, sizeof cursor.page, "MTcwMDAwMDAwMDAwMDAwMC4wYjNj");
    s_round_trip (&cursor);
    //  The longest page cursor a source may give, of any text
    memset (cursor.page, 'x', PRIVACY_CURSOR_PAGE_MAX);
    cursor.page [PRIVACY_CURSOR_PAGE_MAX] = 0;
    cursor.page [0] = '.';
    cursor.page [1] = '=';
    s_round_trip (&cursor);
    //  Evidence: before an item, and inside one with each carry
    privacy_cursor_init (&cursor);
    cursor.section = PRIVACY_SECTION_EVIDENCE;
    cursor.opened = PRIVACY_CURSOR_OPENED;
    snprintf (cursor.item, sizeof cursor.item, UUID_A);
    s_round_trip (&cursor);
    cursor.opened = PRIVACY_CURSOR_ITEMS;
    cursor.streaming = true;
    for (uint8_t carry = 0; carry <= 2; carry++) {
        cursor.carry_len = carry;
        cursor.carry [0] = 0x00;
        cursor.carry [1] = 0xff;
        cursor.offset = (int64_t) carry * 7 * PRIVACY_CURSOR_CHUNK;
        s_round_trip (&cursor);
    }
    cursor.offset = PRIVACY_CURSOR_OFFSET_MAX;
    s_round_trip (&cursor);
}

Test (privacy_cursor, positions_that_cannot_be_are_not_encoded)
{
    char text [PRIVACY_CURSOR_SIZE];
    privacy_cursor_t cursor;
    //  Done has no next part
    privacy_cursor_init (&cursor);
    cursor.section = PRIVACY_SECTION_DONE;
    cr_assert_eq (privacy_cursor_encode (&cursor, text, sizeof text), -1);
    cr_assert_str_eq (text, "");
    //  Inside a member written whole
    privacy_cursor_init (&cursor);
    cursor.opened = PRIVACY_CURSOR_OPENED;
    cr_assert_eq (privacy_cursor_encode (&cursor, text, sizeof text), -1);
    //  Streaming outside evidence, off a chunk boundary, without an item, a third carry byte
    privacy_cursor_init (&cursor);
    cursor.section = PRIVACY_SECTION_MISSIONS;
    cursor.opened = PRIVACY_CURSOR_ITEMS;
    cursor.streaming = true;
    snprintf (cursor.item, sizeof cursor.item, UUID_A);
    cr_assert_eq (privacy_cursor_encode (&cursor, text, sizeof text), -1);
    cursor.section = PRIVACY_SECTION_EVIDENCE;
    cursor.offset = 1000;
    cr_assert_eq (privacy_cursor_encode (&cursor, text, sizeof text), -1);
    cursor.offset = 0;
    cursor.item [0] = 0;
    cr_assert_eq (privacy_cursor_encode (&cursor, text, sizeof text), -1);
    snprintf (cursor.item, sizeof cursor.item, UUID_A);
    cursor.carry_len = 3;
    cr_assert_eq (privacy_cursor_encode (&cursor, text, sizeof text), -1);
    //  A carry with no content under way
    cursor.carry_len = 1;
    cursor.streaming = false;
    cr_assert_eq (privacy_cursor_encode (&cursor, text, sizeof text), -1);
    //  An item that is no UUID
    privacy_cursor_init (&cursor);
    cursor.section = PRIVACY_SECTION_EVIDENCE;
    cursor.opened = PRIVACY_CURSOR_OPENED;
    snprintf (cursor.item, sizeof cursor.item, "0B3C6F1E-2D4A-4C8B-9E7F-A1B2C3D4E5F6");
    cr_assert_eq (privacy_cursor_encode (&cursor, text, sizeof text), -1);
}

Test (privacy_cursor, anything_else_is_refused)
{
    char page [64];
    cr_assert_geq (cm_jwt_b64url_encode ((const uint8_t *) "abc", 3, page, sizeof page), 0);
    const char *good [] = {
        "p1.0.0...0.0.",
        "p1.3.2.YWJj..0.0.",
        "p1.4.2.." UUID_A ".1.262144.ab01",
    };
    privacy_cursor_t cursor;
    for (size_t i = 0; i < sizeof good / sizeof good [0]; i++)
        cr_assert_eq (privacy_cursor_decode (good [i], &cursor), 0, "%s", good [i]);
    const char *bad [] = {
        "", "p1", "p2.0.0...0.0.", "p1.0.0...0.0", "p1.0.0...0.0..", "p1.0.0...0.0.x",
        "p1.7.0...0.0.",                                //  done
        "p1.9.0...0.0.", "p1.-1.0...0.0.", "p1.00.0...0.0.", "p1. 0.0...0.0.",
        "p1.3.3...0.0.",                                //  opened out of range
        "p1.3.2.YWJj=..0.0.",                           //  padding
        "p1.3.2.YW+j..0.0.",                            //  not base64url
        "p1.3.2.YWJ..0.0.",                             //  leftover bits
        "p1.3.2.AA..0.0.",                              //  a NUL in the page
        "p1.3.2.gA..0.0.",                              //  not UTF-8
        "p1.3.0.YWJj..0.0.",                            //  a page before the array opened
        "p1.0.0.YWJj..0.0.",                            //  a page in a whole member
        "p1.3.2.." UUID_A ".0.0.",                      //  an item outside evidence
        "p1.4.2..0b3c6f1e.1.0.",                        //  a short item
        "p1.4.2.." UUID_A ".2.0.",                      //  streaming 2
        "p1.4.2.." UUID_A ".1.262143.",                 //  off a chunk
        "p1.4.2.." UUID_A ".1.0262144.",                //  leading zero
        "p1.4.2.." UUID_A ".1.262144.a",                //  half a byte of carry
        "p1.4.2.." UUID_A ".1.262144.AB",               //  upper-case hex
        "p1.4.2.." UUID_A ".1.262144.abcdef",           //  three bytes of carry
        "p1.4.2.." UUID_A ".1.2199023255552.",          //  past the offset bound
        "p1.4.2.." UUID_A ".0.262144.",                 //  an offset without streaming
        "p1.4.2.." UUID_A ".0.0.ab",                    //  a carry without streaming
        "p1.4.1.." UUID_A ".1.0.",                      //  streaming before any item
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        cr_assert_eq (privacy_cursor_decode (bad [i], &cursor), -1, "'%s' decoded", bad [i]);
        cr_assert_eq (cursor.section, PRIVACY_SECTION_USER, "left at the beginning");
    }
    cr_assert_eq (privacy_cursor_decode (NULL, &cursor), -1);
    //  Too long for the wire
    char long_text [PRIVACY_CURSOR_SIZE + 10];
    memset (long_text, 'a', sizeof long_text - 1);
    long_text [sizeof long_text - 1] = 0;
    cr_assert_eq (privacy_cursor_decode (long_text, &cursor), -1);
}
