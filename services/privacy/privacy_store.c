/*  privacy_store - SQL of the privacy service */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "privacy_store.h"
#include "../../common/cm_audit.h"
#include "../../common/cm_db.h"

static const char *const s_step_names [PRIVACY_STEP_COUNT] = {
    [PRIVACY_STEP_SESSIONS] = "sessions",
    [PRIVACY_STEP_MISSIONS] = "missions",
    [PRIVACY_STEP_EVIDENCE] = "evidence",
    [PRIVACY_STEP_AUTH]     = "auth",
    [PRIVACY_STEP_AUDIT]    = "audit",
    [PRIVACY_STEP_PRIVACY]  = "privacy",
};

const char *
privacy_store_step_name (privacy_step_t step)
{
    return (int) step >= 0 && step < PRIVACY_STEP_COUNT? s_step_names [step]: "unknown";
}

static int
s_step_lookup (const char *name)
{
    for (int i = 0; i < PRIVACY_STEP_COUNT; i++)
        if (strcmp (s_step_names [i], name) == 0)
            return i;
    return -1;
}

static void
s_copy (char *dest, size_t size, PGresult *r, int row, int col)
{
    snprintf (dest, size, "%s", PQgetvalue (r, row, col));
}

//  ---------------------------------------------------------------------
//  Preferences

static void
s_prefs_from (PGresult *r, int row, privacy_prefs_t *prefs)
{
    prefs->tab_monitoring_enabled = PQgetvalue (r, row, 0) [0] == 't';
    prefs->emotion_tracking_enabled = PQgetvalue (r, row, 1) [0] == 't';
}

int
privacy_store_prefs_get (PGconn *db, const char *user_id, privacy_prefs_t *prefs)
{
    //  The defaults of the table, for a user who never set anything
    prefs->tab_monitoring_enabled = false;
    prefs->emotion_tracking_enabled = true;
    if (!cm_db_begin_as (db, user_id))
        return -1;
    const char *params [] = { user_id };
    PGresult *r = NULL;
    int rc = cm_db_exec (db, &r, PGRES_TUPLES_OK,
                         "SELECT tab_monitoring_enabled, emotion_tracking_enabled"
                         " FROM preferences WHERE user_id = $1", 1, params)? 0: -1;
    if (rc == 0 && PQntuples (r) == 1)
        s_prefs_from (r, 0, prefs);
    PQclear (r);
    return cm_db_end (db, rc);
}

int
privacy_store_prefs_put (PGconn *db, const cm_ctx_t *ctx, const bool *tab_monitoring,
                         const bool *emotion_tracking, privacy_prefs_t *prefs)
{
    if (!cm_db_begin_as (db, ctx->uid))
        return -1;
    const char *params [] = {
        ctx->uid,
        tab_monitoring? (*tab_monitoring? "true": "false"): NULL,
        emotion_tracking? (*emotion_tracking? "true": "false"): NULL
    };
    PGresult *r = NULL;
    //  Absent values keep what is stored, or the column default for a new row
    int rc = cm_db_exec (db, &r, PGRES_TUPLES_OK,
                         "INSERT INTO preferences AS p (user_id, tab_monitoring_enabled, emotion_tracking_enabled)"
                         " VALUES ($1, coalesce ($2::boolean, false), coalesce ($3::boolean, true))"
                         " ON CONFLICT (user_id) DO UPDATE SET"
                         " tab_monitoring_enabled = coalesce ($2::boolean, p.tab_monitoring_enabled),"
                         " emotion_tracking_enabled = coalesce ($3::boolean, p.emotion_tracking_enabled),"
                         " updated_at = now ()"
                         " RETURNING tab_monitoring_enabled, emotion_tracking_enabled", 3, params)? 0: -1;
    if (rc == 0 && PQntuples (r) == 1)
        s_prefs_from (r, 0, prefs);
    else
    if (rc == 0)
        rc = -1;
    PQclear (r);
    if (rc == 0) {
        char detail [96];
        snprintf (detail, sizeof detail, "{\"tab_monitoring_enabled\":%s,\"emotion_tracking_enabled\":%s}",
                  prefs->tab_monitoring_enabled? "true": "false",
                  prefs->emotion_tracking_enabled? "true": "false");
        if (cm_audit_record (db, ctx, "privacy.preferences.updated", "success", NULL, detail))
            rc = -1;
    }
    return cm_db_end (db, rc);
}

//  ---------------------------------------------------------------------
//  Deletion jobs

//  BEGIN as the deletion worker, acting for user_id too when not NULL
static bool
s_worker_begin (PGconn *db, const char *user_id)
{
    if (!(user_id? cm_db_begin_as (db, user_id): cm_db_begin (db)))
        return false;
    if (cm_db_exec (db, NULL, PGRES_TUPLES_OK, "SELECT set_config ('app.deletion_worker', 'on', true)",
                    0, NULL))
        return true;
    cm_db_end (db, -1);
    return false;
}

#define JOB_COLUMNS "d.id, coalesce (d.user_id::text, ''), d.status, coalesce (d.request_id, ''),"  \
                    " coalesce ((SELECT string_agg (s.step, ',') FROM deletion_steps s"             \
                    " WHERE s.deletion_id = d.id AND s.done_at IS NOT NULL), '')"

static void
s_job_from (PGresult *r, int row, privacy_deletion_t *job)
{
    memset (job, 0, sizeof *job);
    s_copy (job->id, sizeof job->id, r, row, 0);
    s_copy (job->user_id, sizeof job->user_id, r, row, 1);
    s_copy (job->status, sizeof job->status, r, row, 2);
    s_copy (job->request_id, sizeof job->request_id, r, row, 3);
    char done [128];
    s_copy (done, sizeof done, r, row, 4);
    for (char *save = NULL, *step = strtok_r (done, ",", &save); step; step = strtok_r (NULL, ",", &save)) {
        int index = s_step_lookup (step);
        if (index >= 0)
            job->done [index] = true;
    }
}

int
privacy_store_deletion_open (PGconn *db, const cm_ctx_t *ctx, privacy_deletion_t *job, bool *created)
{
    memset (job, 0, sizeof *job);
    *created = false;
    if (!cm_db_begin_as (db, ctx->uid))
        return -1;
    const char *params [] = { ctx->uid, ctx->rid [0]? ctx->rid: NULL };
    PGresult *r = NULL;
    //  A second request (or a retried one) meets the unique index and takes
    //  the pending job instead; concurrent ones wait for the first's commit
    int rc = cm_db_exec (db, &r, PGRES_TUPLES_OK,
                         "INSERT INTO deletions (user_id, request_id) VALUES ($1, $2)"
                         " ON CONFLICT (user_id) WHERE status = 'pending' DO NOTHING RETURNING id",
                         2, params)? 0: -1;
    if (rc == 0 && PQntuples (r) == 1) {
        *created = true;
        const char *steps [] = { PQgetvalue (r, 0, 0) };
        if (!cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                         "INSERT INTO deletion_steps (deletion_id, step, position)"
                         " SELECT $1, s.step, s.position FROM unnest (ARRAY ['sessions', 'missions',"
                         " 'evidence', 'auth', 'audit', 'privacy']) WITH ORDINALITY AS s (step, position)",
                         1, steps))
            rc = -1;
    }
    PQclear (r);
    r = NULL;
    if (rc == 0 && !cm_db_exec (db, &r, PGRES_TUPLES_OK,
                                "SELECT " JOB_COLUMNS " FROM deletions d"
                                " WHERE d.user_id = $1 AND d.status = 'pending'", 1, params))
        rc = -1;
    if (rc == 0 && PQntuples (r) != 1)
        rc = -1;
    if (rc == 0)
        s_job_from (r, 0, job);
    PQclear (r);
    if (rc == 0 && *created) {
        char detail [64];
        snprintf (detail, sizeof detail, "{\"deletion_id\":\"%s\"}", job->id);
        if (cm_audit_record (db, ctx, "privacy.deletion.requested", "success", NULL, detail))
            rc = -1;
    }
    rc = cm_db_end (db, rc);
    if (rc < 0)
        *created = false;
    return rc;
}

int
privacy_store_deletions_due (PGconn *db, privacy_deletion_t *jobs, int max, int *count)
{
    *count = 0;
    if (!s_worker_begin (db, NULL))
        return -1;
    char limit [16];
    snprintf (limit, sizeof limit, "%d", max);
    const char *params [] = { limit };
    PGresult *r = NULL;
    int rc = cm_db_exec (db, &r, PGRES_TUPLES_OK,
                         "SELECT " JOB_COLUMNS " FROM deletions d"
                         " WHERE d.status = 'pending' AND d.next_attempt_at <= now ()"
                         " ORDER BY d.next_attempt_at LIMIT $1::int", 1, params)? 0: -1;
    for (int i = 0; rc == 0 && i < PQntuples (r) && i < max; i++)
        s_job_from (r, i, &jobs [(*count)++]);
    PQclear (r);
    rc = cm_db_end (db, rc);
    if (rc < 0)
        *count = 0;
    return rc;
}

int
privacy_store_deletion_get (PGconn *db, const char *id, privacy_deletion_t *job)
{
    memset (job, 0, sizeof *job);
    if (!s_worker_begin (db, NULL))
        return -1;
    const char *params [] = { id };
    PGresult *r = NULL;
    int rc = cm_db_exec (db, &r, PGRES_TUPLES_OK,
                         "SELECT " JOB_COLUMNS " FROM deletions d WHERE d.id = $1 AND d.status = 'pending'",
                         1, params)? 0: -1;
    if (rc == 0)
        rc = PQntuples (r) == 1? 0: PRIVACY_STORE_NOT_FOUND;
    if (rc == 0)
        s_job_from (r, 0, job);
    PQclear (r);
    return cm_db_end (db, rc);
}

bool
privacy_store_deletion_lock (PGconn *db, const char *id)
{
    const char *params [] = { id };
    PGresult *r = NULL;
    bool locked = cm_db_exec (db, &r, PGRES_TUPLES_OK,
                              "SELECT pg_try_advisory_lock (hashtext ('privacy.deletion:' || $1))", 1, params)
               && PQgetvalue (r, 0, 0) [0] == 't';
    PQclear (r);
    return locked;
}

void
privacy_store_deletion_unlock (PGconn *db, const char *id)
{
    const char *params [] = { id };
    cm_db_exec (db, NULL, PGRES_TUPLES_OK,
                "SELECT pg_advisory_unlock (hashtext ('privacy.deletion:' || $1))", 1, params);
}

int
privacy_store_step_done (PGconn *db, const char *id, privacy_step_t step, int64_t erased)
{
    char count [24];
    snprintf (count, sizeof count, "%" PRId64, erased);
    const char *params [] = { id, privacy_store_step_name (step), count };
    if (!s_worker_begin (db, NULL))
        return -1;
    //  An acknowledgement that comes twice (two replicas) keeps the first
    int rc = cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                         "UPDATE deletion_steps SET done_at = coalesce (done_at, now ()),"
                         " erased = coalesce (erased, $3::bigint), attempts = attempts + 1, last_error = NULL"
                         " WHERE deletion_id = $1 AND step = $2", 3, params)? 0: -1;
    return cm_db_end (db, rc);
}

int
privacy_store_step_failed (PGconn *db, const char *id, privacy_step_t step, const char *error)
{
    char text [512];
    snprintf (text, sizeof text, "%s", error? error: "");
    const char *params [] = { id, privacy_store_step_name (step), text };
    if (!s_worker_begin (db, NULL))
        return -1;
    int rc = cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                         "UPDATE deletion_steps SET attempts = attempts + 1, last_error = $3"
                         " WHERE deletion_id = $1 AND step = $2", 3, params)? 0: -1;
    //  0.5 s, 1 s, 2 s ... at most 30 s, with a little jitter so jobs stuck
    //  on one service do not all knock at once when it comes back
    const char *job [] = { id, text };
    if (rc == 0 && !cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                                "UPDATE deletions SET attempts = attempts + 1, last_error = $2,"
                                " next_attempt_at = now () + make_interval (secs =>"
                                " least (30, 0.5 * power (2, least (attempts, 10))) * (0.9 + random () * 0.2))"
                                " WHERE id = $1 AND status = 'pending'", 2, job))
        rc = -1;
    return cm_db_end (db, rc);
}

int
privacy_store_deletion_complete (PGconn *db, const cm_ctx_t *ctx, const privacy_deletion_t *job,
                                 int64_t *erased)
{
    *erased = 0;
    if (!s_worker_begin (db, job->user_id))
        return -1;
    const char *user [] = { job->user_id };
    const char *id [] = { job->id };
    PGresult *r = NULL;
    int rc = cm_db_exec (db, &r, PGRES_COMMAND_OK, "DELETE FROM preferences WHERE user_id = $1", 1, user)? 0: -1;
    if (rc == 0)
        *erased = strtoll (PQcmdTuples (r), NULL, 10);
    PQclear (r);
    r = NULL;
    char count [24];
    snprintf (count, sizeof count, "%" PRId64, *erased);
    const char *step [] = { job->id, count };
    if (rc == 0 && !cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                                "UPDATE deletion_steps SET done_at = coalesce (done_at, now ()),"
                                " erased = coalesce (erased, $2::bigint), attempts = attempts + 1, last_error = NULL"
                                " WHERE deletion_id = $1 AND step = 'privacy'", 2, step))
        rc = -1;
    if (rc == 0 && !cm_db_exec (db, &r, PGRES_COMMAND_OK,
                                "UPDATE deletions SET status = 'completed', completed_at = now (), user_id = NULL,"
                                " last_error = NULL WHERE id = $1 AND status = 'pending'", 1, id))
        rc = -1;
    //  Another replica completed it first: nothing more to record
    if (rc == 0 && strcmp (PQcmdTuples (r), "1") != 0)
        rc = PRIVACY_STORE_NOT_FOUND;
    PQclear (r);
    if (rc == 0) {
        char detail [64];
        snprintf (detail, sizeof detail, "{\"deletion_id\":\"%s\"}", job->id);
        if (cm_audit_record (db, ctx, "privacy.deletion.completed", "success", job->user_id, detail))
            rc = -1;
    }
    return cm_db_end (db, rc);
}
