/*  test_cm_jwt_rotation - the rotation file: round trip, strict reading, atomic writes

    Files are written here with plain stdio, byte for byte, so the reader is
    checked against text we chose, not only against what the writer makes.
*/
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cm_jwt_rotation.h"
#include "tmpdir.h"

//  One timeout for every test: criterion 2.4.1's runner leaks a timer entry
//  when tests with different timeouts overlap under --jobs
#define TEST_TIMEOUT 30

//  Kids shaped like RFC 7638 thumbprints (43 base64url characters)
#define KID_A   "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
#define KID_B   "h0xSK8Yc3rN-2bWlX0xVq7dJ5f9sYc_aUmQe3tRpZkE"
#define KID_C   "Q1w2E3r4T5y6U7i8O9p0A_s-D1f2G3h4J5k6L7z8X9c"

static char s_dir [64];                 //  temporary KEYS_DIR/jwt
static char s_path [128];               //  s_dir/rotation


static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/cm_jwt_rotation_XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir), "mkdtemp: %s", strerror (errno));
    snprintf (s_path, sizeof s_path, "%s/" CM_JWT_ROTATION_FILE, s_dir);
}

static void
s_teardown (void)
{
    cr_expect_eq (tmpdir_remove (s_dir), 0, "%s", s_dir);
}

TestSuite (cm_jwt_rotation, .init = s_setup, .fini = s_teardown, .timeout = TEST_TIMEOUT);


//  --------------------------------------------------------------------------
//  Replace s_dir/rotation with len bytes of text.

static void
s_write_text (const char *text, size_t len)
{
    unlink (s_path);
    FILE *file = fopen (s_path, "wb");
    cr_assert_not_null (file, "cannot create %s", s_path);
    cr_assert_eq (fwrite (text, 1, len, file), len);
    cr_assert_eq (fclose (file), 0);
}


//  --------------------------------------------------------------------------
//  The whole of s_dir/rotation into text (size bytes, NUL-terminated).

static void
s_read_text (char *text, size_t size)
{
    FILE *file = fopen (s_path, "rb");
    cr_assert_not_null (file, "cannot open %s", s_path);
    size_t len = fread (text, 1, size - 1, file);
    cr_assert_eq (fclose (file), 0);
    text [len] = '\0';
}


//  --------------------------------------------------------------------------
//  Append one entry to state.

static void
s_add (cm_jwt_rotation_t *state, const char *kid, cm_jwt_key_state_t key_state, int64_t since)
{
    cr_assert_lt (state->count, CM_JWT_KEYS_MAX);
    cm_jwt_rotation_entry_t *entry = &state->entries [state->count++];
    cr_assert_lt ((size_t) snprintf (entry->kid, sizeof entry->kid, "%s", kid), sizeof entry->kid);
    entry->state = key_state;
    entry->since = since;
}


//  --------------------------------------------------------------------------
//  Assert that state is all zero bytes, as a refused read must leave it.

static void
s_assert_zeroed (const cm_jwt_rotation_t *state, const char *what)
{
    static const cm_jwt_rotation_t zero;
    cr_assert_eq (state->count, 0, "%s: count %zu", what, state->count);
    cr_assert_eq (memcmp (state, &zero, sizeof zero), 0, "%s: state not zeroed", what);
}


//  --------------------------------------------------------------------------
//  Assert that reading text is refused and leaves a pre-filled state zeroed.

static void
s_assert_refused (const char *text, size_t len, const char *what)
{
    cm_jwt_rotation_t state;
    s_write_text (text, len);
    memset (&state, 0x5a, sizeof state);
    cr_assert_eq (cm_jwt_rotation_read (s_dir, &state), -1, "accepted %s", what);
    s_assert_zeroed (&state, what);
}


Test (cm_jwt_rotation, write_read_round_trip)
{
    cm_jwt_rotation_t out, in;
    memset (&out, 0, sizeof out);
    s_add (&out, KID_A, CM_JWT_KEY_RETIRED, 1760000000);
    s_add (&out, KID_B, CM_JWT_KEY_SIGNING, 1760000100);
    s_add (&out, KID_C, CM_JWT_KEY_NEXT, 0);
    cr_assert_eq (cm_jwt_rotation_write (s_dir, &out), 0);

    //  The documented text, one line per entry in order
    char text [1024];
    s_read_text (text, sizeof text);
    cr_assert_str_eq (text,
        KID_A " retired 1760000000\n" KID_B " signing 1760000100\n" KID_C " next 0\n");

    memset (&in, 0x5a, sizeof in);
    cr_assert_eq (cm_jwt_rotation_read (s_dir, &in), 0);
    cr_assert_eq (in.count, 3);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_str_eq (in.entries [i].kid, out.entries [i].kid, "entry %zu", i);
        cr_assert_eq (in.entries [i].state, out.entries [i].state, "entry %zu", i);
        cr_assert_eq (in.entries [i].since, out.entries [i].since, "entry %zu", i);
    }

    //  A full set with the longest kids and a large time also survives
    memset (&out, 0, sizeof out);
    for (int i = 0; i < CM_JWT_KEYS_MAX; i++) {
        char kid [CM_JWT_KID_MAX];
        memset (kid, 'a' + i, CM_JWT_KID_MAX - 1);
        kid [CM_JWT_KID_MAX - 1] = '\0';
        s_add (&out, kid, i == 3? CM_JWT_KEY_SIGNING: (cm_jwt_key_state_t) (i % 2 * 2),
               4102444800LL + i);
    }
    cr_assert_eq (cm_jwt_rotation_write (s_dir, &out), 0);
    cr_assert_eq (cm_jwt_rotation_read (s_dir, &in), 0);
    cr_assert_eq (in.count, CM_JWT_KEYS_MAX);
    for (size_t i = 0; i < CM_JWT_KEYS_MAX; i++) {
        cr_assert_str_eq (in.entries [i].kid, out.entries [i].kid, "entry %zu", i);
        cr_assert_eq (in.entries [i].state, out.entries [i].state, "entry %zu", i);
        cr_assert_eq (in.entries [i].since, out.entries [i].since, "entry %zu", i);
    }

    //  An empty state writes an empty file
    memset (&out, 0, sizeof out);
    cr_assert_eq (cm_jwt_rotation_write (s_dir, &out), 0);
    s_read_text (text, sizeof text);
    cr_assert_str_eq (text, "");
}

Test (cm_jwt_rotation, hand_written_file_is_read)
{
    //  A last line without its newline is still an entry
    const char text [] = KID_B " signing 1760000100\n" KID_A " next 7";
    cm_jwt_rotation_t state;
    s_write_text (text, sizeof text - 1);
    cr_assert_eq (cm_jwt_rotation_read (s_dir, &state), 0);
    cr_assert_eq (state.count, 2);
    cr_assert_str_eq (state.entries [0].kid, KID_B);
    cr_assert_eq (state.entries [0].state, CM_JWT_KEY_SIGNING);
    cr_assert_eq (state.entries [0].since, 1760000100);
    cr_assert_str_eq (state.entries [1].kid, KID_A);
    cr_assert_eq (state.entries [1].state, CM_JWT_KEY_NEXT);
    cr_assert_eq (state.entries [1].since, 7);
}

Test (cm_jwt_rotation, missing_file_is_not_an_error)
{
    cm_jwt_rotation_t state;
    memset (&state, 0x5a, sizeof state);
    cr_assert_eq (cm_jwt_rotation_read (s_dir, &state), 1);
    s_assert_zeroed (&state, "no file");
    //  Reading creates nothing
    cr_assert_eq (access (s_path, F_OK), -1);
    cr_assert_eq (errno, ENOENT);
}

Test (cm_jwt_rotation, malformed_lines_refused)
{
    char long_kid [CM_JWT_KID_MAX + 32];
    memset (long_kid, 'k', CM_JWT_KID_MAX);
    snprintf (long_kid + CM_JWT_KID_MAX, sizeof long_kid - CM_JWT_KID_MAX, " signing 1\n");
    const char *bad [] = {
        KID_A " signing\n",                         //  no time
        KID_A "\n",                                 //  kid alone
        KID_A " signing 1 extra\n",                 //  a fourth field
        KID_A " active 1\n",                        //  unknown state
        KID_A " Signing 1\n",                       //  states are lower case
        KID_A " signing -1\n",                      //  negative time
        KID_A " signing 12x\n",                     //  trailing junk in the time
        KID_A " signing 0x10\n",                    //  decimal only
        KID_A " signing 99999999999999999999999\n", //  out of range
        KID_A " signing 1\r\n",                     //  CRLF
        KID_A "\tsigning 1\n",                      //  tab is no separator
        "../" KID_A " signing 1\n",                 //  a path, not a kid
        "kid.pem signing 1\n",                      //  '.' is not base64url
        "k\xc3\xaf" "d signing 1\n",                //  not ASCII
        long_kid,                                   //  kid longer than 63
        //  Good lines around a bad one
        KID_A " next 1\nnonsense\n" KID_B " signing 2\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        s_assert_refused (bad [i], strlen (bad [i]), bad [i]);

    //  A NUL byte hidden in an otherwise good file
    const char nul [] = KID_A " signing 1\n\0" KID_B " next 2\n";
    s_assert_refused (nul, sizeof nul - 1, "a NUL byte");

    //  Control: the 63-character kid limit itself is fine
    char kid [CM_JWT_KID_MAX + 32];
    memset (kid, 'k', CM_JWT_KID_MAX - 1);
    snprintf (kid + CM_JWT_KID_MAX - 1, sizeof kid - (CM_JWT_KID_MAX - 1), " signing 1\n");
    cm_jwt_rotation_t state;
    s_write_text (kid, strlen (kid));
    cr_assert_eq (cm_jwt_rotation_read (s_dir, &state), 0);
    cr_assert_eq (strlen (state.entries [0].kid), CM_JWT_KID_MAX - 1);
}

Test (cm_jwt_rotation, duplicate_kid_refused)
{
    const char *bad [] = {
        KID_A " next 1\n" KID_A " retired 2\n",
        KID_A " signing 1\n" KID_B " next 2\n" KID_A " signing 1\n",
    };
    for (size_t i = 0; i < 2; i++)
        s_assert_refused (bad [i], strlen (bad [i]), bad [i]);
}

Test (cm_jwt_rotation, two_signers_refused)
{
    const char two [] = KID_A " signing 1\n" KID_B " next 2\n" KID_C " signing 3\n";
    s_assert_refused (two, sizeof two - 1, "two signers");
    //  Control: the same keys with one signer
    const char one [] = KID_A " retired 1\n" KID_B " next 2\n" KID_C " signing 3\n";
    cm_jwt_rotation_t state;
    s_write_text (one, sizeof one - 1);
    cr_assert_eq (cm_jwt_rotation_read (s_dir, &state), 0);
    cr_assert_eq (state.count, 3);
}

Test (cm_jwt_rotation, too_many_lines_refused)
{
    //  CM_JWT_KEYS_MAX lines are read, one more is not
    char text [4096];
    size_t len = 0;
    for (int i = 0; i <= CM_JWT_KEYS_MAX; i++) {
        if (i == CM_JWT_KEYS_MAX) {
            cm_jwt_rotation_t state;
            s_write_text (text, len);
            cr_assert_eq (cm_jwt_rotation_read (s_dir, &state), 0);
            cr_assert_eq (state.count, CM_JWT_KEYS_MAX);
        }
        len += (size_t) snprintf (text + len, sizeof text - len, "kid%02d %s %d\n", i,
                                  i == 0? "signing": "retired", i);
        cr_assert_lt (len, sizeof text);
    }
    s_assert_refused (text, len, "one line too many");
}

Test (cm_jwt_rotation, oversized_file_refused)
{
    //  Far more than CM_JWT_KEYS_MAX lines could fill: refused by size,
    //  whatever the bytes are
    char *text = (char *) malloc (8192);
    cr_assert_not_null (text);
    int len = snprintf (text, 8192, "%s%*s signing 1\n", KID_A, 6000, "");
    cr_assert (len > 6000 && len < 8192);
    s_assert_refused (text, (size_t) len, "6 kB file");
    free (text);
}

Test (cm_jwt_rotation, non_regular_file_refused)
{
    cm_jwt_rotation_t state;
    //  A directory under the name
    cr_assert_eq (mkdir (s_path, 0700), 0);
    memset (&state, 0x5a, sizeof state);
    cr_assert_eq (cm_jwt_rotation_read (s_dir, &state), -1, "directory accepted");
    s_assert_zeroed (&state, "directory");
    cr_assert_eq (rmdir (s_path), 0);

    //  A FIFO: must be refused at once, not block waiting for a writer
    cr_assert_eq (mkfifo (s_path, 0600), 0);
    memset (&state, 0x5a, sizeof state);
    cr_assert_eq (cm_jwt_rotation_read (s_dir, &state), -1, "FIFO accepted");
    s_assert_zeroed (&state, "FIFO");
    cr_assert_eq (unlink (s_path), 0);

    //  The writer replaces neither with a file silently: a directory stays
    cm_jwt_rotation_t out;
    memset (&out, 0, sizeof out);
    s_add (&out, KID_A, CM_JWT_KEY_SIGNING, 1);
    cr_assert_eq (mkdir (s_path, 0700), 0);
    cr_assert_eq (cm_jwt_rotation_write (s_dir, &out), -1);
    struct stat st;
    cr_assert_eq (stat (s_path, &st), 0);
    cr_assert (S_ISDIR (st.st_mode));
    cr_assert_eq (rmdir (s_path), 0);
}

Test (cm_jwt_rotation, find_and_signer)
{
    cm_jwt_rotation_t state;
    memset (&state, 0, sizeof state);
    cr_assert_null (cm_jwt_rotation_find (&state, KID_A), "empty state");
    cr_assert_null (cm_jwt_rotation_signer (&state), "empty state");

    s_add (&state, KID_A, CM_JWT_KEY_RETIRED, 10);
    s_add (&state, KID_B, CM_JWT_KEY_NEXT, 20);
    cr_assert_null (cm_jwt_rotation_signer (&state), "no signing entry");
    s_add (&state, KID_C, CM_JWT_KEY_SIGNING, 30);

    cr_assert_eq (cm_jwt_rotation_find (&state, KID_A), &state.entries [0]);
    cr_assert_eq (cm_jwt_rotation_find (&state, KID_B), &state.entries [1]);
    cr_assert_eq (cm_jwt_rotation_find (&state, KID_C), &state.entries [2]);
    //  Exact match only: a prefix, a longer string, another case
    char prefix [16];
    snprintf (prefix, sizeof prefix, "%.10s", KID_A);
    cr_assert_null (cm_jwt_rotation_find (&state, prefix));
    cr_assert_null (cm_jwt_rotation_find (&state, KID_A "x"));
    cr_assert_null (cm_jwt_rotation_find (&state, "nzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
    cr_assert_null (cm_jwt_rotation_find (&state, ""));

    //  The signer is the signing entry's kid, wherever it sits
    const char *signer = cm_jwt_rotation_signer (&state);
    cr_assert_not_null (signer);
    cr_assert_str_eq (signer, KID_C);
    cr_assert_eq (signer, state.entries [2].kid, "borrowed from the state");

    //  find hands out the entry itself: a change through it is in the state
    cm_jwt_rotation_entry_t *entry = cm_jwt_rotation_find (&state, KID_C);
    entry->state = CM_JWT_KEY_RETIRED;
    cm_jwt_rotation_find (&state, KID_B)->state = CM_JWT_KEY_SIGNING;
    cr_assert_str_eq (cm_jwt_rotation_signer (&state), KID_B);

    //  And a read state answers the same way
    cr_assert_eq (cm_jwt_rotation_write (s_dir, &state), 0);
    cm_jwt_rotation_t back;
    cr_assert_eq (cm_jwt_rotation_read (s_dir, &back), 0);
    cr_assert_str_eq (cm_jwt_rotation_signer (&back), KID_B);
    cr_assert_eq (cm_jwt_rotation_find (&back, KID_A)->since, 10);
}

Test (cm_jwt_rotation, write_replaces_atomically_and_leaves_no_temp)
{
    cm_jwt_rotation_t first, second;
    memset (&first, 0, sizeof first);
    memset (&second, 0, sizeof second);
    s_add (&first, KID_A, CM_JWT_KEY_SIGNING, 100);
    s_add (&first, KID_B, CM_JWT_KEY_NEXT, 200);
    s_add (&second, KID_B, CM_JWT_KEY_SIGNING, 300);
    s_add (&second, KID_A, CM_JWT_KEY_RETIRED, 300);
    cr_assert_eq (cm_jwt_rotation_write (s_dir, &first), 0);

    //  A reader holding the old file keeps reading it whole: the new one
    //  arrives under a new inode by rename, never rewritten in place
    struct stat before, after;
    int fd = open (s_path, O_RDONLY);
    cr_assert_geq (fd, 0);
    cr_assert_eq (fstat (fd, &before), 0);
    cr_assert_eq (cm_jwt_rotation_write (s_dir, &second), 0);
    cr_assert_eq (stat (s_path, &after), 0);
    cr_assert_neq (after.st_ino, before.st_ino, "rewritten in place");
    char old [256];
    ssize_t n = pread (fd, old, sizeof old - 1, 0);
    cr_assert_gt (n, 0);
    old [n] = '\0';
    cr_assert_str_eq (old, KID_A " signing 100\n" KID_B " next 200\n");
    close (fd);

    char text [256];
    s_read_text (text, sizeof text);
    cr_assert_str_eq (text, KID_B " signing 300\n" KID_A " retired 300\n");

    //  A temporary file left by a crash is replaced, then gone with the rest
    char tmp [160];
    snprintf (tmp, sizeof tmp, "%s/." CM_JWT_ROTATION_FILE ".tmp", s_dir);
    FILE *file = fopen (tmp, "w");
    cr_assert_not_null (file);
    fputs ("half written", file);
    fclose (file);
    cr_assert_eq (cm_jwt_rotation_write (s_dir, &first), 0);
    s_read_text (text, sizeof text);
    cr_assert_str_eq (text, KID_A " signing 100\n" KID_B " next 200\n");

    //  Only the rotation file is left in the directory
    DIR *dir = opendir (s_dir);
    cr_assert_not_null (dir);
    struct dirent *entry;
    size_t files = 0;
    while ((entry = readdir (dir)) != NULL) {
        if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
            continue;
        cr_expect_str_eq (entry->d_name, CM_JWT_ROTATION_FILE, "left behind");
        files++;
    }
    closedir (dir);
    cr_assert_eq (files, 1);
}

Test (cm_jwt_rotation, write_failure_leaves_old_file)
{
    cm_jwt_rotation_t state;
    memset (&state, 0, sizeof state);
    s_add (&state, KID_A, CM_JWT_KEY_SIGNING, 100);
    cr_assert_eq (cm_jwt_rotation_write ("/nonexistent/cm_jwt_rotation", &state), -1);

    //  The temporary name taken by a directory: the write fails and the
    //  file already there is untouched
    cr_assert_eq (cm_jwt_rotation_write (s_dir, &state), 0);
    char tmp [160];
    snprintf (tmp, sizeof tmp, "%s/." CM_JWT_ROTATION_FILE ".tmp", s_dir);
    cr_assert_eq (mkdir (tmp, 0700), 0);
    cm_jwt_rotation_t other;
    memset (&other, 0, sizeof other);
    s_add (&other, KID_B, CM_JWT_KEY_SIGNING, 200);
    cr_assert_eq (cm_jwt_rotation_write (s_dir, &other), -1);
    char text [256];
    s_read_text (text, sizeof text);
    cr_assert_str_eq (text, KID_A " signing 100\n");
    cr_assert_eq (rmdir (tmp), 0);
}
