/*  evidence_janitor - abandoned uploads and orphan files */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "evidence_janitor.h"
#include "evidence_files.h"
#include "evidence_handlers.h"
#include "evidence_store.h"
#include "../../common/cm_log.h"
#include "../../proto/proto_codec.h"

//  Batches of expired rows one pass takes at most (the next pass goes on)
#define EXPIRE_BATCHES 64

static int
s_remove_both (const char *root, const char *id)
{
    char path [EVIDENCE_FILES_PATH_MAX];
    int removed = 0;
    for (int part = 0; part < 2; part++)
        if (evidence_files_path (root, id, part == 1, path, sizeof path) == 0
        &&  access (path, F_OK) == 0 && evidence_files_remove (path) == 0)
            removed++;
    return removed;
}

//  Decide a batch of files of one directory: remove those whose row state
//  says they are not wanted
static int
s_settle (PGconn *db, const char *root, bool part, const evidence_id_t *ids, uint32_t count)
{
    char states [EVIDENCE_STORE_BATCH][16];
    if (count == 0)
        return 0;
    if (evidence_store_states (db, ids, count, states))
        return -1;
    int removed = 0;
    for (uint32_t i = 0; i < count; i++) {
        //  A part file belongs to an upload in progress; a stored file to
        //  any row (an unfinished one's goes when the row expires)
        bool wanted = part? streq (states [i], "uploading"): states [i][0] != 0;
        char path [EVIDENCE_FILES_PATH_MAX];
        if (!wanted && evidence_files_path (root, ids [i], part, path, sizeof path) == 0
        &&  evidence_files_remove (path) == 0) {
            cm_info ("janitor: removed orphan %s", path);
            removed++;
        }
    }
    return removed;
}

//  Scan tmp/ (part) or files/ for our names older than min_age_s
static int
s_scan (PGconn *db, const char *root, bool part, int64_t min_age_s)
{
    char dir_path [EVIDENCE_FILES_PATH_MAX];
    snprintf (dir_path, sizeof dir_path, "%s/%s", root, part? "tmp": "files");
    DIR *dir = opendir (dir_path);
    if (!dir) {
        cm_warn ("janitor: cannot read %s", dir_path);
        return 0;
    }
    evidence_id_t ids [EVIDENCE_STORE_BATCH];
    uint32_t count = 0;
    int removed = 0;
    time_t now = time (NULL);
    struct dirent *entry;
    while (removed >= 0 && (entry = readdir (dir))) {
        const char *name = entry->d_name;
        size_t len = strlen (name);
        //  Only names we make: <uuid> in files/, <uuid>.part in tmp/
        if (len != (part? 41: 36) || (part && strcmp (name + 36, ".part") != 0)
        ||  !proto_is_uuid_n (name, 36))
            continue;
        struct stat st;
        if (fstatat (dirfd (dir), name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG (st.st_mode)
        ||  (int64_t) (now - st.st_mtime) < min_age_s)
            continue;
        memcpy (ids [count], name, 36);
        ids [count++][36] = 0;
        if (count == EVIDENCE_STORE_BATCH) {
            int settled = s_settle (db, root, part, ids, count);
            removed = settled < 0? -1: removed + settled;
            count = 0;
        }
    }
    closedir (dir);
    if (removed >= 0) {
        int settled = s_settle (db, root, part, ids, count);
        removed = settled < 0? -1: removed + settled;
    }
    return removed;
}

int
evidence_janitor_run (PGconn *db, const char *root, int64_t idle_s)
{
    int removed = 0;
    //  Dead uploads first, so the scans below see only live ones
    for (int batch = 0; batch < EXPIRE_BATCHES; batch++) {
        evidence_id_t ids [EVIDENCE_STORE_BATCH];
        uint32_t count = 0;
        if (evidence_store_expire (db, idle_s, ids, &count))
            return -1;
        for (uint32_t i = 0; i < count; i++)
            removed += 1 + s_remove_both (root, ids [i]);
        if (count)
            cm_info ("janitor: %u idle uploads removed", count);
        if (count < EVIDENCE_STORE_BATCH)
            break;
    }
    int parts = s_scan (db, root, true, idle_s);
    //  A stored file is complete when it gets its name, and its row exists
    //  from before: no age needed
    int files = parts < 0? -1: s_scan (db, root, false, 0);
    return parts < 0 || files < 0? -1: removed + parts + files;
}

void
evidence_janitor_tick (void *state)
{
    evidence_worker_t *self = (evidence_worker_t *) state;
    PGconn *db = evidence_worker_db (self);
    int removed = db? evidence_janitor_run (db, self->cfg->evidence_dir,
                                            self->cfg->upload_url_ttl_s + EVIDENCE_JANITOR_GRACE_S): -1;
    if (removed < 0)
        cm_warn ("janitor: the database did not answer; trying again next time");
    else
    if (removed > 0)
        cm_info ("janitor: %d rows and files removed", removed);
}
