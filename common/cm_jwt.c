/*  cm_jwt - ES256 access tokens: key set, signing and strict verification

    A key set holds, per kid, a public-only EVP_PKEY built once from the
    JWK coordinates; the private key is kept for the signing key alone.
    Verification never parses PEM and never writes to the set: it makes its
    own EVP_MD_CTX and works in buffers on its stack, so the gateway's HTTP
    threads can share one set without locks.
*/
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include "cm_jwt.h"
#include "cm_jwt_rotation.h"
#include "../proto/proto_codec.h"

#define COORD_LEN       32                      //  P-256 coordinate or scalar, bytes
#define SIG_LEN         (2 * COORD_LEN)         //  JWS ES256 signature: r || s
#define DER_SIG_MAX     80                      //  DER ECDSA-Sig-Value of P-256 fits in 72
#define HEADER_MAX      512                     //  decoded JOSE header, bytes
#define SEGMENT_MAX     (CM_JWT_TOKEN_MAX / 4 * 3)  //  any decoded segment fits
#define PEM_FILE_MAX    16384                   //  a P-256 PKCS#8 PEM is ~240 bytes
#define TIME_MAX        253402300799LL          //  9999-12-31T23:59:59Z
#define JTI_RANDOM      16                      //  bytes behind a generated jti

typedef struct {
    char kid [CM_JWT_KID_MAX];          //  key id, base64url charset
    char x [CM_JWT_COORD_B64];          //  JWK x, 43 base64url chars
    char y [CM_JWT_COORD_B64];          //  JWK y, 43 base64url chars
    EVP_PKEY *pub;                      //  public-only key for verify, owned
} jwt_key_t;

struct cm_jwt_keys_s {
    EVP_MD *sha256;                     //  fetched once, owned
    EVP_PKEY *signer;                   //  private key of keys [signer_index], owned;
                                        //  NULL when the set only verifies
    size_t signer_index;                //  which entry signer belongs to
    size_t count;                       //  entries of keys in use
    jwt_key_t keys [CM_JWT_KEYS_MAX];   //  every key, public parts
};

//  The order n of P-256, big-endian: r and s must lie in 1..n-1
static const uint8_t s_p256_order [COORD_LEN] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84,
    0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51
};

static const char s_b64url_alphabet [] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


//  --------------------------------------------------------------------------
//  Value of one base64url character, or -1 for anything else ('=', '+',
//  '/', whitespace and NUL included).

static int
s_b64url_value (unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}


//  --------------------------------------------------------------------------
//  Encode len bytes as base64url without padding. Returns the text length,
//  or -1 when out (size bytes, NUL included) is too small.

int
cm_jwt_b64url_encode (const uint8_t *in, size_t len, char *out, size_t size)
{
    assert (in || len == 0);
    assert (out || size == 0);
    //  Written this way so a huge len cannot wrap the computation around
    if (len / 3 >= (size_t) INT32_MAX / 4)
        return -1;
    size_t need = len / 3 * 4 + (len % 3? len % 3 + 1: 0);
    if (need >= size)
        return -1;

    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t) in [i] << 16 | (uint32_t) in [i + 1] << 8 | in [i + 2];
        out [o++] = s_b64url_alphabet [v >> 18];
        out [o++] = s_b64url_alphabet [(v >> 12) & 63];
        out [o++] = s_b64url_alphabet [(v >> 6) & 63];
        out [o++] = s_b64url_alphabet [v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t) in [i] << 16;
        out [o++] = s_b64url_alphabet [v >> 18];
        out [o++] = s_b64url_alphabet [(v >> 12) & 63];
    }
    else
    if (len - i == 2) {
        uint32_t v = (uint32_t) in [i] << 16 | (uint32_t) in [i + 1] << 8;
        out [o++] = s_b64url_alphabet [v >> 18];
        out [o++] = s_b64url_alphabet [(v >> 12) & 63];
        out [o++] = s_b64url_alphabet [(v >> 6) & 63];
    }
    out [o] = '\0';
    return (int) o;
}


//  --------------------------------------------------------------------------
//  Decode unpadded base64url. Leftover bits must be zero so that every byte
//  string has exactly one encoding (no two spellings of one signature).
//  Returns 0 with *out_len set, or -1.

int
cm_jwt_b64url_decode (const char *in, size_t len, uint8_t *out, size_t size,
                      size_t *out_len)
{
    assert (in || len == 0);
    assert (out || size == 0);
    assert (out_len);
    *out_len = 0;
    //  One character alone carries only 6 bits: never a whole byte
    if (len % 4 == 1)
        return -1;
    size_t need = len / 4 * 3 + (len % 4? len % 4 - 1: 0);
    if (need > size)
        return -1;

    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = s_b64url_value ((unsigned char) in [i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t) v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out [o++] = (uint8_t) (acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return -1;
    *out_len = o;
    return 0;
}


//  --------------------------------------------------------------------------
//  True when text is 1..max characters, all from A-Z a-z 0-9 . _ : -
//  (safe in logs, headers and JSON without escaping).

static bool
s_word_ok (const char *text, size_t max)
{
    size_t len = 0;
    for (; len <= max && text [len]; len++) {
        unsigned char c = (unsigned char) text [len];
        if (!(s_b64url_value (c) >= 0 || c == '.' || c == ':'))
            return false;
    }
    return len >= 1 && len <= max;
}


//  --------------------------------------------------------------------------
//  True when text is 1..63 base64url characters, as kids are (they name
//  files, so no '.', '/' or anything else may slip in).

static bool
s_kid_ok (const char *text)
{
    size_t len = 0;
    for (; len < CM_JWT_KID_MAX && text [len]; len++)
        if (s_b64url_value ((unsigned char) text [len]) < 0)
            return false;
    return len >= 1 && len < CM_JWT_KID_MAX;
}




//  --------------------------------------------------------------------------
//  True when a 32-byte big-endian scalar lies in 1..n-1 of P-256.

static bool
s_scalar_ok (const uint8_t *scalar)
{
    uint8_t any = 0;
    for (size_t i = 0; i < COORD_LEN; i++)
        any |= scalar [i];
    return any != 0 && memcmp (scalar, s_p256_order, COORD_LEN) < 0;
}


//  --------------------------------------------------------------------------
//  The entry holding kid (len bytes, not necessarily NUL-terminated), or
//  NULL. Kids are public, so a plain comparison is fine.

static const jwt_key_t *
s_find (const cm_jwt_keys_t *self, const char *kid, size_t len)
{
    for (size_t i = 0; i < self->count; i++)
        if (strlen (self->keys [i].kid) == len && memcmp (self->keys [i].kid, kid, len) == 0)
            return &self->keys [i];
    return NULL;
}


//  --------------------------------------------------------------------------
//  Build a public-only P-256 key from its coordinates and check the point
//  (on the curve, not infinity, right order). Returns the key or NULL.

static EVP_PKEY *
s_public_from_xy (const uint8_t *x, const uint8_t *y)
{
    static char group [] = "prime256v1";
    uint8_t point [1 + 2 * COORD_LEN];
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY_CTX *check = NULL;
    EVP_PKEY *pkey = NULL;

    point [0] = POINT_CONVERSION_UNCOMPRESSED;
    memcpy (point + 1, x, COORD_LEN);
    memcpy (point + 1 + COORD_LEN, y, COORD_LEN);
    OSSL_PARAM params [] = {
        OSSL_PARAM_construct_utf8_string (OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string (OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point),
        OSSL_PARAM_construct_end ()
    };
    ctx = EVP_PKEY_CTX_new_from_name (NULL, "EC", NULL);
    if (!ctx
    ||  EVP_PKEY_fromdata_init (ctx) != 1
    ||  EVP_PKEY_fromdata (ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto failed;
    check = EVP_PKEY_CTX_new_from_pkey (NULL, pkey, NULL);
    if (!check || EVP_PKEY_public_check (check) != 1)
        goto failed;
    EVP_PKEY_CTX_free (check);
    EVP_PKEY_CTX_free (ctx);
    return pkey;

failed:
    EVP_PKEY_CTX_free (check);
    EVP_PKEY_CTX_free (ctx);
    EVP_PKEY_free (pkey);
    return NULL;
}


//  --------------------------------------------------------------------------
//  Read the public point of a P-256 key as fixed-width coordinates (JWK
//  keeps leading zero bytes). Returns 0 or -1.

static int
s_coordinates (EVP_PKEY *pkey, uint8_t *x, uint8_t *y)
{
    char group [32] = "";
    BIGNUM *bx = NULL;
    BIGNUM *by = NULL;
    int rc = -1;

    if (!EVP_PKEY_is_a (pkey, "EC")
    ||  !EVP_PKEY_get_utf8_string_param (pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                         group, sizeof group, NULL)
    ||  strcmp (group, "prime256v1") != 0)
        goto cleanup;
    if (!EVP_PKEY_get_bn_param (pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx)
    ||  !EVP_PKEY_get_bn_param (pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by)
    ||  BN_bn2binpad (bx, x, COORD_LEN) != COORD_LEN
    ||  BN_bn2binpad (by, y, COORD_LEN) != COORD_LEN)
        goto cleanup;
    rc = 0;
cleanup:
    BN_free (bx);
    BN_free (by);
    return rc;
}


//  --------------------------------------------------------------------------
//  RFC 7638 thumbprint of a P-256 JWK: base64url (SHA-256 of the required
//  members in lexical order, no whitespace). Returns 0 or -1.

static int
s_thumbprint (const cm_jwt_keys_t *self, const char *x_b64, const char *y_b64,
              char *out, size_t size)
{
    char json [160];
    uint8_t digest [EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    int len = snprintf (json, sizeof json,
                        "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                        x_b64, y_b64);
    if (len < 0 || (size_t) len >= sizeof json
    ||  EVP_Digest (json, (size_t) len, digest, &digest_len, self->sha256, NULL) != 1
    ||  cm_jwt_b64url_encode (digest, digest_len, out, size) < 0)
        return -1;
    return 0;
}


//  --------------------------------------------------------------------------
//  Fill entry from kid and coordinates: JWK text plus a checked public key.
//  Returns 0, or -1 with entry holding nothing to free.

static int
s_entry_fill (jwt_key_t *entry, const char *kid, const uint8_t *x, const uint8_t *y)
{
    memset (entry, 0, sizeof *entry);
    snprintf (entry->kid, sizeof entry->kid, "%s", kid);
    if (cm_jwt_b64url_encode (x, COORD_LEN, entry->x, sizeof entry->x) < 0
    ||  cm_jwt_b64url_encode (y, COORD_LEN, entry->y, sizeof entry->y) < 0)
        return -1;
    entry->pub = s_public_from_xy (x, y);
    return entry->pub? 0: -1;
}


//  --------------------------------------------------------------------------
//  Refuse encrypted PEM outright: a service must never sit waiting for a
//  pass phrase on a terminal.

static int
s_no_passphrase (char *buf, int size, int rwflag, void *arg)
{
    (void) buf;
    (void) size;
    (void) rwflag;
    (void) arg;
    return -1;
}


//  --------------------------------------------------------------------------
//  cm_jwt_dir_open without openat2 (kernels before 5.6, or a seccomp
//  profile that hides it): resolve the whole path, check that it is still
//  beneath the directory, and open the result without following a link.

static int
s_open_beneath_by_path (int dir_fd, const char *name)
{
    char link [32], base [PATH_MAX], path [PATH_MAX], target [PATH_MAX];
    snprintf (link, sizeof link, "/proc/self/fd/%d", dir_fd);
    if (!realpath (link, base))
        return -1;
    if (snprintf (path, sizeof path, "%s/%s", base, name) >= (int) sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (!realpath (path, target))
        return -1;                      //  ENOENT also for a dangling link
    size_t len = strlen (base);
    if (len == 1)
        len = 0;                        //  dir is "/": anything but "/" is beneath
    if (strncmp (target, base, len) != 0 || target [len] != '/' || target [len + 1] == '\0') {
        errno = EXDEV;
        return -1;
    }
    return open (target, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
}


//  --------------------------------------------------------------------------
//  Open a file of a key directory; links may not lead out of it.

int
cm_jwt_dir_open (int dir_fd, const char *name)
{
    assert (name);
    //  O_NONBLOCK: a FIFO planted under a key's name must not hang start-up
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS
    };
    int fd = (int) syscall (SYS_openat2, dir_fd, name, &how, sizeof how);
    //  ENOSYS: an older kernel; EPERM: a seccomp profile that predates it
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
        return fd;
    return s_open_beneath_by_path (dir_fd, name);
}


//  --------------------------------------------------------------------------
//  True when gid is this process's effective group or one of its
//  supplementary groups (a pod's fsGroup is one of the latter).

static bool
s_own_group (gid_t gid)
{
    if (gid == getegid ())
        return true;
    int count = getgroups (0, NULL);
    if (count <= 0)
        return false;
    gid_t *groups = (gid_t *) calloc ((size_t) count, sizeof (gid_t));
    if (!groups)
        return false;
    count = getgroups (count, groups);
    bool found = false;
    for (int i = 0; i < count && !found; i++)
        found = groups [i] == gid;
    free (groups);
    return found;
}


//  --------------------------------------------------------------------------
//  True when a key file's mode keeps it private: nothing for others, no
//  write or execute for the group, and group read only for a group of our
//  own, so the readers it admits are this process's own principals.

static bool
s_private_mode (const struct stat *st)
{
    mode_t loose = st->st_mode & 077;
    if (loose == 0)
        return true;
    return loose == S_IRGRP && s_own_group (st->st_gid);
}


//  --------------------------------------------------------------------------
//  Read and parse dir/name as a P-256 private key. The file must be a
//  regular file, reached at most through links that stay in the directory,
//  whose mode keeps it private (s_private_mode). Sets *mtime. Returns the
//  key, or NULL.

static EVP_PKEY *
s_read_private (int dir_fd, const char *name, struct timespec *mtime)
{
    char *pem = NULL;
    size_t pem_len = 0;
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *check = NULL;

    int fd = cm_jwt_dir_open (dir_fd, name);
    if (fd < 0)
        goto failed;
    struct stat st;
    if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || !s_private_mode (&st)
    ||  st.st_size <= 0 || st.st_size > PEM_FILE_MAX)
        goto failed;
    *mtime = st.st_mtim;

    pem = (char *) OPENSSL_secure_malloc (PEM_FILE_MAX + 1);
    if (!pem)
        goto failed;
    //  Read to EOF but never past the ceiling, even if the file grows
    while (pem_len <= PEM_FILE_MAX) {
        ssize_t n = read (fd, pem + pem_len, PEM_FILE_MAX + 1 - pem_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto failed;
        if (n == 0)
            break;
        pem_len += (size_t) n;
    }
    if (pem_len == 0 || pem_len > PEM_FILE_MAX)
        goto failed;

    bio = BIO_new_mem_buf (pem, (int) pem_len);
    if (!bio)
        goto failed;
    pkey = PEM_read_bio_PrivateKey (bio, NULL, s_no_passphrase, NULL);
    if (!pkey)
        goto failed;
    //  A file whose stored public point does not match its scalar would
    //  sign tokens no verifier accepts
    check = EVP_PKEY_CTX_new_from_pkey (NULL, pkey, NULL);
    if (!check || EVP_PKEY_pairwise_check (check) != 1)
        goto failed;

    EVP_PKEY_CTX_free (check);
    BIO_free (bio);
    OPENSSL_secure_clear_free (pem, PEM_FILE_MAX + 1);
    close (fd);
    return pkey;

failed:
    EVP_PKEY_CTX_free (check);
    EVP_PKEY_free (pkey);
    BIO_free (bio);
    if (pem)
        OPENSSL_secure_clear_free (pem, PEM_FILE_MAX + 1);
    if (fd >= 0)
        close (fd);
    return NULL;
}


//  --------------------------------------------------------------------------
//  True when a was modified after b; equal times fall back to the kid so
//  that every replica picks the same signing key.

static bool
s_newer (struct timespec a, const char *a_kid, struct timespec b, const char *b_kid)
{
    if (a.tv_sec != b.tv_sec)
        return a.tv_sec > b.tv_sec;
    if (a.tv_nsec != b.tv_nsec)
        return a.tv_nsec > b.tv_nsec;
    return strcmp (a_kid, b_kid) > 0;
}


//  --------------------------------------------------------------------------
//  An empty key set, or NULL when SHA-256 cannot be fetched.

cm_jwt_keys_t *
cm_jwt_keys_new (void)
{
    cm_jwt_keys_t *self = (cm_jwt_keys_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    //  Fetched once: an implicit fetch per verify costs a method-store lookup
    self->sha256 = EVP_MD_fetch (NULL, "SHA2-256", NULL);
    if (!self->sha256) {
        free (self);
        return NULL;
    }
    return self;
}


//  --------------------------------------------------------------------------
//  Free every key and null *self_p; safe on a NULL set.

void
cm_jwt_keys_destroy (cm_jwt_keys_t **self_p)
{
    assert (self_p);
    cm_jwt_keys_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->count; i++)
            EVP_PKEY_free (self->keys [i].pub);
        EVP_PKEY_free (self->signer);
        EVP_MD_free (self->sha256);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Load every <kid>.pem in dir. All files are checked before the set
//  changes, so a bad file leaves it as it was. A set signs with one key
//  only: loading into a set that already has one fails. Returns 0 or -1.

int
cm_jwt_keys_load_dir (cm_jwt_keys_t *self, const char *dir)
{
    assert (self);
    jwt_key_t pending [CM_JWT_KEYS_MAX];
    EVP_PKEY *privates [CM_JWT_KEYS_MAX] = { NULL };
    struct timespec mtimes [CM_JWT_KEYS_MAX];
    size_t loaded = 0;
    size_t newest = 0;
    DIR *handle = NULL;
    int rc = -1;

    if (!dir || self->signer)
        return -1;
    //  The rotation file, when there is one, names the signer
    cm_jwt_rotation_t rotation;
    int have_rotation = cm_jwt_rotation_read (dir, &rotation);
    if (have_rotation < 0)
        return -1;
    const char *signer_kid = have_rotation == 0? cm_jwt_rotation_signer (&rotation): NULL;
    if (have_rotation == 0 && !signer_kid)
        return -1;
    //  Returns 0 on an empty error queue in OpenSSL 3.0: not a failure
    ERR_set_mark ();
    handle = opendir (dir);
    if (!handle)
        goto cleanup;

    struct dirent *entry;
    errno = 0;
    while ((entry = readdir (handle)) != NULL) {
        size_t name_len = strlen (entry->d_name);
        if (name_len <= 4 || strcmp (entry->d_name + name_len - 4, ".pem") != 0) {
            errno = 0;
            continue;
        }
        //  A .pem we cannot use is an error, not something to skip: the
        //  operator meant it to be a key
        char kid [CM_JWT_KID_MAX];
        if (name_len - 4 >= sizeof kid)
            goto cleanup;
        memcpy (kid, entry->d_name, name_len - 4);
        kid [name_len - 4] = '\0';
        if (!s_kid_ok (kid) || s_find (self, kid, strlen (kid))
        ||  self->count + loaded >= CM_JWT_KEYS_MAX)
            goto cleanup;

        uint8_t x [COORD_LEN];
        uint8_t y [COORD_LEN];
        char thumbprint [CM_JWT_KID_MAX];
        EVP_PKEY *pkey = s_read_private (dirfd (handle), entry->d_name, &mtimes [loaded]);
        if (!pkey || s_coordinates (pkey, x, y) != 0
        ||  s_entry_fill (&pending [loaded], kid, x, y) != 0) {
            EVP_PKEY_free (pkey);       //  s_entry_fill keeps nothing on failure
            goto cleanup;
        }
        privates [loaded++] = pkey;
        //  The file name is the kid tokens will carry: it must be this
        //  key's thumbprint, or JWKS clients would pair the wrong key
        if (s_thumbprint (self, pending [loaded - 1].x, pending [loaded - 1].y,
                          thumbprint, sizeof thumbprint) != 0
        ||  strcmp (thumbprint, kid) != 0)
            goto cleanup;
        if (s_newer (mtimes [loaded - 1], kid, mtimes [newest], pending [newest].kid))
            newest = loaded - 1;
        errno = 0;
    }
    if (errno != 0 || loaded == 0)
        goto cleanup;
    if (signer_kid) {
        size_t i = 0;
        while (i < loaded && strcmp (pending [i].kid, signer_kid) != 0)
            i++;
        if (i == loaded)
            goto cleanup;               //  the named signer has no key file
        newest = i;
    }

    //  Commit: every entry keeps its public key; only the signer keeps its
    //  private half, so retired keys no longer sit in memory
    for (size_t i = 0; i < loaded; i++) {
        self->keys [self->count + i] = pending [i];
        if (i == newest) {
            self->signer = privates [i];
            self->signer_index = self->count + i;
        }
        else
            EVP_PKEY_free (privates [i]);
        privates [i] = NULL;
    }
    self->count += loaded;
    loaded = 0;
    rc = 0;
cleanup:
    for (size_t i = 0; i < loaded; i++) {
        EVP_PKEY_free (pending [i].pub);
        EVP_PKEY_free (privates [i]);
    }
    if (handle)
        closedir (handle);
    ERR_pop_to_mark ();
    return rc;
}


//  --------------------------------------------------------------------------
//  Add a verify-only key from JWK x/y. Returns 0 or -1 (set unchanged).

int
cm_jwt_keys_add_public_jwk (cm_jwt_keys_t *self, const char *kid,
                            const char *x_b64url, const char *y_b64url)
{
    assert (self);
    uint8_t x [COORD_LEN];
    uint8_t y [COORD_LEN];
    size_t x_len = 0;
    size_t y_len = 0;

    if (!kid || !x_b64url || !y_b64url || !s_kid_ok (kid)
    ||  s_find (self, kid, strlen (kid)) || self->count == CM_JWT_KEYS_MAX)
        return -1;
    if (strnlen (x_b64url, CM_JWT_COORD_B64) != CM_JWT_COORD_B64 - 1
    ||  strnlen (y_b64url, CM_JWT_COORD_B64) != CM_JWT_COORD_B64 - 1
    ||  cm_jwt_b64url_decode (x_b64url, CM_JWT_COORD_B64 - 1, x, sizeof x, &x_len) != 0
    ||  cm_jwt_b64url_decode (y_b64url, CM_JWT_COORD_B64 - 1, y, sizeof y, &y_len) != 0
    ||  x_len != COORD_LEN || y_len != COORD_LEN)
        return -1;

    ERR_set_mark ();                    //  0 only means the queue was empty
    jwt_key_t entry;
    int rc = s_entry_fill (&entry, kid, x, y);
    if (rc == 0)
        self->keys [self->count++] = entry;
    ERR_pop_to_mark ();
    return rc;
}


//  --------------------------------------------------------------------------
//  Number of keys in the set.

size_t
cm_jwt_keys_count (const cm_jwt_keys_t *self)
{
    assert (self);
    return self->count;
}


//  --------------------------------------------------------------------------
//  The kid of the signing key, or NULL.

const char *
cm_jwt_keys_signer (const cm_jwt_keys_t *self)
{
    assert (self);
    return self->signer? self->keys [self->signer_index].kid: NULL;
}


//  --------------------------------------------------------------------------
//  Copy the public JWK of key index. Returns 0 or -1.

int
cm_jwt_keys_jwk (const cm_jwt_keys_t *self, size_t index,
                 char *kid, size_t kid_size, char *x, size_t x_size,
                 char *y, size_t y_size)
{
    assert (self);
    assert (kid && x && y);
    if (index >= self->count)
        return -1;
    const jwt_key_t *entry = &self->keys [index];
    if (strlen (entry->kid) >= kid_size || strlen (entry->x) >= x_size
    ||  strlen (entry->y) >= y_size)
        return -1;
    memcpy (kid, entry->kid, strlen (entry->kid) + 1);
    memcpy (x, entry->x, strlen (entry->x) + 1);
    memcpy (y, entry->y, strlen (entry->y) + 1);
    return 0;
}


//  --------------------------------------------------------------------------
//  True when a time claim is a plausible epoch second: bounding them keeps
//  every later sum and difference far from overflow.

static bool
s_time_ok (int64_t t)
{
    return t >= 0 && t <= TIME_MAX;
}


//  --------------------------------------------------------------------------
//  Check a claims struct against the rules verify applies, so we never
//  issue a token we would refuse. Returns 0 or -1.

static int
s_claims_check (const cm_jwt_claims_t *claims)
{
    if (strnlen (claims->sub, sizeof claims->sub) != 36 || !proto_is_uuid_n (claims->sub, 36)
    ||  strnlen (claims->sid, sizeof claims->sid) != 36 || !proto_is_uuid_n (claims->sid, 36))
        return -1;
    if (claims->roles_count > CM_JWT_ROLES_MAX
    ||  claims->amr_count < 1 || claims->amr_count > CM_JWT_AMR_MAX)
        return -1;
    for (uint32_t i = 0; i < claims->roles_count; i++)
        if (!s_word_ok (claims->roles [i], CM_JWT_ROLE_LEN))
            return -1;
    for (uint32_t i = 0; i < claims->amr_count; i++)
        if (!s_word_ok (claims->amr [i], CM_JWT_AMR_LEN))
            return -1;
    if (claims->jti [0] && !s_word_ok (claims->jti, CM_JWT_JTI_LEN))
        return -1;
    if (!s_time_ok (claims->iat) || !s_time_ok (claims->nbf) || !s_time_ok (claims->exp)
    ||  !s_time_ok (claims->auth_time)
    ||  claims->exp < claims->iat || claims->exp - claims->iat > CM_JWT_LIFETIME_MAX)
        return -1;
    return 0;
}


//  --------------------------------------------------------------------------
//  A JSON array of count strings laid out stride bytes apart, or NULL.

static json_t *
s_string_array (const char *base, size_t stride, uint32_t count)
{
    json_t *array = json_array ();
    for (uint32_t i = 0; array && i < count; i++)
        if (json_array_append_new (array, json_string (base + i * stride)) != 0) {
            json_decref (array);
            array = NULL;
        }
    return array;
}


//  --------------------------------------------------------------------------
//  The payload JSON (compact, heap, caller frees), or NULL.

static char *
s_payload_json (const char *iss, const char *aud, const cm_jwt_claims_t *claims,
                const char *jti)
{
    json_t *payload = json_object ();
    json_t *roles = s_string_array (&claims->roles [0][0], sizeof claims->roles [0],
                                    claims->roles_count);
    json_t *amr = s_string_array (&claims->amr [0][0], sizeof claims->amr [0],
                                  claims->amr_count);
    char *text = NULL;
    //  json_object_set_new takes each value, even when it fails
    if (payload && roles && amr
    &&  json_object_set_new (payload, "iss", json_string (iss)) == 0
    &&  json_object_set_new (payload, "aud", json_string (aud)) == 0
    &&  json_object_set_new (payload, "sub", json_string (claims->sub)) == 0
    &&  json_object_set_new (payload, "sid", json_string (claims->sid)) == 0
    &&  json_object_set (payload, "roles", roles) == 0
    &&  json_object_set_new (payload, "iat", json_integer (claims->iat)) == 0
    &&  json_object_set_new (payload, "nbf", json_integer (claims->nbf)) == 0
    &&  json_object_set_new (payload, "exp", json_integer (claims->exp)) == 0
    &&  json_object_set_new (payload, "auth_time", json_integer (claims->auth_time)) == 0
    &&  json_object_set (payload, "amr", amr) == 0
    &&  json_object_set_new (payload, "jti", json_string (jti)) == 0)
        text = json_dumps (payload, JSON_COMPACT);
    json_decref (roles);
    json_decref (amr);
    json_decref (payload);
    return text;
}


//  --------------------------------------------------------------------------
//  Sign claims into out as header.payload.signature. Returns 0 or -1 (out
//  is then "").

int
cm_jwt_sign (const cm_jwt_keys_t *self, const char *iss, const char *aud,
             const cm_jwt_claims_t *claims, char *out, size_t size)
{
    assert (self);
    assert (out && size > 0);
    char token [CM_JWT_TOKEN_MAX + 1];
    char header [CM_JWT_KID_MAX + 64];
    char jti [CM_JWT_JTI_LEN + 1];
    char *payload = NULL;
    EVP_MD_CTX *md_ctx = NULL;
    ECDSA_SIG *ecdsa = NULL;
    uint8_t der [DER_SIG_MAX];
    uint8_t raw [SIG_LEN];
    int rc = -1;

    out [0] = '\0';
    if (!self->signer || !claims || !iss || !*iss || !aud || !*aud
    ||  s_claims_check (claims) != 0)
        return -1;
    ERR_set_mark ();                    //  0 only means the queue was empty

    if (claims->jti [0])
        snprintf (jti, sizeof jti, "%s", claims->jti);
    else {
        uint8_t random [JTI_RANDOM];
        if (RAND_bytes (random, sizeof random) != 1
        ||  cm_jwt_b64url_encode (random, sizeof random, jti, sizeof jti) < 0)
            goto cleanup;
    }
    const jwt_key_t *key = &self->keys [self->signer_index];
    int header_len = snprintf (header, sizeof header,
                               "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", key->kid);
    payload = s_payload_json (iss, aud, claims, jti);
    if (header_len < 0 || (size_t) header_len >= sizeof header || !payload)
        goto cleanup;

    //  header.payload, each part bounded by what is left of token
    int part = cm_jwt_b64url_encode ((const uint8_t *) header, (size_t) header_len,
                                     token, sizeof token);
    if (part < 0)
        goto cleanup;
    size_t used = (size_t) part;
    if (used + 1 >= sizeof token)
        goto cleanup;
    token [used++] = '.';
    part = cm_jwt_b64url_encode ((const uint8_t *) payload, strlen (payload),
                                 token + used, sizeof token - used);
    if (part < 0)
        goto cleanup;
    size_t signed_len = used + (size_t) part;

    size_t der_len = sizeof der;
    md_ctx = EVP_MD_CTX_new ();
    if (!md_ctx
    ||  EVP_DigestSignInit (md_ctx, NULL, self->sha256, NULL, self->signer) != 1
    ||  EVP_DigestSign (md_ctx, der, &der_len, (const uint8_t *) token, signed_len) != 1)
        goto cleanup;

    //  JWS wants r || s, each left-padded to 32 bytes, not DER
    const uint8_t *der_p = der;
    ecdsa = d2i_ECDSA_SIG (NULL, &der_p, (long) der_len);
    const BIGNUM *r = NULL;
    const BIGNUM *s = NULL;
    if (ecdsa)
        ECDSA_SIG_get0 (ecdsa, &r, &s);
    if (!r || !s
    ||  BN_bn2binpad (r, raw, COORD_LEN) != COORD_LEN
    ||  BN_bn2binpad (s, raw + COORD_LEN, COORD_LEN) != COORD_LEN)
        goto cleanup;

    used = signed_len;
    if (used + 1 >= sizeof token)
        goto cleanup;
    token [used++] = '.';
    part = cm_jwt_b64url_encode (raw, sizeof raw, token + used, sizeof token - used);
    if (part < 0 || used + (size_t) part >= size)
        goto cleanup;
    memcpy (out, token, used + (size_t) part + 1);
    rc = 0;
cleanup:
    ECDSA_SIG_free (ecdsa);
    EVP_MD_CTX_free (md_ctx);
    free (payload);
    ERR_pop_to_mark ();
    return rc;
}


//  --------------------------------------------------------------------------
//  Check the JOSE header: exactly what we issue (alg ES256, optional typ
//  JWT, kid) and nothing else - no crit, no key or key URL to trust.
//  Sets *key to the entry named by kid.

static cm_jwt_result_t
s_check_header (const cm_jwt_keys_t *self, const uint8_t *text, size_t len,
                const jwt_key_t **key)
{
    json_error_t error;
    cm_jwt_result_t result = CM_JWT_MALFORMED;
    json_t *header = json_loadb ((const char *) text, len, JSON_REJECT_DUPLICATES, &error);
    if (!json_is_object (header))
        goto cleanup;

    result = CM_JWT_BAD_ALG;
    json_t *alg = json_object_get (header, "alg");
    if (!json_is_string (alg) || json_string_length (alg) != 5
    ||  strcmp (json_string_value (alg), "ES256") != 0)
        goto cleanup;
    const char *name;
    json_t *value;
    json_object_foreach (header, name, value) {
        if (strcmp (name, "typ") == 0) {
            if (!json_is_string (value) || json_string_length (value) != 3
            ||  strcmp (json_string_value (value), "JWT") != 0)
                goto cleanup;
        }
        else
        if (strcmp (name, "alg") != 0 && strcmp (name, "kid") != 0)
            goto cleanup;       //  crit, jwk, jku, x5u, x5c and anything new
    }

    result = CM_JWT_UNKNOWN_KID;
    json_t *kid = json_object_get (header, "kid");
    if (!json_is_string (kid)
    ||  !(*key = s_find (self, json_string_value (kid), json_string_length (kid))))
        goto cleanup;
    result = CM_JWT_OK;
cleanup:
    json_decref (header);
    return result;
}


//  --------------------------------------------------------------------------
//  Verify a raw r || s signature over data with key. r and s are checked
//  against the order before OpenSSL sees them. Returns true when valid.

static bool
s_signature_ok (const cm_jwt_keys_t *self, const jwt_key_t *key,
                const uint8_t *raw, const char *data, size_t len)
{
    ECDSA_SIG *ecdsa = NULL;
    BIGNUM *r = NULL;
    BIGNUM *s = NULL;
    EVP_MD_CTX *md_ctx = NULL;
    uint8_t der [DER_SIG_MAX];
    bool valid = false;

    if (!s_scalar_ok (raw) || !s_scalar_ok (raw + COORD_LEN))
        goto cleanup;
    ecdsa = ECDSA_SIG_new ();
    r = BN_bin2bn (raw, COORD_LEN, NULL);
    s = BN_bin2bn (raw + COORD_LEN, COORD_LEN, NULL);
    if (!ecdsa || !r || !s || ECDSA_SIG_set0 (ecdsa, r, s) != 1)
        goto cleanup;
    r = s = NULL;                       //  ecdsa owns them now
    int der_len = i2d_ECDSA_SIG (ecdsa, NULL);
    if (der_len <= 0 || (size_t) der_len > sizeof der)
        goto cleanup;
    uint8_t *der_p = der;
    if (i2d_ECDSA_SIG (ecdsa, &der_p) != der_len)
        goto cleanup;

    //  A context per call: the key is shared, the context never is
    md_ctx = EVP_MD_CTX_new ();
    if (md_ctx
    &&  EVP_DigestVerifyInit (md_ctx, NULL, self->sha256, NULL, key->pub) == 1
    &&  EVP_DigestVerify (md_ctx, der, (size_t) der_len, (const uint8_t *) data, len) == 1)
        valid = true;
cleanup:
    EVP_MD_CTX_free (md_ctx);
    ECDSA_SIG_free (ecdsa);
    BN_free (r);
    BN_free (s);
    return valid;
}


//  --------------------------------------------------------------------------
//  Read an integer time claim into *value. Real numbers, strings and
//  values outside 0..9999-12-31 are refused. Returns 0, 1 when absent and
//  optional, -1 otherwise.

static int
s_time_claim (json_t *payload, const char *name, bool required, int64_t *value)
{
    json_t *item = json_object_get (payload, name);
    if (!item)
        return required? -1: 1;
    if (!json_is_integer (item))
        return -1;
    json_int_t number = json_integer_value (item);
    if (number < 0 || number > TIME_MAX)
        return -1;
    *value = (int64_t) number;
    return 0;
}


//  --------------------------------------------------------------------------
//  Copy a JSON array of words into rows of width bytes. Returns the number
//  copied, or -1 when it is not an array of min..max valid words.

static int
s_word_array (json_t *item, char *rows, size_t width, size_t word_max,
              size_t min, size_t max)
{
    if (!json_is_array (item) || json_array_size (item) < min || json_array_size (item) > max)
        return -1;
    size_t index;
    json_t *word;
    json_array_foreach (item, index, word) {
        if (!json_is_string (word) || json_string_length (word) > word_max
        ||  strlen (json_string_value (word)) != json_string_length (word)
        ||  !s_word_ok (json_string_value (word), word_max))
            return -1;
        memcpy (rows + index * width, json_string_value (word), json_string_length (word) + 1);
    }
    return (int) json_array_size (item);
}


//  --------------------------------------------------------------------------
//  True when item is a string exactly equal to expected.

static bool
s_string_is (json_t *item, const char *expected)
{
    return json_is_string (item) && json_string_length (item) == strlen (expected)
        && memcmp (json_string_value (item), expected, strlen (expected)) == 0;
}


//  --------------------------------------------------------------------------
//  The time rules of verification, alone: a verifier that kept the claims
//  of a token it verified applies the same ones again later.

cm_jwt_result_t
cm_jwt_claims_current (const cm_jwt_claims_t *claims, int64_t now, int64_t leeway_s)
{
    assert (claims);
    assert (leeway_s >= 0 && leeway_s <= CM_JWT_LEEWAY_MAX);
    //  Times are bounded by TIME_MAX and leeway by CM_JWT_LEEWAY_MAX, so
    //  only now can be extreme: it is kept alone on its side
    if (now >= claims->exp + leeway_s)
        return CM_JWT_EXPIRED;
    if (now < claims->nbf - leeway_s || claims->iat - leeway_s > now)
        return CM_JWT_NOT_YET_VALID;
    if (claims->auth_time - leeway_s > now)
        return CM_JWT_BAD_CLAIMS;
    return CM_JWT_OK;
}


//  --------------------------------------------------------------------------
//  Check the payload claims and fill claims. Returns the first failure.

static cm_jwt_result_t
s_check_claims (const uint8_t *text, size_t len, const char *iss, const char *aud,
                int64_t now, int64_t leeway, cm_jwt_claims_t *claims)
{
    json_error_t error;
    cm_jwt_result_t result = CM_JWT_MALFORMED;
    json_t *payload = json_loadb ((const char *) text, len, JSON_REJECT_DUPLICATES, &error);
    if (!json_is_object (payload))
        goto cleanup;

    result = CM_JWT_BAD_ISSUER;
    if (!s_string_is (json_object_get (payload, "iss"), iss))
        goto cleanup;

    result = CM_JWT_BAD_AUDIENCE;
    json_t *aud_item = json_object_get (payload, "aud");
    bool aud_match = s_string_is (aud_item, aud);
    if (json_is_array (aud_item)) {
        size_t index;
        json_t *entry;
        json_array_foreach (aud_item, index, entry) {
            if (!json_is_string (entry)) {
                aud_match = false;      //  one bad entry spoils the list
                break;
            }
            if (s_string_is (entry, aud))
                aud_match = true;
        }
    }
    if (!aud_match)
        goto cleanup;

    result = CM_JWT_BAD_CLAIMS;
    if (s_time_claim (payload, "exp", true, &claims->exp) != 0
    ||  s_time_claim (payload, "iat", true, &claims->iat) != 0
    ||  s_time_claim (payload, "auth_time", true, &claims->auth_time) != 0
    ||  s_time_claim (payload, "nbf", false, &claims->nbf) < 0)
        goto cleanup;

    //  An absent nbf stays 0 (cm_jwt_verify zeroed claims): no lower bound
    result = cm_jwt_claims_current (claims, now, leeway);
    if (result != CM_JWT_OK)
        goto cleanup;

    result = CM_JWT_BAD_CLAIMS;
    if (claims->exp < claims->iat || claims->exp - claims->iat > CM_JWT_LIFETIME_MAX)
        goto cleanup;
    json_t *sub = json_object_get (payload, "sub");
    json_t *sid = json_object_get (payload, "sid");
    json_t *jti = json_object_get (payload, "jti");
    if (!json_is_string (sub) || !proto_is_uuid_n (json_string_value (sub), json_string_length (sub))
    ||  !json_is_string (sid) || !proto_is_uuid_n (json_string_value (sid), json_string_length (sid))
    ||  !json_is_string (jti) || json_string_length (jti) > CM_JWT_JTI_LEN
    ||  strlen (json_string_value (jti)) != json_string_length (jti)
    ||  !s_word_ok (json_string_value (jti), CM_JWT_JTI_LEN))
        goto cleanup;
    memcpy (claims->sub, json_string_value (sub), 37);
    memcpy (claims->sid, json_string_value (sid), 37);
    memcpy (claims->jti, json_string_value (jti), json_string_length (jti) + 1);

    int roles = s_word_array (json_object_get (payload, "roles"), &claims->roles [0][0],
                              sizeof claims->roles [0], CM_JWT_ROLE_LEN, 0, CM_JWT_ROLES_MAX);
    int amr = s_word_array (json_object_get (payload, "amr"), &claims->amr [0][0],
                            sizeof claims->amr [0], CM_JWT_AMR_LEN, 1, CM_JWT_AMR_MAX);
    if (roles < 0 || amr < 0)
        goto cleanup;
    claims->roles_count = (uint32_t) roles;
    claims->amr_count = (uint32_t) amr;
    result = CM_JWT_OK;
cleanup:
    json_decref (payload);
    return result;
}


//  --------------------------------------------------------------------------
//  Verify a compact token. Structure first, then the header, then the
//  signature; the payload's claims are only read once the signature holds.

cm_jwt_result_t
cm_jwt_verify (const cm_jwt_keys_t *self, const char *token, const char *iss,
               const char *aud, int64_t now, int64_t leeway_s,
               cm_jwt_claims_t *claims)
{
    assert (self);
    assert (iss && aud);
    assert (claims);
    assert (leeway_s >= 0 && leeway_s <= CM_JWT_LEEWAY_MAX);
    uint8_t header [HEADER_MAX];
    uint8_t payload [SEGMENT_MAX];
    uint8_t signature [SEGMENT_MAX];
    size_t header_len, payload_len, signature_len;
    const jwt_key_t *key = NULL;

    memset (claims, 0, sizeof *claims);
    if (!token)
        return CM_JWT_MALFORMED;
    size_t len = strnlen (token, CM_JWT_TOKEN_MAX + 1);
    if (len == 0 || len > CM_JWT_TOKEN_MAX)
        return CM_JWT_MALFORMED;
    const char *end = token + len;
    const char *dot1 = (const char *) memchr (token, '.', len);
    const char *dot2 = dot1? (const char *) memchr (dot1 + 1, '.', (size_t) (end - dot1 - 1)): NULL;
    if (!dot2 || memchr (dot2 + 1, '.', (size_t) (end - dot2 - 1)))
        return CM_JWT_MALFORMED;
    if (dot1 == token || dot2 == dot1 + 1
    ||  cm_jwt_b64url_decode (token, (size_t) (dot1 - token),
                              header, sizeof header, &header_len) != 0
    ||  cm_jwt_b64url_decode (dot1 + 1, (size_t) (dot2 - dot1 - 1),
                              payload, sizeof payload, &payload_len) != 0
    ||  cm_jwt_b64url_decode (dot2 + 1, (size_t) (end - dot2 - 1),
                              signature, sizeof signature, &signature_len) != 0)
        return CM_JWT_MALFORMED;

    cm_jwt_result_t result = s_check_header (self, header, header_len, &key);
    if (result != CM_JWT_OK)
        return result;
    if (signature_len != SIG_LEN)
        return CM_JWT_BAD_SIGNATURE;

    //  Errors OpenSSL queues for a bad signature are this call's business
    //  only; leave the thread's queue as we found it
    ERR_set_mark ();                    //  0 only means the queue was empty
    bool valid = s_signature_ok (self, key, signature, token, (size_t) (dot2 - token));
    ERR_pop_to_mark ();
    if (!valid)
        return CM_JWT_BAD_SIGNATURE;

    result = s_check_claims (payload, payload_len, iss, aud, now, leeway_s, claims);
    if (result != CM_JWT_OK)
        memset (claims, 0, sizeof *claims);
    return result;
}


//  --------------------------------------------------------------------------
//  The snake_case name of a result.

const char *
cm_jwt_result_str (cm_jwt_result_t result)
{
    switch (result) {
        case CM_JWT_OK:             return "ok";
        case CM_JWT_MALFORMED:      return "malformed";
        case CM_JWT_BAD_ALG:        return "bad_alg";
        case CM_JWT_UNKNOWN_KID:    return "unknown_kid";
        case CM_JWT_BAD_SIGNATURE:  return "bad_signature";
        case CM_JWT_BAD_ISSUER:     return "bad_issuer";
        case CM_JWT_BAD_AUDIENCE:   return "bad_audience";
        case CM_JWT_EXPIRED:        return "expired";
        case CM_JWT_NOT_YET_VALID:  return "not_yet_valid";
        case CM_JWT_BAD_CLAIMS:     return "bad_claims";
    }
    return "unknown";
}
