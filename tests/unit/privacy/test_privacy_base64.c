/*  test_privacy_base64 - base64 of a stream in pieces equals base64 of the whole */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "../../../services/privacy/privacy_base64.h"
#include "../../../services/privacy/privacy_cursor.h"

//  The reference: OpenSSL's one-shot encoder of the whole buffer
static char *
s_reference (const uint8_t *data, size_t len)
{
    char *out = malloc (len / 3 * 4 + 8);
    int n = EVP_EncodeBlock ((unsigned char *) out, data, (int) len);
    out [n] = 0;
    return out;
}

static uint8_t *
s_data (size_t len, unsigned seed)
{
    uint8_t *data = malloc (len + 1);
    for (size_t i = 0; i < len; i++)
        data [i] = (uint8_t) ((i * 7919 + seed) >> 3 ^ i);
    return data;
}

//  Encode data in pieces of piece bytes; a fresh NUL-terminated string
static char *
s_pieces (const uint8_t *data, size_t len, size_t piece)
{
    char *out = malloc (len / 3 * 4 + 8);
    size_t at = 0;
    privacy_base64_t b64 = { .carry_len = 0 };
    for (size_t done = 0; done < len; done += piece) {
        size_t n = len - done < piece? len - done: piece;
        size_t expect = privacy_base64_update_size (&b64, n);
        size_t wrote = privacy_base64_update (&b64, data + done, n, out + at);
        cr_assert_eq (wrote, expect);
        cr_assert_leq (b64.carry_len, 2);
        at += wrote;
    }
    at += privacy_base64_final (&b64, out + at);
    cr_assert_eq (b64.carry_len, 0);
    out [at] = 0;
    return out;
}

Test (privacy_base64, known_vectors)
{
    //  RFC 4648 section 10
    const char *in [] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    const char *out [] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    for (size_t i = 0; i < 7; i++) {
        char *text = s_pieces ((const uint8_t *) in [i], strlen (in [i]), 1);
        cr_assert_str_eq (text, out [i]);
        free (text);
    }
}

Test (privacy_base64, chunks_of_256_kib_carry_their_odd_bytes)
{
    //  262144 % 3 == 1: every chunk leaves a byte over, and the carry
    //  cycles through 1, 2, 0 across chunks
    const size_t chunk = PRIVACY_CURSOR_CHUNK;
    cr_assert_eq (chunk % 3, 1);
    size_t sizes [] = { 1, 2, 3, chunk - 1, chunk, chunk + 1, 2 * chunk, 3 * chunk, 3 * chunk + 2,
                        10 * 1024 * 1024 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes [0]; i++) {
        uint8_t *data = s_data (sizes [i], (unsigned) i);
        char *whole = s_reference (data, sizes [i]);
        char *streamed = s_pieces (data, sizes [i], chunk);
        cr_assert_str_eq (streamed, whole, "size %zu", sizes [i]);
        free (streamed);
        free (whole);
        free (data);
    }
}

Test (privacy_base64, any_piece_size_gives_the_same_text)
{
    uint8_t *data = s_data (1000, 7);
    char *whole = s_reference (data, 1000);
    for (size_t piece = 1; piece <= 20; piece++) {
        char *streamed = s_pieces (data, 1000, piece);
        cr_assert_str_eq (streamed, whole, "pieces of %zu", piece);
        free (streamed);
    }
    free (whole);
    free (data);
}

Test (privacy_base64, the_carry_survives_a_cursor_between_parts)
{
    //  As an export does: encode a chunk, put the carry in a cursor, encode
    //  the cursor to text and back (another part, maybe another replica),
    //  go on from the decoded carry
    const size_t chunk = PRIVACY_CURSOR_CHUNK, len = 5 * chunk + 123;
    uint8_t *data = s_data (len, 99);
    char *whole = s_reference (data, len);
    char *out = malloc (len / 3 * 4 + 8);
    size_t at = 0;
    privacy_cursor_t cursor;
    privacy_cursor_init (&cursor);
    cursor.section = PRIVACY_SECTION_EVIDENCE;
    cursor.opened = PRIVACY_CURSOR_ITEMS;
    snprintf (cursor.item, sizeof cursor.item, "0b3c6f1e-2d4a-4c8b-9e7f-a1b2c3d4e5f6");
    cursor.streaming = true;
    while (cursor.streaming) {
        privacy_base64_t b64;
        memcpy (b64.carry, cursor.carry, 2);
        b64.carry_len = cursor.carry_len;
        size_t n = len - (size_t) cursor.offset < chunk? len - (size_t) cursor.offset: chunk;
        at += privacy_base64_update (&b64, data + cursor.offset, n, out + at);
        cursor.offset += (int64_t) n;
        if ((size_t) cursor.offset == len) {
            at += privacy_base64_final (&b64, out + at);
            break;
        }
        memcpy (cursor.carry, b64.carry, 2);
        cursor.carry_len = (uint8_t) b64.carry_len;
        char text [PRIVACY_CURSOR_SIZE];
        cr_assert_eq (privacy_cursor_encode (&cursor, text, sizeof text), 0);
        cr_assert_eq (privacy_cursor_decode (text, &cursor), 0, "%s", text);
        cr_assert_eq (cursor.carry_len, b64.carry_len);
    }
    out [at] = 0;
    cr_assert_str_eq (out, whole);
    free (out);
    free (whole);
    free (data);
}
