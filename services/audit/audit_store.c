/*  audit_store - the chain, subject keys and alert counters in SQL */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "audit_store.h"
#include "../../common/cm_db.h"
#include "../../common/cm_hex.h"
#include "../../common/cm_log.h"
#include "../../common/cm_rand.h"

//  Every writer of the chain takes this lock first, for its transaction
#define CHAIN_LOCK      "SELECT pg_advisory_xact_lock (hashtext ('audit.chain'))"
#define LEGACY_BATCH    200
//  Alert bookkeeping is kept this much longer than the window
#define PRUNE_SLACK_MS  60000

//  Rows an append holds back for one multi-row INSERT at its end: a batch
//  costs a round trip per table, not one per event
typedef struct {
    const char *insert;                     //  "INSERT INTO t (columns) VALUES "
    const char *const *columns;             //  width expressions, '?' for the value
    int width;                              //  values per row
    char **values;                          //  width per row, owned; NULL is SQL NULL
    int rows;
    int size;                               //  rows values has room for
} pending_t;

//  Values per INSERT: well below the protocol's 65535 parameters
#define PENDING_MAX_VALUES  8192

static const char *const s_chain_columns [] = { "?", "?", "?", "?", "?", "?", "?", "?", "?", "?", "?" };
static const char *const s_personal_columns [] = { "?", "?", "?", "decode (?, 'hex')" };

//  The head as an append in progress sees it, and what it collected
typedef struct {
    const audit_store_keys_t *keys;
    int64_t seq;                            //  of the head
    char hash [AUDIT_CHAIN_HEX];            //  of the head
    audit_alert_t *alerts;                  //  fired so far, owned
    int alert_count;
    int alert_size;
    pending_t chain;                        //  chain rows not inserted yet
    pending_t personal;                     //  event_personal rows not inserted yet
    //  The last subject looked up: events of one batch mostly share it
    char subject [AUDIT_PERSONAL_SUBJECT_SIZE];     //  "" none yet
    bool subject_erased;
    bool subject_has_key;                   //  subject_key holds its data key
    uint8_t subject_key [CM_CRYPT_KEY_BYTES];       //  wiped when the append ends
} append_t;

//  One event on its way in, fields normalised (empty = absent)
typedef struct {
    const char *id;
    int64_t at_ms;
    const char *type;
    const char *service;
    const char *outcome;
    const char *user_id;
    const char *request_id;
    const char *ip;
    const char *detail;
} event_in_t;

static const char *
s_opt (const char *s)
{
    return s && *s? s: NULL;
}

static bool
s_exec (PGconn *db, PGresult **r, ExecStatusType want, const char *sql, int count, const char *const *params)
{
    return cm_db_exec (db, r, want, sql, count, params);
}

static void
s_pending_init (pending_t *self, const char *insert, const char *const *columns, int width)
{
    memset (self, 0, sizeof *self);
    self->insert = insert;
    self->columns = columns;
    self->width = width;
}

static void
s_pending_clear (pending_t *self)
{
    for (int i = 0; i < self->rows * self->width; i++)
        free (self->values [i]);
    free (self->values);
    self->values = NULL;
    self->rows = self->size = 0;
}

//  Copies one row of width values; 0 or -1 when out of memory
static int
s_pending_add (pending_t *self, const char *const *values)
{
    if (self->rows == self->size) {
        int size = self->size? self->size * 2: 64;
        char **bigger = (char **) realloc (self->values, sizeof (char *) * (size_t) (size * self->width));
        if (!bigger)
            return -1;
        self->values = bigger;
        self->size = size;
    }
    char **row = self->values + self->rows * self->width;
    int rc = 0;
    for (int i = 0; i < self->width; i++) {
        row [i] = values [i]? strdup (values [i]): NULL;
        if (values [i] && !row [i])
            rc = -1;
    }
    self->rows++;
    return rc;
}

//  INSERTs rows [first, first + count) in one statement
static int
s_pending_insert (PGconn *db, pending_t *self, int first, int count)
{
    size_t size = strlen (self->insert) + 1;
    for (int i = 0; i < self->width; i++)
        size += strlen (self->columns [i]) + 10;
    size *= (size_t) count;
    char *sql = (char *) malloc (size);
    if (!sql)
        return -1;
    size_t at = (size_t) snprintf (sql, size, "%s", self->insert);
    int n = 0;
    for (int r = 0; r < count; r++) {
        sql [at++] = r? ',': ' ';
        sql [at++] = '(';
        for (int i = 0; i < self->width; i++) {
            if (i) {
                sql [at++] = ',';
                sql [at++] = ' ';
            }
            const char *column = self->columns [i];
            const char *mark = strchr (column, '?');
            at += (size_t) snprintf (sql + at, size - at, "%.*s$%d%s",
                                     (int) (mark - column), column, ++n, mark + 1);
        }
        sql [at++] = ')';
    }
    sql [at] = 0;
    bool ok = s_exec (db, NULL, PGRES_COMMAND_OK, sql, n,
                      (const char *const *) self->values + first * self->width);
    free (sql);
    return ok? 0: -1;
}

//  INSERTs every row held back, in order, and forgets them. 0 or -1.
static int
s_pending_flush (PGconn *db, pending_t *self)
{
    int per_insert = PENDING_MAX_VALUES / self->width;
    int rc = 0;
    for (int first = 0; rc == 0 && first < self->rows; first += per_insert)
        rc = s_pending_insert (db, self, first,
                               self->rows - first < per_insert? self->rows - first: per_insert);
    s_pending_clear (self);
    return rc;
}

//  ----------------------------------------------------------------------
//  Whether the subject was erased, and unless it was and when key is not
//  NULL, its data key into key, made when it has none. 0 or -1.
static int
s_subject_key (PGconn *db, const audit_store_keys_t *keys, const char *subject, uint8_t *key, bool *erased)
{
    const char *params [] = { subject };
    PGresult *r = NULL;
    if (!s_exec (db, &r, PGRES_TUPLES_OK,
                 "SELECT encode (k.wrapped, 'hex'),"
                 " EXISTS (SELECT 1 FROM erased_subjects e WHERE e.subject = $1)"
                 " FROM (SELECT 1) one LEFT JOIN subject_keys k ON k.subject = $1", 1, params))
        return -1;
    *erased = strcmp (PQgetvalue (r, 0, 1), "t") == 0;
    bool has_key = !PQgetisnull (r, 0, 0);
    uint8_t wrapped [AUDIT_PERSONAL_WRAPPED];
    int rc = 0;
    if (!*erased && has_key && key) {
        rc = cm_hex_decode (PQgetvalue (r, 0, 0), wrapped, sizeof wrapped) == 0
          && audit_personal_unwrap (keys->master, subject, wrapped, sizeof wrapped, key) == 0? 0: -1;
        if (rc)
            cm_error ("the data key of an audit subject does not open (wrong AUDIT_MASTER_KEY_FILE?)");
    }
    PQclear (r);
    if (*erased || has_key || rc || !key)
        return rc;
    char wrapped_hex [2 * AUDIT_PERSONAL_WRAPPED + 1];
    if (audit_personal_new_key (keys->master, subject, wrapped, key))
        return -1;
    cm_hex_encode (wrapped, sizeof wrapped, wrapped_hex);
    const char *row [] = { subject, wrapped_hex };
    return s_exec (db, NULL, PGRES_COMMAND_OK,
                   "INSERT INTO subject_keys (subject, wrapped) VALUES ($1, decode ($2, 'hex'))",
                   2, row)? 0: -1;
}

//  Keep the personal data of e apart from the chain: its ip, and the
//  personal members of its detail (personal: NULL when none) sealed under
//  its subject's key. Nothing is kept for an erased subject. 0 or -1.
static int
s_keep_personal (PGconn *db, append_t *a, const event_in_t *e, const char *personal)
{
    if (!e->ip && !personal)
        return 0;
    char subject [AUDIT_PERSONAL_SUBJECT_SIZE];
    if (audit_personal_subject (e->user_id, e->at_ms, subject))
        return -1;
    //  A key only for something to seal. The chain lock keeps erasure out
    //  while we append, so what was looked up holds for the whole append.
    if (!streq (subject, a->subject) || (personal && !a->subject_erased && !a->subject_has_key)) {
        a->subject [0] = 0;
        a->subject_has_key = false;
        explicit_bzero (a->subject_key, sizeof a->subject_key);
        if (s_subject_key (db, a->keys, subject, personal? a->subject_key: NULL, &a->subject_erased))
            return -1;
        a->subject_has_key = personal && !a->subject_erased;
        snprintf (a->subject, sizeof a->subject, "%s", subject);
    }
    if (a->subject_erased)
        return 0;                       //  the user asked to be forgotten
    const uint8_t *key = a->subject_key;
    char *sealed_hex = NULL;
    int rc = 0;
    if (personal) {
        uint8_t *sealed = NULL;
        size_t len = 0;
        rc = audit_personal_seal (key, e->id, personal, &sealed, &len);
        if (rc == 0) {
            sealed_hex = (char *) malloc (2 * len + 1);
            if (sealed_hex)
                cm_hex_encode (sealed, len, sealed_hex);
            else
                rc = -1;
        }
        free (sealed);
    }
    const char *values [] = { e->id, subject, e->ip, sealed_hex };
    if (rc == 0)
        rc = s_pending_add (&a->personal, values);
    free (sealed_hex);
    return rc;
}

static int s_insert (PGconn *db, append_t *a, const event_in_t *e, bool count_alerts);

//  Count e towards every rule it matches; fire those that tip over
static int
s_alerts (PGconn *db, append_t *a, const event_in_t *e)
{
    const audit_alerts_config_t *config = a->keys->alerts;
    audit_alerts_hit_t hits [AUDIT_ALERT_RULES];
    int hit_count = config? audit_alerts_match (config, e->type, e->ip, e->user_id, hits): 0;
    for (int i = 0; i < hit_count; i++) {
        const char *rule = audit_alerts_rule_name (hits [i].rule);
        char tag [65], at_ms [24], window [24];
        if (audit_alerts_tag (a->keys->alert_key, hits [i].rule, hits [i].value, tag))
            return -1;
        snprintf (at_ms, sizeof at_ms, "%" PRId64, e->at_ms);
        snprintf (window, sizeof window, "%" PRId64, config->window_ms);
        const char *params [] = { rule, tag, at_ms, window };
        PGresult *r = NULL;
        if (!s_exec (db, NULL, PGRES_COMMAND_OK,
                     "INSERT INTO alert_hits (rule, subject, at_ms) VALUES ($1, $2, $3)", 3, params)
        ||  !s_exec (db, &r, PGRES_TUPLES_OK,
                     "SELECT (SELECT count (*) FROM alert_hits WHERE rule = $1 AND subject = $2"
                     "        AND at_ms > $3::bigint - $4::bigint AND at_ms <= $3::bigint),"
                     " (SELECT alerted_ms FROM alert_state WHERE rule = $1 AND subject = $2)",
                     4, params))
            return -1;
        int64_t count = atoll (PQgetvalue (r, 0, 0));
        int64_t last = PQgetisnull (r, 0, 1)? 0: atoll (PQgetvalue (r, 0, 1));
        PQclear (r);
        if (!audit_alerts_fires (config, hits [i].rule, count, last, e->at_ms))
            continue;
        if (!s_exec (db, NULL, PGRES_COMMAND_OK,
                     "INSERT INTO alert_state (rule, subject, alerted_ms) VALUES ($1, $2, $3)"
                     " ON CONFLICT (rule, subject) DO UPDATE SET alerted_ms = EXCLUDED.alerted_ms",
                     3, params))
            return -1;
        if (a->alert_count == a->alert_size) {
            int size = a->alert_size? a->alert_size * 2: 4;
            audit_alert_t *bigger = (audit_alert_t *) realloc (a->alerts, sizeof (audit_alert_t) * (size_t) size);
            if (!bigger)
                return -1;
            a->alerts = bigger;
            a->alert_size = size;
        }
        audit_alert_t *alert = &a->alerts [a->alert_count++];
        memset (alert, 0, sizeof *alert);
        alert->rule = hits [i].rule;
        alert->count = count;
        alert->threshold = config->threshold [hits [i].rule];
        alert->window_ms = config->window_ms;
        alert->at_ms = e->at_ms;
        snprintf (alert->trigger_id, sizeof alert->trigger_id, "%s", e->id);
        //  An IP flood is not one user's: only account alerts name the user
        bool per_account = hits [i].rule == AUDIT_ALERT_DENIED_PER_ACCOUNT
                        || hits [i].rule == AUDIT_ALERT_LOGIN_FAILURES_PER_ACCOUNT;
        alert->user_id = per_account && e->user_id? strdup (e->user_id): NULL;
        alert->ip = e->ip? strdup (e->ip): NULL;
        if (cm_rand_uuid (alert->event_id))
            return -1;
        char type [80];
        snprintf (type, sizeof type, "alert.%s", rule);
        char *detail = audit_alerts_detail (alert);
        event_in_t event = {
            .id = alert->event_id, .at_ms = e->at_ms, .type = type, .service = "audit",
            .outcome = "alert", .user_id = alert->user_id, .request_id = e->request_id,
            .ip = alert->ip, .detail = detail
        };
        int rc = detail? s_insert (db, a, &event, false): -1;
        free (detail);
        if (rc)
            return -1;
        alert->seq = a->seq;
    }
    return 0;
}

//  Store e as the next event of the chain
static int
s_insert (PGconn *db, append_t *a, const event_in_t *e, bool count_alerts)
{
    char *public_detail = NULL, *personal = NULL;
    if (audit_personal_split (e->detail, &public_detail, &personal))
        return -1;
    int rc = 0;
    audit_chain_event_t chained = {
        .seq = a->seq + 1, .id = e->id, .at_ms = e->at_ms, .type = e->type, .service = e->service,
        .outcome = e->outcome, .user_id = e->user_id, .request_id = e->request_id,
        .detail = s_opt (public_detail)
    };
    char hash [AUDIT_CHAIN_HEX];
    if (rc == 0 && audit_chain_hash (a->hash, &chained, hash))
        rc = -1;
    if (rc == 0) {
        char seq [24], at_ms [24];
        snprintf (seq, sizeof seq, "%" PRId64, chained.seq);
        snprintf (at_ms, sizeof at_ms, "%" PRId64, e->at_ms);
        const char *values [] = {
            seq, e->id, at_ms, e->type, e->service, e->outcome, e->user_id, e->request_id,
            chained.detail, a->hash, hash
        };
        rc = s_pending_add (&a->chain, values);
    }
    if (rc == 0)
        rc = s_keep_personal (db, a, e, personal);
    if (rc == 0) {
        a->seq = chained.seq;
        snprintf (a->hash, sizeof a->hash, "%s", hash);
    }
    if (personal)
        explicit_bzero (personal, strlen (personal));
    free (personal);
    free (public_detail);
    if (rc == 0 && count_alerts)
        rc = s_alerts (db, a, e);
    return rc;
}

static int
s_read_head (PGconn *db, int64_t *seq, char *hash)
{
    PGresult *r = NULL;
    if (!s_exec (db, &r, PGRES_TUPLES_OK, "SELECT seq, hash FROM chain ORDER BY seq DESC LIMIT 1", 0, NULL))
        return -1;
    *seq = 0;
    snprintf (hash, AUDIT_CHAIN_HEX, "%s", AUDIT_CHAIN_GENESIS);
    if (PQntuples (r) == 1) {
        *seq = atoll (PQgetvalue (r, 0, 0));
        snprintf (hash, AUDIT_CHAIN_HEX, "%s", PQgetvalue (r, 0, 1));
    }
    PQclear (r);
    return 0;
}

//  Start a writer's transaction: BEGIN, the chain lock, the head into a
static bool
s_begin_append (PGconn *db, append_t *a)
{
    s_pending_init (&a->chain, "INSERT INTO chain (seq, id, at_ms, type, service, outcome, user_id,"
                               " request_id, detail, prev_hash, hash) VALUES",
                    s_chain_columns, 11);
    s_pending_init (&a->personal, "INSERT INTO event_personal (event_id, subject, ip, sealed) VALUES",
                    s_personal_columns, 4);
    if (!cm_db_begin (db))
        return false;
    if (s_exec (db, NULL, PGRES_TUPLES_OK, CHAIN_LOCK, 0, NULL) && s_read_head (db, &a->seq, a->hash) == 0)
        return true;
    cm_db_end (db, -1);
    return false;
}

//  Which of the events' ids the chain holds already, in one query: known
//  [count] true for those. 0, or -1 (an id that is no UUID, or the database).
static int
s_known_ids (PGconn *db, const proto_audit_event_t *events, uint32_t count, bool *known)
{
    //  "{id,id,...}": UUIDs need no quoting in an array literal
    char *ids = (char *) malloc ((size_t) count * 37 + 3);
    if (!ids)
        return -1;
    size_t at = 0;
    ids [at++] = '{';
    for (uint32_t i = 0; i < count; i++) {
        known [i] = false;
        if (!proto_is_uuid (events [i].id)) {
            free (ids);
            return -1;
        }
        if (i)
            ids [at++] = ',';
        memcpy (ids + at, events [i].id, 36);
        at += 36;
    }
    ids [at++] = '}';
    ids [at] = 0;
    const char *params [] = { ids };
    PGresult *r = NULL;
    bool ok = s_exec (db, &r, PGRES_TUPLES_OK, "SELECT id FROM chain WHERE id = ANY ($1::uuid[])", 1, params);
    free (ids);
    if (!ok)
        return -1;
    for (int row = 0; row < PQntuples (r); row++)
        for (uint32_t i = 0; i < count; i++)
            if (streq (PQgetvalue (r, row, 0), events [i].id))
                known [i] = true;
    PQclear (r);
    return 0;
}

//  Append events inside the writer's transaction; how many were new, or -1
static int
s_append_events (PGconn *db, append_t *a, const proto_audit_event_t *events, uint32_t count,
                 const char *service, bool count_alerts)
{
    if (count == 0)
        return 0;
    bool *known = (bool *) malloc (sizeof (bool) * count);
    if (!known || s_known_ids (db, events, count, known)) {
        free (known);
        return -1;
    }
    int added = 0;
    for (uint32_t i = 0; added >= 0 && i < count; i++) {
        const proto_audit_event_t *in = &events [i];
        //  Redelivered (stored once already), or twice in this batch
        bool seen = known [i];
        for (uint32_t j = 0; !seen && j < i; j++)
            seen = streq (events [j].id, in->id);
        if (seen)
            continue;
        event_in_t e = {
            .id = in->id, .at_ms = in->at_ms, .type = in->type,
            .service = service? service: in->service, .outcome = in->outcome,
            .user_id = s_opt (in->user_id), .request_id = s_opt (in->request_id),
            .ip = s_opt (in->ip), .detail = s_opt (in->detail)
        };
        if (s_insert (db, a, &e, count_alerts))
            added = -1;
        else
            added++;
    }
    free (known);
    //  Chain rows first: the personal rows belong to events of the chain
    if (added >= 0 && (s_pending_flush (db, &a->chain) || s_pending_flush (db, &a->personal)))
        added = -1;
    s_pending_clear (&a->chain);
    s_pending_clear (&a->personal);
    a->subject [0] = 0;
    a->subject_has_key = false;
    explicit_bzero (a->subject_key, sizeof a->subject_key);
    return added;
}

static void
s_alerts_free (append_t *a)
{
    for (int i = 0; i < a->alert_count; i++)
        audit_alerts_clear (&a->alerts [i]);
    free (a->alerts);
    a->alerts = NULL;
    a->alert_count = 0;
}

int
audit_store_append (PGconn *db, const audit_store_keys_t *keys, const proto_audit_event_t *events,
                    uint32_t count, const char *service, audit_alert_t **alerts_p, int *alert_count)
{
    *alerts_p = NULL;
    *alert_count = 0;
    append_t a = { .keys = keys };
    if (!s_begin_append (db, &a))
        return -1;
    int rc = cm_db_end (db, s_append_events (db, &a, events, count, service, true));
    if (rc < 0) {
        s_alerts_free (&a);
        return -1;
    }
    *alerts_p = a.alerts;
    *alert_count = a.alert_count;
    return rc;
}

//  ----------------------------------------------------------------------
//  Reading rows

audit_chain_event_t
audit_store_row_event (const audit_store_row_t *row)
{
    return (audit_chain_event_t) {
        .seq = row->seq, .id = row->id, .at_ms = row->at_ms, .type = row->type,
        .service = row->service, .outcome = row->outcome,
        .user_id = row->user_id [0]? row->user_id: NULL, .request_id = row->request_id,
        .detail = row->detail
    };
}

void
audit_store_row_clear (audit_store_row_t *row)
{
    if (!row)
        return;
    free (row->type);
    free (row->service);
    free (row->outcome);
    free (row->request_id);
    free (row->detail);
    free (row->subject);
    free (row->ip);
    free (row->sealed);
    memset (row, 0, sizeof *row);
}

static char *
s_text (PGresult *r, int row, int col)
{
    return PQgetisnull (r, row, col)? NULL: strdup (PQgetvalue (r, row, col));
}

//  A fixed-size text column; a value of another length (only a hand edit
//  makes one) becomes "?", which never matches what it is checked against
static void
s_fixed (PGresult *r, int row, int col, char *out, size_t size, bool exact)
{
    const char *value = PQgetisnull (r, row, col)? "": PQgetvalue (r, row, col);
    size_t len = strlen (value);
    if (len >= size || (exact && len != size - 1))
        value = "?";
    snprintf (out, size, "%s", value);
}

//  Columns 0..10: seq id at_ms type service outcome user_id request_id
//  detail prev_hash hash
static void
s_row_from (PGresult *r, int i, audit_store_row_t *row)
{
    memset (row, 0, sizeof *row);
    row->seq = atoll (PQgetvalue (r, i, 0));
    s_fixed (r, i, 1, row->id, sizeof row->id, false);
    row->at_ms = atoll (PQgetvalue (r, i, 2));
    row->type = s_text (r, i, 3);
    row->service = s_text (r, i, 4);
    row->outcome = s_text (r, i, 5);
    s_fixed (r, i, 6, row->user_id, sizeof row->user_id, false);
    row->request_id = s_text (r, i, 7);
    row->detail = s_text (r, i, 8);
    s_fixed (r, i, 9, row->prev_hash, sizeof row->prev_hash, true);
    s_fixed (r, i, 10, row->hash, sizeof row->hash, true);
}

#define ROW_COLUMNS "c.seq, c.id, c.at_ms, c.type, c.service, c.outcome, c.user_id, c.request_id," \
                    " c.detail, c.prev_hash, c.hash"

int
audit_store_query (PGconn *db, const audit_store_filter_t *filter, audit_store_row_t *rows, int *count)
{
    *count = 0;
    char since [24], before [24], limit [24];
    snprintf (since, sizeof since, "%" PRId64, filter->since_ms);
    snprintf (before, sizeof before, "%" PRId64, filter->before_seq);
    snprintf (limit, sizeof limit, "%" PRId64, filter->limit);
    const char *params [] = {
        filter->user_id, filter->type, filter->has_since? since: NULL,
        filter->before_seq > 0? before: NULL, limit
    };
    PGresult *r = NULL;
    if (!s_exec (db, &r, PGRES_TUPLES_OK,
                 "SELECT " ROW_COLUMNS ", p.subject, p.ip, encode (p.sealed, 'hex'), encode (k.wrapped, 'hex')"
                 " FROM chain c LEFT JOIN event_personal p ON p.event_id = c.id"
                 " LEFT JOIN subject_keys k ON k.subject = p.subject"
                 " WHERE ($1::uuid IS NULL OR c.user_id = $1::uuid)"
                 "   AND ($2::text IS NULL OR c.type = $2::text)"
                 "   AND ($3::bigint IS NULL OR c.at_ms >= $3::bigint)"
                 "   AND ($4::bigint IS NULL OR c.seq < $4::bigint)"
                 " ORDER BY c.seq DESC LIMIT $5", 5, params))
        return -1;
    int n = PQntuples (r);
    for (int i = 0; i < n; i++) {
        audit_store_row_t *row = &rows [i];
        s_row_from (r, i, row);
        row->subject = s_text (r, i, 11);
        row->ip = s_text (r, i, 12);
        if (!PQgetisnull (r, i, 13)) {
            const char *hex = PQgetvalue (r, i, 13);
            size_t hex_len = strlen (hex);
            row->sealed = (uint8_t *) malloc (hex_len / 2 + 1);
            if (row->sealed && cm_hex_decode (hex, row->sealed, hex_len / 2) == 0)
                row->sealed_len = hex_len / 2;
            else {
                free (row->sealed);
                row->sealed = NULL;
            }
        }
        row->has_wrapped = !PQgetisnull (r, i, 14)
                        && cm_hex_decode (PQgetvalue (r, i, 14), row->wrapped, sizeof row->wrapped) == 0;
    }
    *count = n;
    PQclear (r);
    return 0;
}

int
audit_store_scan_begin (PGconn *db)
{
    //  One snapshot for the whole scan: appends meanwhile are not half seen
    return s_exec (db, NULL, PGRES_COMMAND_OK, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL)? 0: -1;
}

int
audit_store_scan (PGconn *db, int64_t after_seq, int limit, audit_store_row_t *rows, int *count)
{
    *count = 0;
    char after [24], max [24];
    snprintf (after, sizeof after, "%" PRId64, after_seq);
    snprintf (max, sizeof max, "%d", limit);
    const char *params [] = { after, max };
    PGresult *r = NULL;
    if (!s_exec (db, &r, PGRES_TUPLES_OK,
                 "SELECT " ROW_COLUMNS " FROM chain c WHERE c.seq > $1 ORDER BY c.seq LIMIT $2", 2, params))
        return -1;
    int n = PQntuples (r);
    for (int i = 0; i < n; i++)
        s_row_from (r, i, &rows [i]);
    *count = n;
    PQclear (r);
    return 0;
}

void
audit_store_scan_end (PGconn *db)
{
    s_exec (db, NULL, PGRES_COMMAND_OK, "ROLLBACK", 0, NULL);
}

int
audit_store_head (PGconn *db, int64_t *seq, char *hash)
{
    return s_read_head (db, seq, hash);
}

int
audit_store_erase (PGconn *db, const char *subject, int64_t *erased)
{
    *erased = 0;
    if (!cm_db_begin (db))
        return -1;
    const char *params [] = { subject };
    PGresult *r = NULL;
    //  Under the chain lock: no append can be keeping data for this subject now
    bool ok = s_exec (db, NULL, PGRES_TUPLES_OK, CHAIN_LOCK, 0, NULL)
           && s_exec (db, NULL, PGRES_COMMAND_OK,
                      "INSERT INTO erased_subjects (subject) VALUES ($1) ON CONFLICT DO NOTHING", 1, params)
           && s_exec (db, NULL, PGRES_COMMAND_OK, "DELETE FROM subject_keys WHERE subject = $1", 1, params)
           && s_exec (db, &r, PGRES_COMMAND_OK, "DELETE FROM event_personal WHERE subject = $1", 1, params);
    if (ok) {
        *erased = atoll (PQcmdTuples (r));
        PQclear (r);
    }
    return cm_db_end (db, ok? 0: -1);
}

int
audit_store_prune_alerts (PGconn *db, int64_t window_ms, int64_t now_ms)
{
    char before [24];
    snprintf (before, sizeof before, "%" PRId64, now_ms - window_ms - PRUNE_SLACK_MS);
    const char *params [] = { before };
    return s_exec (db, NULL, PGRES_COMMAND_OK, "DELETE FROM alert_hits WHERE at_ms < $1", 1, params)
        && s_exec (db, NULL, PGRES_COMMAND_OK, "DELETE FROM alert_state WHERE alerted_ms < $1", 1, params)? 0: -1;
}

int
audit_store_check_append_only (PGconn *db, char *problem, size_t size)
{
    PGresult *r = NULL;
    if (!s_exec (db, &r, PGRES_TUPLES_OK,
                 "SELECT pg_get_userbyid (c.relowner) = current_user,"
                 " pg_get_userbyid (n.nspowner) = current_user,"
                 " pg_has_role (current_user, c.relowner, 'MEMBER'),"
                 " has_table_privilege (c.oid, 'UPDATE') OR has_table_privilege (c.oid, 'DELETE')"
                 "  OR has_table_privilege (c.oid, 'TRUNCATE') OR has_table_privilege (c.oid, 'TRIGGER'),"
                 " has_table_privilege (c.oid, 'INSERT') AND has_table_privilege (c.oid, 'SELECT')"
                 " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                 " WHERE c.oid = to_regclass ('chain')", 0, NULL)) {
        snprintf (problem, size, "cannot read the privileges of audit.chain");
        return -1;
    }
    const char *why = NULL;
    if (PQntuples (r) != 1)
        why = "audit.chain does not exist";
    else
    if (streq (PQgetvalue (r, 0, 0), "t") || streq (PQgetvalue (r, 0, 2), "t"))
        why = "this role owns audit.chain (or may act as its owner): it could change events";
    else
    if (strcmp (PQgetvalue (r, 0, 1), "t") == 0)
        why = "this role owns the schema audit: it could drop the chain";
    else
    if (streq (PQgetvalue (r, 0, 3), "t"))
        why = "this role may UPDATE, DELETE, TRUNCATE or add triggers to audit.chain";
    else
    if (!streq (PQgetvalue (r, 0, 4), "t"))
        why = "this role may not INSERT into and SELECT from audit.chain";
    PQclear (r);
    if (why) {
        snprintf (problem, size, "%s: run scripts/db-bootstrap.sql as a superuser", why);
        return -1;
    }
    return 0;
}

int
audit_store_adopt_legacy (PGconn *db, const audit_store_keys_t *keys)
{
    //  One transaction under the chain lock: replicas starting together
    //  take turns, and the second finds the table gone
    append_t a = { .keys = keys };
    if (!s_begin_append (db, &a))
        return -1;
    PGresult *r = NULL;
    if (!s_exec (db, &r, PGRES_TUPLES_OK, "SELECT to_regclass ('events_legacy') IS NOT NULL", 0, NULL))
        return cm_db_end (db, -1);
    bool exists = strcmp (PQgetvalue (r, 0, 0), "t") == 0;
    PQclear (r);
    int adopted = 0;
    int64_t after = 0;
    while (exists && adopted >= 0) {
        char after_text [24], batch [16];
        snprintf (after_text, sizeof after_text, "%" PRId64, after);
        snprintf (batch, sizeof batch, "%d", LEGACY_BATCH);
        const char *params [] = { after_text, batch };
        if (!s_exec (db, &r, PGRES_TUPLES_OK,
                     "SELECT seq, id, round (extract (epoch FROM at) * 1000)::bigint, type, service, outcome,"
                     " user_id, request_id, ip, detail FROM events_legacy"
                     " WHERE seq > $1 ORDER BY seq LIMIT $2", 2, params)) {
            adopted = -1;
            break;
        }
        int n = PQntuples (r);
        if (n == 0) {
            PQclear (r);
            break;
        }
        proto_audit_event_t events [LEGACY_BATCH];
        memset (events, 0, sizeof events);
        for (int i = 0; i < n; i++) {
            proto_audit_event_t *e = &events [i];
            //  Borrowed from the result, which outlives the append
            e->id = PQgetvalue (r, i, 1);
            e->at_ms = atoll (PQgetvalue (r, i, 2));
            e->has_at_ms = true;
            e->type = PQgetvalue (r, i, 3);
            e->service = PQgetvalue (r, i, 4);
            e->outcome = PQgetvalue (r, i, 5);
            e->user_id = PQgetisnull (r, i, 6)? NULL: PQgetvalue (r, i, 6);
            e->request_id = PQgetisnull (r, i, 7)? NULL: PQgetvalue (r, i, 7);
            e->ip = PQgetisnull (r, i, 8)? NULL: PQgetvalue (r, i, 8);
            e->detail = PQgetisnull (r, i, 9)? NULL: PQgetvalue (r, i, 9);
        }
        after = atoll (PQgetvalue (r, n - 1, 0));
        //  Old events count towards no alert
        int added = s_append_events (db, &a, events, (uint32_t) n, NULL, false);
        PQclear (r);
        adopted = added < 0? -1: adopted + added;
    }
    if (exists && adopted >= 0 && !s_exec (db, NULL, PGRES_COMMAND_OK, "DROP TABLE events_legacy", 0, NULL))
        adopted = -1;
    s_alerts_free (&a);
    return cm_db_end (db, adopted);
}
