/*  tmpdir - throwaway directory trees of tests */
#include <ftw.h>
#include <stdio.h>
#include "tmpdir.h"

static int s_failures;                  //  nftw has no user pointer

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    if (remove (path))
        s_failures++;
    return 0;
}

int
tmpdir_remove (const char *dir)
{
    s_failures = 0;
    int rc = nftw (dir, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc || s_failures? -1: 0;
}
