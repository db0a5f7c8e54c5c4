/*  test_cm_fs - directories made with their parents */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cm_fs.h"
#include "tmpdir.h"

static char s_root [64];

static void
s_setup (void)
{
    snprintf (s_root, sizeof s_root, "/tmp/test_cm_fs_XXXXXX");
    cr_assert (mkdtemp (s_root));
}

static void
s_teardown (void)
{
    cr_assert_eq (tmpdir_remove (s_root), 0);
}

TestSuite (cm_fs, .init = s_setup, .fini = s_teardown);

Test (cm_fs, makes_missing_parents_private)
{
    char path [128];
    snprintf (path, sizeof path, "%s/a/b/c", s_root);
    cr_assert_eq (cm_fs_ensure_dir (path), 0);
    struct stat st;
    cr_assert_eq (stat (path, &st), 0);
    cr_assert (S_ISDIR (st.st_mode));
    cr_assert_eq (st.st_mode & 0777, 0700);
    snprintf (path, sizeof path, "%s/a", s_root);
    cr_assert_eq (stat (path, &st), 0);
    cr_assert_eq (st.st_mode & 0777, 0700);
    //  Again: already there is fine, a trailing slash too
    snprintf (path, sizeof path, "%s/a/b/c/", s_root);
    cr_assert_eq (cm_fs_ensure_dir (path), 0);
}

Test (cm_fs, refuses_a_file_in_the_way_and_a_path_too_long)
{
    char path [128];
    snprintf (path, sizeof path, "%s/file", s_root);
    FILE *file = fopen (path, "w");
    cr_assert (file);
    fclose (file);
    cr_assert_eq (cm_fs_ensure_dir (path), -1, "a file, not a directory");
    snprintf (path, sizeof path, "%s/file/below", s_root);
    cr_assert_eq (cm_fs_ensure_dir (path), -1);
    char *long_path = malloc (2048);
    memset (long_path, 'a', 2047);
    long_path [0] = '/';
    long_path [2047] = 0;
    cr_assert_eq (cm_fs_ensure_dir (long_path), -1);
    free (long_path);
}
