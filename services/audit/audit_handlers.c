/*  audit_handlers - append, query, verify and erase; start-up and the tick */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "audit_handlers.h"
#include "audit_personal.h"
#include "audit_rules.h"
#include "audit_verify.h"
#include "../../common/cm_db.h"
#include "../../common/cm_fs.h"
#include "../../common/cm_log.h"
#include "../../common/cm_rand.h"

#define STORE_DOWN      "audit store unavailable"
#define ALERT_KEY_INFO  "audit alert subjects v1"

//  ----------------------------------------------------------------------
//  Keys

audit_checkpoint_key_t *
audit_keys_load_checkpoint (const cm_config_t *cfg)
{
    char path [1024];
    audit_checkpoint_key_t *key = NULL;
    if (cm_crypt_key_path (cfg->keys_dir, cfg->audit_checkpoint_key_file, "audit_checkpoint",
                           path, sizeof path) == 0)
        key = audit_checkpoint_key_load (path);
    if (!key)
        cm_error ("cannot load the audit_checkpoint key %s (64 hex digits: an Ed25519 seed)", path);
    return key;
}

int
audit_keys_load (audit_keys_t *self, const cm_config_t *cfg)
{
    memset (self, 0, sizeof *self);
    char path [1024];
    if (cm_crypt_key_path (cfg->keys_dir, cfg->audit_master_key_file, "audit_master", path, sizeof path)
    ||  cm_crypt_load_key (path, self->master)) {
        cm_error ("cannot load the audit_master key %s (64 hex digits)", path);
        return -1;
    }
    //  Alert subjects get a key of their own, derived: one key, one job
    unsigned int len = 0;
    if (!HMAC (EVP_sha256 (), self->master, sizeof self->master, (const uint8_t *) ALERT_KEY_INFO,
               strlen (ALERT_KEY_INFO), self->alert_key, &len) || len != sizeof self->alert_key) {
        audit_keys_clear (self);
        return -1;
    }
    self->checkpoint = audit_keys_load_checkpoint (cfg);
    if (!self->checkpoint) {
        audit_keys_clear (self);
        return -1;
    }
    audit_alerts_config (&self->alerts, cfg);
    self->store = (audit_store_keys_t) { self->master, self->alert_key, &self->alerts };
    return 0;
}

void
audit_keys_clear (audit_keys_t *self)
{
    audit_checkpoint_key_destroy (&self->checkpoint);
    explicit_bzero (self, sizeof *self);
}

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static audit_keys_t s_keys;
static bool s_keys_loaded;
static const cm_config_t *s_cfg;

//  Request workers alive, and the last seq signed by this process
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static int s_workers;
static int64_t s_signed_seq;

static void
s_load_keys (void)
{
    s_keys_loaded = audit_keys_load (&s_keys, s_cfg) == 0;
}

static bool
s_keys_ready (const cm_config_t *cfg)
{
    s_cfg = cfg;
    pthread_once (&s_once, s_load_keys);
    return s_keys_loaded;
}

//  ----------------------------------------------------------------------
//  Workers

void *
audit_worker_new (const cm_config_t *cfg, zcert_t *cert, int index)
{
    (void) cert;
    if (!s_keys_ready (cfg))
        return NULL;                    //  no keys: refuse to start
    audit_worker_t *self = (audit_worker_t *) zmalloc (sizeof (audit_worker_t));
    self->cfg = cfg;
    self->keys = &s_keys;
    self->index = index;
    if (index >= 0) {
        pthread_mutex_lock (&s_lock);
        s_workers++;
        pthread_mutex_unlock (&s_lock);
    }
    if (*cfg->alert_webhook_url) {
        if (audit_alerts_webhook_start (cfg->alert_webhook_url, cfg->alert_webhook_timeout_ms)) {
            free (self);
            return NULL;
        }
        self->webhook = true;
    }
    //  A failed connect is retried per request
    self->db = cm_db_connect (cfg);
    return self;
}

void
audit_worker_destroy (void **state_p)
{
    audit_worker_t *self = (audit_worker_t *) *state_p;
    if (!self)
        return;
    //  The service stops: the last request worker to go, after the drain,
    //  signs where the chain ends (and the tick, which stops first, too)
    bool last = self->index < 0;
    if (self->index >= 0) {
        pthread_mutex_lock (&s_lock);
        last = --s_workers == 0;
        pthread_mutex_unlock (&s_lock);
    }
    if (last) {
        PGconn *db = cm_db_ensure (&self->db, self->cfg);
        if (!db || audit_checkpoint_now (db, self->keys, self->cfg->audit_checkpoint_dir))
            cm_warn ("no checkpoint at shutdown: the database did not answer");
    }
    if (self->webhook)
        audit_alerts_webhook_stop ();
    PQfinish (self->db);
    free (self);
    *state_p = NULL;
}

static PGconn *
s_db (audit_worker_t *self)
{
    return cm_db_ensure (&self->db, self->cfg);
}

static bool
s_peer_is (const cm_ctx_t *ctx, const char *name)
{
    return ctx->peer && streq (ctx->peer, name);
}

//  Log, and hand to the webhook, the alerts an append fired; frees them
static void
s_announce (audit_alert_t *alerts, int count)
{
    for (int i = 0; i < count; i++) {
        audit_alert_t *alert = &alerts [i];
        char seq [24], total [24];
        snprintf (seq, sizeof seq, "%" PRId64, alert->seq);
        snprintf (total, sizeof total, "%" PRId64, alert->count);
        cm_log_fields (CM_LOG_WARN, "security alert", "rule", audit_alerts_rule_name (alert->rule),
                       "count", total, "seq", seq, "event_id", alert->event_id,
                       "user_id", alert->user_id? alert->user_id: "", (const char *) NULL);
        char *body = audit_alerts_webhook_body (alert);
        audit_alerts_webhook_post (&body);
        audit_alerts_clear (alert);
    }
    free (alerts);
}

//  Append events as sent by service; announces the alerts. Count or -1.
static int
s_append_events (audit_worker_t *self, PGconn *db, const proto_audit_event_t *events, uint32_t count,
                 const char *service)
{
    audit_alert_t *alerts = NULL;
    int alert_count = 0;
    int added = audit_store_append (db, &self->keys->store, events, count, service, &alerts, &alert_count);
    s_announce (alerts, alert_count);
    return added;
}

//  Record one event of the audit service itself for ctx's request
static int
s_record (audit_worker_t *self, PGconn *db, const cm_ctx_t *ctx, const char *type, const char *detail)
{
    char id [37];
    if (cm_rand_uuid (id))
        return -1;
    proto_audit_event_t event = {
        .id = id, .at_ms = zclock_time (), .has_at_ms = true, .type = (char *) type,
        .service = (char *) "audit", .outcome = (char *) "success",
        .user_id = ctx && ctx->uid [0]? (char *) ctx->uid: NULL,
        .request_id = ctx && ctx->rid [0]? (char *) ctx->rid: NULL,
        .ip = ctx && ctx->ip [0]? (char *) ctx->ip: NULL,
        .detail = (char *) detail
    };
    return s_append_events (self, db, &event, 1, "audit") < 0? -1: 0;
}

//  ----------------------------------------------------------------------
//  audit.append: at-least-once from every service's outbox or queue

static cm_err_t
s_append (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    audit_worker_t *self = (audit_worker_t *) state;
    const proto_audit_append_req_t *req = (const proto_audit_append_req_t *) req_;
    proto_audit_append_rep_t *rep = (proto_audit_append_rep_t *) rep_;
    PGconn *db = s_db (self);
    //  The authenticated peer is the sender, whatever the events say
    if (!db || s_append_events (self, db, req->events, req->events_count, ctx->peer) < 0)
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    //  Accepted means durable: the sender may now delete its copies
    rep->accepted = req->events_count;
    rep->has_accepted = true;
    return CM_OK;
}

//  Who may read the trail: an admin through the gateway, or privacy (for
//  one user's export). CM_OK or the refusal.
static cm_err_t
s_may_read (const cm_ctx_t *ctx, cm_reply_info_t *info)
{
    if (s_peer_is (ctx, "privacy"))
        return CM_OK;
    if (s_peer_is (ctx, "gateway")) {
        //  The gateway checked the role; a second lock on the same door
        if (ctx->uid [0] && cm_ctx_has_role (ctx, "admin"))
            return CM_OK;
        return cm_server_fail (info, CM_FORBIDDEN, "reading the audit trail needs the admin role");
    }
    return cm_server_fail (info, CM_FORBIDDEN, "only the gateway and privacy may read the audit trail");
}

//  The reply form of a row, its personal data opened when its key lives
static void
s_record_fill (audit_worker_t *self, proto_audit_record_t *out, audit_store_row_t *row)
{
    char at [AUDIT_TIME_SIZE];
    if (audit_rules_time_format (row->at_ms, at))
        snprintf (at, sizeof at, "1970-01-01T00:00:00.000Z");
    out->id = strdup (row->id);
    out->seq = row->seq;
    out->has_seq = true;
    out->at = strdup (at);
    out->type = row->type;
    out->service = row->service;
    out->outcome = row->outcome;
    row->type = row->service = row->outcome = NULL;
    out->user_id = row->user_id [0]? strdup (row->user_id): NULL;
    out->request_id = row->request_id;
    row->request_id = NULL;
    out->hash = strdup (row->hash);
    out->prev_hash = strdup (row->prev_hash);

    char *personal = NULL;
    if (row->sealed && row->has_wrapped && row->subject) {
        uint8_t key [CM_CRYPT_KEY_BYTES];
        if (audit_personal_unwrap (self->keys->master, row->subject, row->wrapped,
                                   sizeof row->wrapped, key) == 0)
            personal = audit_personal_open (key, row->id, row->sealed, row->sealed_len);
        explicit_bzero (key, sizeof key);
        if (!personal)
            cm_warn ("audit event %" PRId64 ": its personal data does not open", row->seq);
    }
    char *detail = NULL;
    if (audit_personal_merge (row->detail, personal, 4096, &detail))
        detail = cm_server_dup (row->detail);
    if (personal)
        explicit_bzero (personal, strlen (personal));
    free (personal);
    //  What the message can carry; anything longer is a hand edit
    out->detail = detail && strlen (detail) <= 4096? detail: NULL;
    if (!out->detail)
        free (detail);
    out->ip = row->ip && strlen (row->ip) <= 64? row->ip: NULL;
    if (out->ip)
        row->ip = NULL;
}

//  The admin.audit.read detail of a query
static char *
s_read_detail (const proto_audit_query_req_t *req, uint32_t returned)
{
    json_t *query = json_object ();
    if (req->user_id)
        json_object_set_new (query, "user_id", json_string (req->user_id));
    if (req->type)
        json_object_set_new (query, "type", json_string (req->type));
    if (req->since)
        json_object_set_new (query, "since", json_string (req->since));
    if (req->has_limit)
        json_object_set_new (query, "limit", json_integer (req->limit));
    if (req->cursor)
        json_object_set_new (query, "cursor", json_string (req->cursor));
    json_t *detail = json_pack ("{s:o, s:I}", "query", query, "returned", (json_int_t) returned);
    char *text = detail? json_dumps (detail, JSON_COMPACT): NULL;
    json_decref (detail);
    return text;
}

//  ----------------------------------------------------------------------
//  audit.query: one page, newest first

static cm_err_t
s_query (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    audit_worker_t *self = (audit_worker_t *) state;
    const proto_audit_query_req_t *req = (const proto_audit_query_req_t *) req_;
    proto_audit_query_rep_t *rep = (proto_audit_query_rep_t *) rep_;
    cm_err_t allowed = s_may_read (ctx, info);
    if (allowed != CM_OK)
        return allowed;
    bool privacy = s_peer_is (ctx, "privacy");
    if (privacy && !req->user_id)
        return cm_server_fail (info, CM_FORBIDDEN, "privacy reads one user's events: user_id is required");

    audit_store_filter_t filter = { .user_id = req->user_id };
    if (req->type) {
        if (audit_rules_type (req->type))
            return cm_server_fail (info, CM_VALIDATION_FAILED, AUDIT_MSG_TYPE);
        filter.type = req->type;
    }
    if (req->since) {
        if (audit_rules_time_parse (req->since, &filter.since_ms))
            return cm_server_fail (info, CM_VALIDATION_FAILED, AUDIT_MSG_SINCE);
        filter.has_since = true;
    }
    int64_t limit = audit_rules_limit (req->has_limit, req->limit);
    if (limit < 0)
        return cm_server_fail (info, CM_VALIDATION_FAILED, AUDIT_MSG_LIMIT);
    if (req->cursor && audit_rules_cursor_decode (req->cursor, &filter.before_seq))
        return cm_server_fail (info, CM_VALIDATION_FAILED, AUDIT_MSG_CURSOR);
    //  One row more than the page tells whether there is a next page
    filter.limit = limit + 1;

    PGconn *db = s_db (self);
    if (!db)
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    audit_store_row_t *rows = (audit_store_row_t *) calloc ((size_t) limit + 1, sizeof (audit_store_row_t));
    int count = 0;
    if (!rows || audit_store_query (db, &filter, rows, &count)) {
        free (rows);
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    }
    bool more = count > limit;
    uint32_t items = (uint32_t) (more? limit: count);
    if (items > 0) {
        rep->items = (proto_audit_record_t *) zmalloc (sizeof (proto_audit_record_t) * items);
        rep->items_count = items;
        for (uint32_t i = 0; i < items; i++)
            s_record_fill (self, &rep->items [i], &rows [i]);
    }
    char cursor [AUDIT_CURSOR_SIZE];
    if (more && audit_rules_cursor_encode (rows [items - 1].seq, cursor) == 0)
        rep->next_cursor = strdup (cursor);
    for (int i = 0; i < count; i++)
        audit_store_row_clear (&rows [i]);
    free (rows);

    //  Reading the trail is itself on the trail; no record, no answer
    if (!privacy) {
        char *detail = s_read_detail (req, items);
        int rc = detail? s_record (self, db, ctx, "admin.audit.read", detail): -1;
        free (detail);
        if (rc)
            return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    }
    return CM_OK;
}

//  ----------------------------------------------------------------------
//  audit.verify: the whole chain against the latest signed checkpoint

static cm_err_t
s_verify (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    (void) req_;
    audit_worker_t *self = (audit_worker_t *) state;
    proto_audit_verify_rep_t *rep = (proto_audit_verify_rep_t *) rep_;
    cm_err_t allowed = s_may_read (ctx, info);
    if (allowed != CM_OK)
        return allowed;
    PGconn *db = s_db (self);
    audit_verify_result_t result;
    if (!db || audit_verify_run (db, self->keys->checkpoint, self->cfg->audit_checkpoint_dir, &result))
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    rep->ok = result.ok;
    rep->has_ok = true;
    rep->events = result.events;
    rep->has_events = true;
    rep->head = result.head [0]? strdup (result.head): NULL;
    if (result.first_bad_seq) {
        rep->first_bad_seq = result.first_bad_seq;
        rep->has_first_bad_seq = true;
    }
    if (result.checkpoint_seq) {
        rep->checkpoint_seq = result.checkpoint_seq;
        rep->has_checkpoint_seq = true;
    }
    rep->problem = result.problem [0]? strdup (result.problem): NULL;
    if (!result.ok)
        cm_log_fields (CM_LOG_ERROR, "audit chain verification failed", "problem", result.problem,
                       (const char *) NULL);
    if (!s_peer_is (ctx, "privacy")) {
        char detail [160];
        snprintf (detail, sizeof detail, "{\"verify\":true,\"ok\":%s,\"events\":%" PRId64 "}",
                  result.ok? "true": "false", result.events);
        if (s_record (self, db, ctx, "admin.audit.read", detail))
            return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    }
    return CM_OK;
}

//  ----------------------------------------------------------------------
//  audit.erase_user: privacy's deletion step

static cm_err_t
s_erase (void *state, const cm_ctx_t *ctx, const void *req_, void *rep_, cm_reply_info_t *info)
{
    audit_worker_t *self = (audit_worker_t *) state;
    const proto_audit_erase_user_req_t *req = (const proto_audit_erase_user_req_t *) req_;
    proto_audit_erase_user_rep_t *rep = (proto_audit_erase_user_rep_t *) rep_;
    if (!s_peer_is (ctx, "privacy"))
        return cm_server_fail (info, CM_FORBIDDEN, "only privacy may erase a user's personal data");
    PGconn *db = s_db (self);
    int64_t erased = 0;
    if (!db || audit_store_erase (db, req->user_id, &erased))
        return cm_server_fail (info, CM_UNAVAILABLE, STORE_DOWN);
    cm_log_fields (CM_LOG_INFO, "personal data in audit events erased", "user_id", req->user_id,
                   (const char *) NULL);
    rep->erased = erased;
    rep->has_erased = true;
    return CM_OK;
}

const cm_route_t audit_routes [] = {
    { PROTO_MSG_audit_append,     s_append, false, false },
    { PROTO_MSG_audit_query,      s_query,  false, false },
    //  A whole-chain scan: the slow lane, so appends never wait behind it
    { PROTO_MSG_audit_verify,     s_verify, false, true },
    { PROTO_MSG_audit_erase_user, s_erase,  false, false },
};
const size_t audit_route_count = sizeof audit_routes / sizeof audit_routes [0];

//  ----------------------------------------------------------------------
//  Start-up, checkpoints, the tick

int
audit_on_start (const cm_config_t *cfg, PGconn *db)
{
    if (!s_keys_ready (cfg))
        return -1;
    if (*cfg->alert_webhook_url && audit_alerts_check_url (cfg->alert_webhook_url)) {
        cm_error ("ALERT_WEBHOOK_URL must be https:// (or http:// to this host), without user info");
        return -1;
    }
    if (cm_fs_ensure_dir (cfg->audit_checkpoint_dir)) {
        cm_error ("AUDIT_CHECKPOINT_DIR %s cannot be made: %s", cfg->audit_checkpoint_dir, strerror (errno));
        return -1;
    }
    char problem [256];
    if (audit_store_check_append_only (db, problem, sizeof problem)) {
        cm_error ("refusing to start: %s", problem);
        return -1;
    }
    int adopted = audit_store_adopt_legacy (db, &s_keys.store);
    if (adopted < 0)
        return -1;
    if (adopted > 0)
        cm_info ("%d events of the old table joined the chain", adopted);
    audit_worker_t starter = { .cfg = cfg, .db = db, .keys = &s_keys };
    return s_record (&starter, db, NULL, "service.started", NULL);
}

int
audit_checkpoint_now (PGconn *db, const audit_keys_t *keys, const char *dir)
{
    int64_t seq = 0;
    char hash [AUDIT_CHAIN_HEX];
    if (audit_store_head (db, &seq, hash))
        return -1;
    char line [AUDIT_CHECKPOINT_LINE_MAX];
    pthread_mutex_lock (&s_lock);
    int rc = 0;
    bool signed_now = false;
    //  Nothing new, nothing to sign
    if (seq > 0 && seq != s_signed_seq) {
        rc = audit_checkpoint_sign (keys->checkpoint, seq, hash, zclock_time (), line, sizeof line) == 0
          && audit_checkpoint_append (dir, line) == 0? 0: -1;
        if (rc == 0) {
            s_signed_seq = seq;
            signed_now = true;
        }
    }
    pthread_mutex_unlock (&s_lock);
    if (rc || !signed_now)
        return rc;
    //  The log is a second copy, outside the database and this host's disk
    line [strcspn (line, "\n")] = 0;
    char seq_text [24];
    snprintf (seq_text, sizeof seq_text, "%" PRId64, seq);
    cm_log_fields (CM_LOG_INFO, "audit checkpoint", "seq", seq_text, "hash", hash, "checkpoint", line,
                   (const char *) NULL);
    return 0;
}

void
audit_tick (void *state)
{
    audit_worker_t *self = (audit_worker_t *) state;
    int64_t now = zclock_mono ();
    if (now < self->checkpoint_due && now < self->prune_due)
        return;
    PGconn *db = s_db (self);
    if (!db) {
        cm_warn ("audit tick: the database did not answer; trying again");
        return;
    }
    if (now >= self->checkpoint_due) {
        if (audit_checkpoint_now (db, self->keys, self->cfg->audit_checkpoint_dir))
            cm_warn ("audit checkpoint failed; trying again next time");
        self->checkpoint_due = now + self->cfg->audit_checkpoint_interval_s * 1000;
    }
    if (now >= self->prune_due) {
        if (audit_store_prune_alerts (db, self->keys->alerts.window_ms, zclock_time ()))
            cm_warn ("alert counters could not be pruned; trying again next time");
        self->prune_due = now + 60000;
    }
}
