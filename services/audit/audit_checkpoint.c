/*  audit_checkpoint - Ed25519-signed chain heads in an append-only file */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "audit_checkpoint.h"
#include "audit_chain.h"
#include "../../common/cm_crypt.h"
#include "../../common/cm_hex.h"
#include "../../common/cm_log.h"

#define LINE_TAG        "audit-checkpoint v1 "
#define SIG_MARK        " sig="
#define SCAN_BLOCK      65536           //  bytes read at a time, from the end back

struct audit_checkpoint_key_s {
    EVP_PKEY *pkey;                     //  owned; Ed25519 with its private part
    char public_hex [65];               //  its public key
};

audit_checkpoint_key_t *
audit_checkpoint_key_new (const uint8_t seed [32])
{
    audit_checkpoint_key_t *self = (audit_checkpoint_key_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->pkey = EVP_PKEY_new_raw_private_key (EVP_PKEY_ED25519, NULL, seed, 32);
    uint8_t pub [32];
    size_t pub_len = sizeof pub;
    if (!self->pkey || EVP_PKEY_get_raw_public_key (self->pkey, pub, &pub_len) != 1 || pub_len != 32) {
        audit_checkpoint_key_destroy (&self);
        return NULL;
    }
    cm_hex_encode (pub, 32, self->public_hex);
    return self;
}

audit_checkpoint_key_t *
audit_checkpoint_key_load (const char *path)
{
    uint8_t seed [32];
    if (cm_crypt_load_key (path, seed))
        return NULL;
    audit_checkpoint_key_t *self = audit_checkpoint_key_new (seed);
    explicit_bzero (seed, sizeof seed);
    return self;
}

void
audit_checkpoint_key_destroy (audit_checkpoint_key_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        EVP_PKEY_free ((*self_p)->pkey);
        free (*self_p);
        *self_p = NULL;
    }
}

const char *
audit_checkpoint_key_public (const audit_checkpoint_key_t *self)
{
    assert (self);
    return self->public_hex;
}

int
audit_checkpoint_sign (const audit_checkpoint_key_t *self, int64_t seq, const char *hash,
                       int64_t at_ms, char *line, size_t size)
{
    assert (self && line && size >= AUDIT_CHECKPOINT_LINE_MAX);
    *line = 0;
    if (seq < 1 || at_ms < 0 || !audit_chain_is_hash (hash))
        return -1;
    int len = snprintf (line, size, LINE_TAG "seq=%" PRId64 " hash=%s at=%" PRId64 " key=%s",
                        seq, hash, at_ms, self->public_hex);
    uint8_t sig [64];
    size_t sig_len = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new ();
    int rc = md && EVP_DigestSignInit (md, NULL, NULL, NULL, self->pkey) == 1
          && EVP_DigestSign (md, sig, &sig_len, (const uint8_t *) line, (size_t) len) == 1
          && sig_len == 64? 0: -1;
    EVP_MD_CTX_free (md);
    if (rc) {
        *line = 0;
        return -1;
    }
    char sig_hex [129];
    cm_hex_encode (sig, 64, sig_hex);
    snprintf (line + len, size - (size_t) len, SIG_MARK "%s\n", sig_hex);
    return 0;
}

//  "<name>=<digits>" at *p followed by a space (or the end when last):
//  the number into *value; advances *p. 0 or -1.
static int
s_number (const char **p, const char *end, const char *name, int64_t *value)
{
    size_t name_len = strlen (name);
    if ((size_t) (end - *p) < name_len + 2 || memcmp (*p, name, name_len) != 0 || (*p) [name_len] != '=')
        return -1;
    const char *q = *p + name_len + 1;
    int64_t v = 0;
    int digits = 0;
    while (q < end && *q >= '0' && *q <= '9' && digits < 19) {
        v = v * 10 + (*q - '0');
        q++;
        digits++;
    }
    if (digits == 0 || (digits > 1 && (*p) [name_len + 1] == '0') || q >= end || *q != ' ')
        return -1;
    *value = v;
    *p = q + 1;
    return 0;
}

//  "<name>=<hex_len hex digits>" then a space, or the end when last
static int
s_hex_field (const char **p, const char *end, const char *name, size_t hex_len, char *out, bool last)
{
    size_t name_len = strlen (name);
    if ((size_t) (end - *p) < name_len + 1 + hex_len + (last? 0: 1)
    ||  memcmp (*p, name, name_len) != 0 || (*p) [name_len] != '=')
        return -1;
    const char *q = *p + name_len + 1;
    for (size_t i = 0; i < hex_len; i++)
        if (!((q [i] >= '0' && q [i] <= '9') || (q [i] >= 'a' && q [i] <= 'f')))
            return -1;
    if (last? q + hex_len != end: q [hex_len] != ' ')
        return -1;
    memcpy (out, q, hex_len);
    out [hex_len] = 0;
    *p = q + hex_len + (last? 0: 1);
    return 0;
}

int
audit_checkpoint_verify (const audit_checkpoint_key_t *self, const char *line, size_t len,
                         audit_checkpoint_t *out)
{
    assert (self && out);
    memset (out, 0, sizeof *out);
    const char *p = line, *end = line + len;
    size_t tag_len = strlen (LINE_TAG);
    if (len < tag_len || memcmp (p, LINE_TAG, tag_len) != 0)
        return -1;
    p += tag_len;
    const char *signed_end = NULL;
    if (s_number (&p, end, "seq", &out->seq) || out->seq < 1
    ||  s_hex_field (&p, end, "hash", 64, out->hash, false)
    ||  s_number (&p, end, "at", &out->at_ms)
    ||  s_hex_field (&p, end, "key", 64, out->key, false))
        return -1;
    signed_end = p - 1;                 //  the space before "sig="
    if (s_hex_field (&p, end, "sig", 128, out->sig, true))
        return -1;
    if (strcmp (out->key, self->public_hex) != 0)
        return 1;
    uint8_t sig [64];
    if (cm_hex_decode (out->sig, sig, sizeof sig))
        return -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new ();
    int rc = md && EVP_DigestVerifyInit (md, NULL, NULL, NULL, self->pkey) == 1
          && EVP_DigestVerify (md, sig, sizeof sig, (const uint8_t *) line,
                               (size_t) (signed_end - line)) == 1? 0: -1;
    EVP_MD_CTX_free (md);
    return rc;
}

int
audit_checkpoint_append (const char *dir, const char *line)
{
    char path [1024];
    if (snprintf (path, sizeof path, "%s/" AUDIT_CHECKPOINT_FILE, dir) >= (int) sizeof path)
        return -1;
    int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        cm_error ("cannot open %s: %s", path, strerror (errno));
        return -1;
    }
    //  One write: appenders sharing the file never interleave within a line
    size_t len = strlen (line);
    ssize_t written = write (fd, line, len);
    int rc = written == (ssize_t) len && fsync (fd) == 0? 0: -1;
    if (rc)
        cm_error ("cannot append to %s: %s", path, strerror (errno));
    close (fd);
    return rc;
}

int
audit_checkpoint_latest (const audit_checkpoint_key_t *self, const char *dir,
                         audit_checkpoint_t *out, char *problem, size_t size)
{
    assert (self && out && problem);
    *problem = 0;
    memset (out, 0, sizeof *out);
    char path [1024];
    if (snprintf (path, sizeof path, "%s/" AUDIT_CHECKPOINT_FILE, dir) >= (int) sizeof path) {
        snprintf (problem, size, "AUDIT_CHECKPOINT_DIR is too long");
        return -1;
    }
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        snprintf (problem, size, "cannot read the checkpoint file: %s", strerror (errno));
        return -1;
    }
    struct stat st;
    char *block = (char *) malloc (SCAN_BLOCK + 1);
    if (!block || fstat (fd, &st)) {
        free (block);
        close (fd);
        snprintf (problem, size, "cannot read the checkpoint file");
        return -1;
    }
    //  Blocks from the end back; end is where the unscanned part stops,
    //  always just after an LF (or the first byte of a torn last line)
    int rc = 1;
    off_t end = st.st_size;
    bool last = true;                   //  the first block holds the file's end
    while (rc == 1 && end > 0) {
        off_t start = end > SCAN_BLOCK? end - SCAN_BLOCK: 0;
        size_t want = (size_t) (end - start);
        ssize_t got = pread (fd, block, want, start);
        if (got != (ssize_t) want) {
            snprintf (problem, size, "cannot read the checkpoint file");
            rc = -1;
            break;
        }
        size_t stop = want;
        //  A last line without its LF was cut short: not a checkpoint
        if (last && block [stop - 1] != '\n')
            while (stop > 0 && block [stop - 1] != '\n')
                stop--;
        last = false;
        //  Complete lines in [line_start, stop), newest first
        while (rc == 1 && stop > 0) {
            size_t line_end = stop - 1;             //  the LF
            size_t line_start = line_end;
            while (line_start > 0 && block [line_start - 1] != '\n')
                line_start--;
            if (line_start == 0 && start > 0)
                break;                              //  may begin in the block before
            if (line_end > line_start) {
                int verdict = audit_checkpoint_verify (self, block + line_start, line_end - line_start, out);
                if (verdict == 0)
                    rc = 0;
                else
                if (verdict < 0) {
                    snprintf (problem, size, "the checkpoint file holds a line that does not verify"
                              " at byte %lld", (long long) (start + (off_t) line_start));
                    rc = -1;
                }
            }
            stop = line_start;
        }
        if (rc == 1 && stop == want && start > 0) {
            //  Not one LF in a whole block: no line is that long
            snprintf (problem, size, "the checkpoint file holds a line longer than %d bytes", SCAN_BLOCK);
            rc = -1;
        }
        end = start + (off_t) stop;
    }
    free (block);
    close (fd);
    if (rc != 0)
        memset (out, 0, sizeof *out);
    return rc;
}
