/*  cm_jwt_rotation - read and write KEYS_DIR/jwt/rotation */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cm_jwt_rotation.h"

//  One line is "<kid> <state> <unix>\n": far below this
#define LINE_MAX_LEN 160
#define FILE_MAX     (CM_JWT_KEYS_MAX * LINE_MAX_LEN)

static const char *s_state_names [] = { "next", "signing", "retired" };

static bool
s_kid_char (char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
        || c == '-' || c == '_';
}

//  Parse one line (NUL-terminated, no newline) into entry. Returns 0 or -1.
static int
s_parse_line (char *line, cm_jwt_rotation_entry_t *entry)
{
    char *save = NULL;
    const char *kid = strtok_r (line, " ", &save);
    const char *state = strtok_r (NULL, " ", &save);
    const char *since = strtok_r (NULL, " ", &save);
    if (!kid || !state || !since || strtok_r (NULL, " ", &save))
        return -1;
    size_t len = strlen (kid);
    if (len == 0 || len >= sizeof entry->kid)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (!s_kid_char (kid [i]))
            return -1;
    memcpy (entry->kid, kid, len + 1);
    size_t s = 0;
    while (s < 3 && strcmp (state, s_state_names [s]) != 0)
        s++;
    if (s == 3)
        return -1;
    entry->state = (cm_jwt_key_state_t) s;
    char *end = NULL;
    errno = 0;
    long long value = strtoll (since, &end, 10);
    if (errno || *end || end == since || value < 0)
        return -1;
    entry->since = (int64_t) value;
    return 0;
}

int
cm_jwt_rotation_read (const char *dir, cm_jwt_rotation_t *state)
{
    memset (state, 0, sizeof *state);
    //  Opened like the key files: on a Kubernetes Secret volume the file
    //  is a link into ..data, and a link out of the directory is refused
    int dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0)
        return errno == ENOENT? 1: -1;
    int fd = cm_jwt_dir_open (dir_fd, CM_JWT_ROTATION_FILE);
    int open_errno = errno;
    close (dir_fd);
    if (fd < 0)
        return open_errno == ENOENT? 1: -1;
    char text [FILE_MAX + 1];
    size_t len = 0;
    struct stat st;
    int rc = -1;
    if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
        goto done;
    while (len <= FILE_MAX) {
        ssize_t n = read (fd, text + len, FILE_MAX + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto done;
        if (n == 0)
            break;
        len += (size_t) n;
    }
    if (len > FILE_MAX)
        goto done;
    text [len] = '\0';
    if (memchr (text, '\0', len))
        goto done;

    size_t signers = 0;
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        if (state->count == CM_JWT_KEYS_MAX)
            goto done;
        cm_jwt_rotation_entry_t *entry = &state->entries [state->count];
        if (s_parse_line (line, entry) != 0 || cm_jwt_rotation_find (state, entry->kid))
            goto done;
        signers += entry->state == CM_JWT_KEY_SIGNING;
        state->count++;
    }
    rc = signers <= 1? 0: -1;
done:
    close (fd);
    if (rc != 0)
        memset (state, 0, sizeof *state);
    return rc;
}

int
cm_jwt_rotation_write (const char *dir, const cm_jwt_rotation_t *state)
{
    char path [4096], tmp [4096];
    if (snprintf (path, sizeof path, "%s/" CM_JWT_ROTATION_FILE, dir) >= (int) sizeof path
    ||  snprintf (tmp, sizeof tmp, "%s/." CM_JWT_ROTATION_FILE ".tmp", dir) >= (int) sizeof tmp)
        return -1;
    char text [FILE_MAX + 1];
    size_t len = 0;
    for (size_t i = 0; i < state->count; i++) {
        const cm_jwt_rotation_entry_t *entry = &state->entries [i];
        int n = snprintf (text + len, sizeof text - len, "%s %s %" PRId64 "\n", entry->kid,
                          s_state_names [entry->state], entry->since);
        if (n < 0 || (size_t) n >= sizeof text - len)
            return -1;
        len += (size_t) n;
    }
    unlink (tmp);
    int fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    bool ok = write (fd, text, len) == (ssize_t) len && fsync (fd) == 0;
    ok = close (fd) == 0 && ok;
    if (!ok || rename (tmp, path) != 0) {
        unlink (tmp);
        return -1;
    }
    return 0;
}

cm_jwt_rotation_entry_t *
cm_jwt_rotation_find (cm_jwt_rotation_t *state, const char *kid)
{
    for (size_t i = 0; i < state->count; i++)
        if (strcmp (state->entries [i].kid, kid) == 0)
            return &state->entries [i];
    return NULL;
}

const char *
cm_jwt_rotation_signer (const cm_jwt_rotation_t *state)
{
    for (size_t i = 0; i < state->count; i++)
        if (state->entries [i].state == CM_JWT_KEY_SIGNING)
            return state->entries [i].kid;
    return NULL;
}
