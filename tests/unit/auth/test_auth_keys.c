/*  test_auth_keys - a running auth follows its JWT keys on a Kubernetes Secret volume

    The kubelet updates a Secret volume by writing a new ..<timestamp>/
    directory and swapping the ..data link to it; every <name> is a link
    through ..data. Auth must load that layout and notice the swap by
    itself, so a rotated Secret takes effect without a restart.
*/
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <czmq.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "../../../services/auth/auth_keys.h"
#include "tmpdir.h"

#define ISS "https://auth.example.test"
#define AUD "api.example.test"

static char s_dir [64];                 //  the Secret volume, KEYS_DIR/jwt


//  --------------------------------------------------------------------------
//  RFC 7638 thumbprint of key, as keygen names the files.

static void
s_thumbprint (EVP_PKEY *key, char *kid, size_t size)
{
    BIGNUM *bx = NULL, *by = NULL;
    uint8_t x [32], y [32], digest [32];
    char x64 [64], y64 [64], json [256];
    cr_assert (EVP_PKEY_get_bn_param (key, OSSL_PKEY_PARAM_EC_PUB_X, &bx));
    cr_assert (EVP_PKEY_get_bn_param (key, OSSL_PKEY_PARAM_EC_PUB_Y, &by));
    cr_assert_eq (BN_bn2binpad (bx, x, 32), 32);
    cr_assert_eq (BN_bn2binpad (by, y, 32), 32);
    BN_free (bx);
    BN_free (by);
    cr_assert_gt (cm_jwt_b64url_encode (x, 32, x64, sizeof x64), 0);
    cr_assert_gt (cm_jwt_b64url_encode (y, 32, y64, sizeof y64), 0);
    snprintf (json, sizeof json, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
              x64, y64);
    cr_assert (EVP_Digest (json, strlen (json), digest, NULL, EVP_sha256 (), NULL));
    cr_assert_gt (cm_jwt_b64url_encode (digest, 32, kid, size), 0);
}

//  dir/name holding key as PEM, or text when key is NULL; mode 0440 and
//  our group, as the kubelet leaves Secret files with an fsGroup
static void
s_write_file (const char *dir, const char *name, EVP_PKEY *key, const char *text)
{
    char path [512];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen (path, "wx");
    cr_assert_not_null (file, "cannot create %s", path);
    if (key)
        cr_assert (PEM_write_PrivateKey (file, key, NULL, NULL, 0, NULL, NULL));
    else
        cr_assert_geq (fputs (text, file), 0);
    cr_assert_eq (fclose (file), 0);
    cr_assert_eq (chown (path, (uid_t) -1, getegid ()), 0);
    cr_assert_eq (chmod (path, 0440), 0);
}

//  One Secret version: the keys and the rotation text in ts, then ..data
//  swapped to it and a link per file, as the kubelet does
static void
s_publish (const char *ts, EVP_PKEY **keys, char (*kids) [64], int count, const char *rotation)
{
    char data [128], name [128], link [512], target [256];
    snprintf (data, sizeof data, "%s/%s", s_dir, ts);
    cr_assert_eq (mkdir (data, 0755), 0);
    for (int i = 0; i < count; i++) {
        snprintf (name, sizeof name, "%s.pem", kids [i]);
        s_write_file (data, name, keys [i], NULL);
    }
    s_write_file (data, "rotation", NULL, rotation);
    snprintf (link, sizeof link, "%s/..data_tmp", s_dir);
    snprintf (target, sizeof target, "%s/..data", s_dir);
    cr_assert_eq (symlink (ts, link), 0);
    cr_assert_eq (rename (link, target), 0);
    for (int i = 0; i <= count; i++) {
        if (i < count)
            snprintf (name, sizeof name, "%s.pem", kids [i]);
        else
            snprintf (name, sizeof name, "rotation");
        snprintf (link, sizeof link, "%s/%s", s_dir, name);
        snprintf (target, sizeof target, "..data/%s", name);
        if (symlink (target, link) != 0)
            cr_assert_eq (errno, EEXIST);
    }
}

//  The kid in the header of a token signed now
static void
s_signer (char *kid, size_t size)
{
    cm_jwt_claims_t claims = { 0 };
    snprintf (claims.sub, sizeof claims.sub, "0b6c1f9e-3d2a-4c8b-9f1e-7a5d3c2b1a09");
    snprintf (claims.sid, sizeof claims.sid, "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716");
    snprintf (claims.roles [0], sizeof claims.roles [0], "user");
    claims.roles_count = 1;
    snprintf (claims.amr [0], sizeof claims.amr [0], "pwd");
    claims.amr_count = 1;
    claims.iat = claims.auth_time = (int64_t) time (NULL);
    claims.exp = claims.iat + 900;
    char token [CM_JWT_TOKEN_MAX + 1];
    cr_assert_eq (auth_keys_sign (ISS, AUD, &claims, token, sizeof token), 0);
    uint8_t header [512];
    size_t header_len;
    cr_assert_eq (cm_jwt_b64url_decode (token, strcspn (token, "."), header, sizeof header - 1,
                                        &header_len), 0);
    header [header_len] = 0;
    const char *start = strstr ((char *) header, "\"kid\":\"");
    cr_assert_not_null (start, "%s", header);
    start += 7;
    snprintf (kid, size, "%.*s", (int) strcspn (start, "\""), start);
}

Test (auth_keys, follows_a_secret_volume_update, .timeout = 30)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/auth_keys_XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    EVP_PKEY *keys [2];
    char kids [2][64], rotation [256], kid [64];
    for (int i = 0; i < 2; i++) {
        keys [i] = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
        cr_assert_not_null (keys [i]);
        s_thumbprint (keys [i], kids [i], sizeof kids [i]);
    }
    //  Key 0 signs, key 1 is published ahead of its turn
    snprintf (rotation, sizeof rotation, "%s signing 1760000000\n%s next 1760000000\n",
              kids [0], kids [1]);
    s_publish ("..2026_01_02_03_04_05.000000001", keys, kids, 2, rotation);
    cr_assert_eq (auth_keys_init (s_dir), 0, "a Secret volume's layout loads");
    s_signer (kid, sizeof kid);
    cr_assert_str_eq (kid, kids [0]);

    //  The promotion arrives as a new Secret version: same key files, new
    //  rotation file, all behind a new ..data; the kubelet then removes
    //  the old directory
    snprintf (rotation, sizeof rotation, "%s retired 1760000900\n%s signing 1760000900\n",
              kids [0], kids [1]);
    s_publish ("..2026_01_09_03_04_05.000000002", keys, kids, 2, rotation);
    char old [128];
    snprintf (old, sizeof old, "%s/..2026_01_02_03_04_05.000000001", s_dir);
    cr_assert_eq (tmpdir_remove (old), 0);

    //  Auth looks again within AUTH_KEYS_RELOAD_MS, on the request path
    int64_t until = zclock_mono () + 3 * AUTH_KEYS_RELOAD_MS;
    do {
        zclock_sleep (100);
        s_signer (kid, sizeof kid);
    } while (strcmp (kid, kids [1]) != 0 && zclock_mono () < until);
    cr_assert_str_eq (kid, kids [1], "the new signer was not picked up");

    auth_keys_destroy ();
    for (int i = 0; i < 2; i++)
        EVP_PKEY_free (keys [i]);
    cr_assert_eq (tmpdir_remove (s_dir), 0);
}
