/*  auth_store - SQL of the auth service */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth_store.h"
#include "../../common/cm_audit.h"
#include "../../common/cm_db.h"

#define USER_COLUMNS "id, email, name, coalesce (password_hash, ''), array_to_string (roles, ','),"   \
                     " email_verified, mfa_enabled, locked, " CM_DB_TS ("created_at")
#define SESSION_COLUMNS "s.id, s.user_id, array_to_string (s.amr, ','),"                          \
                        " extract (epoch FROM s.auth_time)::bigint, coalesce (s.user_agent, ''), " \
                        CM_DB_TS ("s.created_at") ", " CM_DB_TS ("s.last_seen_at")
//  A session is alive while not revoked, used recently and young enough
#define SESSION_ALIVE "s.revoked_at IS NULL"                                        \
                      " AND s.last_seen_at > now () - make_interval (secs => $%d)"  \
                      " AND s.created_at > now () - make_interval (secs => $%d)"

static void
s_copy (char *dest, size_t size, PGresult *r, int row, int col)
{
    snprintf (dest, size, "%s", PQgetvalue (r, row, col));
}

static void
s_user_from_row (PGresult *r, int row, auth_user_row_t *user)
{
    memset (user, 0, sizeof *user);
    s_copy (user->id, sizeof user->id, r, row, 0);
    s_copy (user->email, sizeof user->email, r, row, 1);
    user->has_name = !PQgetisnull (r, row, 2);
    s_copy (user->name, sizeof user->name, r, row, 2);
    s_copy (user->password_hash, sizeof user->password_hash, r, row, 3);
    char roles [CM_MAX_ROLES * 33];
    s_copy (roles, sizeof roles, r, row, 4);
    for (char *save = NULL, *role = strtok_r (roles, ",", &save);
         role && user->roles_count < CM_MAX_ROLES; role = strtok_r (NULL, ",", &save))
        snprintf (user->roles [user->roles_count++], sizeof user->roles [0], "%s", role);
    user->email_verified = PQgetvalue (r, row, 5) [0] == 't';
    user->mfa_enabled = PQgetvalue (r, row, 6) [0] == 't';
    user->locked = PQgetvalue (r, row, 7) [0] == 't';
    s_copy (user->created_at, sizeof user->created_at, r, row, 8);
}

static void
s_session_from_row (PGresult *r, int row, auth_session_row_t *session)
{
    memset (session, 0, sizeof *session);
    s_copy (session->id, sizeof session->id, r, row, 0);
    s_copy (session->user_id, sizeof session->user_id, r, row, 1);
    s_copy (session->amr, sizeof session->amr, r, row, 2);
    session->auth_time = atoll (PQgetvalue (r, row, 3));
    s_copy (session->user_agent, sizeof session->user_agent, r, row, 4);
    s_copy (session->created_at, sizeof session->created_at, r, row, 5);
    s_copy (session->last_seen_at, sizeof session->last_seen_at, r, row, 6);
}

int
auth_store_user_insert (PGconn *db, const cm_ctx_t *ctx, const char *email, const char *name,
                        const char *phc, const char *roles_csv, auth_user_row_t *user)
{
    if (!cm_db_begin (db))
        return -1;
    const char *params [] = { email, name, phc, roles_csv };
    PGresult *r = PQexecParams (db,
        "INSERT INTO users (email, name, password_hash, roles)"
        " VALUES ($1, $2, $3, string_to_array ($4, ','))"
        " ON CONFLICT DO NOTHING RETURNING " USER_COLUMNS, 4, NULL, params, NULL, NULL, 0);
    int rc = -1;
    if (PQresultStatus (r) == PGRES_TUPLES_OK) {
        rc = PQntuples (r) == 1? 0: AUTH_STORE_TAKEN;
        if (rc == 0)
            s_user_from_row (r, 0, user);
    }
    PQclear (r);
    if (rc == 0 && cm_audit_record (db, ctx, "auth.register", "success", user->id, NULL))
        rc = -1;
    return cm_db_end (db, rc);
}

int
auth_store_user_insert_external (PGconn *db, const cm_ctx_t *ctx, const char *email, const char *name,
                                 const char *roles_csv, const char *provider, const char *subject,
                                 auth_user_row_t *user)
{
    if (!cm_db_begin (db))
        return -1;
    const char *params [] = { email, name, roles_csv };
    PGresult *r = PQexecParams (db,
        "INSERT INTO users (email, name, roles, email_verified)"
        " VALUES ($1, $2, string_to_array ($3, ','), true)"
        " ON CONFLICT DO NOTHING RETURNING " USER_COLUMNS, 3, NULL, params, NULL, NULL, 0);
    int rc = -1;
    if (PQresultStatus (r) == PGRES_TUPLES_OK) {
        rc = PQntuples (r) == 1? 0: AUTH_STORE_TAKEN;
        if (rc == 0)
            s_user_from_row (r, 0, user);
    }
    PQclear (r);
    if (rc == 0) {
        const char *identity [] = { provider, subject, user->id, email };
        r = NULL;
        if (!cm_db_exec (db, &r, PGRES_COMMAND_OK,
                         "INSERT INTO identities (provider, subject, user_id, email)"
                         " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", 4, identity))
            rc = -1;
        else
        if (atoi (PQcmdTuples (r)) != 1)
            rc = AUTH_STORE_TAKEN;      //  raced with another sign-in of the same identity
        PQclear (r);
    }
    char detail [96];
    snprintf (detail, sizeof detail, "{\"method\":\"oauth\",\"provider\":\"%s\"}", provider);
    if (rc == 0 && cm_audit_record (db, ctx, "auth.register", "success", user->id, detail))
        rc = -1;
    //  TAKEN rolls back too: no account without its identity
    return rc == 0? cm_db_end (db, 0): (cm_db_end (db, -1), rc);
}

static int
s_user_where (PGconn *db, const char *sql, const char *value, auth_user_row_t *user)
{
    const char *params [] = { value };
    PGresult *r = NULL;
    if (!cm_db_exec (db, &r, PGRES_TUPLES_OK, sql, 1, params))
        return -1;
    int rc = PQntuples (r) == 1? 0: AUTH_STORE_NOT_FOUND;
    if (rc == 0)
        s_user_from_row (r, 0, user);
    PQclear (r);
    return rc;
}

int
auth_store_user_by_email (PGconn *db, const char *email, auth_user_row_t *user)
{
    return s_user_where (db, "SELECT " USER_COLUMNS " FROM users WHERE lower (email) = lower ($1)",
                         email, user);
}

int
auth_store_user_by_id (PGconn *db, const char *id, auth_user_row_t *user)
{
    return s_user_where (db, "SELECT " USER_COLUMNS " FROM users WHERE id = $1", id, user);
}

int
auth_store_user_rehash (PGconn *db, const char *id, const char *phc)
{
    const char *params [] = { id, phc };
    return cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                       "UPDATE users SET password_hash = $2, updated_at = now () WHERE id = $1",
                       2, params)? 0: -1;
}

int
auth_store_session_create (PGconn *db, const cm_ctx_t *ctx, const char *user_id,
                           const char *amr_csv, const char *user_agent,
                           const char *refresh_hash, auth_session_row_t *session)
{
    if (!cm_db_begin (db))
        return -1;
    const char *params [] = { user_id, user_agent, ctx->ip [0]? ctx->ip: NULL, amr_csv };
    PGresult *r = NULL;
    int rc = cm_db_exec (db, &r, PGRES_TUPLES_OK,
        "WITH s AS (INSERT INTO sessions (user_id, user_agent, ip, amr, auth_time)"
        " VALUES ($1, $2, $3, string_to_array ($4, ','), now ()) RETURNING *)"
        " SELECT " SESSION_COLUMNS " FROM s", 4, params)? 0: -1;
    if (rc == 0) {
        s_session_from_row (r, 0, session);
        PQclear (r);
        const char *token [] = { refresh_hash, session->id };
        if (!cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                         "INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)", 2, token))
            rc = -1;
    }
    char detail [128];
    snprintf (detail, sizeof detail, "{\"session_id\":\"%s\",\"amr\":\"%s\"}", session->id, amr_csv);
    if (rc == 0 && cm_audit_record (db, ctx, "auth.login.success", "success", user_id, detail))
        rc = -1;
    return cm_db_end (db, rc);
}

int
auth_store_refresh_rotate (PGconn *db, const cm_ctx_t *ctx, const char *old_hash,
                           const char *new_hash, int64_t idle_s, int64_t absolute_s,
                           auth_session_row_t *session)
{
    if (!cm_db_begin (db))
        return -1;
    char idle [24], absolute [24];
    snprintf (idle, sizeof idle, "%lld", (long long) idle_s);
    snprintf (absolute, sizeof absolute, "%lld", (long long) absolute_s);
    const char *params [] = { old_hash, idle, absolute };
    PGresult *r = NULL;
    //  Row locks serialise two refreshes racing with the same token
    char sql [1024];
    snprintf (sql, sizeof sql,
              "SELECT " SESSION_COLUMNS ", rt.used_at IS NOT NULL, (" SESSION_ALIVE ")"
              " FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id"
              " WHERE rt.token_hash = $1 FOR UPDATE OF rt, s", 2, 3);
    int rc = cm_db_exec (db, &r, PGRES_TUPLES_OK, sql, 3, params)? 0: -1;
    if (rc == 0 && PQntuples (r) != 1)
        rc = AUTH_STORE_NOT_FOUND;
    if (rc == 0) {
        s_session_from_row (r, 0, session);
        bool used = PQgetvalue (r, 0, 7) [0] == 't';
        bool alive = PQgetvalue (r, 0, 8) [0] == 't';
        rc = used? AUTH_STORE_REUSED: alive? 0: AUTH_STORE_ENDED;
    }
    PQclear (r);
    if (rc == AUTH_STORE_REUSED) {
        //  Someone holds a copy of a rotated token: end the whole session
        const char *sid [] = { session->id };
        bool ok = cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                              "UPDATE sessions SET revoked_at = now (), revoked_reason = 'refresh_reuse'"
                              " WHERE id = $1 AND revoked_at IS NULL", 1, sid);
        char detail [96];
        snprintf (detail, sizeof detail, "{\"session_id\":\"%s\"}", session->id);
        if (!ok || cm_audit_record (db, ctx, "auth.token.reuse_detected", "failure",
                                    session->user_id, detail))
            rc = -1;
    }
    else
    if (rc == 0) {
        const char *used [] = { old_hash };
        const char *fresh [] = { new_hash, session->id };
        bool ok = cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                              "UPDATE refresh_tokens SET used_at = now () WHERE token_hash = $1", 1, used)
               && cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                              "INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)", 2, fresh)
               && cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                              "UPDATE sessions SET last_seen_at = now () WHERE id = $1", 1, fresh + 1);
        if (!ok || cm_audit_record (db, ctx, "auth.token.refresh", "success", session->user_id, NULL))
            rc = -1;
    }
    //  A reuse verdict must stick even though the caller gets an error
    return cm_db_end (db, rc);
}

int
auth_store_session_alive (PGconn *db, const char *user_id, const char *session_id,
                          int64_t idle_s, int64_t absolute_s)
{
    char idle [24], absolute [24];
    snprintf (idle, sizeof idle, "%lld", (long long) idle_s);
    snprintf (absolute, sizeof absolute, "%lld", (long long) absolute_s);
    const char *params [] = { user_id, session_id, idle, absolute };
    char sql [512];
    snprintf (sql, sizeof sql, "SELECT 1 FROM sessions s WHERE s.user_id = $1 AND s.id = $2 AND "
              SESSION_ALIVE, 3, 4);
    PGresult *r = NULL;
    if (!cm_db_exec (db, &r, PGRES_TUPLES_OK, sql, 4, params))
        return -1;
    int rc = PQntuples (r) == 1? 0: AUTH_STORE_ENDED;
    PQclear (r);
    return rc;
}

int
auth_store_session_revoke (PGconn *db, const cm_ctx_t *ctx, const char *user_id,
                           const char *session_id, const char *reason)
{
    if (!cm_db_begin (db))
        return -1;
    const char *params [] = { user_id, session_id, reason };
    PGresult *r = NULL;
    int rc = cm_db_exec (db, &r, PGRES_COMMAND_OK,
                         "UPDATE sessions SET revoked_at = now (), revoked_reason = $3"
                         " WHERE user_id = $1 AND id = $2 AND revoked_at IS NULL", 3, params)? 0: -1;
    if (rc == 0) {
        rc = atoi (PQcmdTuples (r)) == 1? 0: AUTH_STORE_NOT_FOUND;
        PQclear (r);
    }
    char detail [96];
    snprintf (detail, sizeof detail, "{\"session_id\":\"%s\",\"reason\":\"%s\"}", session_id, reason);
    if (rc == 0 && cm_audit_record (db, ctx, "auth.logout", "success", user_id, detail))
        rc = -1;
    return cm_db_end (db, rc);
}

int
auth_store_sessions_list (PGconn *db, const char *user_id, int64_t idle_s, int64_t absolute_s,
                          auth_session_row_t *rows, int max, int *count)
{
    char idle [24], absolute [24], limit [16];
    snprintf (idle, sizeof idle, "%lld", (long long) idle_s);
    snprintf (absolute, sizeof absolute, "%lld", (long long) absolute_s);
    snprintf (limit, sizeof limit, "%d", max);
    const char *params [] = { user_id, idle, absolute, limit };
    char sql [1024];
    snprintf (sql, sizeof sql, "SELECT " SESSION_COLUMNS " FROM sessions s WHERE s.user_id = $1 AND "
              SESSION_ALIVE " ORDER BY s.created_at DESC LIMIT $4", 2, 3);
    PGresult *r = NULL;
    if (!cm_db_exec (db, &r, PGRES_TUPLES_OK, sql, 4, params))
        return -1;
    *count = PQntuples (r);
    for (int i = 0; i < *count; i++)
        s_session_from_row (r, i, &rows [i]);
    PQclear (r);
    return 0;
}

int
auth_store_mfa_begin (PGconn *db, const char *user_id, const char *sealed_hex,
                      const char code_hashes [][65], int code_count)
{
    if (!cm_db_begin (db))
        return -1;
    const char *params [] = { user_id, sealed_hex };
    PGresult *r = NULL;
    int rc = cm_db_exec (db, &r, PGRES_COMMAND_OK,
                         "UPDATE users SET totp_secret_enc = decode ($2, 'hex'), totp_last_step = 0,"
                         " updated_at = now () WHERE id = $1 AND NOT mfa_enabled", 2, params)? 0: -1;
    if (rc == 0) {
        rc = atoi (PQcmdTuples (r)) == 1? 0: AUTH_STORE_TAKEN;
        PQclear (r);
    }
    const char *user [] = { user_id };
    if (rc == 0 && !cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                                "DELETE FROM recovery_codes WHERE user_id = $1", 1, user))
        rc = -1;
    for (int i = 0; rc == 0 && i < code_count; i++) {
        const char *code [] = { user_id, code_hashes [i] };
        if (!cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                         "INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)", 2, code))
            rc = -1;
    }
    return cm_db_end (db, rc);
}

int
auth_store_mfa_get (PGconn *db, const char *user_id, char *sealed_hex, size_t size, bool *enabled)
{
    const char *params [] = { user_id };
    PGresult *r = NULL;
    if (!cm_db_exec (db, &r, PGRES_TUPLES_OK,
                     "SELECT coalesce (encode (totp_secret_enc, 'hex'), ''), mfa_enabled"
                     " FROM users WHERE id = $1", 1, params))
        return -1;
    int rc = PQntuples (r) == 1? 0: AUTH_STORE_NOT_FOUND;
    if (rc == 0) {
        snprintf (sealed_hex, size, "%s", PQgetvalue (r, 0, 0));
        *enabled = PQgetvalue (r, 0, 1) [0] == 't';
    }
    PQclear (r);
    return rc;
}

//  Runs an UPDATE expected to touch one row; outcome when it touched none
static int
s_update_one (PGconn *db, const char *sql, int count, const char *const *params, int outcome)
{
    PGresult *r = NULL;
    if (!cm_db_exec (db, &r, PGRES_COMMAND_OK, sql, count, params))
        return -1;
    int rc = atoi (PQcmdTuples (r)) == 1? 0: outcome;
    PQclear (r);
    return rc;
}

int
auth_store_mfa_use_step (PGconn *db, const char *user_id, int64_t step)
{
    char value [24];
    snprintf (value, sizeof value, "%lld", (long long) step);
    const char *params [] = { user_id, value };
    //  One statement: two sign-ins racing with the same code cannot both win
    return s_update_one (db, "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
                         2, params, AUTH_STORE_REUSED);
}

int
auth_store_mfa_use_recovery (PGconn *db, const char *user_id, const char *code_hash)
{
    const char *params [] = { user_id, code_hash };
    return s_update_one (db, "UPDATE recovery_codes SET used_at = now ()"
                             " WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
                         2, params, AUTH_STORE_NOT_FOUND);
}

int
auth_store_mfa_set (PGconn *db, const cm_ctx_t *ctx, const char *user_id, bool enabled)
{
    if (!cm_db_begin (db))
        return -1;
    const char *params [] = { user_id };
    int rc = s_update_one (db, enabled
        ? "UPDATE users SET mfa_enabled = true, updated_at = now ()"
          " WHERE id = $1 AND NOT mfa_enabled AND totp_secret_enc IS NOT NULL"
        : "UPDATE users SET mfa_enabled = false, totp_secret_enc = NULL, totp_last_step = 0,"
          " updated_at = now () WHERE id = $1 AND mfa_enabled", 1, params, AUTH_STORE_NOT_FOUND);
    if (rc == 0 && !enabled
    &&  !cm_db_exec (db, NULL, PGRES_COMMAND_OK, "DELETE FROM recovery_codes WHERE user_id = $1", 1, params))
        rc = -1;
    if (rc == 0 && cm_audit_record (db, ctx, enabled? "auth.mfa.enabled": "auth.mfa.disabled",
                                    "success", user_id, NULL))
        rc = -1;
    return cm_db_end (db, rc);
}

int
auth_store_token_create (PGconn *db, const char *user_id, const char *purpose,
                         const char *token_hash, int64_t ttl_s)
{
    char ttl [24];
    snprintf (ttl, sizeof ttl, "%lld", (long long) ttl_s);
    const char *params [] = { token_hash, purpose, user_id, ttl };
    return cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                       "INSERT INTO one_time_tokens (token_hash, purpose, user_id, expires_at)"
                       " VALUES ($1, $2, $3, now () + make_interval (secs => $4))", 4, params)? 0: -1;
}

int
auth_store_token_use (PGconn *db, const char *token_hash, const char *purpose, char *user_id)
{
    const char *params [] = { token_hash, purpose };
    PGresult *r = NULL;
    //  One statement spends the token: two concurrent uses cannot both win
    if (!cm_db_exec (db, &r, PGRES_TUPLES_OK,
                     "UPDATE one_time_tokens SET used_at = now ()"
                     " WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now ()"
                     " RETURNING user_id", 2, params))
        return -1;
    int rc = PQntuples (r) == 1? 0: AUTH_STORE_NOT_FOUND;
    if (rc == 0)
        snprintf (user_id, 37, "%s", PQgetvalue (r, 0, 0));
    PQclear (r);
    return rc;
}

//  Ends the user's live sessions but keep_sid; their ids into ended
static int
s_end_sessions (PGconn *db, const char *user_id, const char *keep_sid, const char *reason,
                char ended [][37], int max, int *ended_count)
{
    const char *params [] = { user_id, keep_sid, reason };
    PGresult *r = NULL;
    if (!cm_db_exec (db, &r, PGRES_TUPLES_OK,
                     "UPDATE sessions SET revoked_at = now (), revoked_reason = $3"
                     " WHERE user_id = $1 AND revoked_at IS NULL"
                     " AND ($2::uuid IS NULL OR id <> $2::uuid) RETURNING id", 3, params))
        return -1;
    for (int i = 0; i < PQntuples (r) && i < max; i++)
        snprintf (ended [(*ended_count)++], 37, "%s", PQgetvalue (r, i, 0));
    PQclear (r);
    return 0;
}

int
auth_store_admin_set (PGconn *db, const cm_ctx_t *ctx, const char *user_id, int locked,
                      char ended [][37], int max, int *ended_count)
{
    *ended_count = 0;
    if (!cm_db_begin (db))
        return -1;
    int rc = 0;
    if (locked >= 0) {
        const char *params [] = { user_id, locked? "true": "false" };
        rc = s_update_one (db, "UPDATE users SET locked = $2::boolean, updated_at = now () WHERE id = $1",
                           2, params, AUTH_STORE_NOT_FOUND);
    }
    else {
        auth_user_row_t user;
        rc = auth_store_user_by_id (db, user_id, &user);
    }
    //  Locking and revoking both end every session
    if (rc == 0 && locked != 0)
        rc = s_end_sessions (db, user_id, NULL, locked > 0? "locked": "admin_revoked", ended, max, ended_count);
    const char *type = locked > 0? "admin.user.locked": locked == 0? "admin.user.unlocked": "admin.sessions.revoked";
    char detail [96];
    snprintf (detail, sizeof detail, "{\"target_user_id\":\"%s\"}", user_id);
    if (rc == 0 && cm_audit_record (db, ctx, type, "success", NULL, detail))
        rc = -1;
    return cm_db_end (db, rc);
}

int
auth_store_password_set (PGconn *db, const cm_ctx_t *ctx, const char *user_id, const char *phc,
                         const char *keep_sid, char ended [][37], int max, int *ended_count)
{
    *ended_count = 0;
    if (!cm_db_begin (db))
        return -1;
    const char *params [] = { user_id, phc };
    int rc = s_update_one (db, "UPDATE users SET password_hash = $2, updated_at = now () WHERE id = $1",
                           2, params, AUTH_STORE_NOT_FOUND);
    if (rc == 0)
        rc = s_end_sessions (db, user_id, keep_sid, "password_changed", ended, max, ended_count);
    if (rc == 0 && cm_audit_record (db, ctx, "auth.password.changed", "success", user_id, NULL))
        rc = -1;
    return cm_db_end (db, rc);
}

int
auth_store_email_verified (PGconn *db, const cm_ctx_t *ctx, const char *user_id)
{
    const char *params [] = { user_id };
    int rc = cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                         "UPDATE users SET email_verified = true, updated_at = now () WHERE id = $1",
                         1, params)? 0: -1;
    if (rc == 0)
        cm_audit_record (db, ctx, "auth.email.verified", "success", user_id, NULL);
    return rc;
}

int
auth_store_revoke_all (PGconn *db, const cm_ctx_t *ctx, const char *user_id, int *ended)
{
    *ended = 0;
    if (!cm_db_begin (db))
        return -1;
    const char *params [] = { user_id };
    PGresult *r = NULL;
    int rc = cm_db_exec (db, &r, PGRES_COMMAND_OK,
                         "UPDATE users SET locked = true, updated_at = now () WHERE id = $1", 1, params)? 0: -1;
    bool exists = rc == 0 && atoi (PQcmdTuples (r)) == 1;
    PQclear (r);
    r = NULL;
    if (rc == 0 && exists && !cm_db_exec (db, &r, PGRES_COMMAND_OK,
                                          "UPDATE sessions SET revoked_at = now (), revoked_reason = 'account_deleted'"
                                          " WHERE user_id = $1 AND revoked_at IS NULL", 1, params))
        rc = -1;
    if (rc == 0 && exists)
        *ended = atoi (PQcmdTuples (r));
    PQclear (r);
    char detail [96];
    snprintf (detail, sizeof detail, "{\"reason\":\"account_deletion\",\"sessions\":%d}", *ended);
    if (rc == 0 && exists && cm_audit_record (db, ctx, "auth.sessions.revoked_all", "success", user_id, detail))
        rc = -1;
    rc = cm_db_end (db, rc);
    if (rc < 0)
        *ended = 0;
    return rc;
}

int
auth_store_sessions_recent (PGconn *db, const char *user_id, int64_t window_s,
                            char (**ids_p) [37], int *count)
{
    *ids_p = NULL;
    *count = 0;
    char window [24];
    snprintf (window, sizeof window, "%lld", (long long) window_s);
    const char *params [] = { user_id, window };
    PGresult *r = NULL;
    //  last_seen_at moves with every token issued (sign-in, refresh): a
    //  session not seen within a token's lifetime has no valid token left
    if (!cm_db_exec (db, &r, PGRES_TUPLES_OK,
                     "SELECT id FROM sessions WHERE user_id = $1"
                     " AND last_seen_at > now () - make_interval (secs => $2::bigint)", 2, params))
        return -1;
    int n = PQntuples (r), rc = 0;
    if (n > 0) {
        char (*ids) [37] = calloc ((size_t) n, sizeof *ids);
        if (ids) {
            for (int i = 0; i < n; i++)
                s_copy (ids [i], sizeof ids [i], r, i, 0);
            *ids_p = ids;
            *count = n;
        }
        else
            rc = -1;
    }
    PQclear (r);
    return rc;
}

int
auth_store_erase_user (PGconn *db, const cm_ctx_t *ctx, const char *user_id, auth_user_row_t *user,
                       int64_t *erased)
{
    *erased = 0;
    memset (user, 0, sizeof *user);
    if (!cm_db_begin (db))
        return -1;
    const char *params [] = { user_id };
    PGresult *r = NULL;
    //  The row locked first: a sign-in racing with this waits, then finds nothing
    int rc = cm_db_exec (db, &r, PGRES_TUPLES_OK, "SELECT " USER_COLUMNS " FROM users WHERE id = $1 FOR UPDATE",
                         1, params)? 0: -1;
    if (rc == 0) {
        rc = PQntuples (r) == 1? 0: AUTH_STORE_NOT_FOUND;
        if (rc == 0)
            s_user_from_row (r, 0, user);
    }
    PQclear (r);
    //  Children first, by name, so the count says what went (the foreign
    //  keys would cascade the same rows)
    static const char *const deletes [] = {
        "DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE user_id = $1)",
        "DELETE FROM sessions WHERE user_id = $1",
        "DELETE FROM recovery_codes WHERE user_id = $1",
        "DELETE FROM one_time_tokens WHERE user_id = $1",
        "DELETE FROM identities WHERE user_id = $1",
        "DELETE FROM oauth_states WHERE link_user_id = $1",
        "DELETE FROM users WHERE id = $1",
    };
    for (size_t i = 0; rc == 0 && i < sizeof deletes / sizeof deletes [0]; i++) {
        r = NULL;
        if (cm_db_exec (db, &r, PGRES_COMMAND_OK, deletes [i], 1, params))
            *erased += atoll (PQcmdTuples (r));
        else
            rc = -1;
        PQclear (r);
    }
    char detail [64];
    snprintf (detail, sizeof detail, "{\"rows\":%lld}", (long long) *erased);
    if (rc == 0 && cm_audit_record (db, ctx, "auth.user.erased", "success", user_id, detail))
        rc = -1;
    rc = cm_db_end (db, rc);
    if (rc != 0) {
        *erased = 0;
        explicit_bzero (user, sizeof *user);
    }
    return rc;
}
