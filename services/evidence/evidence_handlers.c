/*  evidence_handlers - upload URLs, chunked encrypted uploads, reads, deletes */
#include <inttypes.h>
#include <pthread.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "evidence_handlers.h"
#include "evidence_erase.h"
#include "evidence_files.h"
#include "evidence_magic.h"
#include "evidence_store.h"
#include "evidence_url.h"
#include "../../common/cm_db.h"
#include "../../common/cm_hex.h"
#include "../../common/cm_log.h"
#include "../../common/cm_rand.h"

#define URL_REFUSED     "the upload URL is invalid, expired or already used"
#define KEY_REFUSED     "the upload key is invalid or the upload is over"
#define STORE_DOWN      "evidence store unavailable"
#define NOT_FOUND       "evidence not found"
#define MISMATCH        "the content does not match content_type"
#define WRAPPED_HEX     (2 * EVIDENCE_KEYS_WRAPPED + 1)

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static evidence_keys_t s_keys;
static bool s_keys_loaded;
static const cm_config_t *s_cfg;

static void
s_load_keys (void)
{
    s_keys_loaded = evidence_keys_load (&s_keys, s_cfg) == 0;
}

static bool
s_keys_ready (const cm_config_t *cfg)
{
    s_cfg = cfg;
    pthread_once (&s_once, s_load_keys);
    return s_keys_loaded;
}

int
evidence_on_start (const cm_config_t *cfg, PGconn *db)
{
    (void) db;
    if (!s_keys_ready (cfg))
        return -1;
    return evidence_files_dirs (cfg->evidence_dir);
}

void *
evidence_worker_new (const cm_config_t *cfg, zcert_t *cert, int index)
{
    (void) cert;
    (void) index;
    if (!s_keys_ready (cfg))
        return NULL;                    //  no keys: refuse to start
    evidence_worker_t *self = (evidence_worker_t *) zmalloc (sizeof (evidence_worker_t));
    self->cfg = cfg;
    self->keys = &s_keys;
    //  A failed connect is retried per request
    self->db = cm_db_connect (cfg);
    return self;
}

void
evidence_worker_destroy (void **state_p)
{
    evidence_worker_t *self = (evidence_worker_t *) *state_p;
    if (self) {
        PQfinish (self->db);
        free (self);
        *state_p = NULL;
    }
}

PGconn *
evidence_worker_db (evidence_worker_t *self)
{
    return cm_db_ensure (&self->db, self->cfg);
}

//  The reply form of a row. Until the upload lands a row is "pending" to
//  clients, whether or not its bytes have started to arrive.
static void
s_evidence_fill (proto_evidence_t *e, const evidence_row_t *row)
{
    bool stored = streq (row->status, "stored");
    e->id = cm_server_dup (row->id);
    e->mission_id = cm_server_dup (row->mission_id);
    e->filename = cm_server_dup (row->filename);
    e->content_type = cm_server_dup (row->content_type);
    e->size_bytes = row->size_bytes;
    e->has_size_bytes = true;
    e->sha256 = stored && *row->sha256? cm_server_dup (row->sha256): NULL;
    e->status = cm_server_dup (stored? "stored": "pending");
    e->created_at = cm_server_dup (row->created_at);
}

void
evidence_handlers_fill (proto_evidence_t *evidence, const evidence_row_t *row)
{
    s_evidence_fill (evidence, row);
}

static proto_evidence_t *
s_evidence_reply (const evidence_row_t *row)
{
    proto_evidence_t *e = (proto_evidence_t *) zmalloc (sizeof (proto_evidence_t));
    s_evidence_fill (e, row);
    return e;
}

//  The key of row's file: its owner's data key (hex), unwrapped, then
//  derived for this file. 0 or -1 (logged: a key that does not open is
//  damage or a wrong master key, never the client's fault).
static int
s_file_key (evidence_worker_t *self, const evidence_row_t *row, const char *wrapped_hex,
            uint8_t file_key [EVIDENCE_KEYS_BYTES])
{
    uint8_t wrapped [EVIDENCE_KEYS_WRAPPED], data_key [EVIDENCE_KEYS_BYTES];
    int rc = cm_hex_decode (wrapped_hex, wrapped, sizeof wrapped) == 0
          && evidence_keys_unwrap (self->keys->master, row->user_id, wrapped, sizeof wrapped, data_key) == 0
          && evidence_keys_file_key (data_key, row->id, file_key) == 0? 0: -1;
    explicit_bzero (data_key, sizeof data_key);
    if (rc)
        cm_error ("evidence %s: the data key of its owner does not open", row->id);
    return rc;
}

static bool
s_same_secret (const char *expected, const char *given)
{
    size_t len = strlen (expected);
    return len > 0 && strlen (given) == len && CRYPTO_memcmp (expected, given, len) == 0;
}

//  ---------------------------------------------------------------------
//  evidence.upload_url: a pending row and the signature of its PUT

static cm_err_t
s_upload_url (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    evidence_worker_t *self = (evidence_worker_t *) state;
    const proto_evidence_upload_url_req_t *req = (const proto_evidence_upload_url_req_t *) req_;
    proto_evidence_upload_url_rep_t *rep = (proto_evidence_upload_url_rep_t *) rep_;

    char filename [EVIDENCE_MAGIC_NAME_SIZE];
    int named = evidence_magic_filename (req->filename, filename, sizeof filename);
    if (named == EVIDENCE_MAGIC_NAME_LENGTH)
        return cm_server_fail (info, CM_VALIDATION_FAILED,
                               "filename: must be 1 to %d characters after trimming", EVIDENCE_MAGIC_NAME_MAX);
    if (named)
        return cm_server_fail (info, CM_VALIDATION_FAILED,
                               "filename: must not contain / \\ or control characters");
    const char *type = evidence_magic_type (req->content_type);
    if (!type)
        return cm_server_fail (info, CM_UNSUPPORTED_MEDIA,
                               "content_type: must be one of " EVIDENCE_MAGIC_TYPES);
    int64_t max = self->cfg->evidence_max_bytes;
    if (req->size_bytes < 1)
        return cm_server_fail (info, CM_VALIDATION_FAILED,
                               "size_bytes: must be an integer from 1 to %" PRId64, max);
    if (req->size_bytes > max)
        return cm_server_fail (info, CM_PAYLOAD_TOO_LARGE, "size_bytes: at most %" PRId64 " bytes", max);

    //  A data key for the user, kept only if they have none yet
    uint8_t wrapped [EVIDENCE_KEYS_WRAPPED];
    char wrapped_hex [WRAPPED_HEX];
    if (evidence_keys_new_wrapped (self->keys->master, ctx->uid, wrapped))
        return cm_server_fail (info, CM_INTERNAL, "cannot make a data key");
    cm_hex_encode (wrapped, sizeof wrapped, wrapped_hex);
    PGconn *db = evidence_worker_db (self);
    if (!db)
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    evidence_row_t row;
    int rc = evidence_store_create (db, ctx->uid, req->mission_id, filename, type, req->size_bytes,
                                    wrapped_hex, &row);
    if (rc == EVIDENCE_STORE_FULL)
        return cm_server_fail (info, CM_CONFLICT, "mission has too many files");
    if (rc)
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    int64_t expires = (int64_t) time (NULL) + self->cfg->upload_url_ttl_s;
    char sig [EVIDENCE_URL_SIG_SIZE];
    if (evidence_url_sign (self->keys->url, row.user_id, row.id, row.content_type, row.size_bytes,
                           expires, sig))
        return cm_server_fail (info, CM_INTERNAL, "cannot sign the upload URL");
    rep->evidence = s_evidence_reply (&row);
    rep->expires = expires;
    rep->has_expires = true;
    rep->sig = cm_server_dup (sig);
    return CM_CREATED;
}

//  ---------------------------------------------------------------------
//  evidence.upload_begin: the signed URL buys an upload key, once

static cm_err_t
s_upload_begin (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    (void) ctx;
    evidence_worker_t *self = (evidence_worker_t *) state;
    const proto_evidence_upload_begin_req_t *req = (const proto_evidence_upload_begin_req_t *) req_;
    proto_evidence_upload_begin_rep_t *rep = (proto_evidence_upload_begin_rep_t *) rep_;

    PGconn *db = evidence_worker_db (self);
    if (!db || !evidence_store_upload_begin (db, req->id))
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    evidence_row_t row;
    char part [EVIDENCE_FILES_PATH_MAX];
    char upload_key [65] = "";
    const char *why = NULL;             //  for the log; the client sees one message
    cm_err_t err = CM_OK;
    int rc = evidence_store_lock (db, req->id, &row);
    if (rc < 0)
        err = cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    else
    if (rc)
        why = "no such evidence";
    else {
        int verdict = evidence_url_verify (self->keys->url, row.user_id, row.id, row.content_type,
                                           row.size_bytes, req->expires, req->sig, (int64_t) time (NULL));
        why = verdict == EVIDENCE_URL_BAD? "bad signature"
            : verdict == EVIDENCE_URL_EXPIRED? "expired"
            : !streq (row.status, "pending")? "already used": NULL;
    }
    if (why)
        err = cm_server_fail (info, CM_FORBIDDEN, URL_REFUSED);
    //  The PUT's Content-Type must be the declared type; the URL stays
    //  usable for a PUT that sends the right one
    const char *given = err == CM_OK? evidence_magic_type (req->content_type): NULL;
    if (err == CM_OK && (!given || !streq (given, row.content_type))) {
        why = "Content-Type differs from the declared type";
        err = cm_server_fail (info, CM_UNSUPPORTED_MEDIA,
                              "content_type: the Content-Type header must be %s", row.content_type);
    }
    if (err == CM_OK) {
        rc = cm_rand_hex (upload_key, 32) == 0? evidence_store_uploading (db, row.id, upload_key): -1;
        if (rc < 0)
            err = cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
        else
        if (rc)
            err = cm_server_fail (info, CM_FORBIDDEN, URL_REFUSED);
    }
    //  Nothing can be there yet; a leftover would shift every segment
    if (err == CM_OK && evidence_files_path (self->cfg->evidence_dir, row.id, true, part, sizeof part) == 0)
        evidence_files_remove (part);
    if (cm_db_end (db, err == CM_OK? 0: -1) < 0 && err == CM_OK)
        err = cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    if (why)
        cm_info ("upload of %s refused: %s", req->id, why);
    if (err != CM_OK)
        return err;
    rep->size_bytes = row.size_bytes;
    rep->has_size_bytes = true;
    rep->upload_key = cm_server_dup (upload_key);
    return CM_OK;
}

//  ---------------------------------------------------------------------
//  evidence.upload_chunk

//  Drop the upload (its row in the open transaction, then its files) and
//  answer err
static cm_err_t
s_drop (PGconn *db, const evidence_row_t *row, const char *part, const char *stored,
        cm_reply_info_t *info, cm_err_t err, const char *message)
{
    cm_db_end (db, evidence_store_remove (db, row->id));
    //  A row the rollback kept is an idle upload to the janitor
    evidence_files_remove (part);
    evidence_files_remove (stored);
    cm_info ("upload of %s dropped: %s", row->id, message);
    return cm_server_fail (info, err, "%s", message);
}

//  Read a finished part file back whole: every segment must open, the size
//  must be the declared one; sha256 of the plaintext into sha_hex, and for
//  text/plain, UTF-8 all through
static cm_err_t
s_check_part (const char *part, const uint8_t *file_key, const evidence_row_t *row, char *sha_hex,
              cm_reply_info_t *info)
{
    evidence_files_reader_t *reader = evidence_files_reader_new (part, file_key);
    uint8_t *plain = (uint8_t *) malloc (EVIDENCE_FILES_SEGMENT);
    EVP_MD_CTX *md = EVP_MD_CTX_new ();
    bool text = streq (row->content_type, "text/plain");
    evidence_magic_utf8_t utf8;
    evidence_magic_utf8_init (&utf8);
    cm_err_t err = cm_server_fail (info, CM_INTERNAL, "the upload could not be read back");
    if (!reader || !plain || !md || evidence_files_reader_size (reader) != row->size_bytes
    ||  EVP_DigestInit_ex (md, EVP_sha256 (), NULL) != 1)
        goto cleanup;
    for (int64_t i = 0; i < evidence_files_reader_segments (reader); i++) {
        int len = evidence_files_reader_segment (reader, i, plain);
        if (len < 0 || EVP_DigestUpdate (md, plain, (size_t) len) != 1)
            goto cleanup;
        if (text)
            evidence_magic_utf8_feed (&utf8, plain, (size_t) len);
    }
    uint8_t digest [32];
    unsigned int digest_len = 0;
    if (EVP_DigestFinal_ex (md, digest, &digest_len) != 1 || digest_len != 32)
        goto cleanup;
    cm_hex_encode (digest, 32, sha_hex);
    err = text && !evidence_magic_utf8_valid (&utf8)
        ? cm_server_fail (info, CM_UNSUPPORTED_MEDIA, MISMATCH): CM_OK;

cleanup:
    if (err == CM_INTERNAL)
        cm_error ("evidence %s: the finished upload does not read back", row->id);
    if (plain)
        explicit_bzero (plain, EVIDENCE_FILES_SEGMENT);
    free (plain);
    EVP_MD_CTX_free (md);
    evidence_files_reader_destroy (&reader);
    return err;
}

//  The upload under way that id and upload_key name, its row locked in a
//  transaction begun on *db_p (the caller ends it), and its two paths.
//  CM_OK, or the failure answered with the transaction ended
static cm_err_t
s_upload_open (evidence_worker_t *self, const char *id, const char *upload_key, PGconn **db_p,
               evidence_row_t *row, char *part, char *stored, cm_reply_info_t *info)
{
    if (evidence_files_path (self->cfg->evidence_dir, id, true, part, EVIDENCE_FILES_PATH_MAX)
    ||  evidence_files_path (self->cfg->evidence_dir, id, false, stored, EVIDENCE_FILES_PATH_MAX))
        return cm_server_fail (info, CM_INTERNAL, "EVIDENCE_DIR is not usable");
    PGconn *db = *db_p = evidence_worker_db (self);
    if (!db || !evidence_store_upload_begin (db, id))
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    //  The row stays locked until the caller is done: chunks of one upload
    //  never interleave, whichever replica takes them
    int rc = evidence_store_lock (db, id, row);
    if (rc == 0 && (!streq (row->status, "uploading") || !s_same_secret (row->upload_key, upload_key)))
        rc = EVIDENCE_STORE_NOT_FOUND;
    if (rc == 0)
        return CM_OK;
    cm_db_end (db, -1);
    return rc < 0? cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN)
                 : cm_server_fail (info, CM_FORBIDDEN, KEY_REFUSED);
}

static cm_err_t
s_upload_chunk (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    evidence_worker_t *self = (evidence_worker_t *) state;
    const proto_evidence_upload_chunk_req_t *req = (const proto_evidence_upload_chunk_req_t *) req_;
    proto_evidence_upload_chunk_rep_t *rep = (proto_evidence_upload_chunk_rep_t *) rep_;

    char part [EVIDENCE_FILES_PATH_MAX], stored [EVIDENCE_FILES_PATH_MAX];
    PGconn *db;
    evidence_row_t row;
    cm_err_t opened = s_upload_open (self, req->id, req->upload_key, &db, &row, part, stored, info);
    if (opened != CM_OK)
        return opened;
    if (evidence_store_act_for (db, row.user_id)) {
        cm_db_end (db, -1);
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    }
    int64_t received = 0;
    if (evidence_files_received (part, &received))
        return s_drop (db, &row, part, stored, info, CM_INTERNAL,
                       "the upload was interrupted: ask for a new upload URL");
    if (req->offset != received) {
        cm_db_end (db, -1);
        return cm_server_fail (info, CM_INVALID_REQUEST, "offset: expected %" PRId64, received);
    }
    size_t len = req->data_len;
    if (!req->last && len % EVIDENCE_FILES_SEGMENT) {
        cm_db_end (db, -1);
        return cm_server_fail (info, CM_INVALID_REQUEST,
                               "data: every chunk but the last is a multiple of %d bytes", EVIDENCE_FILES_SEGMENT);
    }
    if ((int64_t) len > row.size_bytes - received)
        return s_drop (db, &row, part, stored, info, CM_PAYLOAD_TOO_LARGE, "the body is larger than size_bytes");
    if (req->last && (int64_t) len < row.size_bytes - received)
        return s_drop (db, &row, part, stored, info, CM_INVALID_REQUEST, "the body is shorter than size_bytes");
    //  The first bytes decide the type; text is checked again whole at the end
    if (received == 0 && len > 0 && !evidence_magic_match (row.content_type, req->data, len))
        return s_drop (db, &row, part, stored, info, CM_UNSUPPORTED_MEDIA, MISMATCH);
    char wrapped_hex [WRAPPED_HEX];
    int rc = evidence_store_user_key (db, row.user_id, wrapped_hex, sizeof wrapped_hex);
    if (rc < 0)
        return s_drop (db, &row, part, stored, info, CM_UNAVAILABLE, STORE_DOWN);
    uint8_t file_key [EVIDENCE_KEYS_BYTES];
    if (rc || s_file_key (self, &row, wrapped_hex, file_key))
        return s_drop (db, &row, part, stored, info, CM_INTERNAL, "the upload cannot be encrypted");
    rc = len? evidence_files_append (part, file_key, received, req->data, len, row.size_bytes): 0;
    received += (int64_t) len;
    cm_err_t err = CM_OK;
    if (rc)
        err = s_drop (db, &row, part, stored, info, CM_INTERNAL, "the chunk could not be stored");
    else
    if (!req->last) {
        rc = cm_db_end (db, evidence_store_touch (db, row.id));
        if (rc)
            err = cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    }
    else {
        //  Read back, move into files/, and only then say stored
        char sha [65];
        err = s_check_part (part, file_key, &row, sha, info);
        if (err == CM_OK && evidence_files_commit (part, stored))
            err = cm_server_fail (info, CM_INTERNAL, "the upload could not be stored");
        if (err == CM_OK && evidence_store_stored (db, ctx, row.id, row.user_id, sha, &row))
            err = cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
        if (err != CM_OK) {
            char message [sizeof info->message];
            snprintf (message, sizeof message, "%s", info->message);
            err = s_drop (db, &row, part, stored, info, err, message);
        }
        else
        if (cm_db_end (db, 0) < 0)
            //  Whether COMMIT landed is unknown: if not, the row is an
            //  idle upload whose file the janitor removes with it
            err = cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    }
    explicit_bzero (file_key, sizeof file_key);
    if (err != CM_OK)
        return err;
    rep->received = received;
    rep->has_received = true;
    if (req->last) {
        rep->evidence = s_evidence_reply (&row);
        return CM_CREATED;
    }
    return CM_OK;
}

//  ---------------------------------------------------------------------
//  evidence.upload_abort: the gateway gives up (body too large, client gone)

static cm_err_t
s_upload_abort (void *state, const cm_ctx_t *ctx, const void *req_, void *rep, cm_reply_info_t *info)
{
    (void) ctx;
    (void) rep;
    evidence_worker_t *self = (evidence_worker_t *) state;
    const proto_evidence_upload_abort_req_t *req = (const proto_evidence_upload_abort_req_t *) req_;
    char part [EVIDENCE_FILES_PATH_MAX], stored [EVIDENCE_FILES_PATH_MAX];
    PGconn *db;
    evidence_row_t row;
    cm_err_t opened = s_upload_open (self, req->id, req->upload_key, &db, &row, part, stored, info);
    if (opened != CM_OK)
        return opened;
    s_drop (db, &row, part, stored, info, CM_NO_CONTENT, "aborted by the gateway");
    info->message [0] = 0;
    return CM_NO_CONTENT;
}

//  ---------------------------------------------------------------------
//  A user's evidence

static cm_err_t
s_get (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    evidence_worker_t *self = (evidence_worker_t *) state;
    const proto_evidence_get_req_t *req = (const proto_evidence_get_req_t *) req_;
    proto_evidence_get_rep_t *rep = (proto_evidence_get_rep_t *) rep_;
    PGconn *db = evidence_worker_db (self);
    evidence_row_t row;
    int rc = db? evidence_store_get (db, ctx->uid, req->id, &row): -1;
    if (rc < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    if (rc)
        return cm_server_fail (info, CM_NOT_FOUND, NOT_FOUND);
    rep->evidence = s_evidence_reply (&row);
    return CM_OK;
}

static cm_err_t
s_list (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    evidence_worker_t *self = (evidence_worker_t *) state;
    const proto_evidence_list_req_t *req = (const proto_evidence_list_req_t *) req_;
    proto_evidence_list_rep_t *rep = (proto_evidence_list_rep_t *) rep_;
    PGconn *db = evidence_worker_db (self);
    evidence_row_t *rows = NULL;
    uint32_t count = 0;
    if (!db || evidence_store_list (db, ctx->uid, req->mission_id, &rows, &count))
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    if (count) {
        rep->items = (proto_evidence_t *) zmalloc (count * sizeof (proto_evidence_t));
        for (uint32_t i = 0; i < count; i++)
            s_evidence_fill (&rep->items [i], &rows [i]);
        rep->items_count = count;
    }
    free (rows);
    return CM_OK;
}

static cm_err_t
s_content (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    evidence_worker_t *self = (evidence_worker_t *) state;
    const proto_evidence_content_req_t *req = (const proto_evidence_content_req_t *) req_;
    proto_evidence_content_rep_t *rep = (proto_evidence_content_rep_t *) rep_;
    PGconn *db = evidence_worker_db (self);
    evidence_row_t row;
    char wrapped_hex [WRAPPED_HEX], stored [EVIDENCE_FILES_PATH_MAX];
    int rc = db? evidence_store_content (db, ctx->uid, req->id, &row, wrapped_hex, sizeof wrapped_hex): -1;
    if (rc < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    if (rc)
        return cm_server_fail (info, CM_NOT_FOUND, NOT_FOUND);
    if (!streq (row.status, "stored"))
        return cm_server_fail (info, CM_NOT_FOUND, "the evidence has no content yet");
    if (req->offset % PROTO_EVIDENCE_CHUNK || req->offset >= row.size_bytes)
        return cm_server_fail (info, CM_INVALID_REQUEST,
                               "offset: must be a multiple of %d below size_bytes", PROTO_EVIDENCE_CHUNK);
    uint8_t file_key [EVIDENCE_KEYS_BYTES];
    if (evidence_files_path (self->cfg->evidence_dir, row.id, false, stored, sizeof stored)
    ||  s_file_key (self, &row, wrapped_hex, file_key))
        return cm_server_fail (info, CM_INTERNAL, "the evidence cannot be read");
    evidence_files_reader_t *reader = evidence_files_reader_new (stored, file_key);
    explicit_bzero (file_key, sizeof file_key);
    int64_t left = row.size_bytes - req->offset;
    size_t len = left < PROTO_EVIDENCE_CHUNK? (size_t) left: PROTO_EVIDENCE_CHUNK;
    uint8_t *data = (uint8_t *) malloc (len);
    //  Never garbage: a segment that does not open fails the whole read
    if (!reader || !data || evidence_files_reader_size (reader) != row.size_bytes
    ||  evidence_files_reader_read (reader, req->offset, data, len) != (int64_t) len) {
        cm_error ("evidence %s: the stored file is missing or damaged", row.id);
        evidence_files_reader_destroy (&reader);
        free (data);
        return cm_server_fail (info, CM_INTERNAL, "the evidence cannot be read");
    }
    evidence_files_reader_destroy (&reader);
    rep->evidence = s_evidence_reply (&row);
    rep->data = data;
    rep->data_len = len;
    rep->last = req->offset + (int64_t) len == row.size_bytes;
    rep->has_last = true;
    return CM_OK;
}

//  Remove both files an evidence id may have
static void
s_remove_files (evidence_worker_t *self, const char *id)
{
    char path [EVIDENCE_FILES_PATH_MAX];
    if (evidence_files_path (self->cfg->evidence_dir, id, false, path, sizeof path) == 0)
        evidence_files_remove (path);
    if (evidence_files_path (self->cfg->evidence_dir, id, true, path, sizeof path) == 0)
        evidence_files_remove (path);
}

static cm_err_t
s_delete (void *state, const cm_ctx_t *ctx, const void *req_, void *rep, cm_reply_info_t *info)
{
    (void) rep;
    evidence_worker_t *self = (evidence_worker_t *) state;
    const proto_evidence_delete_req_t *req = (const proto_evidence_delete_req_t *) req_;
    PGconn *db = evidence_worker_db (self);
    int rc = db? evidence_store_delete (db, ctx, ctx->uid, req->id): -1;
    if (rc < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    if (rc)
        return cm_server_fail (info, CM_NOT_FOUND, NOT_FOUND);
    //  After the commit: a crash here leaves an orphan the janitor removes
    s_remove_files (self, req->id);
    return CM_NO_CONTENT;
}

static cm_err_t
s_purge_mission (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    evidence_worker_t *self = (evidence_worker_t *) state;
    const proto_evidence_purge_mission_req_t *req = (const proto_evidence_purge_mission_req_t *) req_;
    proto_evidence_purge_mission_rep_t *rep = (proto_evidence_purge_mission_rep_t *) rep_;
    PGconn *db = evidence_worker_db (self);
    evidence_id_t *ids = NULL;
    uint32_t count = 0;
    if (!db || evidence_store_purge (db, ctx, ctx->uid, req->mission_id, &ids, &count))
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    for (uint32_t i = 0; i < count; i++)
        s_remove_files (self, ids [i]);
    free (ids);
    rep->deleted = count;
    rep->has_deleted = true;
    return CM_OK;
}

const cm_route_t evidence_routes [] = {
    { PROTO_MSG_evidence_upload_url,    s_upload_url,    true, false },
    { PROTO_MSG_evidence_upload_begin,  s_upload_begin,  false, false },
    { PROTO_MSG_evidence_upload_chunk,  s_upload_chunk,  false, false },
    { PROTO_MSG_evidence_upload_abort,  s_upload_abort,  false, false },
    { PROTO_MSG_evidence_get,           s_get,           true, false },
    { PROTO_MSG_evidence_list,          s_list,          true, false },
    { PROTO_MSG_evidence_content,       s_content,       true, false },
    { PROTO_MSG_evidence_delete,        s_delete,        true, false },
    { PROTO_MSG_evidence_purge_mission, s_purge_mission, true, false },
    { PROTO_MSG_evidence_list_user,     evidence_erase_list_user, true, false },
    { PROTO_MSG_evidence_erase_user,    evidence_erase_user,      true, false },
};
const size_t evidence_route_count = sizeof evidence_routes / sizeof evidence_routes [0];
