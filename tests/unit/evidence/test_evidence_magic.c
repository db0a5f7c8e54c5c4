/*  test_evidence_magic - accepted types, signatures, UTF-8 and filenames */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "../../../services/evidence/evidence_magic.h"

#define B(s) ((const uint8_t *) (s))

//  ---------------------------------------------------------------------
//  Declared types

Test (evidence_magic, the_five_types_in_any_letter_case)
{
    const char *types [] = { "image/png", "image/jpeg", "image/webp", "application/pdf", "text/plain" };
    for (size_t i = 0; i < 5; i++) {
        cr_assert_str_eq (evidence_magic_type (types [i]), types [i]);
        char upper [32];
        for (size_t k = 0; k <= strlen (types [i]); k++)
            upper [k] = (char) (types [i][k] >= 'a' && types [i][k] <= 'z'? types [i][k] - 32: types [i][k]);
        cr_assert_str_eq (evidence_magic_type (upper), types [i], "%s", upper);
        char spaced [40];
        snprintf (spaced, sizeof spaced, " \t%s \t", types [i]);
        cr_assert_str_eq (evidence_magic_type (spaced), types [i]);
    }
    cr_assert_str_eq (evidence_magic_type ("Image/Png"), "image/png");
}

Test (evidence_magic, only_text_plain_takes_a_parameter_and_only_utf_8)
{
    const char *good [] = { "text/plain; charset=utf-8", "text/plain;charset=utf-8", "TEXT/PLAIN; CHARSET=UTF-8",
                            "text/plain; charset=\"utf-8\"", "text/plain ; charset=utf-8 ", "text/plain;\tcharset=Utf-8" };
    for (size_t i = 0; i < sizeof good / sizeof good [0]; i++)
        cr_assert_str_eq (evidence_magic_type (good [i]), "text/plain", "'%s'", good [i]);
    const char *bad [] = { "text/plain; charset=latin1", "text/plain; charset=utf-16", "text/plain; charset=utf-8x",
                           "text/plain; charset=utf8", "text/plain; charset=utf-8; format=flowed",
                           "text/plain; charset = utf-8", "text/plain; format=flowed", "text/plain;",
                           "text/plain; charset=", "text/plain; charset=\"utf-8", "image/png; charset=utf-8",
                           "application/pdf; version=1.7", "image/jpeg;", "image/webp; q=1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        cr_assert_null (evidence_magic_type (bad [i]), "'%s'", bad [i]);
}

Test (evidence_magic, everything_else_is_refused)
{
    const char *bad [] = { "", " ", "image/gif", "image/svg+xml", "text/html", "application/octet-stream",
                           "image/png2", "image/pn", "image", "png", "image/ png", "image /png", "image/png\n",
                           "image/png,image/jpeg", "application/x-pdf", "text/plain\x01", "*/*", "text/*",
                           "image/png\xc2\xa0" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        cr_assert_null (evidence_magic_type (bad [i]), "'%s'", bad [i]);
    cr_assert_null (evidence_magic_type (NULL));
}

//  ---------------------------------------------------------------------
//  Signatures

static const struct {
    const char *type;
    const char *head;
    size_t len;
} s_files [] = {
    { "image/png", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16 },
    { "image/jpeg", "\xff\xd8\xff\xe0\0\x10JFIF", 10 },
    { "image/webp", "RIFF\x24\0\0\0WEBPVP8 ", 16 },
    { "application/pdf", "%PDF-1.7\n%\xe2\xe3\xcf\xd3", 14 },
    { "text/plain", "hello, world\n", 13 },
};
#define FILES (sizeof s_files / sizeof s_files [0])

Test (evidence_magic, each_type_matches_its_own_bytes_and_no_other)
{
    for (size_t t = 0; t < FILES; t++)
        for (size_t f = 0; f < FILES; f++) {
            bool match = evidence_magic_match (s_files [t].type, B (s_files [f].head), s_files [f].len);
            //  The binary samples hold NULs or bytes that are not UTF-8
            bool expected = t == f;
            cr_assert_eq (match, expected, "%s with the bytes of %s", s_files [t].type, s_files [f].type);
        }
}

Test (evidence_magic, signatures_must_be_whole_and_exact)
{
    cr_assert (evidence_magic_match ("image/png", B ("\x89PNG\r\n\x1a\n"), 8));
    cr_assert_not (evidence_magic_match ("image/png", B ("\x89PNG\r\n\x1a\n"), 7), "one byte short");
    cr_assert_not (evidence_magic_match ("image/png", B ("\x89PNG\n\n\x1a\n"), 8), "line ending mangled");
    cr_assert_not (evidence_magic_match ("image/png", B ("\x88PNG\r\n\x1a\n"), 8));
    cr_assert (evidence_magic_match ("image/jpeg", B ("\xff\xd8\xff"), 3));
    cr_assert_not (evidence_magic_match ("image/jpeg", B ("\xff\xd8\xff"), 2));
    cr_assert_not (evidence_magic_match ("image/jpeg", B ("\xff\xd8\xfe"), 3));
    cr_assert (evidence_magic_match ("image/webp", B ("RIFF\xff\xff\xff\xffWEBP"), 12), "any RIFF size");
    cr_assert_not (evidence_magic_match ("image/webp", B ("RIFF\0\0\0\0WAVE"), 12), "RIFF but not WebP");
    cr_assert_not (evidence_magic_match ("image/webp", B ("RIFX\0\0\0\0WEBP"), 12));
    cr_assert_not (evidence_magic_match ("image/webp", B ("RIFF\0\0\0\0WEB"), 11));
    cr_assert (evidence_magic_match ("application/pdf", B ("%PDF-"), 5));
    cr_assert_not (evidence_magic_match ("application/pdf", B ("%PDF"), 4));
    cr_assert_not (evidence_magic_match ("application/pdf", B (" %PDF-1.4"), 9), "not at the start");
    cr_assert_not (evidence_magic_match ("application/pdf", B ("%pdf-1.4"), 8));
    //  Nothing matches nothing; unknown types match nothing
    for (size_t t = 0; t < 4; t++)
        cr_assert_not (evidence_magic_match (s_files [t].type, B (""), 0));
    cr_assert_not (evidence_magic_match ("image/gif", B ("GIF89a"), 6));
    cr_assert_not (evidence_magic_match (NULL, B ("GIF89a"), 6));
    cr_assert_not (evidence_magic_match ("image/png", NULL, 0));
}

Test (evidence_magic, text_head_refuses_nul_and_bad_utf8_but_not_a_cut_character)
{
    cr_assert (evidence_magic_match ("text/plain", B ("caf\xc3\xa9"), 5));
    cr_assert (evidence_magic_match ("text/plain", B ("caf\xc3"), 4), "the rest comes in the next chunk");
    cr_assert (evidence_magic_match ("text/plain", B ("\xef\xbb\xbfhi"), 5), "a byte order mark is text");
    cr_assert_not (evidence_magic_match ("text/plain", B ("a\0b"), 3));
    cr_assert_not (evidence_magic_match ("text/plain", B ("\xff\xfeh\0i\0"), 6), "UTF-16 is not UTF-8");
    cr_assert_not (evidence_magic_match ("text/plain", B ("caf\xe9 au lait"), 12), "Latin-1 is not UTF-8");
}

//  ---------------------------------------------------------------------
//  UTF-8, fed in pieces

static bool
s_utf8 (const char *text, size_t len)
{
    evidence_magic_utf8_t utf8;
    evidence_magic_utf8_init (&utf8);
    evidence_magic_utf8_feed (&utf8, B (text), len);
    return evidence_magic_utf8_valid (&utf8);
}

//  The verdict must not depend on where the pieces are cut
static bool
s_utf8_cut_everywhere (const char *text, size_t len)
{
    bool whole = s_utf8 (text, len);
    for (size_t cut = 0; cut <= len; cut++)
        for (size_t cut2 = cut; cut2 <= len; cut2++) {
            evidence_magic_utf8_t utf8;
            evidence_magic_utf8_init (&utf8);
            evidence_magic_utf8_feed (&utf8, B (text), cut);
            evidence_magic_utf8_feed (&utf8, B (text) + cut, cut2 - cut);
            evidence_magic_utf8_feed (&utf8, B (text) + cut2, len - cut2);
            cr_assert_eq (evidence_magic_utf8_valid (&utf8), whole, "cut at %zu and %zu", cut, cut2);
        }
    evidence_magic_utf8_t utf8;
    evidence_magic_utf8_init (&utf8);
    for (size_t i = 0; i < len; i++)
        evidence_magic_utf8_feed (&utf8, B (text) + i, 1);
    cr_assert_eq (evidence_magic_utf8_valid (&utf8), whole, "byte by byte");
    return whole;
}

Test (evidence_magic, valid_utf8_in_any_pieces)
{
    const char *good [] = {
        "", "plain ASCII", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
        "a\xc3\xa9z\xe2\x82\xac\xf0\x9f\x98\x80!", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xef\xbf\xbf",
        "\xed\x9f\xbf", "\xee\x80\x80", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\xef\xbb\xbf" "BOM",
        "\x7f", "line\r\nbreak\ttab",
    };
    for (size_t i = 0; i < sizeof good / sizeof good [0]; i++)
        cr_assert (s_utf8_cut_everywhere (good [i], strlen (good [i])), "good %zu", i);
}

Test (evidence_magic, invalid_utf8_in_any_pieces)
{
    struct { const char *text; size_t len; } bad [] = {
        { "\0", 1 }, { "a\0b", 3 },                                 //  NUL
        { "\x80", 1 }, { "a\xbf", 2 },                              //  lone continuation
        { "\xc0\x80", 2 }, { "\xc1\xbf", 2 },                       //  overlong 2-byte
        { "\xe0\x80\x80", 3 }, { "\xe0\x9f\xbf", 3 },               //  overlong 3-byte
        { "\xf0\x80\x80\x80", 4 }, { "\xf0\x8f\xbf\xbf", 4 },       //  overlong 4-byte
        { "\xed\xa0\x80", 3 }, { "\xed\xbf\xbf", 3 },               //  surrogates
        { "\xf4\x90\x80\x80", 4 }, { "\xf7\xbf\xbf\xbf", 4 },       //  past U+10FFFF
        { "\xf8\x88\x80\x80\x80", 5 }, { "\xfe", 1 }, { "\xff", 1 }, //  never in UTF-8
        { "\xc3", 1 }, { "ab\xe2\x82", 4 }, { "\xf0\x9f\x98", 3 },   //  cut at the end
        { "\xc3\x28", 2 }, { "\xe2\x28\xa1", 3 }, { "\xf0\x28\x8c\x28", 4 }, //  bad continuation
        { "\xe2\x82\xac\xe2\x82", 5 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        cr_assert_not (s_utf8_cut_everywhere (bad [i].text, bad [i].len), "bad %zu", i);
}

Test (evidence_magic, utf8_stays_bad_once_bad)
{
    evidence_magic_utf8_t utf8;
    evidence_magic_utf8_init (&utf8);
    evidence_magic_utf8_feed (&utf8, B ("ok\xff"), 3);
    evidence_magic_utf8_feed (&utf8, B ("fine again"), 10);
    cr_assert_not (evidence_magic_utf8_valid (&utf8));
    //  A character straddling two 64 KiB segments
    static uint8_t big [2 * 65536];
    memset (big, 'x', sizeof big);
    memcpy (big + 65535, "\xe2\x82\xac", 3);
    evidence_magic_utf8_init (&utf8);
    evidence_magic_utf8_feed (&utf8, big, 65536);
    cr_assert (utf8.carry_len == 1);
    evidence_magic_utf8_feed (&utf8, big + 65536, 65536);
    cr_assert (evidence_magic_utf8_valid (&utf8));
}

//  ---------------------------------------------------------------------
//  Filenames

static int
s_name (const char *given, char *out)
{
    return evidence_magic_filename (given, out, EVIDENCE_MAGIC_NAME_SIZE);
}

Test (evidence_magic, filenames_are_trimmed_and_kept)
{
    char out [EVIDENCE_MAGIC_NAME_SIZE];
    cr_assert_eq (s_name ("report.pdf", out), 0);
    cr_assert_str_eq (out, "report.pdf");
    cr_assert_eq (s_name ("  \t photo 1.png \r\n ", out), 0);
    cr_assert_str_eq (out, "photo 1.png");
    cr_assert_eq (s_name ("r\xc3\xa9sum\xc3\xa9 \xf0\x9f\x98\x80.txt", out), 0);
    cr_assert_str_eq (out, "r\xc3\xa9sum\xc3\xa9 \xf0\x9f\x98\x80.txt");
    cr_assert_eq (s_name ("..", out), 0, "a name, not a path: it never touches the file system");
    cr_assert_eq (s_name ("<img src=x onerror=alert(1)>.png", out), 0, "metadata, escaped where shown");
}

Test (evidence_magic, filenames_are_1_to_255_characters)
{
    char given [2048], out [EVIDENCE_MAGIC_NAME_SIZE];
    cr_assert_eq (s_name ("", out), EVIDENCE_MAGIC_NAME_LENGTH);
    cr_assert_eq (s_name ("   \t ", out), EVIDENCE_MAGIC_NAME_LENGTH);
    cr_assert_str_empty (out);
    cr_assert_eq (s_name ("a", out), 0);
    memset (given, 'a', 255);
    given [255] = 0;
    cr_assert_eq (s_name (given, out), 0);
    cr_assert_eq (strlen (out), 255);
    given [255] = 'a';
    given [256] = 0;
    cr_assert_eq (s_name (given, out), EVIDENCE_MAGIC_NAME_LENGTH);
    //  Characters, not bytes: 255 four-byte characters fit, 256 do not
    given [0] = 0;
    for (int i = 0; i < 255; i++)
        strcat (given, "\xf0\x9f\x98\x80");
    cr_assert_eq (s_name (given, out), 0);
    cr_assert_eq (strlen (out), 1020);
    strcat (given, "\xf0\x9f\x98\x80");
    cr_assert_eq (s_name (given, out), EVIDENCE_MAGIC_NAME_LENGTH);
    //  Trimming comes first
    memset (given, ' ', 100);
    memset (given + 100, 'b', 255);
    memset (given + 355, ' ', 100);
    given [455] = 0;
    cr_assert_eq (s_name (given, out), 0);
    cr_assert_eq (strlen (out), 255);
    //  A too small output buffer is refused, not overrun
    cr_assert_eq (evidence_magic_filename ("a", out, 10), EVIDENCE_MAGIC_NAME_LENGTH);
    cr_assert_eq (evidence_magic_filename (NULL, out, sizeof out), EVIDENCE_MAGIC_NAME_LENGTH);
}

Test (evidence_magic, filenames_refuse_separators_and_control_characters)
{
    char out [EVIDENCE_MAGIC_NAME_SIZE];
    const char *bad [] = { "../../etc/passwd", "a/b", "/", "a\\b", "\\", "C:\\x.png", "a\tb", "a\nb", "a\rb",
                           "a\x01" "b", "a\x1f" "b", "a\x7f" "b", "a\xc2\x80" "b", "a\xc2\x85" "b", "a\xc2\x9f" "b",
                           "x\xff", "x\xc3", "x\xed\xa0\x80" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        cr_assert_eq (s_name (bad [i], out), EVIDENCE_MAGIC_NAME_CHARS, "bad %zu", i);
        cr_assert_str_empty (out);
    }
    //  U+00A0 (C2 A0) is a printable character, not a C1 control
    cr_assert_eq (s_name ("a\xc2\xa0" "b", out), 0);
}
