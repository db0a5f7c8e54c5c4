/*  test_evidence_files - the encrypted segment format: round trips, and
    every kind of damage refused */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/rand.h>
#include "../../../services/evidence/evidence_files.h"
#include "../../../services/evidence/evidence_keys.h"
#include "tmpdir.h"

#define CHUNK   (256 * 1024)            //  what the service receives per call
#define SEG     EVIDENCE_FILES_SEGMENT
#define ID      "0b6f1f0e-9d3c-4c1a-8f4e-2a7d5b9c1e23"
#define OTHER   "7c2e4a10-1b2c-4d3e-9f80-112233445566"

static char s_root [64];
static uint8_t s_data_key [32];

static void
s_setup (void)
{
    snprintf (s_root, sizeof s_root, "/tmp/test-evidence-XXXXXX");
    cr_assert_not_null (mkdtemp (s_root));
    cr_assert_eq (evidence_files_dirs (s_root), 0);
    cr_assert_eq (RAND_bytes (s_data_key, sizeof s_data_key), 1);
}

static void
s_teardown (void)
{
    cr_assert_eq (tmpdir_remove (s_root), 0);
}

TestSuite (evidence_files, .init = s_setup, .fini = s_teardown, .timeout = 60);

static uint8_t *
s_random (size_t size)
{
    uint8_t *data = (uint8_t *) malloc (size? size: 1);
    cr_assert_not_null (data);
    for (size_t i = 0; i < size; i++)
        data [i] = (uint8_t) (i * 7 + (i >> 9));
    return data;
}

static void
s_key (const char *id, uint8_t *key)
{
    cr_assert_eq (evidence_keys_file_key (s_data_key, id, key), 0);
}

//  Write data as the service does: 256 KiB chunks, the last one short
static void
s_write (const char *path, const uint8_t *key, const uint8_t *data, size_t size)
{
    if (size == 0) {
        cr_assert_eq (evidence_files_append (path, key, 0, NULL, 0, 0), 0);
        return;
    }
    for (size_t offset = 0; offset < size; offset += CHUNK) {
        size_t len = size - offset < CHUNK? size - offset: CHUNK;
        int64_t received = -1;
        cr_assert_eq (evidence_files_received (path, &received), 0);
        cr_assert_eq (received, (int64_t) offset);
        cr_assert_eq (evidence_files_append (path, key, (int64_t) offset, data + offset, len,
                                             (int64_t) size), 0, "append at %zu", offset);
    }
}

//  Read the whole file back as the service does; 0 when every segment
//  opens and the bytes are the expected ones, -1 when anything fails
static int
s_read_back (const char *path, const uint8_t *key, const uint8_t *expected, size_t size)
{
    evidence_files_reader_t *reader = evidence_files_reader_new (path, key);
    if (!reader)
        return -1;
    int rc = evidence_files_reader_size (reader) == (int64_t) size? 0: -1;
    uint8_t *buffer = (uint8_t *) malloc (CHUNK);
    size_t offset = 0;
    while (rc == 0 && offset < size) {
        int64_t got = evidence_files_reader_read (reader, (int64_t) offset, buffer, CHUNK);
        size_t want = size - offset < CHUNK? size - offset: CHUNK;
        if (got != (int64_t) want || memcmp (buffer, expected + offset, want) != 0)
            rc = -1;
        offset += want;
    }
    //  Every segment opens on its own too
    for (int64_t i = 0; rc == 0 && i < evidence_files_reader_segments (reader); i++)
        if (evidence_files_reader_segment (reader, i, buffer) < 0)
            rc = -1;
    free (buffer);
    evidence_files_reader_destroy (&reader);
    return rc;
}

static int64_t
s_file_size (const char *path)
{
    struct stat st;
    cr_assert_eq (stat (path, &st), 0);
    return (int64_t) st.st_size;
}

static void
s_round_trip (size_t size)
{
    char part [512], stored [512];
    uint8_t key [32];
    s_key (ID, key);
    cr_assert_eq (evidence_files_path (s_root, ID, true, part, sizeof part), 0);
    cr_assert_eq (evidence_files_path (s_root, ID, false, stored, sizeof stored), 0);
    uint8_t *data = s_random (size);
    s_write (part, key, data, size);
    int64_t segments = size? (int64_t) ((size + SEG - 1) / SEG): 1;
    cr_assert_eq (s_file_size (part), 16 + (int64_t) size + 16 * segments, "size %zu", size);
    cr_assert_eq (evidence_files_stored_size ((int64_t) size), s_file_size (part));
    cr_assert_eq (s_read_back (part, key, data, size), 0, "size %zu reads back", size);
    cr_assert_eq (evidence_files_commit (part, stored), 0);
    cr_assert_neq (access (part, F_OK), 0, "the part file is gone");
    cr_assert_eq (s_read_back (stored, key, data, size), 0);
    //  Not the plaintext on disk
    if (size >= 64) {
        FILE *file = fopen (stored, "rb");
        uint8_t *disk = (uint8_t *) malloc ((size_t) s_file_size (stored));
        size_t got = fread (disk, 1, (size_t) s_file_size (stored), file);
        fclose (file);
        cr_assert_eq (memcmp (disk, "CMEVID1\0\0\0\0\0\0\0\0\0", 16), 0, "the header");
        cr_assert_null (memmem (disk, got, data, 64), "no plaintext run on disk");
        cr_assert_null (memmem (disk, got, data + size - 64, 64));
        free (disk);
    }
    //  Another file's key does not open it
    uint8_t other [32];
    s_key (OTHER, other);
    cr_assert_eq (s_read_back (stored, other, data, size), -1);
    free (data);
}

Test (evidence_files, empty_file_round_trip) { s_round_trip (0); }
Test (evidence_files, one_byte_round_trip) { s_round_trip (1); }
Test (evidence_files, one_byte_short_of_a_segment_round_trip) { s_round_trip (SEG - 1); }
Test (evidence_files, one_segment_round_trip) { s_round_trip (SEG); }
Test (evidence_files, one_byte_past_a_segment_round_trip) { s_round_trip (SEG + 1); }
Test (evidence_files, ten_mebibytes_and_one_byte_round_trip) { s_round_trip (10 * 1024 * 1024 + 1); }

Test (evidence_files, one_append_or_many_give_the_same_file)
{
    size_t size = 3 * SEG + 100;
    uint8_t key [32];
    s_key (ID, key);
    uint8_t *data = s_random (size);
    char a [512], b [512];
    snprintf (a, sizeof a, "%s/tmp/a.part", s_root);
    snprintf (b, sizeof b, "%s/tmp/b.part", s_root);
    cr_assert_eq (evidence_files_append (a, key, 0, data, size, (int64_t) size), 0);
    for (size_t offset = 0; offset < size; offset += SEG) {
        size_t len = size - offset < SEG? size - offset: SEG;
        cr_assert_eq (evidence_files_append (b, key, (int64_t) offset, data + offset, len, (int64_t) size), 0);
    }
    cr_assert_eq (s_file_size (a), s_file_size (b));
    uint8_t *x = (uint8_t *) malloc ((size_t) s_file_size (a)), *y = (uint8_t *) malloc ((size_t) s_file_size (b));
    FILE *fa = fopen (a, "rb"), *fb = fopen (b, "rb");
    cr_assert_eq (fread (x, 1, (size_t) s_file_size (a), fa), (size_t) s_file_size (a));
    cr_assert_eq (fread (y, 1, (size_t) s_file_size (b), fb), (size_t) s_file_size (b));
    fclose (fa);
    fclose (fb);
    cr_assert_eq (memcmp (x, y, (size_t) s_file_size (a)), 0, "deterministic per (key, index)");
    free (x);
    free (y);
    free (data);
}

//  A stored file of size bytes, its path in path, its data returned
static uint8_t *
s_stored (size_t size, char *path, size_t path_size, uint8_t *key)
{
    s_key (ID, key);
    cr_assert_eq (evidence_files_path (s_root, ID, false, path, path_size), 0);
    unlink (path);
    uint8_t *data = s_random (size);
    s_write (path, key, data, size);
    cr_assert_eq (s_read_back (path, key, data, size), 0);
    return data;
}

static void
s_truncate (const char *path, int64_t size)
{
    cr_assert_eq (truncate (path, (off_t) size), 0);
}

Test (evidence_files, truncation_fails_to_open)
{
    size_t size = 3 * SEG + 1000;
    char path [512];
    uint8_t key [32];
    uint8_t *data = s_stored (size, path, sizeof path, key);
    int64_t full = s_file_size (path);
    //  Cut inside the last tag, inside the last segment, exactly before the
    //  last segment (what is left is whole segments: the flag gives it away),
    //  inside the header
    int64_t cuts [] = { full - 1, full - 16, full - 500, 16 + 3 * (int64_t) EVIDENCE_FILES_SLOT,
                        16 + 2 * (int64_t) EVIDENCE_FILES_SLOT, 16 + (int64_t) EVIDENCE_FILES_SLOT + 1,
                        17, 16, 8, 0 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts [0]; i++) {
        s_truncate (path, cuts [i]);
        cr_assert_eq (s_read_back (path, key, data, size), -1, "cut to %lld", (long long) cuts [i]);
        //  Nor does it pass as a shorter file
        size_t shorter = cuts [i] >= 16 + (int64_t) EVIDENCE_FILES_SLOT? (size_t) ((cuts [i] - 16) / EVIDENCE_FILES_SLOT) * SEG: 0;
        cr_assert_eq (s_read_back (path, key, data, shorter), -1, "cut to %lld", (long long) cuts [i]);
        free (data);
        data = s_stored (size, path, sizeof path, key);
    }
    free (data);
}

static void
s_swap_slots (const char *path, int64_t a, int64_t b)
{
    int fd = open (path, O_RDWR);
    cr_assert_geq (fd, 0);
    uint8_t *x = (uint8_t *) malloc (EVIDENCE_FILES_SLOT), *y = (uint8_t *) malloc (EVIDENCE_FILES_SLOT);
    off_t at_a = 16 + a * EVIDENCE_FILES_SLOT, at_b = 16 + b * EVIDENCE_FILES_SLOT;
    cr_assert_eq (pread (fd, x, EVIDENCE_FILES_SLOT, at_a), EVIDENCE_FILES_SLOT);
    cr_assert_eq (pread (fd, y, EVIDENCE_FILES_SLOT, at_b), EVIDENCE_FILES_SLOT);
    cr_assert_eq (pwrite (fd, y, EVIDENCE_FILES_SLOT, at_a), EVIDENCE_FILES_SLOT);
    cr_assert_eq (pwrite (fd, x, EVIDENCE_FILES_SLOT, at_b), EVIDENCE_FILES_SLOT);
    close (fd);
    free (x);
    free (y);
}

Test (evidence_files, reordering_fails_to_open)
{
    size_t size = 4 * SEG;                  //  four whole segments: any two can swap
    char path [512];
    uint8_t key [32];
    uint8_t *data = s_stored (size, path, sizeof path, key);
    s_swap_slots (path, 0, 1);
    cr_assert_eq (s_read_back (path, key, data, size), -1, "first two swapped");
    s_swap_slots (path, 0, 1);
    cr_assert_eq (s_read_back (path, key, data, size), 0, "swapped back, it opens again");
    s_swap_slots (path, 2, 3);
    cr_assert_eq (s_read_back (path, key, data, size), -1, "the last segment moved");
    s_swap_slots (path, 2, 3);
    //  A segment duplicated over another
    int fd = open (path, O_RDWR);
    uint8_t *slot = (uint8_t *) malloc (EVIDENCE_FILES_SLOT);
    cr_assert_eq (pread (fd, slot, EVIDENCE_FILES_SLOT, 16), EVIDENCE_FILES_SLOT);
    cr_assert_eq (pwrite (fd, slot, EVIDENCE_FILES_SLOT, 16 + EVIDENCE_FILES_SLOT), EVIDENCE_FILES_SLOT);
    close (fd);
    cr_assert_eq (s_read_back (path, key, data, size), -1, "a segment copied over the next");
    free (slot);
    free (data);
}

Test (evidence_files, an_added_segment_fails_to_open)
{
    size_t size = 2 * SEG;
    char path [512];
    uint8_t key [32];
    uint8_t *data = s_stored (size, path, sizeof path, key);
    //  Append a copy of the last segment (it carries the last flag)
    int fd = open (path, O_RDWR);
    uint8_t *slot = (uint8_t *) malloc (EVIDENCE_FILES_SLOT);
    cr_assert_eq (pread (fd, slot, EVIDENCE_FILES_SLOT, 16 + EVIDENCE_FILES_SLOT), EVIDENCE_FILES_SLOT);
    cr_assert_eq (pwrite (fd, slot, EVIDENCE_FILES_SLOT, 16 + 2 * EVIDENCE_FILES_SLOT), EVIDENCE_FILES_SLOT);
    close (fd);
    uint8_t *longer = s_random (3 * SEG);
    cr_assert_eq (s_read_back (path, key, longer, 3 * SEG), -1);
    free (longer);
    free (slot);
    free (data);
}

Test (evidence_files, bit_flips_fail_to_open)
{
    size_t size = 2 * SEG + 333;
    char path [512];
    uint8_t key [32];
    uint8_t *data = s_stored (size, path, sizeof path, key);
    int64_t full = s_file_size (path);
    //  The header, the first and last bytes of each segment's ciphertext and
    //  tag, and a spread of places in between
    int64_t places [] = { 0, 7, 8, 15, 16, 17, 16 + SEG - 1, 16 + SEG, 16 + SEG + 15,
                          16 + EVIDENCE_FILES_SLOT, 16 + EVIDENCE_FILES_SLOT + 4096,
                          16 + 2 * EVIDENCE_FILES_SLOT, full - 17, full - 16, full - 1 };
    for (size_t i = 0; i < sizeof places / sizeof places [0]; i++)
        for (int bit = 0; bit < 8; bit += 7) {
            int fd = open (path, O_RDWR);
            uint8_t byte;
            cr_assert_eq (pread (fd, &byte, 1, (off_t) places [i]), 1);
            byte ^= (uint8_t) (1 << bit);
            cr_assert_eq (pwrite (fd, &byte, 1, (off_t) places [i]), 1);
            cr_assert_eq (s_read_back (path, key, data, size), -1, "bit %d of byte %lld", bit,
                          (long long) places [i]);
            byte ^= (uint8_t) (1 << bit);
            cr_assert_eq (pwrite (fd, &byte, 1, (off_t) places [i]), 1);
            close (fd);
            cr_assert_eq (s_read_back (path, key, data, size), 0, "restored");
        }
    free (data);
}

Test (evidence_files, a_wrong_key_fails_to_open)
{
    size_t size = SEG + 10;
    char path [512];
    uint8_t key [32], wrong [32];
    uint8_t *data = s_stored (size, path, sizeof path, key);
    memcpy (wrong, key, sizeof wrong);
    wrong [31] ^= 1;
    cr_assert_eq (s_read_back (path, wrong, data, size), -1);
    //  The same data key for another evidence id gives another file key
    s_key (OTHER, wrong);
    cr_assert_neq (memcmp (key, wrong, 32), 0);
    cr_assert_eq (s_read_back (path, wrong, data, size), -1);
    //  Another user's data key, same id
    uint8_t data_key [32];
    memcpy (data_key, s_data_key, 32);
    data_key [0] ^= 0x80;
    cr_assert_eq (evidence_keys_file_key (data_key, ID, wrong), 0);
    cr_assert_eq (s_read_back (path, wrong, data, size), -1);
    cr_assert_eq (evidence_keys_file_key (data_key, "not-a-uuid", wrong), -1);
    free (data);
}

Test (evidence_files, appends_must_follow_the_layout)
{
    uint8_t key [32];
    s_key (ID, key);
    char part [512];
    cr_assert_eq (evidence_files_path (s_root, ID, true, part, sizeof part), 0);
    uint8_t *data = s_random (3 * SEG);
    int64_t total = 3 * SEG;
    //  Only whole segments before the end, never past the total
    cr_assert_eq (evidence_files_append (part, key, 0, data, SEG - 1, total), -1);
    cr_assert_eq (evidence_files_append (part, key, 0, data, 4 * SEG, total), -1);
    cr_assert_eq (evidence_files_append (part, key, 1, data, SEG, total), -1, "offset off a segment start");
    cr_assert_eq (evidence_files_append (part, key, SEG, data, SEG, total), -1, "offset past the file");
    cr_assert_eq (evidence_files_append (part, key, 0, data, SEG, total), 0);
    int64_t received = -1;
    cr_assert_eq (evidence_files_received (part, &received), 0);
    cr_assert_eq (received, SEG);
    cr_assert_eq (evidence_files_append (part, key, 2 * SEG, data, SEG, total), -1, "a gap");
    cr_assert_eq (evidence_files_received (part, &received), 0);
    cr_assert_eq (received, SEG, "a refused append changes nothing");
    //  A torn append is not a run of whole segments
    int fd = open (part, O_WRONLY | O_APPEND);
    cr_assert_eq (write (fd, "x", 1), 1);
    close (fd);
    cr_assert_eq (evidence_files_received (part, &received), -1);
    //  Missing: nothing received
    char missing [512];
    cr_assert_eq (evidence_files_path (s_root, OTHER, true, missing, sizeof missing), 0);
    cr_assert_eq (evidence_files_received (missing, &received), 0);
    cr_assert_eq (received, 0);
    cr_assert_null (evidence_files_reader_new (missing, key));
    free (data);
}

Test (evidence_files, paths_are_made_of_ids_only)
{
    char path [512];
    cr_assert_eq (evidence_files_path ("/r", ID, false, path, sizeof path), 0);
    cr_assert_str_eq (path, "/r/files/" ID);
    cr_assert_eq (evidence_files_path ("/r", ID, true, path, sizeof path), 0);
    cr_assert_str_eq (path, "/r/tmp/" ID ".part");
    const char *bad [] = { "../../etc/passwd", "", "0B6F1F0E-9D3C-4C1A-8F4E-2A7D5B9C1E23",
                           "0b6f1f0e-9d3c-4c1a-8f4e-2a7d5b9c1e2", "0b6f1f0e-9d3c-4c1a-8f4e-2a7d5b9c1e23/",
                           "0b6f1f0e-9d3c-4c1a-8f4e-2a7d5b9c1e2/" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        cr_assert_eq (evidence_files_path ("/r", bad [i], false, path, sizeof path), -1, "%s", bad [i]);
        cr_assert_str_empty (path);
    }
    cr_assert_eq (evidence_files_path ("/r", ID, false, path, 20), -1, "too small a buffer");
}

Test (evidence_files, directories_are_private)
{
    char path [512];
    struct stat st;
    const char *dirs [] = { "", "/tmp", "/files" };
    for (size_t i = 0; i < 3; i++) {
        snprintf (path, sizeof path, "%s%s", s_root, dirs [i]);
        cr_assert_eq (stat (path, &st), 0);
        cr_assert (S_ISDIR (st.st_mode));
        if (i > 0)
            cr_assert_eq (st.st_mode & 0777, 0700, "%s", path);
    }
    cr_assert_eq (evidence_files_dirs (s_root), 0, "a second start finds them");
    snprintf (path, sizeof path, "%s/plain", s_root);
    FILE *file = fopen (path, "w");
    fclose (file);
    cr_assert_eq (evidence_files_dirs (path), -1, "a file is not a directory");
}
