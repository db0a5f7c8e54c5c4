/*  test_audit_checkpoint - Ed25519 checkpoint lines: signing, verifying,
    refusing tampered ones, and finding the latest in the file */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../../../services/audit/audit_checkpoint.h"
#include "../../../services/audit/audit_chain.h"

//  RFC 8032, section 7.1, test 1
static const uint8_t s_seed [32] = {
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60
};
#define RFC_PUBLIC "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define HASH_A "b1fe644d5bbf09b602171ab4d1ee3fbb2423bbdbdec38454d6dc8217684e22fa"
#define HASH_B "7d118d98d776d3d40321f20eb0181539d46a9df35cf3c3bcac013efffc920edf"

static char s_dir [64];
static audit_checkpoint_key_t *s_key;

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/test-checkpoint-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
    s_key = audit_checkpoint_key_new (s_seed);
    cr_assert_not_null (s_key);
}

static void
s_teardown (void)
{
    char path [128];
    snprintf (path, sizeof path, "%s/" AUDIT_CHECKPOINT_FILE, s_dir);
    unlink (path);
    rmdir (s_dir);
    audit_checkpoint_key_destroy (&s_key);
}

TestSuite (audit_checkpoint, .init = s_setup, .fini = s_teardown);

static audit_checkpoint_key_t *
s_other_key (void)
{
    uint8_t seed [32];
    memset (seed, 7, sizeof seed);
    return audit_checkpoint_key_new (seed);
}

//  Verify a line as written (LF and all)
static int
s_check (const audit_checkpoint_key_t *key, const char *line, audit_checkpoint_t *out)
{
    return audit_checkpoint_verify (key, line, strcspn (line, "\n"), out);
}

Test (audit_checkpoint, the_public_key_is_ed25519s)
{
    cr_assert_str_eq (audit_checkpoint_key_public (s_key), RFC_PUBLIC);
}

Test (audit_checkpoint, a_signed_line_verifies_and_reads_back)
{
    char line [AUDIT_CHECKPOINT_LINE_MAX];
    cr_assert_eq (audit_checkpoint_sign (s_key, 42, HASH_A, 1714564800123, line, sizeof line), 0);
    const char *prefix = "audit-checkpoint v1 seq=42 hash=" HASH_A " at=1714564800123 key=" RFC_PUBLIC " sig=";
    cr_assert_eq (strncmp (line, prefix, strlen (prefix)), 0, "%s", line);
    cr_assert_eq (strlen (line), strlen (prefix) + 128 + 1);
    cr_assert_eq (line [strlen (line) - 1], '\n');
    audit_checkpoint_t cp;
    cr_assert_eq (s_check (s_key, line, &cp), 0);
    cr_assert_eq (cp.seq, 42);
    cr_assert_str_eq (cp.hash, HASH_A);
    cr_assert_eq (cp.at_ms, 1714564800123);
    cr_assert_str_eq (cp.key, RFC_PUBLIC);
    cr_assert_eq (strlen (cp.sig), 128);
}

Test (audit_checkpoint, any_change_breaks_the_signature)
{
    char line [AUDIT_CHECKPOINT_LINE_MAX], copy [AUDIT_CHECKPOINT_LINE_MAX];
    cr_assert_eq (audit_checkpoint_sign (s_key, 42, HASH_A, 1714564800123, line, sizeof line), 0);
    audit_checkpoint_t cp;
    //  A later seq, another hash, another time, a flipped signature bit
    const char *edits [][2] = {
        { "seq=42 ", "seq=43 " }, { HASH_A, HASH_B }, { "at=1714564800123", "at=1714564800124" }
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits [0]; i++) {
        snprintf (copy, sizeof copy, "%s", line);
        char *at = strstr (copy, edits [i][0]);
        cr_assert_not_null (at);
        memcpy (at, edits [i][1], strlen (edits [i][1]));
        cr_assert_eq (s_check (s_key, copy, &cp), -1, "edit %zu verified", i);
    }
    snprintf (copy, sizeof copy, "%s", line);
    char *sig = strstr (copy, " sig=") + 5;
    sig [10] = sig [10] == '0'? '1': '0';
    cr_assert_eq (s_check (s_key, copy, &cp), -1);
}

Test (audit_checkpoint, another_keys_line_is_told_apart)
{
    audit_checkpoint_key_t *other = s_other_key ();
    char line [AUDIT_CHECKPOINT_LINE_MAX];
    cr_assert_eq (audit_checkpoint_sign (other, 5, HASH_A, 1, line, sizeof line), 0);
    audit_checkpoint_t cp;
    cr_assert_eq (s_check (s_key, line, &cp), 1, "made with another key");
    cr_assert_eq (s_check (other, line, &cp), 0);
    //  Claiming our key with another key's signature is a forgery
    char forged [AUDIT_CHECKPOINT_LINE_MAX];
    snprintf (forged, sizeof forged, "%s", line);
    memcpy (strstr (forged, "key=") + 4, RFC_PUBLIC, 64);
    cr_assert_eq (s_check (s_key, forged, &cp), -1);
    audit_checkpoint_key_destroy (&other);
}

Test (audit_checkpoint, malformed_lines_are_refused)
{
    const char *lines [] = {
        "",
        "audit-checkpoint v2 seq=1",
        "audit-checkpoint v1 seq=0 hash=" HASH_A " at=1 key=" RFC_PUBLIC " sig=" HASH_A HASH_A,
        "audit-checkpoint v1 seq=01 hash=" HASH_A " at=1 key=" RFC_PUBLIC " sig=" HASH_A HASH_A,
        "audit-checkpoint v1 seq=1 hash=" HASH_A " at=1 key=" RFC_PUBLIC " sig=" HASH_A,
        "audit-checkpoint v1 seq=1 hash=" HASH_A "0 at=1 key=" RFC_PUBLIC " sig=" HASH_A HASH_A,
        "audit-checkpoint v1 seq=1 hash=" HASH_A " at=x key=" RFC_PUBLIC " sig=" HASH_A HASH_A,
        "audit-checkpoint v1 seq=1 hash=" HASH_A " at=1 key=" RFC_PUBLIC " sig=" HASH_A HASH_A " ",
    };
    audit_checkpoint_t cp;
    for (size_t i = 0; i < sizeof lines / sizeof lines [0]; i++)
        cr_assert_eq (audit_checkpoint_verify (s_key, lines [i], strlen (lines [i]), &cp), -1, "line %zu", i);
    char line [AUDIT_CHECKPOINT_LINE_MAX];
    cr_assert_eq (audit_checkpoint_sign (s_key, 0, HASH_A, 1, line, sizeof line), -1, "seq 0");
    cr_assert_eq (audit_checkpoint_sign (s_key, 1, "nothex", 1, line, sizeof line), -1);
}

//  Append text as is to the checkpoint file
static void
s_raw (const char *text)
{
    char path [128];
    snprintf (path, sizeof path, "%s/" AUDIT_CHECKPOINT_FILE, s_dir);
    FILE *file = fopen (path, "a");
    cr_assert_not_null (file);
    fputs (text, file);
    fclose (file);
}

static void
s_append (const audit_checkpoint_key_t *key, int64_t seq, const char *hash)
{
    char line [AUDIT_CHECKPOINT_LINE_MAX];
    cr_assert_eq (audit_checkpoint_sign (key, seq, hash, 1000 + seq, line, sizeof line), 0);
    cr_assert_eq (audit_checkpoint_append (s_dir, line), 0);
}

Test (audit_checkpoint, the_latest_line_of_our_key_counts)
{
    audit_checkpoint_t cp;
    char problem [256];
    cr_assert_eq (audit_checkpoint_latest (s_key, s_dir, &cp, problem, sizeof problem), 1, "no file yet");
    s_append (s_key, 10, HASH_A);
    s_append (s_key, 20, HASH_B);
    cr_assert_eq (audit_checkpoint_latest (s_key, s_dir, &cp, problem, sizeof problem), 0, "%s", problem);
    cr_assert_eq (cp.seq, 20);
    cr_assert_str_eq (cp.hash, HASH_B);
    //  Lines of another key (an older key, or a stranger's) are passed over
    audit_checkpoint_key_t *other = s_other_key ();
    s_append (other, 99, HASH_A);
    cr_assert_eq (audit_checkpoint_latest (s_key, s_dir, &cp, problem, sizeof problem), 0, "%s", problem);
    cr_assert_eq (cp.seq, 20);
    audit_checkpoint_key_destroy (&other);
    //  A last line cut short by a crash is not a checkpoint
    s_raw ("audit-checkpoint v1 seq=30 hash=" HASH_A);
    cr_assert_eq (audit_checkpoint_latest (s_key, s_dir, &cp, problem, sizeof problem), 0, "%s", problem);
    cr_assert_eq (cp.seq, 20);
    struct stat st;
    char path [128];
    snprintf (path, sizeof path, "%s/" AUDIT_CHECKPOINT_FILE, s_dir);
    cr_assert_eq (stat (path, &st), 0);
    cr_assert_eq (st.st_mode & 0777, 0600);
}

Test (audit_checkpoint, a_forged_latest_line_is_reported)
{
    s_append (s_key, 10, HASH_A);
    char line [AUDIT_CHECKPOINT_LINE_MAX];
    cr_assert_eq (audit_checkpoint_sign (s_key, 11, HASH_A, 5, line, sizeof line), 0);
    //  Someone points the checkpoint at a rewritten chain
    memcpy (strstr (line, HASH_A), HASH_B, 64);
    s_raw (line);
    audit_checkpoint_t cp;
    char problem [256];
    cr_assert_eq (audit_checkpoint_latest (s_key, s_dir, &cp, problem, sizeof problem), -1);
    cr_assert_not_null (strstr (problem, "does not verify"), "%s", problem);
}

Test (audit_checkpoint, the_latest_is_found_across_read_blocks)
{
    //  Far more than one 64 KiB block of lines; the newest at the end
    for (int i = 1; i <= 600; i++)
        s_append (s_key, i, i % 2? HASH_A: HASH_B);
    audit_checkpoint_key_t *other = s_other_key ();
    for (int i = 0; i < 400; i++)
        s_append (other, 1000 + i, HASH_A);
    audit_checkpoint_key_destroy (&other);
    audit_checkpoint_t cp;
    char problem [256];
    cr_assert_eq (audit_checkpoint_latest (s_key, s_dir, &cp, problem, sizeof problem), 0, "%s", problem);
    cr_assert_eq (cp.seq, 600);
    cr_assert_str_eq (cp.hash, HASH_B);
}

Test (audit_checkpoint, keys_load_from_hex_files)
{
    char path [128];
    snprintf (path, sizeof path, "%s/key", s_dir);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    for (int i = 0; i < 32; i++)
        fprintf (file, "%02x", s_seed [i]);
    fprintf (file, "\n");
    fclose (file);
    audit_checkpoint_key_t *key = audit_checkpoint_key_load (path);
    cr_assert_not_null (key);
    cr_assert_str_eq (audit_checkpoint_key_public (key), RFC_PUBLIC);
    audit_checkpoint_key_destroy (&key);
    file = fopen (path, "w");
    fprintf (file, "not a key\n");
    fclose (file);
    cr_assert_null (audit_checkpoint_key_load (path));
    unlink (path);
    cr_assert_null (audit_checkpoint_key_load (path));
}
