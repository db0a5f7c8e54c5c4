/*  test_auth_secret - token shape, stored hash, constant-time equality */
#include <criterion/criterion.h>
#include <string.h>
#include "../../../services/auth/auth_secret.h"

#define BASE64URL "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

Test (auth_secret, a_token_is_43_base64url_characters)
{
    char a [AUTH_SECRET_TOKEN_SIZE], b [AUTH_SECRET_TOKEN_SIZE];
    cr_assert_eq (auth_secret_token (a, sizeof a), 0);
    cr_assert_eq (auth_secret_token (b, sizeof b), 0);
    cr_assert_eq (strlen (a), 43);
    cr_assert_eq (strspn (a, BASE64URL), 43, "'%s' has a character outside base64url", a);
    cr_assert_null (strchr (a, '='), "no padding");
    //  256 bits fill 42 characters and 4 bits of the 43rd: its last 2 bits are zero
    const char *last = strchr (BASE64URL, a [42]);
    cr_assert_not_null (last);
    cr_assert_eq ((last - BASE64URL) & 3, 0, "'%c' carries bits past the 32 bytes", a [42]);
    cr_assert_str_neq (a, b);
}

Test (auth_secret, tokens_do_not_repeat)
{
    char tokens [64][AUTH_SECRET_TOKEN_SIZE];
    for (int i = 0; i < 64; i++) {
        cr_assert_eq (auth_secret_token (tokens [i], sizeof tokens [i]), 0);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq (tokens [i], tokens [j]);
    }
}

Test (auth_secret, a_token_needs_room_for_44_bytes)
{
    char out [AUTH_SECRET_TOKEN_SIZE] = "x";
    cr_assert_eq (auth_secret_token (out, AUTH_SECRET_TOKEN_SIZE - 1), -1);
    cr_assert_str_empty (out);
}

Test (auth_secret, hash_is_sha256_in_lower_case_hex)
{
    char hex [AUTH_SECRET_HASH_SIZE];
    cr_assert_eq (auth_secret_hash ("", hex), 0);
    cr_assert_str_eq (hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cr_assert_eq (auth_secret_hash ("abc", hex), 0);
    cr_assert_str_eq (hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_assert_eq (auth_secret_hash ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", hex), 0);
    cr_assert_str_eq (hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

    //  The stored form of a fresh token: 64 hex digits, the same every time
    char token [AUTH_SECRET_TOKEN_SIZE], again [AUTH_SECRET_HASH_SIZE];
    cr_assert_eq (auth_secret_token (token, sizeof token), 0);
    cr_assert_eq (auth_secret_hash (token, hex), 0);
    cr_assert_eq (strlen (hex), 64);
    cr_assert_eq (strspn (hex, "0123456789abcdef"), 64);
    cr_assert_eq (auth_secret_hash (token, again), 0);
    cr_assert_str_eq (hex, again);
}

Test (auth_secret, equal_compares_whole_strings)
{
    cr_assert (auth_secret_equal ("", ""));
    cr_assert (auth_secret_equal ("same-token", "same-token"));
    cr_assert_not (auth_secret_equal ("same-token", "same-tokeN"));
    cr_assert_not (auth_secret_equal ("Xame-token", "same-token"));
    cr_assert_not (auth_secret_equal ("abc", "abcd"), "a prefix is not equal");
    cr_assert_not (auth_secret_equal ("abcd", "abc"));
    cr_assert_not (auth_secret_equal ("", "a"));

    char a [AUTH_SECRET_HASH_SIZE], b [AUTH_SECRET_HASH_SIZE];
    cr_assert_eq (auth_secret_hash ("token-one", a), 0);
    cr_assert_eq (auth_secret_hash ("token-one", b), 0);
    cr_assert (auth_secret_equal (a, b));
    cr_assert_eq (auth_secret_hash ("token-two", b), 0);
    cr_assert_not (auth_secret_equal (a, b));
}
