/*  missions_store - SQL of the missions service */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "missions_store.h"
#include "../../common/cm_audit.h"
#include "../../common/cm_db.h"
#include "../../common/cm_rand.h"

#define MISSION_COLUMNS "id, title, description, duration_minutes, status, "       \
                        CM_DB_TS ("created_at") ", " CM_DB_TS ("updated_at") ","     \
                        " (extract (epoch FROM created_at) * 1000000)::bigint"
//  Epoch microseconds back to a timestamptz, exactly: interval arithmetic
//  is in whole microseconds, and each factor here is exact as a double
#define FROM_EPOCH_US(p) "('epoch'::timestamptz + (" p "::bigint / 1000000) * interval '1 second'" \
                         " + (" p "::bigint % 1000000) * interval '1 microsecond')"

//  How long an idempotency key holds
#define KEY_TTL "interval '24 hours'"

void
missions_store_row_clear (missions_store_row_t *row)
{
    if (row) {
        free (row->title);
        free (row->description);
        memset (row, 0, sizeof *row);
    }
}

//  Fills row from a MISSION_COLUMNS result row; -1 when out of memory
static int
s_row_from (PGresult *r, int i, missions_store_row_t *row)
{
    memset (row, 0, sizeof *row);
    snprintf (row->id, sizeof row->id, "%s", PQgetvalue (r, i, 0));
    row->title = strdup (PQgetvalue (r, i, 1));
    row->description = PQgetisnull (r, i, 2)? NULL: strdup (PQgetvalue (r, i, 2));
    row->duration_minutes = strtoll (PQgetvalue (r, i, 3), NULL, 10);
    snprintf (row->status, sizeof row->status, "%s", PQgetvalue (r, i, 4));
    snprintf (row->created_at, sizeof row->created_at, "%s", PQgetvalue (r, i, 5));
    snprintf (row->updated_at, sizeof row->updated_at, "%s", PQgetvalue (r, i, 6));
    row->created_us = strtoll (PQgetvalue (r, i, 7), NULL, 10);
    if (!row->title || (!PQgetisnull (r, i, 2) && !row->description)) {
        missions_store_row_clear (row);
        return -1;
    }
    return 0;
}

//  One mission of the user by a query with $1 user_id, $2 id: 0, NOT_FOUND or -1
static int
s_one (PGconn *db, const char *sql, int count, const char *const *params, missions_store_row_t *row)
{
    PGresult *r = NULL;
    if (!cm_db_exec (db, &r, PGRES_TUPLES_OK, sql, count, params))
        return -1;
    int rc = PQntuples (r) == 1? s_row_from (r, 0, row): MISSIONS_STORE_NOT_FOUND;
    PQclear (r);
    return rc;
}

static int
s_get (PGconn *db, const char *user_id, const char *id, missions_store_row_t *row)
{
    const char *params [] = { user_id, id };
    return s_one (db, "SELECT " MISSION_COLUMNS " FROM missions WHERE user_id = $1 AND id = $2",
                  2, params, row);
}

//  Claims the key for this request. 0 claimed (go on and create),
//  REPLAYED with the first mission in row, KEY_REUSED, or -1
static int
s_claim_key (PGconn *db, const char *user_id, const missions_store_new_t *mission,
             missions_store_row_t *row)
{
    const char *owner [] = { user_id };
    if (!cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                     "DELETE FROM idempotency WHERE user_id = $1 AND created_at < now () - " KEY_TTL,
                     1, owner))
        return -1;
    const char *claim [] = { user_id, mission->idempotency_key, mission->request_hash };
    //  A concurrent holder of the key makes this wait for its commit; then
    //  this does nothing and the next statement sees the holder's row
    PGresult *r = NULL;
    if (!cm_db_exec (db, &r, PGRES_COMMAND_OK,
                     "INSERT INTO idempotency (user_id, key, request_hash) VALUES ($1, $2, $3)"
                     " ON CONFLICT DO NOTHING", 3, claim))
        return -1;
    bool claimed = strcmp (PQcmdTuples (r), "1") == 0;
    PQclear (r);
    if (claimed)
        return 0;
    if (!cm_db_exec (db, &r, PGRES_TUPLES_OK,
                     "SELECT request_hash, mission_id FROM idempotency WHERE user_id = $1 AND key = $2",
                     2, claim))
        return -1;
    int rc = -1;
    //  No row: the holder's mission was deleted in between (its key went
    //  with it); the client retries as for any transient failure
    if (PQntuples (r) == 1) {
        if (strcmp (PQgetvalue (r, 0, 0), mission->request_hash) != 0)
            rc = MISSIONS_STORE_KEY_REUSED;
        else
        if (!PQgetisnull (r, 0, 1))
            rc = s_get (db, user_id, PQgetvalue (r, 0, 1), row) == 0? MISSIONS_STORE_REPLAYED: -1;
    }
    PQclear (r);
    return rc;
}

//  A create without an idempotency key: the mission and its audit event in
//  one round trip and one commit. The id is ours, so the event can name it
//  before the row exists.
static int
s_create_at_once (PGconn *db, const cm_ctx_t *ctx, const missions_store_new_t *mission,
                  missions_store_row_t *row)
{
    char id [37], duration [24], detail [64];
    if (cm_rand_uuid (id))
        return -1;
    snprintf (duration, sizeof duration, "%" PRId64, mission->duration_minutes);
    snprintf (detail, sizeof detail, "{\"mission_id\":\"%s\"}", id);
    PGresult *r = NULL;
    cm_db_stmt_t stmts [2] = {
        { .sql = "INSERT INTO missions (id, user_id, title, description, duration_minutes, status)"
                 " VALUES ($1, $2, $3, $4, $5, $6) RETURNING " MISSION_COLUMNS,
          .count = 6,
          .params = { id, ctx->uid, mission->title, mission->description, duration, mission->status },
          .want = PGRES_TUPLES_OK, .result_p = &r }
    };
    cm_audit_stmt (&stmts [1], ctx, "mission.created", "success", NULL, detail);
    if (!cm_db_exec_all_as (db, ctx->uid, stmts, 2))
        return -1;
    int rc = PQntuples (r) == 1? s_row_from (r, 0, row): -1;
    PQclear (r);
    return rc;
}

int
missions_store_create (PGconn *db, const cm_ctx_t *ctx, const missions_store_new_t *mission,
                       missions_store_row_t *row)
{
    memset (row, 0, sizeof *row);
    if (!mission->idempotency_key)
        return s_create_at_once (db, ctx, mission, row);
    if (!cm_db_begin_as (db, ctx->uid))
        return -1;
    int rc = mission->idempotency_key? s_claim_key (db, ctx->uid, mission, row): 0;
    if (rc == 0) {
        char duration [24];
        snprintf (duration, sizeof duration, "%" PRId64, mission->duration_minutes);
        const char *params [] = { ctx->uid, mission->title, mission->description, duration,
                                  mission->status };
        rc = s_one (db, "INSERT INTO missions (user_id, title, description, duration_minutes, status)"
                        " VALUES ($1, $2, $3, $4, $5) RETURNING " MISSION_COLUMNS, 5, params, row);
        if (rc > 0)
            rc = -1;                    //  an INSERT that returned nothing
    }
    if (rc == 0 && mission->idempotency_key) {
        const char *params [] = { ctx->uid, mission->idempotency_key, row->id };
        if (!cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                         "UPDATE idempotency SET mission_id = $3 WHERE user_id = $1 AND key = $2",
                         3, params))
            rc = -1;
    }
    if (rc == 0) {
        char detail [64];
        snprintf (detail, sizeof detail, "{\"mission_id\":\"%s\"}", row->id);
        if (cm_audit_record (db, ctx, "mission.created", "success", NULL, detail))
            rc = -1;
    }
    rc = cm_db_end (db, rc);
    if (rc < 0 || rc == MISSIONS_STORE_KEY_REUSED)
        missions_store_row_clear (row);
    return rc;
}

int
missions_store_get (PGconn *db, const char *user_id, const char *id, missions_store_row_t *row)
{
    memset (row, 0, sizeof *row);
    const char *params [] = { user_id, id };
    PGresult *r = NULL;
    if (!cm_db_exec_as (db, user_id, &r, PGRES_TUPLES_OK,
                        "SELECT " MISSION_COLUMNS " FROM missions WHERE user_id = $1 AND id = $2", 2, params))
        return -1;
    int rc = PQntuples (r) == 1? s_row_from (r, 0, row): MISSIONS_STORE_NOT_FOUND;
    PQclear (r);
    if (rc < 0)
        missions_store_row_clear (row);
    return rc;
}

int
missions_store_list (PGconn *db, const char *user_id, int64_t limit, int64_t after_us,
                     const char *after_id, missions_store_row_t *rows, int *count)
{
    *count = 0;
    char limit_text [24], after_text [24];
    snprintf (limit_text, sizeof limit_text, "%" PRId64, limit);
    snprintf (after_text, sizeof after_text, "%" PRId64, after_us);
    const char *params [] = { user_id, limit_text, after_text, after_id };
    PGresult *r = NULL;
    bool ok = after_id
        ? cm_db_exec_as (db, user_id, &r, PGRES_TUPLES_OK,
                         "SELECT " MISSION_COLUMNS " FROM missions WHERE user_id = $1"
                         " AND (created_at, id) < (" FROM_EPOCH_US ("$3") ", $4::uuid)"
                         " ORDER BY created_at DESC, id DESC LIMIT $2", 4, params)
        : cm_db_exec_as (db, user_id, &r, PGRES_TUPLES_OK,
                         "SELECT " MISSION_COLUMNS " FROM missions WHERE user_id = $1"
                         " ORDER BY created_at DESC, id DESC LIMIT $2", 2, params);
    int rc = ok? 0: -1;
    int rows_count = ok? PQntuples (r): 0;
    for (int i = 0; rc == 0 && i < rows_count && i < limit; i++) {
        rc = s_row_from (r, i, &rows [i]);
        if (rc == 0)
            (*count)++;
    }
    PQclear (r);
    if (rc < 0) {
        for (int i = 0; i < *count; i++)
            missions_store_row_clear (&rows [i]);
        *count = 0;
    }
    return rc;
}

int
missions_store_update (PGconn *db, const char *user_id, const char *id,
                       const missions_store_change_t *change, missions_store_row_t *row)
{
    memset (row, 0, sizeof *row);
    char duration [24];
    snprintf (duration, sizeof duration, "%" PRId64, change->duration_minutes);
    const char *params [] = {
        user_id, id, change->title, change->description,
        change->clear_description? "true": "false",
        change->has_duration? duration: NULL,
        change->status
    };
    if (!cm_db_begin_as (db, user_id))
        return -1;
    int rc = s_one (db, "UPDATE missions SET"
                        " title = coalesce ($3::text, title),"
                        " description = CASE WHEN $5::boolean THEN NULL"
                        " ELSE coalesce ($4::text, description) END,"
                        " duration_minutes = coalesce ($6::integer, duration_minutes),"
                        " status = coalesce ($7::text, status),"
                        " updated_at = now ()"
                        " WHERE user_id = $1 AND id = $2 RETURNING " MISSION_COLUMNS,
                    7, params, row);
    rc = cm_db_end (db, rc);
    if (rc < 0)
        missions_store_row_clear (row);
    return rc;
}

int
missions_store_delete (PGconn *db, const cm_ctx_t *ctx, const char *id)
{
    if (!cm_db_begin_as (db, ctx->uid))
        return -1;
    const char *params [] = { ctx->uid, id };
    PGresult *r = NULL;
    //  Its idempotency key goes with it (ON DELETE CASCADE)
    int rc = cm_db_exec (db, &r, PGRES_COMMAND_OK,
                         "DELETE FROM missions WHERE user_id = $1 AND id = $2", 2, params)? 0: -1;
    if (rc == 0) {
        rc = strcmp (PQcmdTuples (r), "1") == 0? 0: MISSIONS_STORE_NOT_FOUND;
        PQclear (r);
    }
    if (rc == 0) {
        char detail [64];
        snprintf (detail, sizeof detail, "{\"mission_id\":\"%s\"}", id);
        if (cm_audit_record (db, ctx, "mission.deleted", "success", NULL, detail))
            rc = -1;
    }
    return cm_db_end (db, rc);
}

int
missions_store_erase_user (PGconn *db, const cm_ctx_t *ctx, int64_t *erased)
{
    *erased = 0;
    if (!cm_db_begin_as (db, ctx->uid))
        return -1;
    const char *params [] = { ctx->uid };
    PGresult *r = NULL;
    //  Keys of missions go with them (ON DELETE CASCADE); keys of creates
    //  that never finished have no mission, so they go by user
    int rc = cm_db_exec (db, NULL, PGRES_COMMAND_OK, "DELETE FROM idempotency WHERE user_id = $1",
                         1, params)? 0: -1;
    if (rc == 0 && !cm_db_exec (db, &r, PGRES_COMMAND_OK, "DELETE FROM missions WHERE user_id = $1",
                                1, params))
        rc = -1;
    if (rc == 0)
        *erased = strtoll (PQcmdTuples (r), NULL, 10);
    PQclear (r);
    char detail [64];
    snprintf (detail, sizeof detail, "{\"missions\":%" PRId64 "}", *erased);
    if (rc == 0 && cm_audit_record (db, ctx, "missions.erased", "success", NULL, detail))
        rc = -1;
    rc = cm_db_end (db, rc);
    if (rc < 0)
        *erased = 0;
    return rc;
}
