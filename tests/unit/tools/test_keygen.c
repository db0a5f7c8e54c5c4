/*  test_keygen - run bin/keygen on throwaway directories and check its output

    Runs the built binary ($KEYGEN_BIN, default bin/keygen) as a child
    process, so what is tested is exactly what `make run` executes. The
    JWK thumbprint is recomputed here by a different route (encoded point,
    EVP_EncodeBlock, EVP_Q_digest) so a shared mistake cannot hide.
*/

#include <criterion/criterion.h>
#include <czmq.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cm_jwt.h"
#include "tmpdir.h"

#define TEST_OUT_MAX    8192        //  ceiling on captured stdout / stderr
#define TEST_FILE_MAX   65536       //  ceiling on any file we read back
#define TEST_SNAP_MAX   64          //  ceiling on entries in a tree snapshot
#define TEST_ARGS_MAX   8           //  ceiling on arguments to one keygen run
#define TEST_LINES_MAX  16          //  ceiling on lines read from jwt/rotation

static const char *s_cert_services [] = {
    "gateway", "auth", "missions", "evidence", "privacy", "audit"
};
static const char *s_db_services [] = {
    "auth", "missions", "evidence", "privacy", "audit"
};
static const char *s_secret_keys [] = {
    "evidence_master", "upload_url", "auth_data", "audit_master", "audit_checkpoint"
};
#define COUNT(a) (sizeof (a) / sizeof ((a) [0]))

static char s_base [PATH_MAX];      //  mkdtemp root, removed in teardown
static char s_keys [PATH_MAX];      //  s_base/keys: keygen creates it

typedef struct {
    int status;                     //  exit code, or -1 when killed by a signal
    char out [TEST_OUT_MAX];        //  everything written to stdout
    char err [TEST_OUT_MAX];        //  everything written to stderr
} run_t;

typedef struct {
    char path [PATH_MAX];           //  absolute path
    mode_t mode;                    //  st_mode
    ino_t ino;                      //  same inode = not replaced
    size_t size;
    char *data;                     //  owned; NULL for directories
} snap_entry_t;

typedef struct {
    snap_entry_t entry [TEST_SNAP_MAX];
    size_t count;
} snap_t;

typedef struct {
    char kid [64];                  //  as written, up to 63 chars
    char state [16];                //  next, signing or retired
    long long since;                //  Unix seconds
} rotation_line_t;

typedef struct {
    rotation_line_t line [TEST_LINES_MAX];
    size_t count;
} rotation_t;

static snap_t *s_snap_target;       //  nftw has no user pointer


//  --------------------------------------------------------------------------
//  snprintf that fails the test instead of truncating. Returns the length.

static int __attribute__ ((format (printf, 3, 4)))
s_fmt (char *buf, size_t size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int len = vsnprintf (buf, size, format, args);
    va_end (args);
    cr_assert (len >= 0 && (size_t) len < size, "formatted text too long");
    return len;
}


//  --------------------------------------------------------------------------
//  Fresh temporary root for each test; keygen creates s_keys under it.

static void
s_setup (void)
{
    strcpy (s_base, "/tmp/test_keygen.XXXXXX");
    cr_assert_not_null (mkdtemp (s_base), "mkdtemp: %s", strerror (errno));
    s_fmt (s_keys, sizeof s_keys, "%s/keys", s_base);
}


//  --------------------------------------------------------------------------
//  Remove the temporary root whatever the test left there.

static void
s_teardown (void)
{
    if (*s_base)
        tmpdir_remove (s_base);
    *s_base = '\0';
}

TestSuite (keygen, .init = s_setup, .fini = s_teardown);


//  --------------------------------------------------------------------------
//  Read a whole file (up to TEST_FILE_MAX) into a NUL-terminated heap
//  buffer; caller frees. NULL when it cannot be read.

static char *
s_slurp (const char *path, size_t *size_p)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    char *data = malloc (TEST_FILE_MAX + 1);
    size_t size = data? fread (data, 1, TEST_FILE_MAX, file): 0;
    fclose (file);
    if (data)
        data [size] = '\0';
    if (size_p)
        *size_p = size;
    return data;
}


//  --------------------------------------------------------------------------
//  Run keygen with args (a NULL-terminated list of at most TEST_ARGS_MAX).
//  keys_env sets $KEYS_DIR, NULL unsets it. Captures status, stdout and
//  stderr.

static void
s_run_args (run_t *run, const char *keys_env, const char *const *args)
{
    const char *bin = getenv ("KEYGEN_BIN");
    if (!bin || !*bin)
        bin = "bin/keygen";
    cr_assert (access (bin, X_OK) == 0,
               "keygen binary '%s' not found (build it or set KEYGEN_BIN)", bin);

    char *argv [TEST_ARGS_MAX + 2] = { (char *) bin };
    size_t argc = 1;
    for (; args [argc - 1]; argc++) {
        cr_assert_leq (argc, TEST_ARGS_MAX, "too many arguments");
        argv [argc] = (char *) args [argc - 1];
    }
    argv [argc] = NULL;

    char out_path [PATH_MAX];
    char err_path [PATH_MAX];
    s_fmt (out_path, sizeof out_path, "%s/stdout", s_base);
    s_fmt (err_path, sizeof err_path, "%s/stderr", s_base);

    pid_t pid = fork ();
    cr_assert (pid >= 0, "fork: %s", strerror (errno));
    if (pid == 0) {
        int out_fd = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err_fd = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out_fd < 0 || err_fd < 0
        ||  dup2 (out_fd, STDOUT_FILENO) < 0 || dup2 (err_fd, STDERR_FILENO) < 0)
            _exit (126);
        if (keys_env)
            setenv ("KEYS_DIR", keys_env, 1);
        else
            unsetenv ("KEYS_DIR");
        execv (bin, argv);
        _exit (127);
    }
    int wstatus = 0;
    while (waitpid (pid, &wstatus, 0) < 0)
        cr_assert (errno == EINTR, "waitpid: %s", strerror (errno));
    run->status = WIFEXITED (wstatus)? WEXITSTATUS (wstatus): -1;

    char *out = s_slurp (out_path, NULL);
    char *err = s_slurp (err_path, NULL);
    s_fmt (run->out, sizeof run->out, "%s", out? out: "");
    s_fmt (run->err, sizeof run->err, "%s", err? err: "");
    free (out);
    free (err);
    unlink (out_path);
    unlink (err_path);
}


//  --------------------------------------------------------------------------
//  Run keygen with up to two arguments (NULL where there are fewer).

static void
s_run (run_t *run, const char *keys_env, const char *arg1, const char *arg2)
{
    const char *args [] = { arg1, arg1? arg2: NULL, NULL };
    s_run_args (run, keys_env, args);
}


//  --------------------------------------------------------------------------
//  Run keygen --dir s_keys and insist that it succeeded.

static void
s_run_ok (run_t *run)
{
    s_run (run, NULL, "--dir", s_keys);
    cr_assert_eq (run->status, 0, "keygen failed (%d): %s", run->status, run->err);
}


//  --------------------------------------------------------------------------
//  Fill path with s_keys/<relative>.

static void
s_key_path (char *path, size_t size, const char *relative)
{
    s_fmt (path, size, "%s/%s", s_keys, relative);
}


//  --------------------------------------------------------------------------
//  Return the single .pem name in jwt/ (static buffer), failing the test
//  when there is not exactly one.

static const char *
s_jwt_name (void)
{
    static char name [NAME_MAX + 1];
    char jwt [PATH_MAX];
    s_key_path (jwt, sizeof jwt, "jwt");
    DIR *dir = opendir (jwt);
    cr_assert_not_null (dir, "opendir %s: %s", jwt, strerror (errno));
    int found = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)) != NULL) {
        size_t len = strlen (entry->d_name);
        if (len > 4 && strcmp (entry->d_name + len - 4, ".pem") == 0) {
            s_fmt (name, sizeof name, "%s", entry->d_name);
            found++;
        }
    }
    closedir (dir);
    cr_assert_eq (found, 1, "expected exactly one .pem in jwt/, found %d", found);
    return name;
}


//  --------------------------------------------------------------------------
//  Assert that path has exactly the permission bits want.

static void
s_assert_mode (const char *path, mode_t want)
{
    struct stat st;
    cr_assert_eq (stat (path, &st), 0, "stat %s: %s", path, strerror (errno));
    cr_assert_eq (st.st_mode & 07777, want, "%s has mode %04o, want %04o",
                  path, (unsigned) (st.st_mode & 07777), (unsigned) want);
}


//  --------------------------------------------------------------------------
//  Fill list with every secret file keygen makes, as paths relative to
//  s_keys; the JWT key's name is found on disk. Returns the count.

static size_t
s_secret_files (char list [][PATH_MAX], size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < COUNT (s_cert_services); i++)
        s_fmt (list [count++], PATH_MAX, "%s.cert_secret", s_cert_services [i]);
    for (size_t i = 0; i < COUNT (s_db_services); i++)
        s_fmt (list [count++], PATH_MAX, "db/%s.password", s_db_services [i]);
    for (size_t i = 0; i < COUNT (s_secret_keys); i++)
        s_fmt (list [count++], PATH_MAX, "secrets/%s.key", s_secret_keys [i]);
    s_fmt (list [count++], PATH_MAX, "jwt/%s", s_jwt_name ());
    cr_assert_leq (count, max);
    return count;
}


//  --------------------------------------------------------------------------
//  Record one entry of the tree being snapshotted.

static int
s_snap_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) flag;
    (void) ftw;
    snap_t *snap = s_snap_target;
    if (snap->count >= TEST_SNAP_MAX)
        return 1;
    snap_entry_t *entry = &snap->entry [snap->count++];
    s_fmt (entry->path, sizeof entry->path, "%s", path);
    entry->mode = st->st_mode;
    entry->ino = st->st_ino;
    entry->size = (size_t) st->st_size;
    entry->data = S_ISREG (st->st_mode)? s_slurp (path, NULL): NULL;
    return 0;
}


//  --------------------------------------------------------------------------
//  Snapshot every entry under s_keys, s_keys included: path, mode, inode
//  and bytes. Caller frees with s_snapshot_free.

static void
s_snapshot (snap_t *snap)
{
    memset (snap, 0, sizeof *snap);
    s_snap_target = snap;
    cr_assert_eq (nftw (s_keys, s_snap_entry, 16, FTW_PHYS), 0, "snapshot walk failed");
}


//  --------------------------------------------------------------------------
//  Free what a snapshot holds.

static void
s_snapshot_free (snap_t *snap)
{
    for (size_t i = 0; i < snap->count; i++)
        free (snap->entry [i].data);
    snap->count = 0;
}


//  --------------------------------------------------------------------------
//  Find path in a snapshot, NULL when absent.

static snap_entry_t *
s_snapshot_find (snap_t *snap, const char *path)
{
    for (size_t i = 0; i < snap->count; i++)
        if (strcmp (snap->entry [i].path, path) == 0)
            return &snap->entry [i];
    return NULL;
}


//  --------------------------------------------------------------------------
//  Assert that every entry of before is still in after, untouched (same
//  mode, inode, bytes). Extra entries in after are the caller's business.

static void
s_assert_unchanged (snap_t *before, snap_t *after)
{
    for (size_t i = 0; i < before->count; i++) {
        snap_entry_t *old = &before->entry [i];
        snap_entry_t *now = s_snapshot_find (after, old->path);
        cr_assert_not_null (now, "%s disappeared", old->path);
        cr_assert_eq (now->mode, old->mode, "%s changed mode", old->path);
        cr_assert_eq (now->ino, old->ino, "%s was replaced", old->path);
        cr_assert_eq (now->size, old->size, "%s changed size", old->path);
        if (old->data)
            cr_assert (now->data && memcmp (now->data, old->data, old->size) == 0,
                       "%s changed content", old->path);
    }
}


//  --------------------------------------------------------------------------
//  Base64url without padding via OpenSSL's base64 encoder plus the RFC 4648
//  section 5 alphabet swap; out must hold 4 * ceil(len / 3) + 1.

static void
s_b64url (char *out, const unsigned char *in, size_t len)
{
    int n = EVP_EncodeBlock ((unsigned char *) out, in, (int) len);
    for (int i = 0; i < n; i++) {
        if (out [i] == '+')
            out [i] = '-';
        else
        if (out [i] == '/')
            out [i] = '_';
        else
        if (out [i] == '=') {
            out [i] = '\0';
            break;
        }
    }
}


//  --------------------------------------------------------------------------
//  RFC 7638 thumbprint of an EC P-256 key, computed from the uncompressed
//  encoded point (0x04 || X || Y) rather than from the coordinates.

static void
s_thumbprint (EVP_PKEY *pkey, char *out)
{
    unsigned char point [65];
    size_t point_len = 0;
    cr_assert (EVP_PKEY_get_octet_string_param (pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                                point, sizeof point, &point_len));
    cr_assert_eq (point_len, 65);
    cr_assert_eq (point [0], 0x04, "expected an uncompressed point");

    char x [64];
    char y [64];
    s_b64url (x, point + 1, 32);
    s_b64url (y, point + 33, 32);
    char json [256];
    int len = s_fmt (json, sizeof json,
                        "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    unsigned char digest [32];
    size_t digest_len = 0;
    cr_assert (EVP_Q_digest (NULL, "SHA256", NULL, json, (size_t) len,
                             digest, &digest_len));
    cr_assert_eq (digest_len, 32);
    s_b64url (out, digest, digest_len);
}


//  --------------------------------------------------------------------------
//  Tell whether text is exactly 64 lowercase hex digits and a newline.

static bool
s_is_hex_line (const char *text, size_t size)
{
    if (size != 65 || text [64] != '\n')
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((text [i] >= '0' && text [i] <= '9') || (text [i] >= 'a' && text [i] <= 'f')))
            return false;
    return true;
}


//  --------------------------------------------------------------------------
//  Assert that jwt/<name> is a private (0600) PKCS#8 EC P-256 key whose
//  file name is its RFC 7638 thumbprint plus ".pem".

static void
s_assert_jwt_key (const char *name)
{
    char path [PATH_MAX];
    s_fmt (path, sizeof path, "%s/jwt/%s", s_keys, name);
    s_assert_mode (path, 0600);

    char *pem = s_slurp (path, NULL);
    cr_assert_not_null (pem, "%s missing", path);
    cr_assert (strncmp (pem, "-----BEGIN " "PRIVATE KEY-----\n", 28) == 0,
               "not a PKCS#8 PEM");
    free (pem);

    FILE *file = fopen (path, "r");
    cr_assert_not_null (file);
    EVP_PKEY *pkey = PEM_read_PrivateKey (file, NULL, NULL, NULL);
    fclose (file);
    cr_assert_not_null (pkey, "PEM does not load as a private key");
    cr_assert (EVP_PKEY_is_a (pkey, "EC"), "not an EC key");
    char group [64] = "";
    cr_assert (EVP_PKEY_get_utf8_string_param (pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                               group, sizeof group, NULL));
    cr_assert_str_eq (group, "prime256v1");
    cr_assert_eq (EVP_PKEY_get_bits (pkey), 256);

    char kid [64];
    s_thumbprint (pkey, kid);
    EVP_PKEY_free (pkey);
    cr_assert_eq (strlen (kid), 43);

    char expected [80];
    s_fmt (expected, sizeof expected, "%s.pem", kid);
    cr_assert_str_eq (name, expected, "file name is not the RFC 7638 thumbprint");
}


//  --------------------------------------------------------------------------
//  Run keygen --rotate-jwt --dir s_keys, with --lead and --keep when given.

static void
s_rotate (run_t *run, const char *lead, const char *keep)
{
    const char *args [TEST_ARGS_MAX + 1] = { "--rotate-jwt", "--dir", s_keys };
    size_t count = 3;
    if (lead) {
        args [count++] = "--lead";
        args [count++] = lead;
    }
    if (keep) {
        args [count++] = "--keep";
        args [count++] = keep;
    }
    args [count] = NULL;
    s_run_args (run, NULL, args);
}


//  --------------------------------------------------------------------------
//  s_rotate, insisting that it succeeded.

static void
s_rotate_ok (run_t *run, const char *lead, const char *keep)
{
    s_rotate (run, lead, keep);
    cr_assert_eq (run->status, 0, "keygen --rotate-jwt failed (%d): %s", run->status, run->err);
}


//  --------------------------------------------------------------------------
//  Number of .pem files in jwt/, failing the test on anything there but
//  .pem files and the rotation file (a temporary left behind, say).

static size_t
s_jwt_key_count (void)
{
    char jwt [PATH_MAX];
    s_key_path (jwt, sizeof jwt, "jwt");
    DIR *dir = opendir (jwt);
    cr_assert_not_null (dir, "opendir %s: %s", jwt, strerror (errno));
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)) != NULL) {
        size_t len = strlen (entry->d_name);
        if (len > 4 && strcmp (entry->d_name + len - 4, ".pem") == 0)
            count++;
        else
            cr_assert (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0
                    || strcmp (entry->d_name, "rotation") == 0,
                       "unexpected jwt/%s", entry->d_name);
    }
    closedir (dir);
    return count;
}


//  --------------------------------------------------------------------------
//  Tell whether jwt/<kid>.pem exists.

static bool
s_jwt_key_exists (const char *kid)
{
    char path [PATH_MAX];
    s_fmt (path, sizeof path, "%s/jwt/%s.pem", s_keys, kid);
    return access (path, F_OK) == 0;
}


//  --------------------------------------------------------------------------
//  Read jwt/rotation with sscanf, not with the module keygen uses, and
//  fail the test on any line that is not "<kid> <state> <unix>".

static void
s_rotation_load (rotation_t *rotation)
{
    char path [PATH_MAX];
    s_key_path (path, sizeof path, "jwt/rotation");
    char *text = s_slurp (path, NULL);
    cr_assert_not_null (text, "%s missing", path);
    memset (rotation, 0, sizeof *rotation);
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        cr_assert_lt (rotation->count, TEST_LINES_MAX, "too many lines");
        rotation_line_t *entry = &rotation->line [rotation->count++];
        int used = 0;
        cr_assert_eq (sscanf (line, "%63s %15s %lld%n", entry->kid, entry->state,
                              &entry->since, &used), 3, "bad line '%s'", line);
        cr_assert_eq ((size_t) used, strlen (line), "trailing text in '%s'", line);
    }
    free (text);
}


//  --------------------------------------------------------------------------
//  Write rotation back to jwt/rotation, as an operator's editor would: the
//  tests move times into the past instead of waiting.

static void
s_rotation_save (const rotation_t *rotation)
{
    char path [PATH_MAX];
    s_key_path (path, sizeof path, "jwt/rotation");
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file, "cannot write %s", path);
    for (size_t i = 0; i < rotation->count; i++)
        cr_assert_gt (fprintf (file, "%s %s %lld\n", rotation->line [i].kid,
                               rotation->line [i].state, rotation->line [i].since), 0);
    cr_assert_eq (fclose (file), 0);
}


//  --------------------------------------------------------------------------
//  The line for kid, failing the test when there is none.

static rotation_line_t *
s_rotation_find (rotation_t *rotation, const char *kid)
{
    for (size_t i = 0; i < rotation->count; i++)
        if (strcmp (rotation->line [i].kid, kid) == 0)
            return &rotation->line [i];
    cr_assert_fail ("no rotation line for %s", kid);
    return NULL;
}


//  --------------------------------------------------------------------------
//  The kid of the one line in state, failing the test unless there is
//  exactly one.

static const char *
s_rotation_kid (const rotation_t *rotation, const char *state)
{
    const char *kid = NULL;
    for (size_t i = 0; i < rotation->count; i++)
        if (strcmp (rotation->line [i].state, state) == 0) {
            cr_assert_null (kid, "two %s keys", state);
            kid = rotation->line [i].kid;
        }
    cr_assert_not_null (kid, "no %s key", state);
    return kid;
}


//  --------------------------------------------------------------------------
//  Copy into kid (64 bytes) the key auth would sign with, loading jwt/ the
//  way auth does.

static void
s_auth_signer (char *kid)
{
    char jwt [PATH_MAX];
    s_key_path (jwt, sizeof jwt, "jwt");
    cm_jwt_keys_t *keys = cm_jwt_keys_new ();
    cr_assert_not_null (keys);
    cr_assert_eq (cm_jwt_keys_load_dir (keys, jwt), 0, "auth would not load %s", jwt);
    const char *signer = cm_jwt_keys_signer (keys);
    cr_assert_not_null (signer);
    s_fmt (kid, 64, "%s", signer);
    cm_jwt_keys_destroy (&keys);
}


//  --------------------------------------------------------------------------
//  Assert that kid was published by the run just made: a private key file
//  named by its thumbprint, a 'created' line and a 'published' line.

static void
s_assert_published (const run_t *run, const char *kid)
{
    char name [80];
    char line [PATH_MAX + 32];
    s_fmt (name, sizeof name, "%s.pem", kid);
    s_assert_jwt_key (name);
    s_fmt (line, sizeof line, "created %s/jwt/%s\n", s_keys, name);
    cr_assert_not_null (strstr (run->out, line), "no '%s' in: %s", line, run->out);
    s_fmt (line, sizeof line, "published %s: ", kid);
    cr_assert_not_null (strstr (run->out, line), "no '%s' in: %s", line, run->out);
}


Test (keygen, creates_every_file, .timeout = 30)
{
    run_t run;
    s_run_ok (&run);

    char path [PATH_MAX];
    char line [PATH_MAX + 16];
    const char *subdirs [] = { ".", "jwt", "db", "secrets" };
    for (size_t i = 0; i < COUNT (subdirs); i++) {
        s_key_path (path, sizeof path, subdirs [i]);
        struct stat st;
        cr_assert (stat (path, &st) == 0 && S_ISDIR (st.st_mode), "%s missing", path);
    }
    for (size_t i = 0; i < COUNT (s_cert_services); i++) {
        const char *suffixes [] = { ".cert", ".cert_secret" };
        for (size_t j = 0; j < 2; j++) {
            s_fmt (path, sizeof path, "%s/%s%s", s_keys, s_cert_services [i], suffixes [j]);
            cr_assert (access (path, R_OK) == 0, "%s missing", path);
            s_fmt (line, sizeof line, "created %s\n", path);
            cr_assert_not_null (strstr (run.out, line), "no '%s' in output", path);
        }
    }
    char list [24][PATH_MAX];
    size_t count = s_secret_files (list, 24);
    for (size_t i = 0; i < count; i++) {
        s_key_path (path, sizeof path, list [i]);
        cr_assert (access (path, R_OK) == 0, "%s missing", path);
        s_fmt (line, sizeof line, "created %s\n", path);
        cr_assert_not_null (strstr (run.out, line), "no '%s' in output", path);
    }
    //  Nothing left behind under a temporary name
    snap_t *snap = calloc (1, sizeof *snap);
    s_snapshot (snap);
    for (size_t i = 0; i < snap->count; i++)
        cr_assert_null (strstr (snap->entry [i].path, ".tmp"),
                        "leftover %s", snap->entry [i].path);
    //  4 directories, 12 certificate files, 1 JWT key, 5 passwords, 5 keys
    cr_assert_eq (snap->count, 4 + 12 + 1 + 5 + 5, "unexpected entries: %zu", snap->count);
    s_snapshot_free (snap);
    free (snap);
}


Test (keygen, modes_are_private, .timeout = 30)
{
    run_t run;
    s_run_ok (&run);

    char path [PATH_MAX];
    s_assert_mode (s_keys, 0700);
    const char *subdirs [] = { "jwt", "db", "secrets" };
    for (size_t i = 0; i < COUNT (subdirs); i++) {
        s_key_path (path, sizeof path, subdirs [i]);
        s_assert_mode (path, 0700);
    }
    char list [24][PATH_MAX];
    size_t count = s_secret_files (list, 24);
    for (size_t i = 0; i < count; i++) {
        s_key_path (path, sizeof path, list [i]);
        s_assert_mode (path, 0600);
    }
    for (size_t i = 0; i < COUNT (s_cert_services); i++) {
        s_fmt (path, sizeof path, "%s/%s.cert", s_keys, s_cert_services [i]);
        s_assert_mode (path, 0644);
    }
}


Test (keygen, certificates_load_and_public_file_has_no_secret, .timeout = 30)
{
    run_t run;
    s_run_ok (&run);

    char public_keys [COUNT (s_cert_services)][41];
    for (size_t i = 0; i < COUNT (s_cert_services); i++) {
        const char *svc = s_cert_services [i];
        char path [PATH_MAX];
        s_fmt (path, sizeof path, "%s/%s.cert", s_keys, svc);

        //  zcert_load prefers <path>_secret, so this reads the full pair
        zcert_t *pair = zcert_load (path);
        cr_assert_not_null (pair, "zcert_load %s", path);
        const char *public_txt = zcert_public_txt (pair);
        const char *secret_txt = zcert_secret_txt (pair);
        cr_assert_eq (strlen (public_txt), 40, "%s: public key not 40 chars", svc);
        cr_assert_eq (strlen (secret_txt), 40);
        cr_assert_str_neq (secret_txt, "0000000000000000000000000000000000000000",
                           "%s: null secret key (no CURVE?)", svc);
        uint8_t raw [32];
        cr_assert_not_null (zmq_z85_decode (raw, public_txt), "%s: bad Z85", svc);
        cr_assert_str_eq (zcert_meta (pair, "name"), svc);
        s_fmt (public_keys [i], sizeof public_keys [i], "%s", public_txt);

        //  The public file alone: same public key, and no secret in any form
        zconfig_t *public_only = zconfig_load (path);
        cr_assert_not_null (public_only, "zconfig_load %s", path);
        cr_assert_str_eq (zconfig_get (public_only, "/curve/public-key", ""), public_txt);
        cr_assert_null (zconfig_locate (public_only, "/curve/secret-key"));
        zconfig_destroy (&public_only);

        char *bytes = s_slurp (path, NULL);
        cr_assert_not_null (bytes);
        cr_assert_null (strstr (bytes, secret_txt), "%s: secret key in public file", svc);
        cr_assert_null (strstr (bytes, "secret-key"), "%s: secret-key in public file", svc);
        free (bytes);

        //  The secret file holds the same public key as the public one
        s_fmt (path, sizeof path, "%s/%s.cert_secret", s_keys, svc);
        zconfig_t *secret_file = zconfig_load (path);
        cr_assert_not_null (secret_file);
        cr_assert_str_eq (zconfig_get (secret_file, "/curve/public-key", ""), public_txt);
        cr_assert_str_eq (zconfig_get (secret_file, "/curve/secret-key", ""), secret_txt);
        zconfig_destroy (&secret_file);
        zcert_destroy (&pair);
    }
    for (size_t i = 0; i < COUNT (s_cert_services); i++)
        for (size_t j = i + 1; j < COUNT (s_cert_services); j++)
            cr_assert_str_neq (public_keys [i], public_keys [j], "two services share a key");
}


Test (keygen, jwt_key_is_p256_named_by_thumbprint, .timeout = 30)
{
    run_t run;
    s_run_ok (&run);
    s_assert_jwt_key (s_jwt_name ());
}


Test (keygen, random_files_are_distinct_hex, .timeout = 30)
{
    run_t run;
    s_run_ok (&run);

    char seen [COUNT (s_db_services) + COUNT (s_secret_keys)][66];
    size_t count = 0;
    for (size_t i = 0; i < COUNT (s_db_services) + COUNT (s_secret_keys); i++) {
        char path [PATH_MAX];
        if (i < COUNT (s_db_services))
            s_fmt (path, sizeof path, "%s/db/%s.password", s_keys, s_db_services [i]);
        else
            s_fmt (path, sizeof path, "%s/secrets/%s.key", s_keys,
                      s_secret_keys [i - COUNT (s_db_services)]);
        size_t size = 0;
        char *text = s_slurp (path, &size);
        cr_assert_not_null (text, "%s missing", path);
        cr_assert (s_is_hex_line (text, size), "%s is not 64 hex digits + newline", path);
        //  The output must name files only, never their contents
        text [64] = '\0';
        cr_assert_null (strstr (run.out, text), "%s printed", path);
        cr_assert_null (strstr (run.err, text), "%s printed", path);
        for (size_t j = 0; j < count; j++)
            cr_assert_str_neq (seen [j], text, "%s repeats another secret", path);
        s_fmt (seen [count++], sizeof seen [0], "%s", text);
        free (text);
    }
}


Test (keygen, second_run_changes_nothing, .timeout = 30)
{
    run_t run;
    s_run_ok (&run);
    snap_t *before = calloc (1, sizeof *before);
    snap_t *after = calloc (1, sizeof *after);
    s_snapshot (before);

    s_run_ok (&run);
    cr_assert_str_eq (run.out, "", "second run created: %s", run.out);
    s_snapshot (after);
    cr_assert_eq (after->count, before->count, "second run added entries");
    s_assert_unchanged (before, after);

    s_snapshot_free (before);
    s_snapshot_free (after);
    free (before);
    free (after);
}


Test (keygen, missing_cert_secret_fails, .timeout = 30)
{
    run_t run;
    s_run_ok (&run);
    char path [PATH_MAX];
    s_key_path (path, sizeof path, "audit.cert_secret");
    cr_assert_eq (unlink (path), 0);

    snap_t *before = calloc (1, sizeof *before);
    snap_t *after = calloc (1, sizeof *after);
    s_snapshot (before);
    s_run (&run, NULL, "--dir", s_keys);
    cr_assert_neq (run.status, 0, "half a pair must be an error");
    cr_assert_not_null (strstr (run.err, "audit.cert_secret"), "error must name the file");
    cr_assert_eq (access (path, F_OK), -1, "half pair was regenerated");

    s_snapshot (after);
    cr_assert_eq (after->count, before->count, "failed run created files");
    s_assert_unchanged (before, after);
    s_snapshot_free (before);
    s_snapshot_free (after);
    free (before);
    free (after);
}


Test (keygen, missing_public_cert_fails, .timeout = 30)
{
    run_t run;
    s_run_ok (&run);
    char path [PATH_MAX];
    s_key_path (path, sizeof path, "gateway.cert");
    cr_assert_eq (unlink (path), 0);

    s_run (&run, NULL, "--dir", s_keys);
    cr_assert_neq (run.status, 0);
    cr_assert_not_null (strstr (run.err, "gateway.cert"));
    cr_assert_eq (access (path, F_OK), -1, "half pair was regenerated");
}


Test (keygen, recreates_only_what_is_missing, .timeout = 30)
{
    run_t run;
    s_run_ok (&run);
    char password [PATH_MAX];
    char key [PATH_MAX];
    s_key_path (password, sizeof password, "db/missions.password");
    s_key_path (key, sizeof key, "secrets/upload_url.key");
    cr_assert_eq (unlink (password), 0);
    cr_assert_eq (unlink (key), 0);

    snap_t *before = calloc (1, sizeof *before);
    snap_t *after = calloc (1, sizeof *after);
    s_snapshot (before);
    s_run_ok (&run);
    char expected [2 * PATH_MAX + 32];
    s_fmt (expected, sizeof expected, "created %s\ncreated %s\n", password, key);
    cr_assert_str_eq (run.out, expected);
    s_assert_mode (password, 0600);
    s_assert_mode (key, 0600);

    s_snapshot (after);
    cr_assert_eq (after->count, before->count + 2);
    s_assert_unchanged (before, after);
    s_snapshot_free (before);
    s_snapshot_free (after);
    free (before);
    free (after);
}


Test (keygen, keeps_any_existing_jwt_key, .timeout = 30)
{
    run_t run;
    s_run_ok (&run);
    char old_path [PATH_MAX];
    char new_path [PATH_MAX];
    s_fmt (old_path, sizeof old_path, "%s/jwt/%s", s_keys, s_jwt_name ());
    s_key_path (new_path, sizeof new_path, "jwt/rotated.pem");
    cr_assert_eq (rename (old_path, new_path), 0);

    s_run_ok (&run);
    cr_assert_str_eq (run.out, "", "a second JWT key was made: %s", run.out);
    cr_assert_str_eq (s_jwt_name (), "rotated.pem");
}


Test (keygen, refuses_secret_open_to_others, .timeout = 30)
{
    run_t run;
    s_run_ok (&run);
    char path [PATH_MAX];
    s_key_path (path, sizeof path, "db/auth.password");
    cr_assert_eq (chmod (path, 0644), 0);

    s_run (&run, NULL, "--dir", s_keys);
    cr_assert_neq (run.status, 0);
    cr_assert_not_null (strstr (run.err, "db/auth.password"));
    s_assert_mode (path, 0644);
}


Test (keygen, stale_tmp_is_replaced, .timeout = 30)
{
    run_t run;
    s_run_ok (&run);
    char path [PATH_MAX];
    char tmp [PATH_MAX + 8];
    s_key_path (path, sizeof path, "secrets/auth_data.key");
    s_fmt (tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_eq (unlink (path), 0);
    FILE *file = fopen (tmp, "w");
    cr_assert_not_null (file);
    fputs ("half written", file);
    fclose (file);

    s_run_ok (&run);
    size_t size = 0;
    char *text = s_slurp (path, &size);
    cr_assert_not_null (text);
    cr_assert (s_is_hex_line (text, size));
    free (text);
    cr_assert_eq (access (tmp, F_OK), -1, "stale tmp left behind");
}


Test (keygen, keys_dir_from_environment, .timeout = 30)
{
    run_t run;
    s_run (&run, s_keys, NULL, NULL);
    cr_assert_eq (run.status, 0, "keygen failed: %s", run.err);
    char path [PATH_MAX];
    s_key_path (path, sizeof path, "auth.cert_secret");
    s_assert_mode (path, 0600);
    s_assert_mode (s_keys, 0700);
}


Test (keygen, help_and_bad_arguments, .timeout = 30)
{
    run_t run;
    s_run (&run, s_keys, "--help", NULL);
    cr_assert_eq (run.status, 0);
    cr_assert_not_null (strstr (run.out, "Usage: keygen"));
    cr_assert_eq (access (s_keys, F_OK), -1, "--help must not create anything");

    s_run (&run, s_keys, "--bogus", NULL);
    cr_assert_neq (run.status, 0);
    cr_assert_eq (access (s_keys, F_OK), -1, "bad arguments must not create anything");
}


Test (keygen, rotate_jwt_full_cycle, .timeout = 30)
{
    run_t run;
    rotation_t rotation;
    char first [64], second [64], third [64], signer [64], line [PATH_MAX + 32];
    s_run_ok (&run);
    s_fmt (first, sizeof first, "%.43s", s_jwt_name ());

    //  Run 1 publishes a next key; the stack's first key keeps signing
    long long start = (long long) time (NULL);
    s_rotate_ok (&run, "0", "0");
    long long stop = (long long) time (NULL);
    cr_assert_eq (s_jwt_key_count (), 2);
    s_rotation_load (&rotation);
    cr_assert_eq (rotation.count, 2);
    cr_assert_str_eq (s_rotation_kid (&rotation, "signing"), first);
    s_fmt (second, sizeof second, "%s", s_rotation_kid (&rotation, "next"));
    cr_assert_str_neq (second, first);
    for (size_t i = 0; i < 2; i++)
        cr_assert (rotation.line [i].since >= start && rotation.line [i].since <= stop,
                   "%s since %lld, run between %lld and %lld", rotation.line [i].kid,
                   rotation.line [i].since, start, stop);
    s_assert_published (&run, second);
    s_auth_signer (signer);
    cr_assert_str_eq (signer, first);

    //  Run 2 promotes it: the new key signs, the old one is retired
    start = (long long) time (NULL);
    s_rotate_ok (&run, "0", "0");
    stop = (long long) time (NULL);
    cr_assert_eq (s_jwt_key_count (), 2);
    cr_assert_null (strstr (run.out, "created "), "promotion made a key: %s", run.out);
    s_fmt (line, sizeof line, "signing with %s\n", second);
    cr_assert_not_null (strstr (run.out, line), "no '%s' in: %s", line, run.out);
    s_rotation_load (&rotation);
    cr_assert_eq (rotation.count, 2);
    cr_assert_str_eq (s_rotation_kid (&rotation, "signing"), second);
    cr_assert_str_eq (s_rotation_kid (&rotation, "retired"), first);
    rotation_line_t *retired = s_rotation_find (&rotation, first);
    cr_assert (retired->since >= start && retired->since <= stop, "retired at %lld",
               retired->since);
    cr_assert (s_jwt_key_exists (first), "a retired key stays published");
    s_auth_signer (signer);
    cr_assert_str_eq (signer, second);

    //  Run 3 removes the retired key and its line, and publishes a third
    s_rotate_ok (&run, "0", "0");
    cr_assert_not (s_jwt_key_exists (first), "retired key not removed");
    s_fmt (line, sizeof line, "removed %s/jwt/%s.pem", s_keys, first);
    cr_assert_not_null (strstr (run.out, line), "no '%s' in: %s", line, run.out);
    cr_assert_eq (s_jwt_key_count (), 2);
    s_rotation_load (&rotation);
    cr_assert_eq (rotation.count, 2, "the removed key's line must go too");
    cr_assert_str_eq (s_rotation_kid (&rotation, "signing"), second);
    s_fmt (third, sizeof third, "%s", s_rotation_kid (&rotation, "next"));
    cr_assert_str_neq (third, first);
    cr_assert_str_neq (third, second);
    cr_assert (s_jwt_key_exists (second));
    s_assert_published (&run, third);
    s_auth_signer (signer);
    cr_assert_str_eq (signer, second);
}


Test (keygen, rotate_jwt_default_lead_and_keep_wait, .timeout = 30)
{
    run_t run;
    rotation_t rotation;
    char first [64], second [64], third [64], signer [64], line [PATH_MAX + 32];
    s_run_ok (&run);
    s_fmt (first, sizeof first, "%.43s", s_jwt_name ());

    s_rotate_ok (&run, NULL, NULL);
    s_rotation_load (&rotation);
    s_fmt (second, sizeof second, "%s", s_rotation_kid (&rotation, "next"));
    s_assert_published (&run, second);

    //  Published 100 s ago, well inside the 900 s lead: a run changes
    //  nothing, no promotion, no new key, and the key's clock runs on
    long long published = s_rotation_find (&rotation, second)->since - 100;
    s_rotation_find (&rotation, second)->since = published;
    s_rotation_save (&rotation);
    s_rotate_ok (&run, NULL, NULL);
    cr_assert_null (strstr (run.out, "signing with"), "promoted early: %s", run.out);
    cr_assert_null (strstr (run.out, "created "), "made a key: %s", run.out);
    s_fmt (line, sizeof line, "next key %s is published", second);
    cr_assert_not_null (strstr (run.out, line), "no '%s' in: %s", line, run.out);
    cr_assert_eq (s_jwt_key_count (), 2);
    s_rotation_load (&rotation);
    cr_assert_eq (rotation.count, 2);
    cr_assert_str_eq (s_rotation_kid (&rotation, "signing"), first);
    cr_assert_str_eq (s_rotation_kid (&rotation, "next"), second);
    cr_assert_eq (s_rotation_find (&rotation, second)->since, published, "clock restarted");
    s_auth_signer (signer);
    cr_assert_str_eq (signer, first);

    //  Published 900 s ago: the default lead is over, it signs
    s_rotation_find (&rotation, second)->since = (long long) time (NULL) - 900;
    s_rotation_save (&rotation);
    s_rotate_ok (&run, NULL, NULL);
    s_rotation_load (&rotation);
    cr_assert_str_eq (s_rotation_kid (&rotation, "signing"), second);
    cr_assert_str_eq (s_rotation_kid (&rotation, "retired"), first);
    s_auth_signer (signer);
    cr_assert_str_eq (signer, second);

    //  Retired just now, the old key stays through the default keep (its
    //  tokens must still verify) while a new next key is published
    s_rotate_ok (&run, NULL, NULL);
    cr_assert (s_jwt_key_exists (first), "retired key removed before --keep");
    cr_assert_null (strstr (run.out, "removed "), "%s", run.out);
    s_rotation_load (&rotation);
    cr_assert_str_eq (s_rotation_kid (&rotation, "retired"), first);
    s_fmt (third, sizeof third, "%s", s_rotation_kid (&rotation, "next"));
    s_assert_published (&run, third);
    cr_assert_eq (s_jwt_key_count (), 3);

    //  Retired 960 s ago: every token it signed has expired, it goes
    s_rotation_find (&rotation, first)->since = (long long) time (NULL) - 960;
    s_rotation_save (&rotation);
    s_rotate_ok (&run, NULL, NULL);
    cr_assert_not (s_jwt_key_exists (first), "retired key kept past --keep");
    cr_assert_null (strstr (run.out, "created "), "made a key: %s", run.out);
    s_rotation_load (&rotation);
    cr_assert_eq (rotation.count, 2);
    cr_assert_str_eq (s_rotation_kid (&rotation, "signing"), second);
    cr_assert_str_eq (s_rotation_kid (&rotation, "next"), third);
    cr_assert_eq (s_jwt_key_count (), 2);
}


Test (keygen, rotate_jwt_bad_lead_and_keep, .timeout = 30)
{
    const char *bad [][2] = {
        { "--lead", "-1" }, { "--lead", "abc" }, { "--lead", "12x" }, { "--lead", "" },
        { "--lead", "2592001" }, { "--keep", "-1" }, { "--keep", "abc" }, { "--lead", NULL }
    };
    for (size_t i = 0; i < COUNT (bad); i++) {
        const char *args [] = { "--rotate-jwt", "--dir", s_keys, bad [i][0], bad [i][1], NULL };
        run_t run;
        s_run_args (&run, NULL, args);
        cr_assert_eq (run.status, 2, "%s '%s': exit %d", bad [i][0],
                      bad [i][1]? bad [i][1]: "(none)", run.status);
        cr_assert_not_null (strstr (run.err, bad [i][0]), "%s", run.err);
        cr_assert_eq (access (s_keys, F_OK), -1, "bad arguments must not create anything");
    }
}


Test (keygen, rotate_jwt_refuses_keys_auth_would_not_load, .timeout = 30)
{
    run_t run;
    char first [64], path [PATH_MAX], text [256];
    s_run_ok (&run);
    s_fmt (first, sizeof first, "%.43s", s_jwt_name ());
    s_key_path (path, sizeof path, "jwt/rotation");

    //  The signer has no .pem; with --keep 0 a run that went ahead would
    //  also delete the only real key
    s_fmt (text, sizeof text, "%s retired 1700000000\nc29tZS1vdGhlci1rZXk signing 1700000000\n",
           first);
    const char *texts [] = { text, "c29tZS1vdGhlci1rZXk signing\n" };
    for (size_t i = 0; i < COUNT (texts); i++) {
        FILE *file = fopen (path, "w");
        cr_assert_not_null (file);
        fputs (texts [i], file);
        cr_assert_eq (fclose (file), 0);

        snap_t *before = calloc (1, sizeof *before);
        snap_t *after = calloc (1, sizeof *after);
        cr_assert (before && after);
        s_snapshot (before);
        s_rotate (&run, "0", "0");
        cr_assert_eq (run.status, 1, "exit %d for '%s'", run.status, texts [i]);
        cr_assert_neq (run.err [0], '\0', "no reason given");
        cr_assert_str_eq (run.out, "", "a refused run reported changes");
        s_snapshot (after);
        cr_assert_eq (after->count, before->count, "refused run created files");
        s_assert_unchanged (before, after);
        s_snapshot_free (before);
        s_snapshot_free (after);
        free (before);
        free (after);
    }
    cr_assert (s_jwt_key_exists (first));
}
