/*  test_cm_crypt - sealed values open only with the same key and row */
#include <criterion/criterion.h>
#include <string.h>
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
