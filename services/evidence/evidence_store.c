/*  evidence_store - SQL of the evidence service */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "evidence_store.h"
#include "../../common/cm_audit.h"
#include "../../common/cm_db.h"

#define EVIDENCE_COLUMNS "id, user_id, mission_id, filename, content_type, size_bytes,"          \
                         " coalesce (sha256, ''), status, coalesce (upload_key, ''), "           \
                         CM_DB_TS ("created_at")

static void
s_copy (char *dest, size_t size, PGresult *r, int row, int col)
{
    snprintf (dest, size, "%s", PQgetvalue (r, row, col));
}

static void
s_row_from (PGresult *r, int i, evidence_row_t *row)
{
    memset (row, 0, sizeof *row);
    s_copy (row->id, sizeof row->id, r, i, 0);
    s_copy (row->user_id, sizeof row->user_id, r, i, 1);
    s_copy (row->mission_id, sizeof row->mission_id, r, i, 2);
    s_copy (row->filename, sizeof row->filename, r, i, 3);
    s_copy (row->content_type, sizeof row->content_type, r, i, 4);
    row->size_bytes = strtoll (PQgetvalue (r, i, 5), NULL, 10);
    s_copy (row->sha256, sizeof row->sha256, r, i, 6);
    s_copy (row->status, sizeof row->status, r, i, 7);
    s_copy (row->upload_key, sizeof row->upload_key, r, i, 8);
    s_copy (row->created_at, sizeof row->created_at, r, i, 9);
}

//  One row of a query into row: 0, NOT_FOUND or -1
static int
s_one (PGconn *db, const char *sql, int count, const char *const *params, evidence_row_t *row)
{
    PGresult *r = NULL;
    if (!cm_db_exec (db, &r, PGRES_TUPLES_OK, sql, count, params))
        return -1;
    int rc = PQntuples (r) == 1? 0: EVIDENCE_STORE_NOT_FOUND;
    if (rc == 0 && row)
        s_row_from (r, 0, row);
    PQclear (r);
    return rc;
}

int
evidence_store_create (PGconn *db, const char *user_id, const char *mission_id,
                       const char *filename, const char *content_type, int64_t size_bytes,
                       const char *wrapped_hex, evidence_row_t *row)
{
    if (!cm_db_begin_as (db, user_id))
        return -1;
    char size [24], max [24];
    snprintf (size, sizeof size, "%" PRId64, size_bytes);
    snprintf (max, sizeof max, "%d", EVIDENCE_STORE_PER_MISSION);
    const char *key [] = { user_id, wrapped_hex };
    const char *mission [] = { user_id, mission_id, max };
    const char *fields [] = { user_id, mission_id, filename, content_type, size };
    PGresult *r = NULL;
    int rc = 0;
    //  The first upload of a user makes their data key; later ones keep it
    if (!cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                     "INSERT INTO user_keys (user_id, wrapped_key) VALUES ($1, decode ($2, 'hex'))"
                     " ON CONFLICT (user_id) DO NOTHING", 2, key))
        rc = -1;
    //  Uploads to one mission queue here, so the count below stays exact
    if (rc == 0 && !cm_db_exec (db, NULL, PGRES_TUPLES_OK,
                                "SELECT pg_advisory_xact_lock (hashtext ('evidence.mission:' || $1))",
                                1, mission + 1))
        rc = -1;
    if (rc == 0 && !cm_db_exec (db, &r, PGRES_TUPLES_OK,
                                "SELECT count (*) >= $3::int FROM evidence"
                                " WHERE user_id = $1 AND mission_id = $2", 3, mission))
        rc = -1;
    if (rc == 0) {
        rc = PQgetvalue (r, 0, 0) [0] == 't'? EVIDENCE_STORE_FULL: 0;
        PQclear (r);
    }
    if (rc == 0)
        rc = s_one (db, "INSERT INTO evidence (user_id, mission_id, filename, content_type, size_bytes)"
                        " VALUES ($1, $2, $3, $4, $5) RETURNING " EVIDENCE_COLUMNS, 5, fields, row);
    if (rc == EVIDENCE_STORE_NOT_FOUND)
        rc = -1;
    return cm_db_end (db, rc);
}

int
evidence_store_get (PGconn *db, const char *user_id, const char *id, evidence_row_t *row)
{
    if (!cm_db_begin_as (db, user_id))
        return -1;
    const char *params [] = { id, user_id };
    int rc = s_one (db, "SELECT " EVIDENCE_COLUMNS " FROM evidence WHERE id = $1 AND user_id = $2",
                    2, params, row);
    return cm_db_end (db, rc);
}

int
evidence_store_list (PGconn *db, const char *user_id, const char *mission_id,
                     evidence_row_t **rows_p, uint32_t *count)
{
    *rows_p = NULL;
    *count = 0;
    if (!cm_db_begin_as (db, user_id))
        return -1;
    char max [24];
    snprintf (max, sizeof max, "%d", EVIDENCE_STORE_PER_MISSION);
    const char *params [] = { mission_id, user_id, max };
    PGresult *r = NULL;
    int rc = cm_db_exec (db, &r, PGRES_TUPLES_OK,
                         "SELECT " EVIDENCE_COLUMNS " FROM evidence WHERE mission_id = $1 AND user_id = $2"
                         " ORDER BY created_at DESC, id DESC LIMIT $3::int", 3, params)? 0: -1;
    if (rc == 0 && PQntuples (r) > 0) {
        uint32_t n = (uint32_t) PQntuples (r);
        evidence_row_t *rows = (evidence_row_t *) calloc (n, sizeof *rows);
        if (rows) {
            for (uint32_t i = 0; i < n; i++)
                s_row_from (r, (int) i, &rows [i]);
            *rows_p = rows;
            *count = n;
        }
        else
            rc = -1;
    }
    PQclear (r);
    return cm_db_end (db, rc);
}

int
evidence_store_content (PGconn *db, const char *user_id, const char *id, evidence_row_t *row,
                        char *wrapped_hex, size_t size)
{
    wrapped_hex [0] = 0;
    if (!cm_db_begin_as (db, user_id))
        return -1;
    const char *params [] = { id, user_id };
    PGresult *r = NULL;
    int rc = cm_db_exec (db, &r, PGRES_TUPLES_OK,
                         "SELECT " EVIDENCE_COLUMNS ", coalesce ((SELECT encode (k.wrapped_key, 'hex')"
                         " FROM user_keys k WHERE k.user_id = $2), '')"
                         " FROM evidence WHERE id = $1 AND user_id = $2", 2, params)? 0: -1;
    if (rc == 0) {
        rc = PQntuples (r) == 1? 0: EVIDENCE_STORE_NOT_FOUND;
        if (rc == 0) {
            s_row_from (r, 0, row);
            s_copy (wrapped_hex, size, r, 0, 10);
        }
    }
    PQclear (r);
    return cm_db_end (db, rc);
}

int
evidence_store_delete (PGconn *db, const cm_ctx_t *ctx, const char *user_id, const char *id)
{
    if (!cm_db_begin_as (db, user_id))
        return -1;
    const char *params [] = { id, user_id };
    int rc = s_one (db, "DELETE FROM evidence WHERE id = $1 AND user_id = $2 RETURNING " EVIDENCE_COLUMNS,
                    2, params, NULL);
    char detail [64];
    snprintf (detail, sizeof detail, "{\"evidence_id\":\"%s\"}", id);
    if (rc == 0 && cm_audit_record (db, ctx, "evidence.deleted", "success", user_id, detail))
        rc = -1;
    return cm_db_end (db, rc);
}

int
evidence_store_purge (PGconn *db, const cm_ctx_t *ctx, const char *user_id,
                      const char *mission_id, evidence_id_t **ids_p, uint32_t *count)
{
    *ids_p = NULL;
    *count = 0;
    if (!cm_db_begin_as (db, user_id))
        return -1;
    const char *params [] = { mission_id, user_id };
    PGresult *r = NULL;
    int rc = cm_db_exec (db, &r, PGRES_TUPLES_OK,
                         "DELETE FROM evidence WHERE mission_id = $1 AND user_id = $2 RETURNING id",
                         2, params)? 0: -1;
    uint32_t n = rc == 0? (uint32_t) PQntuples (r): 0;
    if (n > 0) {
        evidence_id_t *ids = (evidence_id_t *) calloc (n, sizeof *ids);
        if (ids) {
            for (uint32_t i = 0; i < n; i++)
                s_copy (ids [i], sizeof ids [i], r, (int) i, 0);
            *ids_p = ids;
        }
        else
            rc = -1;
    }
    PQclear (r);
    char detail [128];
    snprintf (detail, sizeof detail, "{\"mission_id\":\"%s\",\"deleted\":%" PRIu32 "}", mission_id, n);
    if (rc == 0 && n > 0 && cm_audit_record (db, ctx, "evidence.purged", "success", user_id, detail))
        rc = -1;
    rc = cm_db_end (db, rc);
    if (rc == 0)
        *count = n;
    else {
        free (*ids_p);
        *ids_p = NULL;
    }
    return rc;
}

//  Epoch microseconds back to a timestamptz, exactly (interval arithmetic
//  is in whole microseconds)
#define FROM_EPOCH_US(p) "('epoch'::timestamptz + (" p "::bigint / 1000000) * interval '1 second'" \
                         " + (" p "::bigint % 1000000) * interval '1 microsecond')"
//  The rows of a user's list, with created_at in epoch microseconds (the cursor's key)
#define LIST_USER_COLUMNS EVIDENCE_COLUMNS ", (extract (epoch FROM created_at) * 1000000)::bigint"

int
evidence_store_list_user (PGconn *db, const char *user_id, int64_t after_us, const char *after_id,
                          uint32_t limit, evidence_row_t **rows_p, int64_t **created_p, uint32_t *count)
{
    *rows_p = NULL;
    *created_p = NULL;
    *count = 0;
    char limit_text [16], after_text [24];
    snprintf (limit_text, sizeof limit_text, "%" PRIu32, limit);
    snprintf (after_text, sizeof after_text, "%" PRId64, after_us);
    const char *params [] = { user_id, limit_text, after_text, after_id };
    if (!cm_db_begin_as (db, user_id))
        return -1;
    PGresult *r = NULL;
    bool ok = after_id
        ? cm_db_exec (db, &r, PGRES_TUPLES_OK,
                      "SELECT " LIST_USER_COLUMNS " FROM evidence WHERE user_id = $1"
                      " AND (created_at, id) < (" FROM_EPOCH_US ("$3") ", $4::uuid)"
                      " ORDER BY created_at DESC, id DESC LIMIT $2::int", 4, params)
        : cm_db_exec (db, &r, PGRES_TUPLES_OK,
                      "SELECT " LIST_USER_COLUMNS " FROM evidence WHERE user_id = $1"
                      " ORDER BY created_at DESC, id DESC LIMIT $2::int", 2, params);
    int rc = ok? 0: -1;
    uint32_t n = ok? (uint32_t) PQntuples (r): 0;
    if (n > limit)
        n = limit;
    if (rc == 0 && n > 0) {
        evidence_row_t *rows = (evidence_row_t *) calloc (n, sizeof *rows);
        int64_t *created = (int64_t *) calloc (n, sizeof *created);
        if (rows && created) {
            for (uint32_t i = 0; i < n; i++) {
                s_row_from (r, (int) i, &rows [i]);
                created [i] = strtoll (PQgetvalue (r, (int) i, 10), NULL, 10);
            }
            *rows_p = rows;
            *created_p = created;
            *count = n;
        }
        else {
            free (rows);
            free (created);
            rc = -1;
        }
    }
    PQclear (r);
    rc = cm_db_end (db, rc);
    if (rc < 0) {
        free (*rows_p);
        free (*created_p);
        *rows_p = NULL;
        *created_p = NULL;
        *count = 0;
    }
    return rc;
}

//  The first column of r as ids (caller frees); -1 when out of memory
static int
s_ids_from (PGresult *r, evidence_id_t **ids_p, uint32_t *count)
{
    uint32_t n = (uint32_t) PQntuples (r);
    if (n == 0)
        return 0;
    evidence_id_t *ids = (evidence_id_t *) calloc (n, sizeof *ids);
    if (!ids)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        s_copy (ids [i], sizeof ids [i], r, (int) i, 0);
    *ids_p = ids;
    *count = n;
    return 0;
}

int
evidence_store_user_ids (PGconn *db, const char *user_id, evidence_id_t **ids_p, uint32_t *count)
{
    *ids_p = NULL;
    *count = 0;
    if (!cm_db_begin_as (db, user_id))
        return -1;
    const char *params [] = { user_id };
    PGresult *r = NULL;
    int rc = cm_db_exec (db, &r, PGRES_TUPLES_OK, "SELECT id FROM evidence WHERE user_id = $1",
                         1, params)? 0: -1;
    if (rc == 0)
        rc = s_ids_from (r, ids_p, count);
    PQclear (r);
    rc = cm_db_end (db, rc);
    if (rc < 0) {
        free (*ids_p);
        *ids_p = NULL;
        *count = 0;
    }
    return rc;
}

int
evidence_store_erase_user (PGconn *db, const cm_ctx_t *ctx, const char *user_id,
                           evidence_id_t **ids_p, uint32_t *count, bool *had_key)
{
    *ids_p = NULL;
    *count = 0;
    *had_key = false;
    if (!cm_db_begin_as (db, user_id))
        return -1;
    const char *params [] = { user_id };
    PGresult *r = NULL;
    //  Rows lock as they go: an upload chunk holding one finishes first
    int rc = cm_db_exec (db, &r, PGRES_TUPLES_OK, "DELETE FROM evidence WHERE user_id = $1 RETURNING id",
                         1, params)? 0: -1;
    if (rc == 0)
        rc = s_ids_from (r, ids_p, count);
    PQclear (r);
    r = NULL;
    //  The data key goes with the rows: from the commit on, no copy of any
    //  of the user's files (backups included) can be opened again
    if (rc == 0 && !cm_db_exec (db, &r, PGRES_COMMAND_OK, "DELETE FROM user_keys WHERE user_id = $1", 1, params))
        rc = -1;
    if (rc == 0)
        *had_key = strcmp (PQcmdTuples (r), "1") == 0;
    PQclear (r);
    char detail [96];
    snprintf (detail, sizeof detail, "{\"files\":%" PRIu32 ",\"data_key\":%s}", *count,
              *had_key? "\"destroyed\"": "null");
    if (rc == 0 && cm_audit_record (db, ctx, "evidence.erased", "success", user_id, detail))
        rc = -1;
    rc = cm_db_end (db, rc);
    if (rc < 0) {
        free (*ids_p);
        *ids_p = NULL;
        *count = 0;
        *had_key = false;
    }
    return rc;
}

bool
evidence_store_upload_begin (PGconn *db, const char *id)
{
    const char *params [] = { id };
    if (!cm_db_begin (db))
        return false;
    //  is_local = true: the setting ends with the transaction
    if (cm_db_exec (db, NULL, PGRES_TUPLES_OK, "SELECT set_config ('app.upload_id', $1, true)", 1, params))
        return true;
    cm_db_end (db, -1);
    return false;
}

int
evidence_store_lock (PGconn *db, const char *id, evidence_row_t *row)
{
    const char *params [] = { id };
    return s_one (db, "SELECT " EVIDENCE_COLUMNS " FROM evidence WHERE id = $1 FOR UPDATE", 1, params, row);
}

int
evidence_store_act_for (PGconn *db, const char *user_id)
{
    const char *params [] = { user_id };
    return cm_db_exec (db, NULL, PGRES_TUPLES_OK, "SELECT set_config ('app.user_id', $1, true)",
                       1, params)? 0: -1;
}

int
evidence_store_user_key (PGconn *db, const char *user_id, char *wrapped_hex, size_t size)
{
    wrapped_hex [0] = 0;
    const char *params [] = { user_id };
    PGresult *r = NULL;
    if (!cm_db_exec (db, &r, PGRES_TUPLES_OK,
                     "SELECT encode (wrapped_key, 'hex') FROM user_keys WHERE user_id = $1", 1, params))
        return -1;
    int rc = PQntuples (r) == 1? 0: EVIDENCE_STORE_NOT_FOUND;
    if (rc == 0)
        s_copy (wrapped_hex, size, r, 0, 0);
    PQclear (r);
    return rc;
}

int
evidence_store_uploading (PGconn *db, const char *id, const char *upload_key)
{
    const char *params [] = { id, upload_key };
    //  Only one begin can move a row out of pending: the URL is single use
    return s_one (db, "UPDATE evidence SET status = 'uploading', upload_key = $2, updated_at = now ()"
                      " WHERE id = $1 AND status = 'pending' RETURNING " EVIDENCE_COLUMNS,
                  2, params, NULL);
}

int
evidence_store_touch (PGconn *db, const char *id)
{
    const char *params [] = { id };
    return cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                       "UPDATE evidence SET updated_at = now () WHERE id = $1", 1, params)? 0: -1;
}

int
evidence_store_stored (PGconn *db, const cm_ctx_t *ctx, const char *id, const char *user_id,
                       const char *sha256, evidence_row_t *row)
{
    const char *params [] = { id, sha256, user_id };
    int rc = s_one (db, "UPDATE evidence SET status = 'stored', sha256 = $2, stored_at = now (),"
                        " updated_at = now (), upload_key = NULL"
                        " WHERE id = $1 AND user_id = $3 AND status = 'uploading' RETURNING " EVIDENCE_COLUMNS,
                    3, params, row);
    if (rc)
        return rc;
    char detail [256];
    snprintf (detail, sizeof detail,
              "{\"evidence_id\":\"%s\",\"mission_id\":\"%s\",\"size_bytes\":%" PRId64 ",\"sha256\":\"%s\"}",
              row->id, row->mission_id, row->size_bytes, row->sha256);
    return cm_audit_record (db, ctx, "evidence.uploaded", "success", user_id, detail)? -1: 0;
}

int
evidence_store_remove (PGconn *db, const char *id)
{
    const char *params [] = { id };
    return cm_db_exec (db, NULL, PGRES_COMMAND_OK, "DELETE FROM evidence WHERE id = $1", 1, params)? 0: -1;
}

static bool
s_janitor_begin (PGconn *db)
{
    if (!cm_db_begin (db))
        return false;
    if (cm_db_exec (db, NULL, PGRES_TUPLES_OK, "SELECT set_config ('app.janitor', 'on', true)", 0, NULL))
        return true;
    cm_db_end (db, -1);
    return false;
}

int
evidence_store_expire (PGconn *db, int64_t idle_s, evidence_id_t *ids, uint32_t *count)
{
    *count = 0;
    if (!s_janitor_begin (db))
        return -1;
    char idle [24], batch [24];
    snprintf (idle, sizeof idle, "%" PRId64, idle_s);
    snprintf (batch, sizeof batch, "%d", EVIDENCE_STORE_BATCH);
    const char *params [] = { idle, batch };
    PGresult *r = NULL;
    int rc = cm_db_exec (db, &r, PGRES_TUPLES_OK,
                         "DELETE FROM evidence WHERE id IN (SELECT id FROM evidence"
                         " WHERE status <> 'stored' AND updated_at < now () - make_interval (secs => $1::bigint)"
                         " LIMIT $2::int) AND status <> 'stored' RETURNING id", 2, params)? 0: -1;
    uint32_t n = 0;
    for (int i = 0; rc == 0 && i < PQntuples (r) && n < EVIDENCE_STORE_BATCH; i++)
        s_copy (ids [n++], sizeof ids [0], r, i, 0);
    PQclear (r);
    rc = cm_db_end (db, rc);
    if (rc == 0)
        *count = n;
    return rc;
}

int
evidence_store_states (PGconn *db, const evidence_id_t *ids, uint32_t count, char (*states) [16])
{
    if (count > EVIDENCE_STORE_BATCH)
        return -1;
    //  The ids as one array parameter: {id,id,...}
    char *list = (char *) malloc (EVIDENCE_STORE_BATCH * sizeof (evidence_id_t) + 3);
    if (!list)
        return -1;
    size_t at = 0;
    list [at++] = '{';
    for (uint32_t i = 0; i < count; i++) {
        states [i][0] = 0;
        at += (size_t) sprintf (list + at, "%s%s", i? ",": "", ids [i]);
    }
    list [at++] = '}';
    list [at] = 0;
    if (!s_janitor_begin (db)) {
        free (list);
        return -1;
    }
    PGresult *r = NULL;
    const char *params [] = { list };
    int rc = cm_db_exec (db, &r, PGRES_TUPLES_OK,
                         "SELECT id, status FROM evidence WHERE id = ANY ($1::uuid[])", 1, params)? 0: -1;
    for (int k = 0; rc == 0 && k < PQntuples (r); k++)
        for (uint32_t i = 0; i < count; i++)
            if (strcmp (ids [i], PQgetvalue (r, k, 0)) == 0)
                s_copy (states [i], sizeof states [i], r, k, 1);
    PQclear (r);
    free (list);
    return cm_db_end (db, rc);
}
