/*  auth_oauth_store - SQL of provider sign-in */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth_oauth_store.h"
#include "../../common/cm_audit.h"
#include "../../common/cm_db.h"

int
auth_oauth_store_state_create (PGconn *db, const char *state_hash, const char *provider,
                               const char *redirect_uri, const char *link_user_id, int64_t ttl_s)
{
    char ttl [24];
    snprintf (ttl, sizeof ttl, "%lld", (long long) ttl_s);
    const char *params [] = { state_hash, provider, redirect_uri, link_user_id, ttl };
    //  Spent and expired states of earlier sign-ins go on the way
    if (!cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                     "DELETE FROM oauth_states WHERE expires_at < now () - interval '1 hour'", 0, NULL))
        return -1;
    return cm_db_exec (db, NULL, PGRES_COMMAND_OK,
                       "INSERT INTO oauth_states (state_hash, provider, redirect_uri, link_user_id, expires_at)"
                       " VALUES ($1, $2, $3, $4, now () + make_interval (secs => $5))", 5, params)? 0: -1;
}

int
auth_oauth_store_state_use (PGconn *db, const char *state_hash, const char *provider,
                            char *redirect_uri, char *link_user_id)
{
    const char *params [] = { state_hash, provider };
    PGresult *r = NULL;
    if (!cm_db_exec (db, &r, PGRES_TUPLES_OK,
                     "UPDATE oauth_states SET used_at = now ()"
                     " WHERE state_hash = $1 AND provider = $2 AND used_at IS NULL AND expires_at > now ()"
                     " RETURNING redirect_uri, coalesce (link_user_id::text, '')", 2, params))
        return -1;
    int rc = PQntuples (r) == 1? 0: AUTH_STORE_NOT_FOUND;
    if (rc == 0) {
        snprintf (redirect_uri, 2049, "%s", PQgetvalue (r, 0, 0));
        snprintf (link_user_id, 37, "%s", PQgetvalue (r, 0, 1));
    }
    PQclear (r);
    return rc;
}

int
auth_oauth_store_identity_user (PGconn *db, const char *provider, const char *subject, char *user_id)
{
    const char *params [] = { provider, subject };
    PGresult *r = NULL;
    if (!cm_db_exec (db, &r, PGRES_TUPLES_OK,
                     "SELECT user_id FROM identities WHERE provider = $1 AND subject = $2", 2, params))
        return -1;
    int rc = PQntuples (r) == 1? 0: AUTH_STORE_NOT_FOUND;
    if (rc == 0)
        snprintf (user_id, 37, "%s", PQgetvalue (r, 0, 0));
    PQclear (r);
    return rc;
}

int
auth_oauth_store_identity_link (PGconn *db, const cm_ctx_t *ctx, const char *user_id,
                                const char *provider, const char *subject, const char *email)
{
    if (!cm_db_begin (db))
        return -1;
    char owner [37];
    int rc = auth_oauth_store_identity_user (db, provider, subject, owner);
    bool already = rc == 0 && strcmp (owner, user_id) == 0;
    if (rc == 0 && !already)
        rc = AUTH_OAUTH_STORE_OTHER_USER;
    else
    if (rc == AUTH_STORE_NOT_FOUND) {
        const char *params [] = { provider, subject, user_id, email && *email? email: NULL };
        PGresult *r = NULL;
        //  The unique (user_id, provider) refuses a second account at one provider
        rc = cm_db_exec (db, &r, PGRES_COMMAND_OK,
                         "INSERT INTO identities (provider, subject, user_id, email)"
                         " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", 4, params)? 0: -1;
        if (rc == 0 && atoi (PQcmdTuples (r)) != 1)
            rc = AUTH_OAUTH_STORE_LINKED;
        PQclear (r);
    }
    char detail [96];
    snprintf (detail, sizeof detail, "{\"provider\":\"%s\"}", provider);
    if (rc == 0 && !already && cm_audit_record (db, ctx, "auth.oauth.link", "success", user_id, detail))
        rc = -1;
    return cm_db_end (db, rc);
}

int
auth_oauth_store_identity_unlink (PGconn *db, const cm_ctx_t *ctx, const char *user_id, const char *provider)
{
    if (!cm_db_begin (db))
        return -1;
    const char *user [] = { user_id };
    PGresult *r = NULL;
    //  The account row locked: two removals at once cannot leave it with no way in
    int rc = cm_db_exec (db, &r, PGRES_TUPLES_OK,
                         "SELECT password_hash IS NOT NULL,"
                         " (SELECT count (*) FROM identities i WHERE i.user_id = u.id)"
                         " FROM users u WHERE u.id = $1 FOR UPDATE", 1, user)? 0: -1;
    if (rc == 0 && PQntuples (r) != 1)
        rc = AUTH_STORE_NOT_FOUND;
    bool has_password = rc == 0 && PQgetvalue (r, 0, 0) [0] == 't';
    long identities = rc == 0? atol (PQgetvalue (r, 0, 1)): 0;
    PQclear (r);
    r = NULL;
    const char *params [] = { user_id, provider };
    if (rc == 0 && !cm_db_exec (db, &r, PGRES_COMMAND_OK,
                                "DELETE FROM identities WHERE user_id = $1 AND provider = $2", 2, params))
        rc = -1;
    if (rc == 0 && atoi (PQcmdTuples (r)) != 1)
        rc = AUTH_STORE_NOT_FOUND;
    else
    if (rc == 0 && !has_password && identities <= 1)
        rc = AUTH_OAUTH_STORE_LAST_WAY_IN;
    PQclear (r);
    char detail [96];
    snprintf (detail, sizeof detail, "{\"provider\":\"%s\"}", provider);
    if (rc == 0 && cm_audit_record (db, ctx, "auth.oauth.unlink", "success", user_id, detail))
        rc = -1;
    //  Only a removal that keeps a way in is committed
    return rc == 0? cm_db_end (db, 0): (cm_db_end (db, -1), rc);
}

int
auth_oauth_store_identities (PGconn *db, const char *user_id, auth_identity_row_t *rows, int max, int *count)
{
    char limit [16];
    snprintf (limit, sizeof limit, "%d", max);
    const char *params [] = { user_id, limit };
    PGresult *r = NULL;
    if (!cm_db_exec (db, &r, PGRES_TUPLES_OK,
                     "SELECT provider, coalesce (email, ''), " CM_DB_TS ("created_at")
                     " FROM identities WHERE user_id = $1 ORDER BY created_at, provider LIMIT $2", 2, params))
        return -1;
    *count = PQntuples (r);
    for (int i = 0; i < *count; i++) {
        snprintf (rows [i].provider, sizeof rows [i].provider, "%s", PQgetvalue (r, i, 0));
        snprintf (rows [i].email, sizeof rows [i].email, "%s", PQgetvalue (r, i, 1));
        snprintf (rows [i].created_at, sizeof rows [i].created_at, "%s", PQgetvalue (r, i, 2));
    }
    PQclear (r);
    return 0;
}
