/*  cm_fs - directories the services keep their own files in */
#ifndef CM_FS_H_INCLUDED
#define CM_FS_H_INCLUDED

//  ----------------------------------------------------------------------
//  Make path and any missing parents, each 0700 (existing ones are left
//  as they are). 0 when path is then a directory, else -1 with errno set
//  by the step that failed.
int
    cm_fs_ensure_dir (const char *path);

#endif
