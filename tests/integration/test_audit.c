/*  test_audit - the audit trail on the real stack: the admin API, the hash
    chain against a superuser who edits it, append-only privileges, erasure
    of personal data, alerts, checkpoints, and no event lost or doubled
    while audit restarts

    Tests that edit the chain as a superuser undo their edit, and tests that
    stop a service start it again: later tests find a valid chain and a
    whole stack.
*/
#include <criterion/criterion.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>
#include "api.h"
#include "cm_rand.h"

TestSuite (audit, .timeout = 180);

#define LOCK_AND_BYPASS "BEGIN; SELECT pg_advisory_xact_lock (hashtext ('audit.chain'));" \
                        " SET LOCAL session_replication_role = replica; "

//  ----------------------------------------------------------------------
//  Helpers

//  Signs in as the ADMIN_EMAILS account (registering it on first use)
static void
s_admin (char *access)
{
    stack_http_t *res = malloc (sizeof *res);
    const char *email = stack_env ("ADMIN_EMAILS");
    long status = api_register (email, API_PASSWORD, res);
    cr_assert (status == 201 || status == 409, "%ld %s", status, res->body);
    cr_assert_eq (api_login (email, API_PASSWORD, access, NULL, res), 200, "%s", res->body);
    free (res);
}

//  GET path with a bearer token and optional extra header lines; the whole
//  body as JSON (NULL when it is not), the status into *status
static json_t *
s_get (const char *path, const char *access, const char *extra, long *status)
{
    char header [API_TOKEN_MAX + 512];
    snprintf (header, sizeof header, "Authorization: Bearer %s%s%s", access, extra? "\n": "", extra? extra: "");
    stack_http_t *res = malloc (sizeof *res);
    char *data = NULL;
    size_t len = 0;
    stack_http_bytes ("GET", path, header, NULL, 0, res, &data, &len);
    *status = res->status;
    json_t *value = json_loadb (data, len, 0, NULL);
    free (data);
    free (res);
    return value;
}

//  The item of an admin query page whose member key equals value, or NULL
static json_t *
s_find (json_t *page, const char *key, const char *value)
{
    json_t *items = json_object_get (page, "items");
    for (size_t i = 0; i < json_array_size (items); i++) {
        json_t *item = json_array_get (items, i);
        const char *got = json_string_value (json_object_get (item, key));
        if (got && streq (got, value))
            return item;
    }
    return NULL;
}

//  Poll sql until it gives at least want (or timeout_ms passes); the last value
static long
s_wait_count (const char *sql, long want, int timeout_ms)
{
    int64_t until = zclock_mono () + timeout_ms;
    long value;
    while ((value = stack_db_long (sql)) < want && zclock_mono () < until)
        zclock_sleep (100);
    return value;
}

//  Run sql (several statements allowed) on db; asserts it worked
static void
s_sql (PGconn *db, const char *sql)
{
    PGresult *r = PQexec (db, sql);
    ExecStatusType status = PQresultStatus (r);
    cr_assert (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage (r));
    PQclear (r);
}

//  The error of sql run on db, "" when it worked
static void
s_sql_error (PGconn *db, const char *sql, char *error, size_t size)
{
    PGresult *r = PQexec (db, sql);
    ExecStatusType status = PQresultStatus (r);
    snprintf (error, size, "%s", status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK
                                 ? "": PQresultErrorMessage (r));
    PQclear (r);
}

//  GET /api/v1/admin/audit/verify: ok, and first_bad_seq (0 when none)
static bool
s_verify (const char *access, long *first_bad)
{
    long status;
    json_t *result = s_get ("/api/v1/admin/audit/verify", access, NULL, &status);
    cr_assert_eq (status, 200);
    cr_assert_not_null (result);
    json_t *ok = json_object_get (result, "ok");
    cr_assert (json_is_boolean (ok));
    cr_assert (json_is_integer (json_object_get (result, "events")));
    json_t *bad = json_object_get (result, "first_bad_seq");
    *first_bad = json_is_integer (bad)? (long) json_integer_value (bad): 0;
    bool value = json_is_true (ok);
    if (!value)
        cr_log_info ("verify: %s", json_string_value (json_object_get (result, "problem")));
    json_decref (result);
    return value;
}

//  `audit --verify` with the audit service's settings; its output into
//  out, its exit status back
static int
s_cli_verify (char *out, size_t size)
{
    char command [512];
    snprintf (command, sizeof command, "bash %s/scripts/stack.sh env audit", stack_env ("REPO_ROOT"));
    FILE *env = popen (command, "r");
    cr_assert_not_null (env);
    char *lines [64];
    int count = 0;
    char line [2048];
    while (count < 64 && fgets (line, sizeof line, env)) {
        line [strcspn (line, "\n")] = 0;
        lines [count++] = strdup (line);
    }
    cr_assert_eq (pclose (env), 0);
    int fds [2];
    cr_assert_eq (pipe (fds), 0);
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        dup2 (fds [1], 1);
        close (fds [0]);
        for (int i = 0; i < count; i++)
            putenv (lines [i]);
        char binary [1024];
        snprintf (binary, sizeof binary, "%s/audit", getenv ("BIN_DIR"));
        execl (binary, "audit", "--verify", (char *) NULL);
        _exit (127);
    }
    close (fds [1]);
    size_t used = 0;
    ssize_t n;
    while (used + 1 < size && (n = read (fds [0], out + used, size - 1 - used)) > 0)
        used += (size_t) n;
    out [used] = 0;
    close (fds [0]);
    int status = 0;
    waitpid (pid, &status, 0);
    for (int i = 0; i < count; i++)
        free (lines [i]);
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

//  A user's id from their token
static void
s_user_id (const char *access, char *user_id)
{
    stack_http_t *res = malloc (sizeof *res);
    cr_assert_eq (api_get ("/api/v1/users/me", access, res), 200);
    json_t *me = api_json (res);
    snprintf (user_id, 37, "%s", api_str (me, "id"));
    json_decref (me);
    free (res);
}

//  ----------------------------------------------------------------------
//  The admin API

Test (audit, an_admin_finds_each_event_by_its_request_id)
{
    char admin [API_TOKEN_MAX], tag [17], rid [64], header [128], path [256];
    s_admin (admin);
    cm_rand_hex (tag, 8);
    snprintf (rid, sizeof rid, "audit-test-%s", tag);
    snprintf (header, sizeof header, "Authorization: Bearer not.a.token\nX-Request-Id: %s", rid);
    stack_http_t *res = malloc (sizeof *res);
    stack_http ("GET", "/api/v1/missions", header, NULL, res);
    cr_assert_eq (res->status, 401);

    //  The 401 is an authz.denied event carrying the request id
    json_t *item = NULL, *page = NULL;
    int64_t until = zclock_mono () + 10000;
    long status;
    while (!item && zclock_mono () < until) {
        json_decref (page);
        page = s_get ("/api/v1/admin/audit?type=authz.denied&limit=100", admin, NULL, &status);
        cr_assert_eq (status, 200);
        item = s_find (page, "request_id", rid);
        if (!item)
            zclock_sleep (200);
    }
    cr_assert_not_null (item, "no authz.denied with request id %s", rid);
    cr_assert_str_eq (json_string_value (json_object_get (item, "type")), "authz.denied");
    cr_assert_str_eq (json_string_value (json_object_get (item, "outcome")), "denied");
    cr_assert_str_eq (json_string_value (json_object_get (item, "ip")), "127.0.0.1");
    cr_assert (json_is_null (json_object_get (item, "user_id")));
    cr_assert_not_null (strstr (json_string_value (json_object_get (item, "detail")), "\"status\":401"));
    cr_assert_gt (json_integer_value (json_object_get (item, "seq")), 0);
    cr_assert_eq (strlen (json_string_value (json_object_get (item, "hash"))), 64);
    cr_assert_eq (strlen (json_string_value (json_object_get (item, "prev_hash"))), 64);
    const char *at = json_string_value (json_object_get (item, "at"));
    cr_assert (at && strlen (at) == 24 && at [23] == 'Z', "RFC 3339 UTC: %s", at);
    cr_assert (proto_is_uuid (json_string_value (json_object_get (item, "id"))));
    json_decref (page);

    //  Reading is itself on the trail, with the reader and their request id
    char admin_id [37], read_rid [64], extra [96];
    s_user_id (admin, admin_id);
    snprintf (read_rid, sizeof read_rid, "audit-read-%s", tag);
    snprintf (extra, sizeof extra, "X-Request-Id: %s", read_rid);
    page = s_get ("/api/v1/admin/audit?limit=1", admin, extra, &status);
    cr_assert_eq (status, 200);
    json_decref (page);
    snprintf (path, sizeof path, "/api/v1/admin/audit?type=admin.audit.read&user_id=%s&limit=20", admin_id);
    page = s_get (path, admin, NULL, &status);
    item = s_find (page, "request_id", read_rid);
    cr_assert_not_null (item, "reading the log was not recorded");
    cr_assert_str_eq (json_string_value (json_object_get (item, "user_id")), admin_id);
    cr_assert_str_eq (json_string_value (json_object_get (item, "service")), "audit");
    json_decref (page);
    free (res);
}

Test (audit, a_plain_user_gets_403)
{
    char access [API_TOKEN_MAX];
    api_new_user ("audit-plain", access, NULL);
    stack_http_t *res = malloc (sizeof *res);
    cr_assert_eq (api_get ("/api/v1/admin/audit", access, res), 403, "%s", res->body);
    cr_assert_not_null (strstr (res->body, "\"code\":\"forbidden\""), "%s", res->body);
    cr_assert_eq (api_get ("/api/v1/admin/audit/verify", access, res), 403);
    cr_assert_eq (api_get ("/api/v1/admin/audit", NULL, res), 401);
    free (res);
}

Test (audit, filters_pages_and_refusals)
{
    char admin [API_TOKEN_MAX];
    s_admin (admin);
    long status;
    //  Pages go newest first and do not overlap
    json_t *first = s_get ("/api/v1/admin/audit?limit=3", admin, NULL, &status);
    cr_assert_eq (status, 200);
    json_t *items = json_object_get (first, "items");
    cr_assert_eq (json_array_size (items), 3);
    json_int_t last = 0;
    for (size_t i = 0; i < 3; i++) {
        json_int_t seq = json_integer_value (json_object_get (json_array_get (items, i), "seq"));
        cr_assert (i == 0 || seq < last, "newest first");
        last = seq;
    }
    //  prev_hash of each is the hash of the one before it
    cr_assert_str_eq (json_string_value (json_object_get (json_array_get (items, 0), "prev_hash")),
                      json_string_value (json_object_get (json_array_get (items, 1), "hash")));
    const char *cursor = json_string_value (json_object_get (first, "next_cursor"));
    cr_assert_not_null (cursor);
    char path [256];
    snprintf (path, sizeof path, "/api/v1/admin/audit?limit=3&cursor=%s", cursor);
    json_t *second = s_get (path, admin, NULL, &status);
    cr_assert_eq (status, 200);
    cr_assert_lt (json_integer_value (json_object_get (json_array_get (json_object_get (second, "items"), 0), "seq")),
                  last);
    json_decref (first);
    json_decref (second);

    //  type and since filter; the default page is 50
    json_t *typed = s_get ("/api/v1/admin/audit?type=service.started", admin, NULL, &status);
    cr_assert_eq (status, 200);
    items = json_object_get (typed, "items");
    cr_assert_geq (json_array_size (items), 5, "every backend started");
    cr_assert_leq (json_array_size (items), 50);
    for (size_t i = 0; i < json_array_size (items); i++)
        cr_assert_str_eq (json_string_value (json_object_get (json_array_get (items, i), "type")), "service.started");
    json_decref (typed);
    json_t *future = s_get ("/api/v1/admin/audit?since=2999-01-01T00:00:00Z", admin, NULL, &status);
    cr_assert_eq (status, 200);
    cr_assert_eq (json_array_size (json_object_get (future, "items")), 0);
    cr_assert (json_is_null (json_object_get (future, "next_cursor")));
    json_decref (future);

    //  Bad filters: 422 naming the field
    const char *bad [][2] = {
        { "limit=0", "limit" }, { "limit=101", "limit" }, { "limit=many", "limit" },
        { "since=yesterday", "since" }, { "since=2024-05-01", "since" }, { "type=Auth%20Login", "type" },
        { "user_id=42", "user_id" }, { "cursor=not-ours", "cursor" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        snprintf (path, sizeof path, "/api/v1/admin/audit?%s", bad [i][0]);
        json_t *error = s_get (path, admin, NULL, &status);
        cr_assert_eq (status, 422, "%s gave %ld", bad [i][0], status);
        const char *message = json_string_value (json_object_get (json_object_get (error, "error"), "message"));
        cr_assert (message && strncmp (message, bad [i][1], strlen (bad [i][1])) == 0,
                   "%s: '%s' does not name %s", bad [i][0], message, bad [i][1]);
        json_decref (error);
    }
}

//  ----------------------------------------------------------------------
//  The chain against a superuser

Test (audit, verify_finds_a_changed_removed_or_reordered_event)
{
    char admin [API_TOKEN_MAX], sql [1024];
    s_admin (admin);
    long bad = 0;
    cr_assert (s_verify (admin, &bad), "the chain is valid to begin with");
    long k = stack_db_long ("SELECT max (seq) - 3 FROM audit.chain");
    cr_assert_gt (k, 1);
    PGconn *db = stack_db ();

    //  Changed: an outcome rewritten in place
    snprintf (sql, sizeof sql, "CREATE TEMP TABLE saved AS SELECT * FROM audit.chain WHERE seq BETWEEN %ld AND %ld",
              k, k + 1);
    s_sql (db, sql);
    snprintf (sql, sizeof sql, LOCK_AND_BYPASS "UPDATE audit.chain SET outcome = CASE outcome WHEN 'tampered'"
              " THEN 'tampered again' ELSE 'tampered' END WHERE seq = %ld; COMMIT", k);
    s_sql (db, sql);
    cr_assert_not (s_verify (admin, &bad));
    cr_assert_eq (bad, k, "first bad seq %ld, the edit was at %ld", bad, k);
    snprintf (sql, sizeof sql, LOCK_AND_BYPASS "UPDATE audit.chain c SET outcome = s.outcome FROM saved s"
              " WHERE c.seq = s.seq; COMMIT");
    s_sql (db, sql);
    cr_assert (s_verify (admin, &bad), "restored");

    //  Removed
    snprintf (sql, sizeof sql, LOCK_AND_BYPASS "DELETE FROM audit.chain WHERE seq = %ld; COMMIT", k);
    s_sql (db, sql);
    cr_assert_not (s_verify (admin, &bad));
    cr_assert_eq (bad, k);
    snprintf (sql, sizeof sql, LOCK_AND_BYPASS "INSERT INTO audit.chain SELECT * FROM saved WHERE seq = %ld; COMMIT", k);
    s_sql (db, sql);
    cr_assert (s_verify (admin, &bad), "restored");

    //  Reordered: events k and k+1 trade places
    snprintf (sql, sizeof sql, LOCK_AND_BYPASS
              "UPDATE audit.chain SET seq = 9000000000000000000 WHERE seq = %ld;"
              " UPDATE audit.chain SET seq = %ld WHERE seq = %ld;"
              " UPDATE audit.chain SET seq = %ld WHERE seq = 9000000000000000000; COMMIT",
              k, k, k + 1, k + 1);
    s_sql (db, sql);
    cr_assert_not (s_verify (admin, &bad));
    cr_assert_eq (bad, k);
    s_sql (db, sql);                    //  the same swap puts them back
    cr_assert (s_verify (admin, &bad), "restored");
    PQfinish (db);
}

Test (audit, the_audit_role_can_only_add_and_read)
{
    PGconn *db = stack_db ();
    char error [512];
    s_sql (db, "SET ROLE audit_svc");
    s_sql (db, "SELECT count (*) FROM audit.chain");
    const char *refused [] = {
        "UPDATE audit.chain SET outcome = 'success' WHERE seq = 1",
        "DELETE FROM audit.chain WHERE seq = 1",
        "TRUNCATE audit.chain",
        "DROP TABLE audit.chain",
        "ALTER TABLE audit.chain DISABLE TRIGGER USER",
        "ALTER TABLE audit.chain RENAME TO chain_old",
        "CREATE RULE keep AS ON INSERT TO audit.chain DO INSTEAD NOTHING",
        "DROP SCHEMA audit CASCADE",
        "ALTER SCHEMA audit RENAME TO audit_old",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused [0]; i++) {
        s_sql_error (db, refused [i], error, sizeof error);
        cr_assert (*error, "audit_svc may: %s", refused [i]);
        cr_assert (strstr (error, "permission denied") || strstr (error, "must be owner"), "%s: %s",
                   refused [i], error);
    }
    s_sql (db, "RESET ROLE");
    //  Logged in as audit_svc it cannot become the owner either
    s_sql (db, "SET SESSION AUTHORIZATION audit_svc");
    s_sql_error (db, "SET ROLE audit_owner", error, sizeof error);
    cr_assert (*error, "audit_svc may act as audit_owner");
    s_sql (db, "RESET SESSION AUTHORIZATION");
    //  Even a superuser's plain UPDATE is refused by the trigger
    s_sql_error (db, "UPDATE audit.chain SET outcome = outcome WHERE seq = 1", error, sizeof error);
    cr_assert_not_null (strstr (error, "append-only"), "%s", error);
    cr_assert_eq (stack_db_long ("SELECT count (*) FROM pg_roles WHERE rolname = 'audit_owner' AND NOT rolcanlogin"), 1);
    PQfinish (db);
}

//  ----------------------------------------------------------------------
//  Personal data

//  Append one event through peer's CURVE key; the status
static cm_err_t
s_append_as (const char *peer, const proto_audit_event_t *event)
{
    zcert_t *cert;
    cm_client_t *client = stack_client (peer, CM_SVC_AUDIT, &cert);
    cm_ctx_t ctx = { .deadline = zclock_mono () + 5000 };
    snprintf (ctx.rid, sizeof ctx.rid, "audit-test");
    proto_audit_append_req_t req = { .events = (proto_audit_event_t *) event, .events_count = 1 };
    proto_audit_append_rep_t rep = { 0 };
    cm_err_t status = cm_client_call (client, &ctx, PROTO_MSG_audit_append, &req, &rep, NULL);
    proto_clear (&proto_audit_append_rep_desc, &rep);
    cm_client_destroy (&client);
    zcert_destroy (&cert);
    return status;
}

//  audit.erase_user through peer's key; the status, the count into *erased
static cm_err_t
s_erase_as (const char *peer, const char *user_id, int64_t *erased)
{
    zcert_t *cert;
    cm_client_t *client = stack_client (peer, CM_SVC_AUDIT, &cert);
    cm_ctx_t ctx = { .deadline = zclock_mono () + 5000 };
    snprintf (ctx.rid, sizeof ctx.rid, "audit-test-erase");
    proto_audit_erase_user_req_t req = { .user_id = (char *) user_id };
    proto_audit_erase_user_rep_t rep = { 0 };
    cm_err_t status = cm_client_call (client, &ctx, PROTO_MSG_audit_erase_user, &req, &rep, NULL);
    *erased = rep.erased;
    proto_clear (&proto_audit_erase_user_rep_desc, &rep);
    cm_client_destroy (&client);
    zcert_destroy (&cert);
    return status;
}

//  How many rows of the audit schema show text anywhere in any column
static long
s_rows_showing (const char *text)
{
    char sql [1024];
    snprintf (sql, sizeof sql,
              "SELECT (SELECT count (*) FROM audit.chain c WHERE c::text LIKE '%%%s%%')"
              " + (SELECT count (*) FROM audit.events e WHERE e::text LIKE '%%%s%%')"
              " + (SELECT count (*) FROM audit.event_personal p WHERE p::text LIKE '%%%s%%')"
              " + (SELECT count (*) FROM audit.subject_keys k WHERE k::text LIKE '%%%s%%')", text, text, text, text);
    return stack_db_long (sql);
}

Test (audit, erasing_a_user_removes_their_email_name_and_ip)
{
    char admin [API_TOKEN_MAX], access [API_TOKEN_MAX], user_id [37], tag [17];
    s_admin (admin);
    api_new_user ("audit-erase", access, user_id);
    cm_rand_hex (tag, 8);
    char email [96], name [64], detail [512], id [37], path [256], sql [256];
    snprintf (email, sizeof email, "erin-%s@example.com", tag);
    snprintf (name, sizeof name, "Erin Quinn-%s", tag);
    snprintf (detail, sizeof detail, "{\"reason\":\"profile\",\"email\":\"%s\",\"name\":\"%s\","
              "\"user_agent\":\"TestAgent/%s\"}", email, name, tag);
    cm_rand_uuid (id);
    proto_audit_event_t event = {
        .id = id, .at_ms = zclock_time (), .has_at_ms = true, .type = (char *) "auth.profile.updated",
        .service = (char *) "privacy", .outcome = (char *) "success", .user_id = user_id,
        .request_id = (char *) "audit-erase-test", .ip = (char *) "203.0.113.77", .detail = detail
    };
    cr_assert_eq (s_append_as ("auth", &event), CM_OK);

    //  The admin sees it whole, stored as sent by the peer that sent it
    long status;
    snprintf (path, sizeof path, "/api/v1/admin/audit?user_id=%s&type=auth.profile.updated", user_id);
    json_t *page = s_get (path, admin, NULL, &status);
    cr_assert_eq (status, 200);
    json_t *item = s_find (page, "id", id);
    cr_assert_not_null (item);
    cr_assert_str_eq (json_string_value (json_object_get (item, "service")), "auth");
    cr_assert_str_eq (json_string_value (json_object_get (item, "ip")), "203.0.113.77");
    const char *shown = json_string_value (json_object_get (item, "detail"));
    cr_assert (shown && strstr (shown, email) && strstr (shown, name) && strstr (shown, "TestAgent"), "%s", shown);
    json_decref (page);
    //  ...but the database never held the email or name in the clear; the
    //  ip it holds apart from the chain, where erasure can reach it
    cr_assert_eq (s_rows_showing (email), 0);
    cr_assert_eq (s_rows_showing (name), 0);
    cr_assert_eq (s_rows_showing ("TestAgent"), 0);
    cr_assert_eq (stack_db_long ("SELECT count (*) FROM audit.chain c WHERE c::text LIKE '%203.0.113.77%'"), 0);
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.events WHERE id = '%s' AND ip = '203.0.113.77'", id);
    cr_assert_eq (stack_db_long (sql), 1);
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.chain WHERE id = '%s' AND detail = '{\"reason\":\"profile\"}'",
              id);
    cr_assert_eq (stack_db_long (sql), 1, "only the public part is hashed");

    //  Only privacy may erase
    int64_t erased = 0;
    cr_assert_eq (s_erase_as ("auth", user_id, &erased), CM_FORBIDDEN);
    cr_assert_eq (s_erase_as ("gateway", user_id, &erased), CM_FORBIDDEN);
    cr_assert_eq (s_erase_as ("privacy", user_id, &erased), CM_OK);
    cr_assert_geq (erased, 1);
    cr_assert_eq (s_erase_as ("privacy", user_id, &erased), CM_OK, "again: harmless");

    //  Gone for good: no key, no row, nothing shown, whatever arrives later
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.subject_keys WHERE subject = '%s'", user_id);
    cr_assert_eq (stack_db_long (sql), 0);
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.event_personal WHERE subject = '%s'", user_id);
    cr_assert_eq (stack_db_long (sql), 0);
    cr_assert_eq (s_rows_showing (email), 0);
    cr_assert_eq (s_rows_showing (name), 0);
    cr_assert_eq (s_rows_showing ("203.0.113.77"), 0);
    page = s_get (path, admin, NULL, &status);
    item = s_find (page, "id", id);
    cr_assert_not_null (item);
    cr_assert (json_is_null (json_object_get (item, "ip")));
    shown = json_string_value (json_object_get (item, "detail"));
    cr_assert_str_eq (shown, "{\"reason\":\"profile\"}");
    json_decref (page);
    snprintf (path, sizeof path, "/api/v1/admin/audit?user_id=%s&limit=100", user_id);
    page = s_get (path, admin, NULL, &status);
    cr_assert_eq (status, 200);
    char *text = json_dumps (page, 0);
    cr_assert_null (strstr (text, email), "%s", text);
    cr_assert_null (strstr (text, name));
    cr_assert_null (strstr (text, "TestAgent"));
    cr_assert_null (strstr (text, "203.0.113.77"));
    free (text);
    json_decref (page);
    char late [37];
    cm_rand_uuid (late);
    event.id = late;
    cr_assert_eq (s_append_as ("auth", &event), CM_OK);
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.events WHERE id = '%s' AND ip IS NULL"
              " AND detail = '{\"reason\":\"profile\"}'", late);
    cr_assert_eq (stack_db_long (sql), 1, "an event after the erasure keeps nothing personal");
    cr_assert_eq (s_rows_showing ("203.0.113.77"), 0);
    long bad;
    cr_assert (s_verify (admin, &bad), "erasure leaves every hash intact");
}

Test (audit, only_the_gateway_and_privacy_read_the_trail)
{
    zcert_t *cert;
    char tag [17];
    cm_rand_hex (tag, 8);
    const char *user = "0b6f3c2e-8a51-4c1d-9e2f-1a2b3c4d5e6f";
    const char *peers [] = { "missions", "privacy", "privacy" };
    const bool with_user [] = { true, false, true };
    const cm_err_t want [] = { CM_FORBIDDEN, CM_FORBIDDEN, CM_OK };
    for (size_t i = 0; i < 3; i++) {
        cm_client_t *client = stack_client (peers [i], CM_SVC_AUDIT, &cert);
        cm_ctx_t ctx = { .deadline = zclock_mono () + 5000 };
        snprintf (ctx.rid, sizeof ctx.rid, "audit-peers-%s", tag);
        proto_audit_query_req_t req = { .user_id = with_user [i]? (char *) user: NULL };
        proto_audit_query_rep_t rep = { 0 };
        cr_assert_eq (cm_client_call (client, &ctx, PROTO_MSG_audit_query, &req, &rep, NULL), want [i],
                      "query as %s", peers [i]);
        proto_clear (&proto_audit_query_rep_desc, &rep);
        if (i == 0) {
            proto_audit_verify_req_t vreq = { 0 };
            proto_audit_verify_rep_t vrep = { 0 };
            cr_assert_eq (cm_client_call (client, &ctx, PROTO_MSG_audit_verify, &vreq, &vrep, NULL), CM_FORBIDDEN);
            proto_clear (&proto_audit_verify_rep_desc, &vrep);
        }
        cm_client_destroy (&client);
        zcert_destroy (&cert);
    }
}

//  ----------------------------------------------------------------------
//  Alerts

//  A webhook receiver: the bodies of the POSTs it gets, one a line
typedef struct {
    int listener;
    int port;
    pthread_mutex_t lock;
    char bodies [32768];
    volatile bool stop;
} hook_t;

//  True once a body holding both texts arrived
static bool
s_hook_got (hook_t *hook, const char *a, const char *b)
{
    pthread_mutex_lock (&hook->lock);
    bool got = false;
    for (char *line = hook->bodies; line && *line && !got; line = strchr (line, '\n')) {
        if (*line == '\n')
            line++;
        size_t len = strcspn (line, "\n");
        char *at_a = strstr (line, a), *at_b = strstr (line, b);
        got = at_a && at_b && at_a < line + len && at_b < line + len;
    }
    pthread_mutex_unlock (&hook->lock);
    return got;
}

static void *
s_hook_thread (void *arg)
{
    hook_t *hook = (hook_t *) arg;
    while (!hook->stop) {
        struct pollfd p = { hook->listener, POLLIN, 0 };
        if (poll (&p, 1, 200) <= 0)
            continue;
        int conn = accept (hook->listener, NULL, NULL);
        if (conn < 0)
            continue;
        char request [16384];
        size_t used = 0;
        ssize_t n;
        //  Headers, then Content-Length bytes of body
        while (used + 1 < sizeof request && (n = recv (conn, request + used, sizeof request - 1 - used, 0)) > 0) {
            used += (size_t) n;
            request [used] = 0;
            char *end = strstr (request, "\r\n\r\n");
            const char *length = strcasestr (request, "Content-Length:");
            if (end && length && strlen (end + 4) >= (size_t) atol (length + 15))
                break;
        }
        const char *answer = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
        if (send (conn, answer, strlen (answer), MSG_NOSIGNAL) < 0)
            cr_log_warn ("webhook answer not sent");
        close (conn);
        char *end = strstr (request, "\r\n\r\n");
        if (end && strncmp (request, "POST /alerts ", 13) == 0) {
            pthread_mutex_lock (&hook->lock);
            size_t used_now = strlen (hook->bodies);
            snprintf (hook->bodies + used_now, sizeof hook->bodies - used_now, "%s\n", end + 4);
            pthread_mutex_unlock (&hook->lock);
        }
    }
    return NULL;
}

//  Restart audit with ALERT_WEBHOOK_URL as url (NULL: unset)
static void
s_restart_audit (const char *url)
{
    if (url)
        setenv ("ALERT_WEBHOOK_URL", url, 1);
    else
        unsetenv ("ALERT_WEBHOOK_URL");
    cr_assert_eq (stack_run ("stop-service audit"), 0);
    cr_assert_eq (stack_run ("start-service audit"), 0);
    cr_assert_eq (stack_wait_status ("/readyz", 200, 30000), 200);
}

Test (audit, repeated_refusals_raise_one_alert_and_reach_the_webhook)
{
    hook_t hook = { 0 };
    pthread_mutex_init (&hook.lock, NULL);
    hook.listener = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t len = sizeof address;
    cr_assert_eq (bind (hook.listener, (struct sockaddr *) &address, sizeof address), 0);
    cr_assert_eq (listen (hook.listener, 8), 0);
    cr_assert_eq (getsockname (hook.listener, (struct sockaddr *) &address, &len), 0);
    hook.port = ntohs (address.sin_port);
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_hook_thread, &hook), 0);
    char url [64];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/alerts", hook.port);
    s_restart_audit (url);

    //  More than ALERT_DENIED_PER_ACCOUNT (20) refusals for one account
    char access [API_TOKEN_MAX], user_id [37], sql [256];
    api_new_user ("audit-alert", access, user_id);
    stack_http_t *res = malloc (sizeof *res);
    for (int i = 0; i < 25; i++)
        cr_assert_eq (api_get ("/api/v1/admin/audit", access, res), 403);
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.chain WHERE type = 'alert.denied_per_account'"
              " AND user_id = '%s'", user_id);
    cr_assert_eq (s_wait_count (sql, 1, 15000), 1, "one alert");
    //  ...and only one within the window, however many more come
    for (int i = 0; i < 10; i++)
        cr_assert_eq (api_get ("/api/v1/admin/audit", access, res), 403);
    char denied [256];
    snprintf (denied, sizeof denied, "SELECT count (*) FROM audit.chain WHERE type = 'authz.denied'"
              " AND user_id = '%s'", user_id);
    cr_assert_eq (s_wait_count (denied, 35, 15000), 35);
    cr_assert_eq (stack_db_long (sql), 1);

    //  Other alerts may come too (127.0.0.1 is everyone's address here)
    int64_t until = zclock_mono () + 15000;
    while (!s_hook_got (&hook, "\"type\":\"alert.denied_per_account\"", user_id) && zclock_mono () < until)
        zclock_sleep (100);
    cr_assert (s_hook_got (&hook, "\"type\":\"alert.denied_per_account\"", user_id),
               "the webhook did not get the alert: %s", hook.bodies);
    hook.stop = true;
    pthread_join (thread, NULL);
    close (hook.listener);
    pthread_mutex_destroy (&hook.lock);

    //  A log line too
    char path [1024];
    snprintf (path, sizeof path, "%s/logs/audit.log", stack_env ("RUN_DIR"));
    FILE *log = fopen (path, "r");
    cr_assert_not_null (log);
    char line [4096];
    bool logged = false;
    while (fgets (line, sizeof line, log))
        logged = logged || (strstr (line, "security alert") && strstr (line, user_id));
    fclose (log);
    cr_assert (logged, "no alert line in %s", path);
    s_restart_audit (NULL);
    free (res);
}

//  ----------------------------------------------------------------------
//  No event lost, none doubled

typedef struct {
    char prefix [48];                   //  of the request ids sent
    int denied;                         //  401s to send
    char access [API_TOKEN_MAX];        //  a user who creates missions
    int missions;                       //  missions created
} flow_t;

static void *
s_flow (void *arg)
{
    flow_t *flow = (flow_t *) arg;
    stack_http_t *res = malloc (sizeof *res);
    for (int i = 0; i < flow->denied; i++) {
        char header [160];
        snprintf (header, sizeof header, "Authorization: Bearer not.a.token\nX-Request-Id: %s%d", flow->prefix, i);
        stack_http ("GET", "/api/v1/missions", header, NULL, res);
        if (i % 4 == 0 && api_call ("POST", "/api/v1/missions", flow->access,
                                    "{\"title\":\"audit flow\",\"duration_minutes\":5}", res) == 201)
            flow->missions++;
        zclock_sleep (5);
    }
    free (res);
    return NULL;
}

Test (audit, events_flowing_while_audit_restarts_arrive_exactly_once)
{
    flow_t flow = { .denied = 160 };
    char tag [17], user_id [37], sql [512];
    cm_rand_hex (tag, 8);
    snprintf (flow.prefix, sizeof flow.prefix, "flow-%s-", tag);
    api_new_user ("audit-flow", flow.access, user_id);
    pthread_t thread;
    cr_assert_eq (pthread_create (&thread, NULL, s_flow, &flow), 0);
    zclock_sleep (300);
    //  Killed mid-flight: whatever it was storing is rolled back and sent again
    cr_assert_eq (stack_run ("kill-service audit"), 0);
    zclock_sleep (700);
    cr_assert_eq (stack_run ("start-service audit"), 0);
    pthread_join (thread, NULL);
    cr_assert_gt (flow.missions, 10);

    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.chain WHERE type = 'authz.denied'"
              " AND request_id LIKE '%s%%'", flow.prefix);
    cr_assert_eq (s_wait_count (sql, flow.denied, 30000), flow.denied, "every refusal arrived, once");
    snprintf (sql, sizeof sql, "SELECT count (DISTINCT request_id) FROM audit.chain WHERE type = 'authz.denied'"
              " AND request_id LIKE '%s%%'", flow.prefix);
    cr_assert_eq (stack_db_long (sql), flow.denied);
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.chain WHERE type = 'mission.created' AND user_id = '%s'",
              user_id);
    cr_assert_eq (s_wait_count (sql, flow.missions, 30000), flow.missions, "every mission.created, once");
    snprintf (sql, sizeof sql, "SELECT count (DISTINCT detail) FROM audit.chain WHERE type = 'mission.created'"
              " AND user_id = '%s'", user_id);
    cr_assert_eq (stack_db_long (sql), flow.missions);
    cr_assert_eq (stack_wait_status ("/readyz", 200, 30000), 200);
    char admin [API_TOKEN_MAX];
    s_admin (admin);
    long bad;
    cr_assert (s_verify (admin, &bad), "one valid chain");
}

//  Creates from one client thread, as fast as answers come
typedef struct {
    const char *access;                 //  borrowed: the user's token
    int creates;                        //  to send
    int created;                        //  answered 201
} creator_t;

static void *
s_creator (void *arg)
{
    creator_t *c = (creator_t *) arg;
    stack_http_t *res = malloc (sizeof *res);
    for (int i = 0; i < c->creates; i++)
        if (api_call ("POST", "/api/v1/missions", c->access,
                      "{\"title\":\"audit burst\",\"duration_minutes\":5}", res) == 201)
            c->created++;
    free (res);
    return NULL;
}

//  Writers commit out of seq order while the shipper reads: a row that
//  commits behind one already read must still be shipped, not deleted
Test (audit, concurrent_creates_each_leave_exactly_one_event)
{
    char access [API_TOKEN_MAX], user_id [37], sql [512];
    api_new_user ("audit-burst", access, user_id);
    creator_t creators [12];
    pthread_t threads [12];
    for (int i = 0; i < 12; i++) {
        creators [i] = (creator_t) { .access = access, .creates = 40 };
        cr_assert_eq (pthread_create (&threads [i], NULL, s_creator, &creators [i]), 0);
    }
    long created = 0;
    for (int i = 0; i < 12; i++) {
        pthread_join (threads [i], NULL);
        created += creators [i].created;
    }
    cr_assert_gt (created, 400);
    snprintf (sql, sizeof sql, "SELECT count (*) FROM missions.missions WHERE user_id = '%s'", user_id);
    cr_assert_eq (stack_db_long (sql), created);
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.chain WHERE type = 'mission.created' AND user_id = '%s'",
              user_id);
    cr_assert_eq (s_wait_count (sql, created, 30000), created, "every mission.created arrived");
    //  Nothing left behind, nothing twice: one event per mission, by its id
    int64_t until = zclock_mono () + 10000;
    while (stack_db_long ("SELECT count (*) FROM missions.audit_outbox") > 0 && zclock_mono () < until)
        zclock_sleep (100);
    snprintf (sql, sizeof sql, "SELECT count (*) FROM missions.missions m WHERE m.user_id = '%s'"
              " AND (SELECT count (*) FROM audit.chain c WHERE c.type = 'mission.created'"
              "      AND c.user_id = m.user_id AND c.detail = '{\"mission_id\":\"' || m.id || '\"}') <> 1", user_id);
    cr_assert_eq (stack_db_long (sql), 0, "a mission without exactly one event");
}

//  Appends from one writer thread: batches of events through its own
//  client, to one replica
typedef struct {
    const char *peer;                   //  whose key
    char endpoint [64];                 //  which replica
    char prefix [48];                   //  of the events' request ids
    int batches;
    int ok;                             //  batches acknowledged
} writer_t;

static void *
s_writer (void *arg)
{
    writer_t *w = (writer_t *) arg;
    char path [1024];
    snprintf (path, sizeof path, "%s/%s.cert", stack_env ("KEYS_DIR"), w->peer);
    zcert_t *cert = zcert_load (path);
    cm_client_t *client = cert? cm_client_new (cert, stack_env ("KEYS_DIR"), CM_SVC_AUDIT, w->endpoint): NULL;
    for (int b = 0; client && b < w->batches; b++) {
        proto_audit_event_t events [5];
        char ids [5][37], rids [5][80];
        for (int i = 0; i < 5; i++) {
            cm_rand_uuid (ids [i]);
            //  At most 64 bytes: the prefix is short, b and i small
            snprintf (rids [i], sizeof rids [i], "%.40s%d-%d", w->prefix, b % 1000, i);
            events [i] = (proto_audit_event_t) {
                .id = ids [i], .at_ms = zclock_time (), .has_at_ms = true, .type = (char *) "test.replica",
                .service = (char *) w->peer, .outcome = (char *) "success", .request_id = rids [i],
                .ip = (char *) "192.0.2.1", .detail = (char *) "{\"n\":1}"
            };
        }
        cm_ctx_t ctx = { .deadline = zclock_mono () + 10000 };
        snprintf (ctx.rid, sizeof ctx.rid, "audit-replicas");
        proto_audit_append_req_t req = { .events = events, .events_count = 5 };
        proto_audit_append_rep_t rep = { 0 };
        if (cm_client_call (client, &ctx, PROTO_MSG_audit_append, &req, &rep, NULL) == CM_OK)
            w->ok++;
        proto_clear (&proto_audit_append_rep_desc, &rep);
    }
    cm_client_destroy (&client);
    zcert_destroy (&cert);
    return NULL;
}

Test (audit, two_replicas_appending_at_once_make_one_chain)
{
    //  A second audit process beside the stack's, on a port of its own,
    //  with the same database, keys and checkpoint file
    int port = atoi (stack_env ("AUDIT_PORT")) + 40;
    char command [1024];
    snprintf (command, sizeof command, "bash %s/scripts/stack.sh env audit", stack_env ("REPO_ROOT"));
    FILE *env = popen (command, "r");
    cr_assert_not_null (env);
    char *lines [64];
    int count = 0;
    char line [2048];
    while (count < 64 && fgets (line, sizeof line, env)) {
        line [strcspn (line, "\n")] = 0;
        lines [count++] = strdup (line);
    }
    cr_assert_eq (pclose (env), 0);
    char log_path [1024];
    snprintf (log_path, sizeof log_path, "%s/logs/audit-replica.log", stack_env ("RUN_DIR"));
    pid_t pid = fork ();
    cr_assert_geq (pid, 0);
    if (pid == 0) {
        for (int i = 0; i < count; i++)
            putenv (lines [i]);
        char bind [64];
        snprintf (bind, sizeof bind, "tcp://127.0.0.1:%d", port);
        setenv ("AUDIT_BIND", bind, 1);
        int fd = open (log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2 (fd, 1);
            dup2 (fd, 2);
        }
        char binary [1024];
        snprintf (binary, sizeof binary, "%s/audit", getenv ("BIN_DIR"));
        execl (binary, "audit", (char *) NULL);
        _exit (127);
    }
    for (int i = 0; i < count; i++)
        free (lines [i]);
    //  Ready once it pongs
    char cert_path [1024], endpoint [64];
    snprintf (cert_path, sizeof cert_path, "%s/missions.cert", stack_env ("KEYS_DIR"));
    zcert_t *cert = zcert_load (cert_path);
    cr_assert_not_null (cert);
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    cm_client_t *probe = cm_client_new (cert, stack_env ("KEYS_DIR"), CM_SVC_AUDIT, endpoint);
    cr_assert_not_null (probe);
    int64_t until = zclock_mono () + 30000;
    while (stack_ping (probe, 500, NULL, NULL, 0) != CM_OK && zclock_mono () < until)
        zclock_sleep (100);
    cr_assert_eq (stack_ping (probe, 2000, NULL, NULL, 0), CM_OK, "the second replica did not start");
    cm_client_destroy (&probe);
    zcert_destroy (&cert);

    //  Four writers, two per replica, all at once
    char tag [17];
    cm_rand_hex (tag, 8);
    writer_t writers [4];
    pthread_t threads [4];
    const char *peers [] = { "missions", "evidence", "auth", "privacy" };
    for (int i = 0; i < 4; i++) {
        writers [i] = (writer_t) { .peer = peers [i], .batches = 40 };
        if (i % 2)
            snprintf (writers [i].endpoint, sizeof writers [i].endpoint, "tcp://127.0.0.1:%s",
                      stack_env ("AUDIT_PORT"));
        else
            snprintf (writers [i].endpoint, sizeof writers [i].endpoint, "%s", endpoint);
        snprintf (writers [i].prefix, sizeof writers [i].prefix, "replica-%s-%d-", tag, i);
        cr_assert_eq (pthread_create (&threads [i], NULL, s_writer, &writers [i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join (threads [i], NULL);
        cr_assert_eq (writers [i].ok, 40, "writer %d: %d batches taken", i, writers [i].ok);
    }
    kill (pid, SIGTERM);
    int status = 0;
    waitpid (pid, &status, 0);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "the second replica did not stop cleanly");

    char sql [256];
    snprintf (sql, sizeof sql, "SELECT count (DISTINCT id) FROM audit.chain WHERE request_id LIKE 'replica-%s-%%'", tag);
    cr_assert_eq (stack_db_long (sql), 4 * 40 * 5);
    //  One line: seqs without gaps, each event chained to the one before
    cr_assert_eq (stack_db_long ("SELECT max (seq) - count (*) FROM audit.chain"), 0);
    cr_assert_eq (stack_db_long ("SELECT count (*) FROM audit.chain c JOIN audit.chain p ON p.seq = c.seq - 1"
                                 " WHERE c.prev_hash <> p.hash"), 0);
    char admin [API_TOKEN_MAX];
    s_admin (admin);
    long bad;
    cr_assert (s_verify (admin, &bad), "one valid chain");
    char out [1024];
    cr_assert_eq (s_cli_verify (out, sizeof out), 0, "%s", out);
}

//  Bytes waiting in the gateways' spool files
static long
s_spooled (void)
{
    char pattern [1024];
    snprintf (pattern, sizeof pattern, "%s/gateway-spool/audit-spool.*", stack_env ("RUN_DIR"));
    glob_t found;
    long total = 0;
    if (glob (pattern, 0, NULL, &found) == 0) {
        for (size_t i = 0; i < found.gl_pathc; i++) {
            struct stat st;
            if (stat (found.gl_pathv [i], &st) == 0)
                total += (long) st.st_size;
        }
        globfree (&found);
    }
    return total;
}

Test (audit, the_gateway_spool_survives_an_audit_outage_and_a_gateway_restart)
{
    char tag [17], sql [512];
    cm_rand_hex (tag, 8);
    cr_assert_eq (stack_run ("stop-service audit"), 0);
    stack_http_t *res = malloc (sizeof *res);
    const int count = 30;
    for (int i = 0; i < count; i++) {
        char header [160];
        snprintf (header, sizeof header, "Authorization: Bearer not.a.token\nX-Request-Id: spool-%s-%d", tag, i);
        stack_http ("GET", "/api/v1/users/me", header, NULL, res);
        cr_assert_eq (res->status, 401);
    }
    int64_t until = zclock_mono () + 15000;
    while (s_spooled () == 0 && zclock_mono () < until)
        zclock_sleep (100);
    cr_assert_gt (s_spooled (), 0, "the events wait on disk");
    //  The gateway restarts while audit is still away: the spool outlives it
    cr_assert_eq (stack_run ("stop-service gateway"), 0);
    cr_assert_eq (stack_run ("start-service gateway"), 0);
    cr_assert_eq (stack_wait_status ("/healthz", 200, 20000), 200);
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.chain WHERE request_id LIKE 'spool-%s-%%'", tag);
    cr_assert_eq (stack_db_long (sql), 0, "audit is down: nothing stored yet");

    cr_assert_eq (stack_run ("start-service audit"), 0);
    cr_assert_eq (stack_wait_status ("/readyz", 200, 30000), 200);
    cr_assert_eq (s_wait_count (sql, count, 30000), count, "every spooled event arrived");
    snprintf (sql, sizeof sql, "SELECT count (DISTINCT id) FROM audit.chain WHERE request_id LIKE 'spool-%s-%%'", tag);
    cr_assert_eq (stack_db_long (sql), count, "once each");
    until = zclock_mono () + 15000;
    while (s_spooled () != 0 && zclock_mono () < until)
        zclock_sleep (100);
    cr_assert_eq (s_spooled (), 0, "the spool empties once delivered");
    free (res);
}

//  ----------------------------------------------------------------------
//  Signed checkpoints and the command line

//  seq of the last line of the checkpoint file
static long
s_last_checkpoint (void)
{
    char path [1024];
    snprintf (path, sizeof path, "%s/audit-checkpoints/checkpoints.log", stack_env ("RUN_DIR"));
    FILE *file = fopen (path, "r");
    cr_assert_not_null (file, "no %s", path);
    char line [1024], last [1024] = "";
    while (fgets (line, sizeof line, file))
        snprintf (last, sizeof last, "%s", line);
    fclose (file);
    const char *seq = strstr (last, " seq=");
    cr_assert_not_null (seq, "%s", last);
    return atol (seq + 5);
}

//  The SQL of an event's hash, as audit_chain.h defines it
#define CANONICAL_FN "CREATE OR REPLACE FUNCTION pg_temp.f (v text) RETURNS text LANGUAGE sql AS" \
    " $$ SELECT CASE WHEN v IS NULL OR v = '' THEN '-,' ELSE octet_length (v)::text || ':' || v || ',' END $$"
#define HASH_SQL "encode (sha256 (convert_to (prev_hash || pg_temp.f ('audit.v1') || pg_temp.f (seq::text)" \
    " || pg_temp.f (id::text) || pg_temp.f (at_ms::text) || pg_temp.f (type) || pg_temp.f (service)" \
    " || pg_temp.f (outcome) || pg_temp.f (user_id::text) || pg_temp.f (request_id) || pg_temp.f (detail)," \
    " 'UTF8')), 'hex')"

Test (audit, checkpoints_catch_a_rewritten_or_shortened_chain)
{
    //  Every hash can be recomputed from the stored columns alone
    PGconn *db = stack_db ();
    s_sql (db, CANONICAL_FN);
    PGresult *r = PQexec (db, "SELECT count (*) FROM audit.chain WHERE hash <> " HASH_SQL);
    cr_assert_eq (PQresultStatus (r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage (r));
    cr_assert_str_eq (PQgetvalue (r, 0, 0), "0");
    PQclear (r);

    //  A clean stop signs the head; with audit stopped nothing else appends
    cr_assert_eq (stack_run ("stop-service audit"), 0);
    long head = stack_db_long ("SELECT max (seq) FROM audit.chain");
    cr_assert_eq (s_last_checkpoint (), head, "the last checkpoint is the head at the stop");
    char out [1024], sql [1024];
    cr_assert_eq (s_cli_verify (out, sizeof out), 0, "%s", out);
    cr_assert_not_null (strstr (out, "ok:"), "%s", out);
    snprintf (sql, sizeof sql, "checkpoint at seq %ld matches", head);
    cr_assert_not_null (strstr (out, sql), "%s", out);

    //  Rewritten: the head changed and its hash recomputed, so the chain
    //  is consistent in itself; the signed checkpoint says otherwise
    snprintf (sql, sizeof sql, "CREATE TEMP TABLE head_saved AS SELECT * FROM audit.chain WHERE seq >= %ld", head - 1);
    s_sql (db, sql);
    snprintf (sql, sizeof sql, LOCK_AND_BYPASS "UPDATE audit.chain SET outcome = CASE outcome WHEN 'rewritten'"
              " THEN 'rewritten again' ELSE 'rewritten' END WHERE seq = %ld;"
              " UPDATE audit.chain SET hash = " HASH_SQL " WHERE seq = %ld; COMMIT", head, head);
    s_sql (db, sql);
    cr_assert_eq (s_cli_verify (out, sizeof out), 1, "%s", out);
    snprintf (sql, sizeof sql, "bad: first bad seq %ld:", head);
    cr_assert_not_null (strstr (out, sql), "%s", out);
    cr_assert_not_null (strstr (out, "checkpoint"), "%s", out);
    s_sql (db, LOCK_AND_BYPASS "UPDATE audit.chain c SET outcome = s.outcome, hash = s.hash FROM head_saved s"
               " WHERE c.seq = s.seq; COMMIT");
    cr_assert_eq (s_cli_verify (out, sizeof out), 0, "%s", out);

    //  Cut: the last two events removed; what is left is a valid chain
    snprintf (sql, sizeof sql, LOCK_AND_BYPASS "DELETE FROM audit.chain WHERE seq >= %ld; COMMIT", head - 1);
    s_sql (db, sql);
    cr_assert_eq (s_cli_verify (out, sizeof out), 1, "%s", out);
    snprintf (sql, sizeof sql, "bad: first bad seq %ld:", head - 1);
    cr_assert_not_null (strstr (out, sql), "%s", out);
    cr_assert_not_null (strstr (out, "removed"), "%s", out);
    s_sql (db, LOCK_AND_BYPASS "INSERT INTO audit.chain SELECT * FROM head_saved; COMMIT");
    cr_assert_eq (s_cli_verify (out, sizeof out), 0, "%s", out);
    PQfinish (db);

    cr_assert_eq (stack_run ("start-service audit"), 0);
    cr_assert_eq (stack_wait_status ("/readyz", 200, 30000), 200);
}
