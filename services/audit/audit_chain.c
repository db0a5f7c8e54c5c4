/*  audit_chain - canonical events, chained hashes, verification */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "audit_chain.h"
#include "../../common/cm_hex.h"

//  Bytes the canonical form needs at most for one field of len bytes
#define FIELD_OVERHEAD 24

static size_t
s_put (char *out, size_t at, const char *value)
{
    if (!value || !*value) {
        memcpy (out + at, "-,", 2);
        return at + 2;
    }
    size_t len = strlen (value);
    at += (size_t) sprintf (out + at, "%zu:", len);
    memcpy (out + at, value, len);
    at += len;
    out [at++] = ',';
    return at;
}

static size_t
s_size (const char *value)
{
    return (value? strlen (value): 0) + FIELD_OVERHEAD;
}

char *
audit_chain_canonical (const audit_chain_event_t *e, size_t *len)
{
    assert (e && len);
    char seq [24], at_ms [24];
    snprintf (seq, sizeof seq, "%" PRId64, e->seq);
    snprintf (at_ms, sizeof at_ms, "%" PRId64, e->at_ms);
    const char *fields [] = {
        AUDIT_CHAIN_TAG, seq, e->id, at_ms, e->type, e->service, e->outcome,
        e->user_id, e->request_id, e->detail
    };
    size_t count = sizeof fields / sizeof fields [0];
    size_t size = 1;
    for (size_t i = 0; i < count; i++)
        size += s_size (fields [i]);
    char *out = (char *) malloc (size);
    if (!out)
        return NULL;
    size_t at = 0;
    for (size_t i = 0; i < count; i++)
        at = s_put (out, at, fields [i]);
    out [at] = 0;
    *len = at;
    return out;
}

bool
audit_chain_is_hash (const char *text)
{
    if (!text || strlen (text) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((text [i] >= '0' && text [i] <= '9') || (text [i] >= 'a' && text [i] <= 'f')))
            return false;
    return true;
}

int
audit_chain_hash (const char *prev_hash, const audit_chain_event_t *e, char *hash)
{
    assert (hash);
    *hash = 0;
    if (!audit_chain_is_hash (prev_hash))
        return -1;
    size_t len = 0;
    char *canonical = audit_chain_canonical (e, &len);
    if (!canonical)
        return -1;
    unsigned char digest [EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new ();
    int rc = md && EVP_DigestInit_ex (md, EVP_sha256 (), NULL) == 1
          && EVP_DigestUpdate (md, prev_hash, 64) == 1
          && EVP_DigestUpdate (md, canonical, len) == 1
          && EVP_DigestFinal_ex (md, digest, &digest_len) == 1 && digest_len == 32? 0: -1;
    EVP_MD_CTX_free (md);
    free (canonical);
    if (rc)
        return -1;
    cm_hex_encode (digest, 32, hash);
    return 0;
}

void
audit_chain_verifier_init (audit_chain_verifier_t *self, int64_t checkpoint_seq,
                           const char *checkpoint_hash)
{
    assert (self);
    memset (self, 0, sizeof *self);
    self->expected = 1;
    snprintf (self->prev, sizeof self->prev, "%s", AUDIT_CHAIN_GENESIS);
    if (checkpoint_seq > 0 && audit_chain_is_hash (checkpoint_hash)) {
        self->checkpoint_seq = checkpoint_seq;
        snprintf (self->checkpoint_hash, sizeof self->checkpoint_hash, "%s", checkpoint_hash);
    }
}

static int
s_bad (audit_chain_verifier_t *self, int64_t seq, const char *format, ...)
{
    self->first_bad = seq;
    va_list args;
    va_start (args, format);
    vsnprintf (self->problem, sizeof self->problem, format, args);
    va_end (args);
    return -1;
}

int
audit_chain_verifier_feed (audit_chain_verifier_t *self, const audit_chain_event_t *e,
                           const char *stored_prev, const char *stored_hash)
{
    assert (self && e);
    if (self->first_bad)
        return -1;
    self->events++;
    int64_t seq = self->expected;
    //  A gap is a removed event; a seq out of order a moved one
    if (e->seq != seq)
        return s_bad (self, seq, e->seq > seq? "seq %" PRId64 " is missing (the next stored is %" PRId64 ")"
                                             : "seq %" PRId64 " is out of order (found %" PRId64 ")",
                      seq, e->seq);
    if (!stored_prev || strcmp (stored_prev, self->prev) != 0)
        return s_bad (self, seq, "seq %" PRId64 ": prev_hash is not the hash of the event before it", seq);
    char hash [AUDIT_CHAIN_HEX];
    if (audit_chain_hash (self->prev, e, hash))
        return s_bad (self, seq, "seq %" PRId64 ": cannot be hashed", seq);
    if (!stored_hash || strcmp (stored_hash, hash) != 0)
        return s_bad (self, seq, "seq %" PRId64 ": its content does not match its hash", seq);
    //  A chain rewritten whole is consistent in itself; the signed
    //  checkpoint is what it cannot match
    if (seq == self->checkpoint_seq) {
        if (strcmp (hash, self->checkpoint_hash) != 0)
            return s_bad (self, seq, "seq %" PRId64 " differs from the signed checkpoint:"
                          " the chain was rewritten at or before it", seq);
        self->checkpoint_matched = true;
    }
    snprintf (self->prev, sizeof self->prev, "%s", hash);
    self->expected++;
    return 0;
}

int
audit_chain_verifier_finish (audit_chain_verifier_t *self)
{
    assert (self);
    if (self->first_bad)
        return -1;
    if (self->checkpoint_seq && !self->checkpoint_matched)
        return s_bad (self, self->expected, "the chain ends at seq %" PRId64 " but a signed checkpoint"
                      " covers seq %" PRId64 ": events were removed", self->expected - 1,
                      self->checkpoint_seq);
    return 0;
}
