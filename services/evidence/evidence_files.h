/*  evidence_files - encrypted evidence files under EVIDENCE_DIR

    An upload is written to tmp/<id>.part chunk by chunk (each append
    fsynced), read back whole to check it, then renamed to files/<id> (same
    file system) and the directory fsynced: files/ only ever holds complete
    files, whatever moment a crash picks. Stored names are evidence ids.

    Format, under one key per file (evidence_keys_file_key): a 16-byte
    header "CMEVID1\0" + 8 zero bytes, then segments of 64 KiB of plaintext
    (the last may be shorter; an empty file is one empty segment), each
    AES-256-GCM with nonce = the 12-byte big-endian segment index and
    associated data = the 8-byte big-endian index + 1 byte "last segment"
    flag, stored as ciphertext || 16-byte tag. A file of n bytes in s
    segments takes 16 + n + 16 s bytes. A flipped bit, a segment moved,
    dropped or added, a file cut short or a wrong key all fail to open.
*/
#ifndef EVIDENCE_FILES_H_INCLUDED
#define EVIDENCE_FILES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVIDENCE_FILES_SEGMENT  65536           //  plaintext bytes per segment
#define EVIDENCE_FILES_HEADER   16
#define EVIDENCE_FILES_TAG      16
#define EVIDENCE_FILES_SLOT     (EVIDENCE_FILES_SEGMENT + EVIDENCE_FILES_TAG)
#define EVIDENCE_FILES_PATH_MAX 4096

typedef struct evidence_files_reader_s evidence_files_reader_t;

//  ----------------------------------------------------------------------
//  Make root (0700) with tmp/ and files/ if missing, and check that they
//  are directories on one file system. Returns 0, or -1 (logged).
int
    evidence_files_dirs (const char *root);

//  The path of evidence id (a lower-case UUID) under root: its upload in
//  progress (part) or its stored file. Returns 0, or -1 when id is not a
//  UUID or the path does not fit in size.
int
    evidence_files_path (const char *root, const char *id, bool part, char *out, size_t size);

//  Bytes on disk for a file of size plaintext bytes
int64_t
    evidence_files_stored_size (int64_t size);

//  ----------------------------------------------------------------------
//  Plaintext bytes a part file holds so far (0 when it does not exist).
//  Returns 0, or -1 when it is not a run of whole segments (an append was
//  interrupted) or cannot be looked at.
int
    evidence_files_received (const char *path, int64_t *received);

//  Encrypt len bytes, the file's bytes from offset on, and append them to
//  path, then fsync it. offset must be what the file holds (a multiple of
//  EVIDENCE_FILES_SEGMENT; 0 creates the file, mode 0600, with its header);
//  total is the file's final size: the segment that reaches it is flagged
//  last, and only that one may be short. Returns 0 or -1. After a failure
//  the file is unusable: the caller drops the upload (a segment index is
//  never encrypted twice under one key).
int
    evidence_files_append (const char *path, const uint8_t *key, int64_t offset,
                           const uint8_t *data, size_t len, int64_t total);

//  Rename a checked part file to its stored path and fsync the directories.
//  Returns 0 or -1.
int
    evidence_files_commit (const char *part, const char *stored);

//  Remove path; a file already gone is fine. Returns 0 or -1 (logged).
int
    evidence_files_remove (const char *path);

//  ----------------------------------------------------------------------
//  Open an encrypted file for reading with key. NULL when it is missing or
//  its header or length is not that of this format.
evidence_files_reader_t *
    evidence_files_reader_new (const char *path, const uint8_t *key);
void
    evidence_files_reader_destroy (evidence_files_reader_t **self_p);

//  Plaintext size, and the number of segments
int64_t
    evidence_files_reader_size (const evidence_files_reader_t *self);
int64_t
    evidence_files_reader_segments (const evidence_files_reader_t *self);

//  Decrypt segment index into out (EVIDENCE_FILES_SEGMENT bytes). Returns
//  its length, or -1 when it does not open (out is then zeroed).
int
    evidence_files_reader_segment (evidence_files_reader_t *self, int64_t index, uint8_t *out);

//  Decrypt the plaintext from offset (a multiple of EVIDENCE_FILES_SEGMENT)
//  into out, up to max bytes (whole segments, except at the end of the
//  file). Returns the byte count (0 at the end), or -1 when a segment does
//  not open or offset is not a segment start.
int64_t
    evidence_files_reader_read (evidence_files_reader_t *self, int64_t offset, uint8_t *out,
                                size_t max);

#endif
