/*  test_cm_crypt - sealed values open only with the same key and row */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cm_crypt.h"

Test (cm_crypt, seals_and_opens_only_for_the_same_key_and_row)
{
    uint8_t key [32], other [32];
    memset (key, 7, sizeof key);
    memset (other, 8, sizeof other);
    const char *secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    size_t len = strlen (secret);
    uint8_t sealed [64], opened [64];
    cr_assert_eq (cm_crypt_seal (key, "user-1", (const uint8_t *) secret, len, sealed), 0);
    cr_assert_neq (memcmp (sealed + 12, secret, len), 0, "ciphertext differs from plaintext");
    cr_assert_eq (cm_crypt_open (key, "user-1", sealed, len + CM_CRYPT_OVERHEAD, opened), 0);
    cr_assert_eq (memcmp (opened, secret, len), 0);
    cr_assert_eq (cm_crypt_open (other, "user-1", sealed, len + CM_CRYPT_OVERHEAD, opened), -1);
    cr_assert_eq (cm_crypt_open (key, "user-2", sealed, len + CM_CRYPT_OVERHEAD, opened), -1,
                  "a value copied to another row does not open");
    sealed [20] ^= 1;
    cr_assert_eq (cm_crypt_open (key, "user-1", sealed, len + CM_CRYPT_OVERHEAD, opened), -1);
    cr_assert_eq (cm_crypt_open (key, "user-1", sealed, 10, opened), -1);
    //  Two seals of the same value differ (fresh nonce)
    uint8_t again [64];
    sealed [20] ^= 1;
    cm_crypt_seal (key, "user-1", (const uint8_t *) secret, len, again);
    cr_assert_neq (memcmp (sealed, again, len + CM_CRYPT_OVERHEAD), 0);
}

//  A throwaway key file holding text; its path into path
static void
s_key_file (char *path, size_t size, const char *text)
{
    snprintf (path, size, "/tmp/test_cm_crypt_%d.key", (int) getpid ());
    FILE *file = fopen (path, "w");
    cr_assert (file);
    fputs (text, file);
    fclose (file);
}

Test (cm_crypt, loads_a_key_file_of_64_hex_digits)
{
    const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const char *upper = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";
    const char *endings [] = { "", "\n", "\r\n", "\nsecond line" };
    char path [128], text [80];
    for (size_t i = 0; i < 2 * sizeof endings / sizeof endings [0]; i++) {
        snprintf (text, sizeof text, "%s%s", i % 2? upper: hex, endings [i / 2]);
        s_key_file (path, sizeof path, text);
        uint8_t key [CM_CRYPT_KEY_BYTES];
        cr_assert_eq (cm_crypt_load_key (path, key), 0, "ending %zu", i);
        for (int b = 0; b < CM_CRYPT_KEY_BYTES; b++)
            cr_assert_eq (key [b], b);
        unlink (path);
    }
}

Test (cm_crypt, refuses_malformed_key_files)
{
    const char *bad [] = {
        "",                                                                     //  empty
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e",       //  31 bytes
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2",    //  a digit over
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00",   //  33 bytes
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",     //  not hex
        "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",     //  not hex first
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",     //  far too big
        "\n000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",   //  blank first line
        " 00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",     //  a space
        "+00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",     //  a sign
        "0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",     //  a prefix
    };
    char path [128];
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        s_key_file (path, sizeof path, bad [i]);
        uint8_t key [CM_CRYPT_KEY_BYTES];
        cr_assert_eq (cm_crypt_load_key (path, key), -1, "case %zu", i);
        unlink (path);
    }
    uint8_t key [CM_CRYPT_KEY_BYTES];
    cr_assert_eq (cm_crypt_load_key ("/nonexistent/test_cm_crypt.key", key), -1, "missing");
}

Test (cm_crypt, names_the_key_file)
{
    char path [64];
    cr_assert_eq (cm_crypt_key_path ("/keys", "/etc/k/master.key", "master", path, sizeof path), 0);
    cr_assert_str_eq (path, "/etc/k/master.key", "the configured file wins");
    cr_assert_eq (cm_crypt_key_path ("/keys", "", "master", path, sizeof path), 0);
    cr_assert_str_eq (path, "/keys/secrets/master.key");
    cr_assert_eq (cm_crypt_key_path ("/keys", NULL, "master", path, sizeof path), 0);
    cr_assert_str_eq (path, "/keys/secrets/master.key");
    char small [16];
    cr_assert_eq (cm_crypt_key_path ("/keys", NULL, "master", small, sizeof small), -1, "too long");
    cr_assert_eq (cm_crypt_key_path ("/keys", "/a/very/long/configured/path", "m", small, sizeof small), -1);
}
