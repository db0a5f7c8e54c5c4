/*  cm_fs - directories made with their parents, private to the service */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "cm_fs.h"

int
cm_fs_ensure_dir (const char *path)
{
    char partial [1024];
    if (snprintf (partial, sizeof partial, "%s", path) >= (int) sizeof partial)
        return -1;
    for (char *slash = strchr (partial + 1, '/'); slash; slash = strchr (slash + 1, '/')) {
        *slash = 0;
        if (mkdir (partial, 0700) && errno != EEXIST)
            return -1;
        *slash = '/';
    }
    if (mkdir (partial, 0700) && errno != EEXIST)
        return -1;
    struct stat st;
    return stat (partial, &st) == 0 && S_ISDIR (st.st_mode)? 0: -1;
}
