/*  keygen - create the local stack's CURVE certificates, JWT key and secrets

    Usage: keygen [--dir KEYS_DIR]      (default: $KEYS_DIR, else .run/keys)

    Everything is created only when missing and nothing is ever replaced, so
    a second run is a no-op and keys survive restarts. Each new file is
    written to <file>.tmp (O_EXCL, 0600), synced, and moved into place with a
    rename that refuses to replace, so no reader ever finds a half-written
    secret under its final name. Output names files, never key material.
*/

#include <czmq.h>
#include "../common/cm_hex.h"
#include "../common/cm_jwt.h"
#include "../common/cm_jwt_rotation.h"
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYGEN_DEFAULT_DIR   ".run/keys"
#define KEYGEN_RANDOM_BYTES  32     //  per password and symmetric key
#define KEYGEN_EC_COORD      32     //  P-256 coordinate, big-endian
#define KEYGEN_KID_MAX       64     //  43 chars of base64url SHA-256 + NUL fit
#define KEYGEN_JWT_LEAD_S    900    //  a next key is published this long before it signs
#define KEYGEN_JWT_KEEP_S    960    //  > access token lifetime (900) + leeway (30)
#define KEYGEN_COUNT(a)      (sizeof (a) / sizeof ((a) [0]))

//  Every service holds a CURVE certificate; the gateway has no database
static const char *s_cert_services [] = {
    "gateway", "auth", "missions", "evidence", "privacy", "audit"
};
static const char *s_db_services [] = {
    "auth", "missions", "evidence", "privacy", "audit"
};
static const char *s_secret_keys [] = {
    "evidence_master", "upload_url", "auth_data", "audit_master", "audit_checkpoint"
};
static const char *s_subdirs [] = { "jwt", "db", "secrets" };


//  --------------------------------------------------------------------------
//  Print how to call us on the given stream.

static void
s_usage (FILE *stream)
{
    fprintf (stream,
        "Usage: keygen [--dir KEYS_DIR]\n"
        "       keygen --rotate-jwt [--dir KEYS_DIR] [--lead S] [--keep S]\n"
        "       keygen --help\n"
        "\n"
        "Creates the local stack's keys under KEYS_DIR (default: $KEYS_DIR,\n"
        "else " KEYGEN_DEFAULT_DIR "), only where missing; nothing is ever replaced.\n"
        "  <svc>.cert, <svc>.cert_secret  CURVE certificates (gateway auth missions\n"
        "                                 evidence privacy audit)\n"
        "  jwt/<kid>.pem                  EC P-256 JWT signing key, kid = RFC 7638\n"
        "                                 thumbprint; only if jwt/ holds no .pem\n"
        "  db/<svc>.password              database passwords (auth missions evidence\n"
        "                                 privacy audit)\n"
        "  secrets/<name>.key             evidence_master upload_url auth_data\n"
        "                                 audit_master audit_checkpoint (an Ed25519\n"
        "                                 seed: audit signs its checkpoints with it)\n"
        "Directories are 0700, secret files 0600, public certificates 0644.\n"
        "Prints one 'created PATH' line per directory or file made, never keys.\n"
        "\n"
        "--rotate-jwt takes one safe step of a JWT signing key rotation, recorded\n"
        "in jwt/rotation (auth picks changes up within seconds, no restart):\n"
        "removes keys retired --keep seconds ago (default 960: every token they\n"
        "signed has expired); then makes the next key sign once it has been\n"
        "published for --lead seconds (default 900, so verifiers caching the JWKS\n"
        "know it), or publishes a new next key when none is waiting. Run it on a\n"
        "schedule (daily, say): it publishes, later promotes, later prunes.\n"
        "\n"
        "Exit status: 0 done, 1 error (half a certificate pair, a secret file\n"
        "open to group or others, I/O or crypto failure), 2 bad arguments.\n");
}


//  --------------------------------------------------------------------------
//  Report a failed system call on path; errno must still hold the cause.
//  Always returns -1 so callers can return it directly.

static int
s_sys_error (const char *path, const char *what)
{
    fprintf (stderr, "keygen: %s: %s: %s\n", path, what, strerror (errno));
    return -1;
}


//  --------------------------------------------------------------------------
//  Report a failed OpenSSL call on path with the library's own reason, and
//  empty its error queue. Always returns -1.

static int
s_ssl_error (const char *path, const char *what)
{
    char reason [256] = "no detail from OpenSSL";
    unsigned long code = ERR_peek_last_error ();
    if (code)
        ERR_error_string_n (code, reason, sizeof reason);
    ERR_clear_error ();
    fprintf (stderr, "keygen: %s: %s: %s\n", path, what, reason);
    return -1;
}


//  --------------------------------------------------------------------------
//  Format a path into buf. Returns -1 (and says so) when it would not fit,
//  so a long KEYS_DIR can never make us write to a truncated name.

static int __attribute__ ((format (printf, 3, 4)))
s_path (char *buf, size_t size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int len = vsnprintf (buf, size, format, args);
    va_end (args);
    if (len < 0 || (size_t) len >= size) {
        fprintf (stderr, "keygen: path too long (limit %zu bytes)\n", size - 1);
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Encode len bytes as base64url without padding (RFC 4648 section 5) into
//  out, NUL-terminated. Returns the text length, -1 if out is too small.

static int
s_base64url (char *out, size_t out_size, const unsigned char *in, size_t len)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t need = (len * 4 + 2) / 3;
    if (need >= out_size)
        return -1;

    size_t o = 0;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t) in [i] << 16 | (uint32_t) in [i + 1] << 8 | in [i + 2];
        out [o++] = alphabet [(v >> 18) & 63];
        out [o++] = alphabet [(v >> 12) & 63];
        out [o++] = alphabet [(v >> 6) & 63];
        out [o++] = alphabet [v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t) in [i] << 16;
        out [o++] = alphabet [(v >> 18) & 63];
        out [o++] = alphabet [(v >> 12) & 63];
    }
    else
    if (len - i == 2) {
        uint32_t v = (uint32_t) in [i] << 16 | (uint32_t) in [i + 1] << 8;
        out [o++] = alphabet [(v >> 18) & 63];
        out [o++] = alphabet [(v >> 12) & 63];
        out [o++] = alphabet [(v >> 6) & 63];
    }
    out [o] = '\0';
    return (int) o;
}


//  --------------------------------------------------------------------------
//  Compute the RFC 7638 JWK thumbprint of an EC P-256 public key into kid:
//  base64url(SHA-256 of the members crv, kty, x, y in that order, no
//  whitespace). Returns 0, or -1 after reporting against label.

static int
s_jwk_thumbprint (EVP_PKEY *pkey, char *kid, size_t kid_size, const char *label)
{
    BIGNUM *x = NULL;
    BIGNUM *y = NULL;
    unsigned char x_bin [KEYGEN_EC_COORD];
    unsigned char y_bin [KEYGEN_EC_COORD];
    char x_txt [64];
    char y_txt [64];
    char json [192];
    unsigned char digest [EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    int rc = -1;

    if (!EVP_PKEY_get_bn_param (pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x)
    ||  !EVP_PKEY_get_bn_param (pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y)) {
        s_ssl_error (label, "cannot read the public point");
        goto cleanup;
    }
    //  JWK wants fixed-width coordinates: a leading zero byte must stay
    if (BN_bn2binpad (x, x_bin, sizeof x_bin) != KEYGEN_EC_COORD
    ||  BN_bn2binpad (y, y_bin, sizeof y_bin) != KEYGEN_EC_COORD) {
        fprintf (stderr, "keygen: %s: public point is not P-256 sized\n", label);
        goto cleanup;
    }
    if (s_base64url (x_txt, sizeof x_txt, x_bin, sizeof x_bin) < 0
    ||  s_base64url (y_txt, sizeof y_txt, y_bin, sizeof y_bin) < 0
    ||  s_path (json, sizeof json,
                "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                x_txt, y_txt))
        goto cleanup;

    if (!EVP_Digest (json, strlen (json), digest, &digest_len, EVP_sha256 (), NULL)) {
        s_ssl_error (label, "cannot hash the JWK");
        goto cleanup;
    }
    if (s_base64url (kid, kid_size, digest, digest_len) < 0) {
        fprintf (stderr, "keygen: %s: thumbprint buffer too small\n", label);
        goto cleanup;
    }
    rc = 0;
cleanup:
    BN_free (x);
    BN_free (y);
    return rc;
}


//  --------------------------------------------------------------------------
//  Tell whether path exists as a regular file: 0 with *exists set, or -1
//  when it is something else or cannot be checked.

static int
s_probe (const char *path, bool *exists)
{
    struct stat st;
    if (stat (path, &st) == 0) {
        if (!S_ISREG (st.st_mode)) {
            fprintf (stderr, "keygen: %s: exists but is not a regular file\n", path);
            return -1;
        }
        *exists = true;
        return 0;
    }
    if (errno == ENOENT) {
        *exists = false;
        return 0;
    }
    return s_sys_error (path, "cannot check");
}


//  --------------------------------------------------------------------------
//  Refuse an existing secret file that group or others may touch: services
//  would run with a key that is no longer private. Returns 0 or -1.

static int
s_check_private (const char *path)
{
    struct stat st;
    if (stat (path, &st) != 0)
        return s_sys_error (path, "cannot check");
    if (st.st_mode & 077) {
        fprintf (stderr, "keygen: %s: secret file has mode %04o, expected 0600"
                 " (chmod 600 it, or delete it to have it regenerated)\n",
                 path, (unsigned) (st.st_mode & 07777));
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Check that what we just installed carries exactly the mode we set, so a
//  filesystem that ignores modes is caught here, not in production.

static int
s_check_mode (const char *path, mode_t want)
{
    struct stat st;
    if (stat (path, &st) != 0)
        return s_sys_error (path, "cannot check");
    if ((st.st_mode & 07777) != want) {
        fprintf (stderr, "keygen: %s: has mode %04o after creation, expected %04o\n",
                 path, (unsigned) (st.st_mode & 07777), (unsigned) want);
        return -1;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Create directory path with mode 0700 unless it exists. An existing one
//  is kept as it is, with a warning if group or others can enter it.

static int
s_ensure_dir (const char *path)
{
    if (mkdir (path, 0700) == 0) {
        //  umask already gives 0700; chmod states the mode instead of relying on it
        if (chmod (path, 0700) != 0)
            return s_sys_error (path, "cannot set mode 0700");
        printf ("created %s\n", path);
        return 0;
    }
    if (errno != EEXIST)
        return s_sys_error (path, "cannot create directory");

    struct stat st;
    if (stat (path, &st) != 0)
        return s_sys_error (path, "cannot check directory");
    if (!S_ISDIR (st.st_mode)) {
        fprintf (stderr, "keygen: %s: exists but is not a directory\n", path);
        return -1;
    }
    if (st.st_mode & 077)
        fprintf (stderr, "keygen: warning: %s has mode %04o, expected 0700\n",
                 path, (unsigned) (st.st_mode & 07777));
    return 0;
}


//  --------------------------------------------------------------------------
//  Create the missing parents of path (like mkdir -p, private modes), then
//  path itself via s_ensure_dir. Returns 0 or -1.

static int
s_ensure_dir_tree (const char *path)
{
    char parent [PATH_MAX];
    if (s_path (parent, sizeof parent, "%s", path))
        return -1;

    for (char *slash = strchr (parent + 1, '/'); slash; slash = strchr (slash + 1, '/')) {
        *slash = '\0';
        if (mkdir (parent, 0700) == 0)
            printf ("created %s\n", parent);
        else
        if (errno != EEXIST)
            return s_sys_error (parent, "cannot create directory");
        *slash = '/';
    }
    return s_ensure_dir (path);
}


//  --------------------------------------------------------------------------
//  fsync the directory holding path so a new name survives a crash. Some
//  filesystems cannot sync directories (EINVAL); that is not our failure.

static int
s_sync_parent (const char *path)
{
    char dir [PATH_MAX];
    if (s_path (dir, sizeof dir, "%s", path))
        return -1;
    char *slash = strrchr (dir, '/');
    if (!slash)
        strcpy (dir, ".");
    else
    if (slash == dir)
        dir [1] = '\0';
    else
        *slash = '\0';

    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return s_sys_error (dir, "cannot open directory to sync it");
    int rc = 0;
    if (fsync (fd) != 0 && errno != EINVAL)
        rc = s_sys_error (dir, "cannot sync directory");
    close (fd);
    return rc;
}


//  --------------------------------------------------------------------------
//  Make the name tmp for path and create it empty with O_EXCL and 0600.
//  Returns the open descriptor, or -1 after reporting.

static int
s_tmp_create (const char *path, char *tmp, size_t tmp_size)
{
    if (s_path (tmp, tmp_size, "%s.tmp", path))
        return -1;
    //  We hold the KEYS_DIR lock, so an existing tmp is debris from an
    //  interrupted run; it was never installed, so nothing uses its key
    if (unlink (tmp) == 0)
        fprintf (stderr, "keygen: removed %s left by an interrupted run\n", tmp);
    else
    if (errno != ENOENT)
        return s_sys_error (tmp, "cannot remove stale temporary file");

    int fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return s_sys_error (tmp, "cannot create");
    return fd;
}


//  --------------------------------------------------------------------------
//  Move tmp to path, failing rather than replacing an existing path, and
//  sync the directory. Returns 0, or -1 with tmp left for the caller.

static int
s_install (const char *tmp, const char *path)
{
    if (renameat2 (AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) != 0) {
        if (errno != EINVAL && errno != ENOSYS)
            return s_sys_error (path, "cannot move into place");
        //  No RENAME_NOREPLACE on this filesystem: link() also refuses an
        //  existing name, so a key is still never replaced
        if (link (tmp, path) != 0)
            return s_sys_error (path, "cannot move into place");
        if (unlink (tmp) != 0)
            fprintf (stderr, "keygen: warning: %s: cannot remove: %s\n", tmp, strerror (errno));
    }
    return s_sync_parent (path);
}


//  --------------------------------------------------------------------------
//  Write len bytes all the way, riding out short writes and EINTR.

static int
s_write_all (int fd, const void *data, size_t len)
{
    const char *cursor = (const char *) data;
    while (len > 0) {
        ssize_t n = write (fd, cursor, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        cursor += n;
        len -= (size_t) n;
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Create path with mode 0600 holding exactly data: via <path>.tmp, fsync,
//  no-replace rename. On any failure nothing is left under either name.

static int
s_write_secret (const char *path, const void *data, size_t len)
{
    char tmp [PATH_MAX];
    bool installed = false;
    int rc = -1;

    int fd = s_tmp_create (path, tmp, sizeof tmp);
    if (fd < 0)
        return -1;
    if (fchmod (fd, 0600) != 0) {
        s_sys_error (tmp, "cannot set mode 0600");
        goto cleanup;
    }
    if (s_write_all (fd, data, len) != 0) {
        s_sys_error (tmp, "cannot write");
        goto cleanup;
    }
    if (fsync (fd) != 0) {
        s_sys_error (tmp, "cannot sync");
        goto cleanup;
    }
    //  close can report a deferred write error (NFS), so it is checked too
    int close_rc = close (fd);
    fd = -1;
    if (close_rc != 0) {
        s_sys_error (tmp, "cannot close");
        goto cleanup;
    }
    if (s_install (tmp, path) != 0)
        goto cleanup;
    installed = true;
    if (s_check_mode (path, 0600) != 0)
        goto cleanup;

    printf ("created %s\n", path);
    rc = 0;
cleanup:
    if (fd >= 0)
        close (fd);
    if (rc != 0) {
        unlink (tmp);
        if (installed)
            unlink (path);
    }
    return rc;
}


//  --------------------------------------------------------------------------
//  Create path holding 32 fresh random bytes as 64 lowercase hex digits and
//  a newline, mode 0600, unless it exists. Returns 0 or -1.

static int
s_ensure_random_file (const char *path)
{
    bool exists = false;
    if (s_probe (path, &exists) != 0)
        return -1;
    if (exists)
        return 0;

    unsigned char raw [KEYGEN_RANDOM_BYTES];
    char text [2 * KEYGEN_RANDOM_BYTES + 2];
    int rc = -1;

    if (RAND_bytes (raw, sizeof raw) != 1) {
        s_ssl_error (path, "RAND_bytes failed");
        goto cleanup;
    }
    cm_hex_encode (raw, sizeof raw, text);
    text [2 * KEYGEN_RANDOM_BYTES] = '\n';
    text [2 * KEYGEN_RANDOM_BYTES + 1] = '\0';
    rc = s_write_secret (path, text, 2 * KEYGEN_RANDOM_BYTES + 1);
cleanup:
    OPENSSL_cleanse (raw, sizeof raw);
    OPENSSL_cleanse (text, sizeof text);
    return rc;
}


//  --------------------------------------------------------------------------
//  Report a certificate file whose partner is missing. Regenerating the
//  pair would silently change a key peers already trust. Returns -1.

static int
s_half_pair_error (const char *present, const char *missing)
{
    fprintf (stderr, "keygen: %s exists but %s is missing; refusing to make half"
             " a pair (restore the missing file, or delete both)\n", present, missing);
    return -1;
}


//  --------------------------------------------------------------------------
//  Write one half of cert to <path>.tmp in czmq's format, read it back (czmq
//  ignores write errors), set its mode and fsync it. tmp receives the name.
//  Returns 0, or -1 with nothing left under tmp.

static int
s_cert_tmp (zcert_t *cert, const char *path, bool secret, char *tmp, size_t tmp_size)
{
    zconfig_t *root = NULL;
    int rc = -1;

    //  Reserve the name ourselves: zconfig_save opens with plain "w", which
    //  would follow a planted file; truncating our own keeps O_EXCL's promise
    int fd = s_tmp_create (path, tmp, tmp_size);
    if (fd < 0)
        return -1;
    close (fd);
    fd = -1;

    errno = 0;
    int save_rc = secret? zcert_save_secret (cert, tmp): zcert_save_public (cert, tmp);
    if (save_rc != 0) {
        if (errno == 0)
            errno = EIO;
        s_sys_error (tmp, "cannot write certificate");
        goto cleanup;
    }
    root = zconfig_load (tmp);
    const char *public_txt = root? zconfig_get (root, "/curve/public-key", NULL): NULL;
    const char *secret_txt = root? zconfig_get (root, "/curve/secret-key", NULL): NULL;
    bool intact = public_txt && streq (public_txt, zcert_public_txt (cert))
               && (secret? secret_txt && streq (secret_txt, zcert_secret_txt (cert))
                         : secret_txt == NULL);
    if (!intact) {
        fprintf (stderr, "keygen: %s: certificate did not read back intact\n", tmp);
        goto cleanup;
    }
    fd = open (tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        s_sys_error (tmp, "cannot reopen");
        goto cleanup;
    }
    if (fchmod (fd, secret? 0600: 0644) != 0) {
        s_sys_error (tmp, "cannot set mode");
        goto cleanup;
    }
    if (fsync (fd) != 0) {
        s_sys_error (tmp, "cannot sync");
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fd >= 0)
        close (fd);
    zconfig_destroy (&root);
    if (rc != 0)
        unlink (tmp);
    return rc;
}


//  --------------------------------------------------------------------------
//  Create <svc>.cert (0644) and <svc>.cert_secret (0600) unless both exist.
//  Half a pair is an error: regenerating it would orphan the other half.

static int
s_ensure_cert_pair (const char *keys_dir, const char *svc)
{
    char pub_path [PATH_MAX];
    char sec_path [PATH_MAX];
    char pub_tmp [PATH_MAX] = "";
    char sec_tmp [PATH_MAX] = "";
    bool pub_exists = false;
    bool sec_exists = false;
    bool sec_installed = false;
    zcert_t *cert = NULL;
    int rc = -1;

    if (s_path (pub_path, sizeof pub_path, "%s/%s.cert", keys_dir, svc)
    ||  s_path (sec_path, sizeof sec_path, "%s/%s.cert_secret", keys_dir, svc)
    ||  s_probe (pub_path, &pub_exists)
    ||  s_probe (sec_path, &sec_exists))
        return -1;
    if (pub_exists && sec_exists)
        return 0;
    if (pub_exists != sec_exists)
        return s_half_pair_error (pub_exists? pub_path: sec_path,
                                  pub_exists? sec_path: pub_path);

    //  Without CURVE in libzmq, zcert_new quietly hands out all-zero keys
    if (!zsys_has_curve ()) {
        fprintf (stderr, "keygen: %s: libzmq was built without CURVE support\n", sec_path);
        return -1;
    }
    cert = zcert_new ();
    if (!cert) {
        fprintf (stderr, "keygen: %s: cannot generate a CURVE key pair\n", sec_path);
        return -1;
    }
    zcert_set_meta (cert, "name", "%s", svc);

    //  Secret first: the public save then leaves no secret in cert's config
    if (s_cert_tmp (cert, sec_path, true, sec_tmp, sizeof sec_tmp)
    ||  s_cert_tmp (cert, pub_path, false, pub_tmp, sizeof pub_tmp))
        goto cleanup;
    if (s_install (sec_tmp, sec_path) != 0)
        goto cleanup;
    sec_installed = true;
    if (s_install (pub_tmp, pub_path) != 0)
        goto cleanup;
    if (s_check_mode (sec_path, 0600) || s_check_mode (pub_path, 0644)) {
        unlink (pub_path);
        goto cleanup;
    }
    printf ("created %s\n", pub_path);
    printf ("created %s\n", sec_path);
    rc = 0;
cleanup:
    if (rc != 0) {
        //  Take back our own half so a failure never leaves half a pair
        if (sec_installed)
            unlink (sec_path);
        if (*sec_tmp)
            unlink (sec_tmp);
        if (*pub_tmp)
            unlink (pub_tmp);
    }
    zcert_destroy (&cert);
    return rc;
}


//  --------------------------------------------------------------------------
//  Tell whether a name is a JWT key file (<kid>.pem).

static bool
s_is_pem_name (const char *name)
{
    size_t len = strlen (name);
    return len > 4 && streq (name + len - 4, ".pem");
}


//  --------------------------------------------------------------------------
//  Write jwt_dir/<kid>.pem, a fresh EC P-256 key in PKCS#8 PEM, and copy its
//  kid into kid (KEYGEN_KID_MAX bytes). Returns 0 or -1.

static int
s_new_jwt_key (const char *jwt_dir, char *kid)
{
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;
    char path [PATH_MAX];
    int rc = -1;

    pkey = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    if (!pkey) {
        s_ssl_error (jwt_dir, "cannot generate EC P-256 key");
        goto cleanup;
    }
    if (s_jwk_thumbprint (pkey, kid, KEYGEN_KID_MAX, jwt_dir) != 0
    ||  s_path (path, sizeof path, "%s/%s.pem", jwt_dir, kid))
        goto cleanup;

    //  Encode into secure memory: the BIO wipes the PEM when freed
    bio = BIO_new (BIO_s_secmem ());
    if (!bio
    ||  !PEM_write_bio_PrivateKey (bio, pkey, NULL, NULL, 0, NULL, NULL)) {
        s_ssl_error (path, "cannot encode private key as PKCS#8 PEM");
        goto cleanup;
    }
    char *pem = NULL;
    long pem_len = BIO_get_mem_data (bio, &pem);
    if (pem_len <= 0 || !pem) {
        fprintf (stderr, "keygen: %s: PEM encoder produced nothing\n", path);
        goto cleanup;
    }
    rc = s_write_secret (path, pem, (size_t) pem_len);
cleanup:
    BIO_free (bio);
    EVP_PKEY_free (pkey);
    return rc;
}


//  --------------------------------------------------------------------------
//  Create a JWT key unless jwt/ already holds a .pem (auth may be rotating
//  several). Returns 0 or -1.

static int
s_ensure_jwt_key (const char *jwt_dir)
{
    DIR *dir = opendir (jwt_dir);
    if (!dir)
        return s_sys_error (jwt_dir, "cannot read directory");
    bool found = false;
    errno = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)) != NULL)
        if (s_is_pem_name (entry->d_name))
            found = true;
    int error = errno;
    closedir (dir);
    if (error != 0) {
        errno = error;
        return s_sys_error (jwt_dir, "cannot read directory");
    }
    char kid [KEYGEN_KID_MAX];
    return found? 0: s_new_jwt_key (jwt_dir, kid);
}


//  --------------------------------------------------------------------------
//  One safe step of a JWT key rotation (see s_usage): drop retired keys
//  whose tokens have all expired, then promote a next key published at
//  least lead_s ago, or publish a new next key when none is waiting.
//  The key set must load as auth would load it before anything changes.

static int
s_rotate_jwt (const char *jwt_dir, int64_t lead_s, int64_t keep_s)
{
    cm_jwt_rotation_t state;
    int64_t now = (int64_t) time (NULL);
    int read_rc = cm_jwt_rotation_read (jwt_dir, &state);
    if (read_rc < 0) {
        fprintf (stderr, "keygen: %s/" CM_JWT_ROTATION_FILE ": unreadable or malformed\n", jwt_dir);
        return -1;
    }
    cm_jwt_keys_t *keys = cm_jwt_keys_new ();
    if (!keys || cm_jwt_keys_load_dir (keys, jwt_dir) != 0) {
        fprintf (stderr, "keygen: %s: the keys do not load as auth would load them "
                         "(a bad .pem, or a signer without a key file)\n", jwt_dir);
        cm_jwt_keys_destroy (&keys);
        return -1;
    }
    //  Every published key gets a line: an unlisted one (a fresh stack's
    //  first key) signs if it is the signer, else it is on its way out
    char kid [KEYGEN_KID_MAX], x [CM_JWT_COORD_B64], y [CM_JWT_COORD_B64];
    for (size_t i = 0; i < cm_jwt_keys_count (keys); i++) {
        if (cm_jwt_keys_jwk (keys, i, kid, sizeof kid, x, sizeof x, y, sizeof y) != 0
        ||  cm_jwt_rotation_find (&state, kid))
            continue;
        cm_jwt_rotation_entry_t *entry = &state.entries [state.count++];
        snprintf (entry->kid, sizeof entry->kid, "%s", kid);
        entry->state = streq (kid, cm_jwt_keys_signer (keys))? CM_JWT_KEY_SIGNING: CM_JWT_KEY_RETIRED;
        entry->since = now;
    }
    cm_jwt_keys_destroy (&keys);

    //  1. Retired keys past keep_s go, lines without a key file too
    char path [PATH_MAX];
    for (size_t i = 0; i < state.count; ) {
        cm_jwt_rotation_entry_t *entry = &state.entries [i];
        bool exists = false;
        if (s_path (path, sizeof path, "%s/%s.pem", jwt_dir, entry->kid) || s_probe (path, &exists))
            return -1;
        if (exists && entry->state == CM_JWT_KEY_RETIRED && now - entry->since >= keep_s) {
            if (unlink (path) != 0)
                return s_sys_error (path, "cannot remove retired key");
            printf ("removed %s (retired %lld s ago)\n", path, (long long) (now - entry->since));
            exists = false;
        }
        //  The signer's key file exists: the set loaded above
        if (!exists)
            state.entries [i] = state.entries [--state.count];
        else
            i++;
    }

    //  2. Promote a next key that verifiers have had lead_s to learn
    cm_jwt_rotation_entry_t *next = NULL, *signing = NULL;
    for (size_t i = 0; i < state.count; i++) {
        if (state.entries [i].state == CM_JWT_KEY_NEXT)
            next = &state.entries [i];
        if (state.entries [i].state == CM_JWT_KEY_SIGNING)
            signing = &state.entries [i];
    }
    if (next && now - next->since >= lead_s) {
        if (signing) {
            signing->state = CM_JWT_KEY_RETIRED;
            signing->since = now;
            printf ("retired %s: still published for %lld s\n", signing->kid, (long long) keep_s);
        }
        next->state = CM_JWT_KEY_SIGNING;
        next->since = now;
        printf ("signing with %s\n", next->kid);
    }
    else
    if (next)
        printf ("next key %s is published; it signs from a run %lld s or more from now\n",
                next->kid, (long long) (lead_s - (now - next->since)));
    else {
        //  3. Publish a new next key
        if (state.count >= CM_JWT_KEYS_MAX) {
            fprintf (stderr, "keygen: %s: %d keys already; run again once retired keys expire\n",
                     jwt_dir, CM_JWT_KEYS_MAX);
            return -1;
        }
        cm_jwt_rotation_entry_t *entry = &state.entries [state.count];
        if (s_new_jwt_key (jwt_dir, entry->kid) != 0)
            return -1;
        entry->state = CM_JWT_KEY_NEXT;
        entry->since = now;
        state.count++;
        printf ("published %s: it signs from a run %lld s or more from now\n",
                entry->kid, (long long) lead_s);
    }
    if (cm_jwt_rotation_write (jwt_dir, &state) != 0)
        return s_sys_error (jwt_dir, "cannot write the rotation file");
    return 0;
}


//  --------------------------------------------------------------------------
//  Look at what already exists before creating anything: half certificate
//  pairs and secret files open to others. Reports every problem found;
//  returns 0 when all is well, -1 otherwise.

static int
s_check_existing (const char *keys_dir)
{
    char path [PATH_MAX];
    char other [PATH_MAX];
    int problems = 0;

    for (size_t i = 0; i < KEYGEN_COUNT (s_cert_services); i++) {
        bool pub_exists = false;
        bool sec_exists = false;
        if (s_path (path, sizeof path, "%s/%s.cert_secret", keys_dir, s_cert_services [i])
        ||  s_path (other, sizeof other, "%s/%s.cert", keys_dir, s_cert_services [i])
        ||  s_probe (path, &sec_exists)
        ||  s_probe (other, &pub_exists)) {
            problems++;
            continue;
        }
        if (sec_exists != pub_exists) {
            s_half_pair_error (sec_exists? path: other, sec_exists? other: path);
            problems++;
        }
        if (sec_exists && s_check_private (path) != 0)
            problems++;
    }
    for (size_t i = 0; i < KEYGEN_COUNT (s_db_services) + KEYGEN_COUNT (s_secret_keys); i++) {
        bool exists = false;
        int fmt_rc = i < KEYGEN_COUNT (s_db_services)
            ? s_path (path, sizeof path, "%s/db/%s.password", keys_dir, s_db_services [i])
            : s_path (path, sizeof path, "%s/secrets/%s.key", keys_dir,
                      s_secret_keys [i - KEYGEN_COUNT (s_db_services)]);
        if (fmt_rc || s_probe (path, &exists)) {
            problems++;
            continue;
        }
        if (exists && s_check_private (path) != 0)
            problems++;
    }

    if (s_path (other, sizeof other, "%s/jwt", keys_dir))
        return -1;
    DIR *dir = opendir (other);
    if (!dir)
        return s_sys_error (other, "cannot read directory");
    struct dirent *entry;
    while ((entry = readdir (dir)) != NULL) {
        if (!s_is_pem_name (entry->d_name))
            continue;
        if (s_path (path, sizeof path, "%s/%s", other, entry->d_name)
        ||  s_check_private (path) != 0)
            problems++;
    }
    closedir (dir);
    return problems? -1: 0;
}


//  --------------------------------------------------------------------------
//  Parse arguments, then create whatever is missing under KEYS_DIR while
//  holding a lock on it. Exit 0 on success, 1 on any failure, 2 on usage.

int
main (int argc, char *argv [])
{
    const char *dir_arg = NULL;
    bool rotate = false;
    int64_t lead_s = KEYGEN_JWT_LEAD_S, keep_s = KEYGEN_JWT_KEEP_S;
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "--help") || streq (argv [i], "-h")) {
            s_usage (stdout);
            return 0;
        }
        else
        if (streq (argv [i], "--dir")) {
            if (i + 1 == argc) {
                fprintf (stderr, "keygen: --dir needs a directory\n");
                return 2;
            }
            dir_arg = argv [++i];
        }
        else
        if (strncmp (argv [i], "--dir=", 6) == 0)
            dir_arg = argv [i] + 6;
        else
        if (streq (argv [i], "--rotate-jwt"))
            rotate = true;
        else
        if (streq (argv [i], "--lead") || streq (argv [i], "--keep")) {
            char *end = NULL;
            long long value = i + 1 < argc? strtoll (argv [i + 1], &end, 10): -1;
            if (value < 0 || value > 30 * 86400 || !end || *end || end == argv [i + 1]) {
                fprintf (stderr, "keygen: %s needs seconds (0..2592000)\n", argv [i]);
                return 2;
            }
            *(streq (argv [i], "--lead")? &lead_s: &keep_s) = value;
            i++;
        }
        else {
            fprintf (stderr, "keygen: unexpected argument '%s'\n", argv [i]);
            s_usage (stderr);
            return 2;
        }
    }
    if (!dir_arg) {
        const char *env = getenv ("KEYS_DIR");
        dir_arg = env && *env? env: KEYGEN_DEFAULT_DIR;
    }
    if (!*dir_arg) {
        fprintf (stderr, "keygen: --dir needs a non-empty directory\n");
        return 2;
    }

    //  Everything we create is private unless we open it up on purpose;
    //  czmq's zsys_file_mode_private/default restore this mask, not 022
    umask (077);
    //  One line per file as it happens, even when stdout is a pipe
    setvbuf (stdout, NULL, _IOLBF, 0);

    char keys_dir [PATH_MAX];
    char path [PATH_MAX];
    int lock_fd = -1;
    int rc = 1;

    if (s_path (keys_dir, sizeof keys_dir, "%s", dir_arg))
        goto cleanup;
    size_t len = strlen (keys_dir);
    while (len > 1 && keys_dir [len - 1] == '/')
        keys_dir [--len] = '\0';

    if (s_ensure_dir_tree (keys_dir) != 0)
        goto cleanup;
    for (size_t i = 0; i < KEYGEN_COUNT (s_subdirs); i++)
        if (s_path (path, sizeof path, "%s/%s", keys_dir, s_subdirs [i])
        ||  s_ensure_dir (path) != 0)
            goto cleanup;

    //  Two runs at once (parallel make) would each mint a JWT key
    lock_fd = open (keys_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lock_fd < 0) {
        s_sys_error (keys_dir, "cannot open directory to lock it");
        goto cleanup;
    }
    if (flock (lock_fd, LOCK_EX) != 0) {
        s_sys_error (keys_dir, "cannot lock directory");
        goto cleanup;
    }

    if (rotate) {
        if (s_path (path, sizeof path, "%s/jwt", keys_dir) == 0
        &&  s_rotate_jwt (path, lead_s, keep_s) == 0)
            rc = 0;
        goto cleanup;
    }
    if (s_check_existing (keys_dir) != 0)
        goto cleanup;

    for (size_t i = 0; i < KEYGEN_COUNT (s_cert_services); i++)
        if (s_ensure_cert_pair (keys_dir, s_cert_services [i]) != 0)
            goto cleanup;

    if (s_path (path, sizeof path, "%s/jwt", keys_dir)
    ||  s_ensure_jwt_key (path) != 0)
        goto cleanup;

    for (size_t i = 0; i < KEYGEN_COUNT (s_db_services); i++)
        if (s_path (path, sizeof path, "%s/db/%s.password", keys_dir, s_db_services [i])
        ||  s_ensure_random_file (path) != 0)
            goto cleanup;

    for (size_t i = 0; i < KEYGEN_COUNT (s_secret_keys); i++)
        if (s_path (path, sizeof path, "%s/secrets/%s.key", keys_dir, s_secret_keys [i])
        ||  s_ensure_random_file (path) != 0)
            goto cleanup;

    rc = 0;
cleanup:
    if (lock_fd >= 0)
        close (lock_fd);
    if (fflush (stdout) != 0)
        rc = 1;
    return rc;
}
