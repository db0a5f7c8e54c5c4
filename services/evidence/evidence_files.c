/*  evidence_files - the encrypted segment format, part files, renames */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "evidence_files.h"
#include "../../common/cm_log.h"
#include "../../proto/proto_codec.h"

static const uint8_t s_header [EVIDENCE_FILES_HEADER] = "CMEVID1";   //  + 9 NULs

struct evidence_files_reader_s {
    int fd;                             //  owned
    uint8_t key [32];                   //  the file key (a copy, wiped at the end)
    int64_t size;                       //  plaintext bytes
    int64_t segments;
    EVP_CIPHER_CTX *cipher;             //  owned, keyed once
    uint8_t *slot;                      //  owned: one stored segment
};

//  Nonce and associated data of a segment
static void
s_segment_params (int64_t index, bool last, uint8_t nonce [12], uint8_t aad [9])
{
    memset (nonce, 0, 12);
    for (int i = 0; i < 8; i++)
        nonce [4 + i] = aad [i] = (uint8_t) ((uint64_t) index >> (56 - 8 * i));
    aad [8] = last? 1: 0;
}

static int
s_mkdir (const char *path)
{
    if (mkdir (path, 0700) && errno != EEXIST) {
        cm_error ("cannot create %s: %s", path, strerror (errno));
        return -1;
    }
    struct stat st;
    if (stat (path, &st) || !S_ISDIR (st.st_mode)) {
        cm_error ("%s is not a directory", path);
        return -1;
    }
    return 0;
}

int
evidence_files_dirs (const char *root)
{
    char tmp [EVIDENCE_FILES_PATH_MAX], files [EVIDENCE_FILES_PATH_MAX];
    //  Room for the longest name we make under it (files are ids)
    if (!root || !*root || strlen (root) + sizeof "/files/" + 36 + sizeof ".part" >= sizeof tmp) {
        cm_error ("EVIDENCE_DIR is empty or too long");
        return -1;
    }
    snprintf (tmp, sizeof tmp, "%s/tmp", root);
    snprintf (files, sizeof files, "%s/files", root);
    if (s_mkdir (root) || s_mkdir (tmp) || s_mkdir (files))
        return -1;
    struct stat a, b;
    if (stat (tmp, &a) || stat (files, &b) || a.st_dev != b.st_dev) {
        cm_error ("%s and %s must be on one file system (uploads are renamed)", tmp, files);
        return -1;
    }
    return 0;
}

int
evidence_files_path (const char *root, const char *id, bool part, char *out, size_t size)
{
    if (size)
        out [0] = 0;
    //  Only ever a UUID: nothing a client wrote reaches a path
    if (!root || !id || !proto_is_uuid (id))
        return -1;
    int len = part? snprintf (out, size, "%s/tmp/%s.part", root, id)
                  : snprintf (out, size, "%s/files/%s", root, id);
    if (len < 0 || (size_t) len >= size) {
        if (size)
            out [0] = 0;
        return -1;
    }
    return 0;
}

int64_t
evidence_files_stored_size (int64_t size)
{
    int64_t segments = size > 0? (size + EVIDENCE_FILES_SEGMENT - 1) / EVIDENCE_FILES_SEGMENT: 1;
    return EVIDENCE_FILES_HEADER + size + EVIDENCE_FILES_TAG * segments;
}

int
evidence_files_received (const char *path, int64_t *received)
{
    *received = 0;
    struct stat st;
    if (lstat (path, &st))
        return errno == ENOENT? 0: -1;
    if (!S_ISREG (st.st_mode))
        return -1;
    int64_t body = (int64_t) st.st_size - EVIDENCE_FILES_HEADER;
    if (body < 0 || body % EVIDENCE_FILES_SLOT)
        return -1;
    *received = body / EVIDENCE_FILES_SLOT * EVIDENCE_FILES_SEGMENT;
    return 0;
}

static int
s_write_all (int fd, const uint8_t *data, size_t len)
{
    while (len) {
        ssize_t n = write (fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t) n;
    }
    return 0;
}

int
evidence_files_append (const char *path, const uint8_t *key, int64_t offset,
                       const uint8_t *data, size_t len, int64_t total)
{
    errno = 0;
    if (offset < 0 || offset % EVIDENCE_FILES_SEGMENT || total < 0 || (len && !data)
    ||  (int64_t) len > total - offset)
        return -1;
    //  Only the segment that ends the file may be short
    if (offset + (int64_t) len < total && len % EVIDENCE_FILES_SEGMENT)
        return -1;
    size_t segments = (len + EVIDENCE_FILES_SEGMENT - 1) / EVIDENCE_FILES_SEGMENT;
    if (total == 0 && offset == 0)
        segments = 1;                   //  an empty file is one empty last segment
    if (segments == 0)
        return 0;
    size_t head = offset == 0? EVIDENCE_FILES_HEADER: 0;
    size_t out_len = head + len + segments * EVIDENCE_FILES_TAG;
    uint8_t *out = (uint8_t *) malloc (out_len);
    EVP_CIPHER_CTX *cipher = EVP_CIPHER_CTX_new ();
    int rc = -1, fd = -1;
    if (!out || !cipher
    ||  EVP_EncryptInit_ex (cipher, EVP_aes_256_gcm (), NULL, key, NULL) != 1)
        goto cleanup;
    memcpy (out, s_header, head);
    uint8_t *at = out + head;
    for (size_t s = 0; s < segments; s++) {
        size_t done = s * EVIDENCE_FILES_SEGMENT;
        size_t piece = len - done < EVIDENCE_FILES_SEGMENT? len - done: EVIDENCE_FILES_SEGMENT;
        int64_t index = offset / EVIDENCE_FILES_SEGMENT + (int64_t) s;
        bool last = offset + (int64_t) (done + piece) == total;
        uint8_t nonce [12], aad [9];
        s_segment_params (index, last, nonce, aad);
        int n = 0;
        if (EVP_EncryptInit_ex (cipher, NULL, NULL, NULL, nonce) != 1
        ||  EVP_EncryptUpdate (cipher, NULL, &n, aad, sizeof aad) != 1
        ||  (piece && EVP_EncryptUpdate (cipher, at, &n, data + done, (int) piece) != 1)
        ||  EVP_EncryptFinal_ex (cipher, at + piece, &n) != 1
        ||  EVP_CIPHER_CTX_ctrl (cipher, EVP_CTRL_GCM_GET_TAG, EVIDENCE_FILES_TAG, at + piece) != 1)
            goto cleanup;
        at += piece + EVIDENCE_FILES_TAG;
    }
    fd = offset == 0? open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)
                    : open (path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        goto cleanup;
    //  Appending to anything but whole segments would misplace every
    //  segment that follows
    struct stat st;
    if (fstat (fd, &st) || !S_ISREG (st.st_mode)
    ||  (offset > 0 && st.st_size != EVIDENCE_FILES_HEADER
                                     + offset / EVIDENCE_FILES_SEGMENT * EVIDENCE_FILES_SLOT))
        goto cleanup;
    if (s_write_all (fd, out, out_len) == 0 && fsync (fd) == 0)
        rc = 0;

cleanup:
    if (fd >= 0 && close (fd) && rc == 0)
        rc = -1;
    if (rc)
        cm_warn ("cannot append to %s: %s", path, errno? strerror (errno): "encryption failed");
    EVP_CIPHER_CTX_free (cipher);
    free (out);
    return rc;
}

//  fsync the directory that holds path
static int
s_sync_dir_of (const char *path)
{
    char dir [EVIDENCE_FILES_PATH_MAX];
    const char *slash = strrchr (path, '/');
    if (!slash || (size_t) (slash - path) >= sizeof dir)
        return -1;
    memcpy (dir, path, (size_t) (slash - path));
    dir [slash - path] = 0;
    int fd = open (*dir? dir: "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync (fd);
    close (fd);
    return rc? -1: 0;
}

int
evidence_files_commit (const char *part, const char *stored)
{
    if (rename (part, stored)) {
        cm_warn ("cannot rename %s to %s: %s", part, stored, strerror (errno));
        return -1;
    }
    //  The new name must be durable before the row says stored; losing the
    //  old name's removal only leaves nothing behind
    if (s_sync_dir_of (stored)) {
        cm_warn ("cannot fsync the directory of %s: %s", stored, strerror (errno));
        return -1;
    }
    s_sync_dir_of (part);
    return 0;
}

int
evidence_files_remove (const char *path)
{
    if (unlink (path) && errno != ENOENT) {
        cm_warn ("cannot remove %s: %s", path, strerror (errno));
        return -1;
    }
    return 0;
}

evidence_files_reader_t *
evidence_files_reader_new (const char *path, const uint8_t *key)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    struct stat st;
    uint8_t header [EVIDENCE_FILES_HEADER];
    if (fstat (fd, &st) || !S_ISREG (st.st_mode)
    ||  pread (fd, header, sizeof header, 0) != (ssize_t) sizeof header
    ||  memcmp (header, s_header, sizeof header) != 0) {
        close (fd);
        return NULL;
    }
    //  The layout follows from the length: every segment whole but the last
    int64_t body = (int64_t) st.st_size - EVIDENCE_FILES_HEADER;
    int64_t segments = (body + EVIDENCE_FILES_SLOT - 1) / EVIDENCE_FILES_SLOT;
    int64_t last = body - (segments - 1) * EVIDENCE_FILES_SLOT - EVIDENCE_FILES_TAG;
    if (segments < 1 || last < 0 || (last == 0 && segments > 1)) {
        close (fd);
        return NULL;
    }
    evidence_files_reader_t *self = (evidence_files_reader_t *) calloc (1, sizeof *self);
    if (self) {
        self->fd = fd;
        memcpy (self->key, key, sizeof self->key);
        self->segments = segments;
        self->size = (segments - 1) * EVIDENCE_FILES_SEGMENT + last;
        self->cipher = EVP_CIPHER_CTX_new ();
        self->slot = (uint8_t *) malloc (EVIDENCE_FILES_SLOT);
        if (!self->cipher || !self->slot
        ||  EVP_DecryptInit_ex (self->cipher, EVP_aes_256_gcm (), NULL, key, NULL) != 1)
            evidence_files_reader_destroy (&self);
    }
    else
        close (fd);
    return self;
}

void
evidence_files_reader_destroy (evidence_files_reader_t **self_p)
{
    evidence_files_reader_t *self = *self_p;
    if (self) {
        close (self->fd);
        EVP_CIPHER_CTX_free (self->cipher);
        free (self->slot);
        explicit_bzero (self->key, sizeof self->key);
        free (self);
        *self_p = NULL;
    }
}

int64_t
evidence_files_reader_size (const evidence_files_reader_t *self)
{
    return self->size;
}

int64_t
evidence_files_reader_segments (const evidence_files_reader_t *self)
{
    return self->segments;
}

int
evidence_files_reader_segment (evidence_files_reader_t *self, int64_t index, uint8_t *out)
{
    if (index < 0 || index >= self->segments)
        return -1;
    bool last = index == self->segments - 1;
    size_t len = last? (size_t) (self->size - index * EVIDENCE_FILES_SEGMENT): EVIDENCE_FILES_SEGMENT;
    off_t at = (off_t) (EVIDENCE_FILES_HEADER + index * EVIDENCE_FILES_SLOT);
    size_t want = len + EVIDENCE_FILES_TAG;
    size_t got = 0;
    while (got < want) {
        ssize_t n = pread (self->fd, self->slot + got, want - got, at + (off_t) got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t) n;
    }
    uint8_t nonce [12], aad [9];
    s_segment_params (index, last, nonce, aad);
    int n = 0;
    if (EVP_DecryptInit_ex (self->cipher, NULL, NULL, NULL, nonce) == 1
    &&  EVP_DecryptUpdate (self->cipher, NULL, &n, aad, sizeof aad) == 1
    &&  (len == 0 || EVP_DecryptUpdate (self->cipher, out, &n, self->slot, (int) len) == 1)
    &&  EVP_CIPHER_CTX_ctrl (self->cipher, EVP_CTRL_GCM_SET_TAG, EVIDENCE_FILES_TAG, self->slot + len) == 1
    &&  EVP_DecryptFinal_ex (self->cipher, out + len, &n) == 1)
        return (int) len;
    explicit_bzero (out, len);
    return -1;
}

int64_t
evidence_files_reader_read (evidence_files_reader_t *self, int64_t offset, uint8_t *out, size_t max)
{
    if (offset < 0 || offset % EVIDENCE_FILES_SEGMENT || offset > self->size)
        return -1;
    size_t done = 0;
    for (int64_t index = offset / EVIDENCE_FILES_SEGMENT;
         index < self->segments && offset + (int64_t) done < self->size; index++) {
        int64_t left = self->size - (offset + (int64_t) done);
        size_t len = left < EVIDENCE_FILES_SEGMENT? (size_t) left: EVIDENCE_FILES_SEGMENT;
        if (max - done < len)
            break;
        if (evidence_files_reader_segment (self, index, out + done) < 0) {
            explicit_bzero (out, done);
            return -1;
        }
        done += len;
    }
    if (done == 0 && offset < self->size)
        return -1;                      //  max holds no whole segment
    return (int64_t) done;
}
