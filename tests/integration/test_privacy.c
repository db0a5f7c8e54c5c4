/*  test_privacy - the Privacy table of the contract over HTTP at the gateway

    Preferences, the export (every section, files byte for byte through
    content_base64, memory bounded while it streams) and the deletion
    (everything of the user gone from every schema and from disk within
    10 s, tokens refused at once, idempotent, resumed after restarts), with
    the stored state checked as the database superuser.
*/
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "api.h"

TestSuite (privacy, .timeout = 180);

static const uint8_t PNG_MAGIC [8] = { 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a };

//  ---------------------------------------------------------------------
//  Helpers

typedef struct {
    char email [128];
    char name [64];
    char id [37];
    char access [API_TOKEN_MAX];
    char refresh [API_REFRESH_MAX];
} user_t;

//  A new user with a name of its own (so it can be searched for), signed in
static void
s_user (const char *tag, user_t *user)
{
    stack_http_t *res = malloc (sizeof *res);
    api_email (user->email, sizeof user->email, tag);
    //  Each test runs in a process of its own: rand () would repeat itself
    snprintf (user->name, sizeof user->name, "Quinn Vexley %d-%lld", (int) getpid (), (long long) zclock_usecs ());
    char body [512];
    snprintf (body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\",\"name\":\"%s\"}",
              user->email, API_PASSWORD, user->name);
    stack_http ("POST", "/api/v1/auth/register", NULL, body, res);
    cr_assert_eq (res->status, 201, "%s", res->body);
    json_t *reply = api_json (res);
    snprintf (user->id, sizeof user->id, "%s", api_str (reply, "id"));
    json_decref (reply);
    cr_assert_eq (api_login (user->email, API_PASSWORD, user->access, user->refresh, res), 200, "%s", res->body);
    free (res);
}

//  A mission with title and a description of description_json (JSON string
//  content) when not NULL
static void
s_mission_with (const char *access, const char *title, const char *description_json, char *id)
{
    stack_http_t *res = malloc (sizeof *res);
    size_t size = 256 + (description_json? strlen (description_json): 0);
    char *body = malloc (size);
    snprintf (body, size, "{\"title\":\"%s\",\"duration_minutes\":30%s%s%s}", title,
              description_json? ",\"description\":\"": "", description_json? description_json: "",
              description_json? "\"": "");
    //  The reply may be longer than res->body holds: read it whole
    char header [API_TOKEN_MAX + 64], *reply = NULL;
    size_t reply_len = 0;
    snprintf (header, sizeof header, "Authorization: Bearer %s", access);
    stack_http_bytes ("POST", "/api/v1/missions", header, body, strlen (body), res, &reply, &reply_len);
    cr_assert_eq (res->status, 201, "%s", res->body);
    free (body);
    json_t *mission = json_loadb (reply, reply_len, 0, NULL);
    cr_assert_not_null (mission);
    snprintf (id, 37, "%s", api_str (mission, "id"));
    json_decref (mission);
    free (reply);
    free (res);
}

static void
s_mission (const char *access, const char *title, char *id)
{
    s_mission_with (access, title, NULL, id);
}

//  size bytes of type: the right magic, then a pattern that is never text
static uint8_t *
s_file (const char *type, size_t size, unsigned seed)
{
    uint8_t *data = malloc (size + 1);
    for (size_t i = 0; i < size; i++)
        data [i] = (uint8_t) ((i * 131 + 7 + seed * 17) % 251);
    if (streq (type, "image/png"))
        memcpy (data, PNG_MAGIC, size < 8? size: 8);
    else
    if (streq (type, "text/plain"))
        for (size_t i = 0; i < size; i++)
            data [i] = (uint8_t) ("Field notes, day one. "[i % 22]);
    return data;
}

//  An upload URL for a file of size bytes; evidence id into id
static void
s_upload_url (const char *access, const char *mission, const char *type, size_t size,
              char *id, char *url, size_t url_size)
{
    stack_http_t *res = malloc (sizeof *res);
    char body [512];
    snprintf (body, sizeof body, "{\"mission_id\":\"%s\",\"filename\":\"notes \\u00e9.bin\","
              "\"content_type\":\"%s\",\"size_bytes\":%zu}", mission, type, size);
    cr_assert_eq (api_call ("POST", "/api/v1/evidence/upload-url", access, body, res), 201, "%s", res->body);
    json_t *reply = api_json (res);
    snprintf (id, 37, "%s", api_str (reply, "evidence_id"));
    snprintf (url, url_size, "%s", api_str (reply, "upload_url"));
    json_decref (reply);
    free (res);
}

//  A stored file of type and size; its id into id, its hex SHA-256 into sha
static uint8_t *
s_stored (const char *access, const char *mission, const char *type, size_t size, unsigned seed,
          char *id, char *sha)
{
    stack_http_t *res = malloc (sizeof *res);
    char url [1024], header [128];
    s_upload_url (access, mission, type, size, id, url, sizeof url);
    uint8_t *data = s_file (type, size, seed);
    snprintf (header, sizeof header, "Content-Type: %s", type);
    stack_http_bytes ("PUT", url, header, data, size, res, NULL, NULL);
    cr_assert_eq (res->status, 201, "%s", res->body);
    if (sha) {
        uint8_t digest [32];
        SHA256 (data, size, digest);
        for (int i = 0; i < 32; i++)
            sprintf (sha + 2 * i, "%02x", digest [i]);
    }
    free (res);
    return data;
}

static int
s_b64_value (char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

//  Strict padded base64 into a fresh buffer; -1 on anything malformed
static long
s_b64_decode (const char *text, uint8_t **out_p)
{
    size_t len = strlen (text);
    *out_p = malloc (len / 4 * 3 + 1);
    if (len % 4)
        return -1;
    size_t at = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v [4], pad = 0;
        for (int k = 0; k < 4; k++) {
            v [k] = text [i + k] == '=' && i + 4 == len && k >= 2? (pad++, 0): s_b64_value (text [i + k]);
            if (v [k] < 0 || (pad && text [i + k] != '='))
                return -1;
        }
        uint32_t n = (uint32_t) v [0] << 18 | (uint32_t) v [1] << 12 | (uint32_t) v [2] << 6 | (uint32_t) v [3];
        (*out_p) [at++] = (uint8_t) (n >> 16);
        if (pad < 2)
            (*out_p) [at++] = (uint8_t) (n >> 8);
        if (pad < 1)
            (*out_p) [at++] = (uint8_t) n;
    }
    return (long) at;
}

//  GET the export as access; the whole body into *data_p (caller frees)
static long
s_export (const char *access, stack_http_t *res, char **data_p, size_t *len_p)
{
    char header [API_TOKEN_MAX + 64];
    snprintf (header, sizeof header, "Authorization: Bearer %s", access);
    stack_http_bytes ("GET", "/api/v1/users/me/export", header, NULL, 0, res, data_p, len_p);
    return res->status;
}

//  The session id of access's own session
static void
s_current_session (const char *access, char *sid)
{
    stack_http_t *res = malloc (sizeof *res);
    cr_assert_eq (api_get ("/api/v1/auth/sessions", access, res), 200, "%s", res->body);
    json_t *list = api_json (res);
    json_t *item;
    size_t i;
    sid [0] = 0;
    json_array_foreach (json_object_get (list, "items"), i, item)
        if (json_is_true (json_object_get (item, "current")))
            snprintf (sid, 37, "%s", json_string_value (json_object_get (item, "id")));
    json_decref (list);
    cr_assert (sid [0], "no current session");
    free (res);
}

//  A token whose sign-in (auth_time) was 11 minutes ago: the session aged
//  in the database, then refreshed (a refresh keeps the sign-in time)
static void
s_stale_token (user_t *user, char *access)
{
    stack_http_t *res = malloc (sizeof *res);
    char sid [37], sql [512];
    s_current_session (user->access, sid);
    snprintf (sql, sizeof sql,
              "WITH u AS (UPDATE auth.sessions SET auth_time = auth_time - interval '11 minutes'"
              " WHERE id = '%s' RETURNING 1) SELECT count (*) FROM u", sid);
    cr_assert_eq (stack_db_long (sql), 1);
    cr_assert_eq (api_refresh (user->refresh, access, user->refresh, res), 200, "%s", res->body);
    free (res);
}

//  privacy.delete for uid straight over the gateway's link (a request the
//  gateway retried); CM_ACCEPTED with the job's id in deletion_id
static cm_err_t
s_delete_as_gateway (const char *uid, char *deletion_id)
{
    zcert_t *cert;
    cm_client_t *client = stack_client ("gateway", CM_SVC_PRIVACY, &cert);
    cm_ctx_t ctx = { .deadline = zclock_mono () + 5000, .auth_time = (int64_t) time (NULL) };
    snprintf (ctx.rid, sizeof ctx.rid, "privacy-test-repeat");
    snprintf (ctx.uid, sizeof ctx.uid, "%s", uid);
    proto_privacy_delete_req_t req = { 0 };
    proto_privacy_delete_rep_t rep = { 0 };
    cm_reply_info_t info;
    cm_err_t status = cm_client_call (client, &ctx, PROTO_MSG_privacy_delete, &req, &rep, &info);
    deletion_id [0] = 0;
    if (status == CM_ACCEPTED)
        snprintf (deletion_id, 37, "%s", rep.deletion_id);
    proto_clear (&proto_privacy_delete_rep_desc, &rep);
    cm_client_destroy (&client);
    zcert_destroy (&cert);
    return status;
}

static long
s_job_completed (const char *deletion_id)
{
    char sql [256];
    snprintf (sql, sizeof sql, "SELECT count (*) FROM privacy.deletions WHERE id = '%s'"
              " AND status = 'completed' AND user_id IS NULL", deletion_id);
    return stack_db_long (sql);
}

//  Rows anywhere in the service schemas that still hold the user: any
//  value with their id, email or name in auth, missions, evidence and
//  privacy; their email or name in audit (whose events keep the user id by
//  design, and nothing personal). The first offending table into where.
static long
s_leftovers (const user_t *user, char *where, size_t size)
{
    PGconn *db = stack_db ();
    PGresult *tables = PQexec (db, "SELECT table_schema, table_name FROM information_schema.tables"
                                   " WHERE table_schema IN ('auth', 'missions', 'evidence', 'privacy', 'audit')"
                                   " AND table_type = 'BASE TABLE' ORDER BY 1, 2");
    cr_assert_eq (PQresultStatus (tables), PGRES_TUPLES_OK, "%s", PQerrorMessage (db));
    long total = 0;
    where [0] = 0;
    for (int i = 0; i < PQntuples (tables); i++) {
        const char *schema = PQgetvalue (tables, i, 0), *table = PQgetvalue (tables, i, 1);
        char sql [512];
        bool audit = streq (schema, "audit");
        snprintf (sql, sizeof sql,
                  "SELECT count (*) FROM \"%s\".\"%s\" t WHERE strpos (lower (t::text), lower ($2)) > 0"
                  " OR strpos (lower (t::text), lower ($3)) > 0%s", schema, table,
                  audit? " OR $1::text IS NULL": " OR strpos (lower (t::text), $1) > 0");
        const char *params [] = { user->id, user->email, user->name };
        PGresult *count = PQexecParams (db, sql, 3, NULL, params, NULL, NULL, 0);
        cr_assert_eq (PQresultStatus (count), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage (db));
        long n = atol (PQgetvalue (count, 0, 0));
        if (n && !where [0])
            snprintf (where, size, "%s.%s (%ld)", schema, table, n);
        total += n;
        PQclear (count);
    }
    PQclear (tables);
    PQfinish (db);
    return total;
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0;
}

//  Whether an evidence id has a file on disk (stored or in progress)
static bool
s_on_disk (const char *id)
{
    char path [600];
    snprintf (path, sizeof path, "%s/evidence/files/%s", stack_env ("RUN_DIR"), id);
    bool stored = s_exists (path);
    snprintf (path, sizeof path, "%s/evidence/tmp/%s.part", stack_env ("RUN_DIR"), id);
    return stored || s_exists (path);
}

//  ---------------------------------------------------------------------
//  Preferences

static void
s_prefs_are (json_t *prefs, bool tab, bool emotion)
{
    cr_assert (json_is_boolean (json_object_get (prefs, "tab_monitoring_enabled")));
    cr_assert (json_is_boolean (json_object_get (prefs, "emotion_tracking_enabled")));
    cr_assert_eq (json_is_true (json_object_get (prefs, "tab_monitoring_enabled")), tab);
    cr_assert_eq (json_is_true (json_object_get (prefs, "emotion_tracking_enabled")), emotion);
}

Test (privacy, preferences_default_then_change_field_by_field)
{
    stack_http_t *res = malloc (sizeof *res);
    user_t user, other;
    s_user ("prefs", &user);
    s_user ("prefs-other", &other);
    const char *path = "/api/v1/users/me/preferences";

    cr_assert_eq (api_get (path, user.access, res), 200, "%s", res->body);
    json_t *prefs = api_json (res);
    s_prefs_are (prefs, false, true);
    json_decref (prefs);

    cr_assert_eq (api_call ("PUT", path, user.access, "{\"tab_monitoring_enabled\":true}", res), 200, "%s", res->body);
    prefs = api_json (res);
    s_prefs_are (prefs, true, true);
    json_decref (prefs);
    cr_assert_eq (api_call ("PUT", path, user.access, "{\"emotion_tracking_enabled\":false}", res), 200, "%s", res->body);
    prefs = api_json (res);
    s_prefs_are (prefs, true, false);
    json_decref (prefs);
    cr_assert_eq (api_call ("PUT", path, user.access,
                            "{\"tab_monitoring_enabled\":false,\"emotion_tracking_enabled\":true}", res), 200);
    cr_assert_eq (api_call ("PUT", path, user.access,
                            "{\"tab_monitoring_enabled\":true,\"emotion_tracking_enabled\":false}", res), 200);
    cr_assert_eq (api_get (path, user.access, res), 200);
    prefs = api_json (res);
    s_prefs_are (prefs, true, false);
    json_decref (prefs);

    //  Another user's are their own
    cr_assert_eq (api_get (path, other.access, res), 200);
    prefs = api_json (res);
    s_prefs_are (prefs, false, true);
    json_decref (prefs);

    //  Stored once, under the user, and only theirs (row-level security as the second lock)
    char sql [256];
    snprintf (sql, sizeof sql, "SELECT count (*) FROM privacy.preferences WHERE user_id = '%s'"
              " AND tab_monitoring_enabled AND NOT emotion_tracking_enabled", user.id);
    cr_assert_eq (stack_db_long (sql), 1);
    free (res);
}

Test (privacy, preferences_take_booleans_only)
{
    stack_http_t *res = malloc (sizeof *res);
    user_t user;
    s_user ("prefs-bad", &user);
    const char *path = "/api/v1/users/me/preferences";
    struct { const char *body; const char *field; } cases [] = {
        { "{\"tab_monitoring_enabled\":\"yes\"}", "tab_monitoring_enabled" },
        { "{\"tab_monitoring_enabled\":1}", "tab_monitoring_enabled" },
        { "{\"emotion_tracking_enabled\":null}", "emotion_tracking_enabled" },
        { "{\"tab_monitoring_enabled\":true,\"emotion_tracking_enabled\":[]}", "emotion_tracking_enabled" },
        { "{\"tab_monitoring_enabled\":true,\"mood_reading\":true}", "mood_reading" },
        { "{}", "tab_monitoring_enabled" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        cr_assert_eq (api_call ("PUT", path, user.access, cases [i].body, res), 422, "%s: %s", cases [i].body, res->body);
        json_t *reply = api_json (res);
        json_t *error = json_object_get (reply, "error");
        cr_assert_str_eq (json_string_value (json_object_get (error, "code")), "validation_failed");
        cr_assert_not_null (strstr (json_string_value (json_object_get (error, "message")), cases [i].field),
                            "%s: the message names %s: %s", cases [i].body, cases [i].field, res->body);
        json_decref (reply);
    }
    cr_assert_eq (api_call ("PUT", path, user.access, "{\"tab_monitoring_enabled\":tru", res), 400, "%s", res->body);
    cr_assert_eq (api_call ("PUT", path, user.access, "[true]", res), 400, "%s", res->body);
    char header [API_TOKEN_MAX + 128];
    snprintf (header, sizeof header, "Authorization: Bearer %s\nContent-Type: text/plain", user.access);
    stack_http ("PUT", path, header, "{\"tab_monitoring_enabled\":true}", res);
    cr_assert_eq (res->status, 415, "%s", res->body);
    //  Nothing changed, and nobody without a token gets anywhere
    cr_assert_eq (api_get (path, user.access, res), 200);
    json_t *prefs = api_json (res);
    s_prefs_are (prefs, false, true);
    json_decref (prefs);
    cr_assert_eq (api_get (path, NULL, res), 401);
    cr_assert_eq (api_call ("PUT", path, NULL, "{\"tab_monitoring_enabled\":true}", res), 401);
    free (res);
}

//  ---------------------------------------------------------------------
//  Export

//  The evidence item of the export with id
static json_t *
s_find (json_t *array, const char *id)
{
    json_t *item;
    size_t i;
    json_array_foreach (array, i, item)
        if (streq (json_string_value (json_object_get (item, "id")), id))
            return item;
    return NULL;
}

//  An export item's content_base64 equals data of size bytes
static void
s_content_is (json_t *item, const uint8_t *data, size_t size)
{
    const char *text = json_string_value (json_object_get (item, "content_base64"));
    cr_assert_not_null (text, "content_base64 is a string");
    uint8_t *bytes = NULL;
    long len = s_b64_decode (text, &bytes);
    cr_assert_eq (len, (long) size, "decoded %ld bytes of %zu", len, size);
    cr_assert_eq (memcmp (bytes, data, size), 0, "the bytes round-trip");
    free (bytes);
}

Test (privacy, export_holds_every_section_and_the_files_byte_for_byte, .timeout = 240)
{
    stack_http_t *res = malloc (sizeof *res);
    user_t user;
    s_user ("export", &user);
    //  A second session, so the export lists more than the current one
    char second [API_TOKEN_MAX];
    cr_assert_eq (api_login (user.email, API_PASSWORD, second, NULL, res), 200);
    cr_assert_eq (api_call ("PUT", "/api/v1/users/me/preferences", user.access,
                            "{\"tab_monitoring_enabled\":true}", res), 200);
    //  More missions than one page of the source (100), each with 4,000
    //  control characters that JSON escapes in 6 bytes: the missions alone
    //  fill more than two parts, so pages split between parts
    enum { MISSIONS = 105, CONTROLS = 4000 };
    char *controls = malloc (CONTROLS * 6 + 1);
    for (int i = 0; i < CONTROLS; i++)
        memcpy (controls + 6 * i, "\\u0001", 6);
    controls [CONTROLS * 6] = 0;
    char (*missions) [37] = malloc (MISSIONS * 37);
    for (int i = 0; i < MISSIONS; i++) {
        char title [32];
        snprintf (title, sizeof title, "Mission %d \\\"quoted\\\"", i);
        s_mission_with (user.access, title, controls, missions [i]);
    }
    free (controls);
    //  Files over several parts (1 MiB each) and content chunks (256 KiB,
    //  not a multiple of 3): the base64 carry crosses both
    size_t sizes [3] = { 1536 * 1024 + 17, 300 * 1024 + 1, 1000 };
    const char *types [3] = { "image/png", "image/png", "text/plain" };
    uint8_t *data [3];
    char ids [3][37], sha [3][65], pending [37], url [1024];
    for (int i = 0; i < 3; i++)
        data [i] = s_stored (user.access, missions [i], types [i], sizes [i], (unsigned) i, ids [i], sha [i]);
    s_upload_url (user.access, missions [3], "image/png", 500, pending, url, sizeof url);

    //  Someone else's data stays out of it
    user_t other;
    s_user ("export-other", &other);
    char other_mission [37];
    s_mission (other.access, "Not yours", other_mission);

    //  Every mission's creation has reached the audit trail (more than a page of it)
    char sql [256];
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.events WHERE user_id = '%s'"
              " AND type = 'mission.created'", user.id);
    int64_t until = zclock_mono () + 10000;
    while (stack_db_long (sql) < MISSIONS && zclock_mono () < until)
        zclock_sleep (100);
    cr_assert_eq (stack_db_long (sql), MISSIONS);

    char *body = NULL;
    size_t len = 0;
    cr_assert_eq (s_export (user.access, res, &body, &len), 200, "%s", res->body);
    char value [256];
    cr_assert (stack_http_header (res, "Content-Type", value, sizeof value));
    cr_assert_str_eq (value, "application/json; charset=utf-8");
    cr_assert (stack_http_header (res, "Transfer-Encoding", value, sizeof value), "streamed: %s", res->headers);
    cr_assert_str_eq (value, "chunked");
    cr_assert_not (stack_http_header (res, "Content-Length", value, sizeof value));
    cr_assert_gt (len, 2 * 1024 * 1024, "several parts: %zu bytes", len);
    json_error_t error;
    json_t *export = json_loadb (body, len, JSON_REJECT_DUPLICATES, &error);
    cr_assert_not_null (export, "one JSON document: %s at %d", error.text, error.position);
    free (body);

    //  Exactly the contract's members
    const char *members [] = { "user", "preferences", "sessions", "missions", "evidence", "audit_events",
                               "exported_at" };
    cr_assert_eq (json_object_size (export), 7);
    for (size_t i = 0; i < 7; i++)
        cr_assert_not_null (json_object_get (export, members [i]), "%s", members [i]);

    json_t *account = json_object_get (export, "user");
    cr_assert_str_eq (api_str (account, "id"), user.id);
    cr_assert_eq (strcasecmp (api_str (account, "email"), user.email), 0);
    cr_assert_str_eq (api_str (account, "name"), user.name);
    s_prefs_are (json_object_get (export, "preferences"), true, true);
    json_t *sessions = json_object_get (export, "sessions");
    cr_assert_eq (json_array_size (sessions), 2);

    json_t *listed = json_object_get (export, "missions");
    cr_assert_eq (json_array_size (listed), MISSIONS, "%zu missions", json_array_size (listed));
    for (int i = 0; i < MISSIONS; i++)
        cr_assert_not_null (s_find (listed, missions [i]), "mission %d listed once", i);
    cr_assert_null (s_find (listed, other_mission));
    cr_assert_str_eq (api_str (s_find (listed, missions [7]), "title"), "Mission 7 \"quoted\"");
    const char *description = api_str (s_find (listed, missions [MISSIONS - 1]), "description");
    cr_assert_eq (strspn (description, "\x01"), CONTROLS, "control characters round-trip");
    cr_assert_eq (strlen (description), CONTROLS);

    json_t *evidence = json_object_get (export, "evidence");
    cr_assert_eq (json_array_size (evidence), 4);
    for (int i = 0; i < 3; i++) {
        json_t *item = s_find (evidence, ids [i]);
        cr_assert_not_null (item);
        cr_assert_str_eq (api_str (item, "status"), "stored");
        cr_assert_str_eq (api_str (item, "sha256"), sha [i]);
        cr_assert_str_eq (api_str (item, "filename"), "notes \xc3\xa9.bin");
        cr_assert_eq (json_integer_value (json_object_get (item, "size_bytes")), (json_int_t) sizes [i]);
        s_content_is (item, data [i], sizes [i]);
        free (data [i]);
    }
    json_t *waiting = s_find (evidence, pending);
    cr_assert_not_null (waiting);
    cr_assert_str_eq (api_str (waiting, "status"), "pending");
    cr_assert (json_is_null (json_object_get (waiting, "content_base64")), "no content yet");

    //  The user's events, and nobody else's
    json_t *events = json_object_get (export, "audit_events");
    cr_assert (json_is_array (events));
    bool registered = false;
    int created = 0;
    json_t *event, *seen = json_object ();
    size_t i;
    json_array_foreach (events, i, event) {
        cr_assert_str_eq (api_str (event, "user_id"), user.id);
        registered = registered || streq (api_str (event, "type"), "auth.register");
        created += streq (api_str (event, "type"), "mission.created");
        cr_assert_null (json_object_get (seen, api_str (event, "id")), "each event once");
        json_object_set_new (seen, api_str (event, "id"), json_true ());
    }
    json_decref (seen);
    cr_assert (registered, "the sign-up is among the user's events");
    cr_assert_eq (created, MISSIONS, "every page of the user's events");
    const char *at = api_str (export, "exported_at");
    cr_assert_eq (strlen (at), 24, "RFC 3339 UTC: %s", at);
    json_decref (export);

    //  The export itself is on record
    snprintf (sql, sizeof sql, "SELECT count (*) FROM privacy.audit_outbox WHERE user_id = '%s'"
              " AND type = 'privacy.export'", user.id);
    long outbox = stack_db_long (sql);
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.events WHERE user_id = '%s'"
              " AND type = 'privacy.export'", user.id);
    until = zclock_mono () + 5000;
    long stored = 0;
    while (outbox + (stored = stack_db_long (sql)) < 1 && zclock_mono () < until)
        zclock_sleep (100);
    cr_assert_geq (outbox + stored, 1, "privacy.export recorded");
    free (missions);
    free (res);
}

Test (privacy, an_empty_account_exports_empty_arrays)
{
    stack_http_t *res = malloc (sizeof *res);
    user_t user;
    s_user ("export-empty", &user);
    char *body = NULL;
    size_t len = 0;
    cr_assert_eq (s_export (user.access, res, &body, &len), 200, "%s", res->body);
    json_t *export = json_loadb (body, len, JSON_REJECT_DUPLICATES, NULL);
    cr_assert_not_null (export, "%s", body);
    cr_assert_eq (json_array_size (json_object_get (export, "missions")), 0);
    cr_assert_eq (json_array_size (json_object_get (export, "evidence")), 0);
    cr_assert_eq (json_array_size (json_object_get (export, "sessions")), 1);
    s_prefs_are (json_object_get (export, "preferences"), false, true);
    json_decref (export);
    free (body);

    //  An HTTP/1.0 client knows no chunks: the body ends with the connection
    char url [256], header [API_TOKEN_MAX + 64], head [4096] = "";
    snprintf (url, sizeof url, "http://127.0.0.1:%s/api/v1/users/me/export", stack_env ("GATEWAY_HTTP_PORT"));
    snprintf (header, sizeof header, "Authorization: Bearer %s", user.access);
    FILE *out = open_memstream (&body, &len);
    FILE *heads = fmemopen (head, sizeof head - 1, "w");
    CURL *curl = curl_easy_init ();
    struct curl_slist *headers = curl_slist_append (NULL, header);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_0);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, out);
    curl_easy_setopt (curl, CURLOPT_HEADERDATA, heads);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 10000L);
    CURLcode code = curl_easy_perform (curl);
    long status = 0;
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
    fclose (out);
    fclose (heads);
    cr_assert_eq (code, CURLE_OK, "%s", curl_easy_strerror (code));
    cr_assert_eq (status, 200);
    cr_assert_null (strcasestr (head, "Transfer-Encoding"), "%s", head);
    cr_assert_not_null (strcasestr (head, "Connection: close"), "%s", head);
    export = json_loadb (body, len, JSON_REJECT_DUPLICATES, NULL);
    cr_assert_not_null (export, "%s", body);
    json_decref (export);
    free (body);
    free (res);
}

Test (privacy, export_needs_a_recent_sign_in)
{
    stack_http_t *res = malloc (sizeof *res);
    user_t user;
    s_user ("export-stale", &user);
    char stale [API_TOKEN_MAX];
    s_stale_token (&user, stale);
    cr_assert_eq (api_get ("/api/v1/users/me/export", stale, res), 403, "%s", res->body);
    cr_assert_not_null (strstr (res->body, "\"code\":\"reauth_required\""), "%s", res->body);
    cr_assert_eq (api_get ("/api/v1/users/me/export", NULL, res), 401);
    free (res);
}

//  ---------------------------------------------------------------------
//  Export memory: 10 files of 10 MiB, peak RSS of every process

//  Follows the export as it streams: the content_base64 strings decoded
//  into SHA-256 digests, nothing of the body kept
typedef struct {
    const char *pattern;            //  "\"content_base64\":\""
    size_t matched;                 //  of pattern, so far
    bool inside;                    //  decoding a content string
    EVP_MD_CTX *sha;                //  of the content being decoded
    uint8_t quad [4];
    int quad_len;
    bool bad;                       //  a character outside base64
    char digests [16][65];          //  one per content seen
    int count;
    size_t bytes;                   //  of the body
} scan_t;

static void
s_scan_char (scan_t *scan, char c)
{
    if (!scan->inside) {
        scan->matched = c == scan->pattern [scan->matched]? scan->matched + 1: c == scan->pattern [0]? 1: 0;
        if (scan->pattern [scan->matched] == 0) {
            scan->inside = true;
            scan->matched = 0;
            scan->quad_len = 0;
            EVP_DigestInit_ex (scan->sha, EVP_sha256 (), NULL);
        }
        return;
    }
    if (c == '"') {
        uint8_t digest [32];
        unsigned int digest_len = 0;
        EVP_DigestFinal_ex (scan->sha, digest, &digest_len);
        scan->bad = scan->bad || scan->quad_len != 0 || scan->count == 16;
        if (scan->count < 16) {
            for (int i = 0; i < 32; i++)
                sprintf (scan->digests [scan->count] + 2 * i, "%02x", digest [i]);
            scan->count++;
        }
        scan->inside = false;
        return;
    }
    int v = c == '='? 0: s_b64_value (c);
    if (v < 0) {
        scan->bad = true;
        return;
    }
    scan->quad [scan->quad_len++] = (uint8_t) v;
    if (c == '=')
        scan->quad [scan->quad_len - 1] = 64;
    if (scan->quad_len == 4) {
        uint32_t n = (uint32_t) (scan->quad [0] & 63) << 18 | (uint32_t) (scan->quad [1] & 63) << 12
                   | (uint32_t) (scan->quad [2] & 63) << 6 | (uint32_t) (scan->quad [3] & 63);
        uint8_t out [3] = { (uint8_t) (n >> 16), (uint8_t) (n >> 8), (uint8_t) n };
        size_t keep = scan->quad [2] == 64? 1: scan->quad [3] == 64? 2: 3;
        EVP_DigestUpdate (scan->sha, out, keep);
        scan->quad_len = 0;
    }
}

static size_t
s_scan_sink (char *ptr, size_t size, size_t nmemb, void *arg)
{
    scan_t *scan = (scan_t *) arg;
    for (size_t i = 0; i < size * nmemb; i++)
        s_scan_char (scan, ptr [i]);
    scan->bytes += size * nmemb;
    return size * nmemb;
}

//  A status line of /proc/<pid>/status in KiB (VmHWM, VmRSS), -1 when unknown
static long
s_status_kib (int pid, const char *key)
{
    char path [64], line [256];
    snprintf (path, sizeof path, "/proc/%d/status", pid);
    FILE *file = fopen (path, "r");
    long value = -1;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, key, strlen (key)) == 0 && line [strlen (key)] == ':')
            value = atol (line + strlen (key) + 1);
    if (file)
        fclose (file);
    return value;
}

//  Reset the peak (VmHWM) to the current RSS; false when not allowed
static bool
s_reset_peak (int pid)
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/clear_refs", pid);
    FILE *file = fopen (path, "w");
    if (!file)
        return false;
    bool ok = fputs ("5", file) >= 0;
    return fclose (file) == 0 && ok;
}

Test (privacy, export_of_100_mib_streams_in_bounded_memory, .timeout = 900)
{
    stack_http_t *res = malloc (sizeof *res);
    user_t user;
    s_user ("export-big", &user);
    enum { FILES = 10 };
    const size_t size = 10 * 1024 * 1024;
    char mission [37], ids [FILES][37], sha [FILES][65];
    s_mission (user.access, "Ten big files", mission);
    for (int i = 0; i < FILES; i++)
        free (s_stored (user.access, mission, "image/png", size, (unsigned) i + 100, ids [i], sha [i]));

    //  Peaks from here on: the uploads above are not the export's
    const char *services [] = { "gateway", "auth", "missions", "evidence", "privacy", "audit" };
    int pids [6];
    long before [6];
    bool reset = true;
    for (int i = 0; i < 6; i++) {
        pids [i] = stack_pid_of (services [i]);
        cr_assert_gt (pids [i], 0, "pid of %s", services [i]);
        reset = s_reset_peak (pids [i]) && reset;
        before [i] = s_status_kib (pids [i], "VmRSS");
    }
    scan_t scan = { .pattern = "\"content_base64\":\"", .sha = EVP_MD_CTX_new () };
    CURL *curl = curl_easy_init ();
    char url [256], header [API_TOKEN_MAX + 64];
    snprintf (url, sizeof url, "http://127.0.0.1:%s/api/v1/users/me/export", stack_env ("GATEWAY_HTTP_PORT"));
    snprintf (header, sizeof header, "Authorization: Bearer %s", user.access);
    struct curl_slist *headers = curl_slist_append (NULL, header);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_scan_sink);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &scan);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 600000L);
    int64_t started = zclock_mono ();
    CURLcode code = curl_easy_perform (curl);
    int64_t took = zclock_mono () - started;
    long status = 0;
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
    EVP_MD_CTX_free (scan.sha);
    cr_assert_eq (code, CURLE_OK, "%s", curl_easy_strerror (code));
    cr_assert_eq (status, 200);

    //  Every file came through whole
    cr_assert_not (scan.bad, "well-formed base64");
    cr_assert_eq (scan.count, FILES);
    for (int i = 0; i < FILES; i++) {
        bool found = false;
        for (int k = 0; k < scan.count; k++)
            found = found || streq (scan.digests [k], sha [i]);
        cr_assert (found, "file %d round-trips", i);
    }
    cr_log_info ("export of %d x %zu bytes: %zu bytes in %lld ms (peak reset: %s)", FILES, size,
                 scan.bytes, (long long) took, reset? "yes": "no, peaks since start");
    for (int i = 0; i < 6; i++) {
        long peak = s_status_kib (pids [i], "VmHWM");
        cr_log_info ("peak RSS %-8s %6ld KiB (RSS before %6ld KiB)", services [i], peak, before [i]);
#if !defined(__SANITIZE_ADDRESS__)
        //  Memory does not grow with what the user owns: far below the
        //  140 MB document (sanitizer builds keep freed memory in quarantine)
        if (reset && (streq (services [i], "gateway") || streq (services [i], "privacy")
                      || streq (services [i], "evidence")))
            cr_assert_lt (peak, before [i] + 48 * 1024, "%s grew by %ld KiB", services [i], peak - before [i]);
#endif
    }
    free (res);
}

//  ---------------------------------------------------------------------
//  Deletion

Test (privacy, deletion_leaves_nothing_of_the_user_within_10_s)
{
    stack_http_t *res = malloc (sizeof *res);
    user_t user;
    s_user ("delete", &user);
    char second [API_TOKEN_MAX];
    cr_assert_eq (api_login (user.email, API_PASSWORD, second, NULL, res), 200);
    cr_assert_eq (api_call ("PUT", "/api/v1/users/me/preferences", user.access,
                            "{\"emotion_tracking_enabled\":false}", res), 200);
    char missions [2][37], files [2][37], part [37], url [1024];
    s_mission (user.access, "Going away", missions [0]);
    s_mission (user.access, "Also going", missions [1]);
    free (s_stored (user.access, missions [0], "image/png", 300 * 1024, 1, files [0], NULL));
    free (s_stored (user.access, missions [1], "text/plain", 5000, 2, files [1], NULL));
    s_upload_url (user.access, missions [1], "image/png", 100, part, url, sizeof url);
    for (int i = 0; i < 2; i++)
        cr_assert (s_on_disk (files [i]));
    char sql [512];
    snprintf (sql, sizeof sql, "SELECT count (*) FROM evidence.user_keys WHERE user_id = '%s'", user.id);
    cr_assert_eq (stack_db_long (sql), 1, "the user has a data key");
    //  Audit has had time to receive the events that name the user
    zclock_sleep (300);

    int64_t asked = zclock_mono ();
    cr_assert_eq (api_call ("DELETE", "/api/v1/users/me", user.access, NULL, res), 202, "%s", res->body);
    json_t *job = api_json (res);
    char deletion_id [37];
    snprintf (deletion_id, sizeof deletion_id, "%s", api_str (job, "deletion_id"));
    cr_assert (strlen (api_str (job, "status")) > 0);
    json_decref (job);

    //  Tokens are refused at once, every session's
    cr_assert_eq (api_get ("/api/v1/users/me", user.access, res), 401, "%s", res->body);
    cr_assert_eq (api_get ("/api/v1/missions", second, res), 401, "%s", res->body);
    cr_assert_eq (api_login (user.email, API_PASSWORD, NULL, NULL, res), 401, "no new sign-in: %s", res->body);

    //  Within 10 s: the job is done and nothing of the user is left
    char where [256] = "";
    long left = -1;
    bool completed = false;
    do {
        completed = completed || s_job_completed (deletion_id) == 1;
        if (completed && (left = s_leftovers (&user, where, sizeof where)) == 0)
            break;
        zclock_sleep (100);
    } while (zclock_mono () - asked < 10000);
    int64_t took = zclock_mono () - asked;
    cr_log_info ("deletion %s complete and verified after %lld ms", deletion_id, (long long) took);
    cr_assert (completed, "the deletion completed within 10 s");
    cr_assert_eq (left, 0, "nothing of the user in any schema (first: %s)", where);
    cr_assert_leq (took, 10000);
    for (int i = 0; i < 2; i++)
        cr_assert_not (s_on_disk (files [i]), "the file %s is gone from disk", files [i]);
    cr_assert_not (s_on_disk (part));
    snprintf (sql, sizeof sql, "SELECT count (*) FROM privacy.deletion_steps WHERE deletion_id = '%s'"
              " AND done_at IS NOT NULL", deletion_id);
    cr_assert_eq (stack_db_long (sql), 6, "every step acknowledged");
    cr_assert (api_mail_with (user.email, "deleted"), "the user is told");

    //  The same email signs up again and finds nothing of the old account
    char body [512];
    snprintf (body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", user.email, API_PASSWORD);
    stack_http ("POST", "/api/v1/auth/register", NULL, body, res);
    cr_assert_eq (res->status, 201, "%s", res->body);
    json_t *again = api_json (res);
    cr_assert_str_neq (api_str (again, "id"), user.id);
    cr_assert (json_is_null (json_object_get (again, "name")), "%s", res->body);
    json_decref (again);
    char fresh [API_TOKEN_MAX];
    cr_assert_eq (api_login (user.email, API_PASSWORD, fresh, NULL, res), 200, "%s", res->body);
    cr_assert_eq (api_get ("/api/v1/missions", fresh, res), 200);
    cr_assert_not_null (strstr (res->body, "\"items\":[]"), "%s", res->body);
    char path [128];
    snprintf (path, sizeof path, "/api/v1/missions/%s", missions [0]);
    cr_assert_eq (api_get (path, fresh, res), 404);
    snprintf (path, sizeof path, "/api/v1/evidence/%s", files [0]);
    cr_assert_eq (api_get (path, fresh, res), 404);
    cr_assert_eq (api_get ("/api/v1/users/me/preferences", fresh, res), 200);
    json_t *prefs = api_json (res);
    s_prefs_are (prefs, false, true);
    json_decref (prefs);
    cr_assert_eq (api_get ("/api/v1/auth/sessions", fresh, res), 200);
    json_t *sessions = api_json (res);
    cr_assert_eq (json_array_size (json_object_get (sessions, "items")), 1);
    json_decref (sessions);
    free (res);
}

//  Whatever a test that stops services leaves, the next finds them running
static void
s_services_back (void)
{
    stack_run ("start-service missions");
    stack_run ("start-service privacy");
}

Test (privacy, deletion_is_idempotent_and_resumes_after_restarts, .timeout = 240, .fini = s_services_back)
{
    stack_http_t *res = malloc (sizeof *res);
    user_t user;
    s_user ("delete-resume", &user);
    char mission [37], file [37];
    s_mission (user.access, "Outlives a restart", mission);
    free (s_stored (user.access, mission, "text/plain", 2000, 3, file, NULL));

    //  missions is down: the job cannot finish yet
    cr_assert_eq (stack_run ("stop-service missions"), 0);
    cr_assert_eq (api_call ("DELETE", "/api/v1/users/me", user.access, NULL, res), 202, "%s", res->body);
    json_t *job = api_json (res);
    char deletion_id [37], repeated [37];
    snprintf (deletion_id, sizeof deletion_id, "%s", api_str (job, "deletion_id"));
    cr_assert_str_eq (api_str (job, "status"), "pending");
    json_decref (job);
    //  The token is refused at once, so the client cannot ask again; a
    //  request the gateway repeats gets the same job
    cr_assert_eq (api_call ("DELETE", "/api/v1/users/me", user.access, NULL, res), 401, "%s", res->body);
    cr_assert_eq (s_delete_as_gateway (user.id, repeated), CM_ACCEPTED);
    cr_assert_str_eq (repeated, deletion_id, "asking again returns the job in hand");
    char sql [512];
    snprintf (sql, sizeof sql, "SELECT count (*) FROM privacy.deletions WHERE user_id = '%s'", user.id);
    cr_assert_eq (stack_db_long (sql), 1, "one job");

    //  The missions step is tried and fails, and waits with backoff
    snprintf (sql, sizeof sql, "SELECT count (*) FROM privacy.deletion_steps WHERE deletion_id = '%s'"
              " AND step = 'missions' AND done_at IS NULL AND attempts > 0", deletion_id);
    int64_t until = zclock_mono () + 10000;
    while (stack_db_long (sql) != 1 && zclock_mono () < until)
        zclock_sleep (100);
    cr_assert_eq (stack_db_long (sql), 1, "the missions step was attempted");
    snprintf (sql, sizeof sql, "SELECT count (*) FROM privacy.deletion_steps WHERE deletion_id = '%s'"
              " AND step = 'sessions' AND done_at IS NOT NULL", deletion_id);
    cr_assert_eq (stack_db_long (sql), 1, "sessions ended before the answer");

    //  privacy itself restarts mid-way, then missions comes back
    cr_assert_eq (stack_run ("stop-service privacy"), 0);
    cr_assert_eq (stack_run ("start-service privacy"), 0);
    cr_assert_eq (s_job_completed (deletion_id), 0, "still pending while missions is down");
    cr_assert_eq (stack_run ("start-service missions"), 0);
    until = zclock_mono () + 45000;
    while (s_job_completed (deletion_id) != 1 && zclock_mono () < until)
        zclock_sleep (200);
    cr_assert_eq (s_job_completed (deletion_id), 1, "the job resumed and completed");
    snprintf (sql, sizeof sql, "SELECT count (*) FROM missions.missions WHERE user_id = '%s'", user.id);
    cr_assert_eq (stack_db_long (sql), 0);
    snprintf (sql, sizeof sql, "SELECT count (*) FROM auth.users WHERE id = '%s'", user.id);
    cr_assert_eq (stack_db_long (sql), 0);
    cr_assert_not (s_on_disk (file));
    cr_assert_eq (stack_wait_status ("/readyz", 200, 20000), 200);
    free (res);
}

Test (privacy, deletion_needs_a_recent_sign_in)
{
    stack_http_t *res = malloc (sizeof *res);
    user_t user;
    s_user ("delete-stale", &user);
    char stale [API_TOKEN_MAX];
    s_stale_token (&user, stale);
    cr_assert_eq (api_call ("DELETE", "/api/v1/users/me", stale, NULL, res), 403, "%s", res->body);
    cr_assert_not_null (strstr (res->body, "\"code\":\"reauth_required\""), "%s", res->body);
    //  Nothing happened: no job, the account works
    char sql [256];
    snprintf (sql, sizeof sql, "SELECT count (*) FROM privacy.deletions WHERE user_id = '%s'", user.id);
    cr_assert_eq (stack_db_long (sql), 0);
    cr_assert_eq (api_get ("/api/v1/users/me", stale, res), 200, "%s", res->body);
    cr_assert_eq (api_call ("DELETE", "/api/v1/users/me", NULL, NULL, res), 401);
    free (res);
}

//  An erase or list message from a peer that is not privacy
static cm_err_t
s_erase_as (const char *as, cm_svc_t target, int msg_id, const char *uid)
{
    zcert_t *cert;
    cm_client_t *client = stack_client (as, target, &cert);
    cm_ctx_t ctx = { .deadline = zclock_mono () + 3000 };
    snprintf (ctx.rid, sizeof ctx.rid, "privacy-test-peer");
    snprintf (ctx.uid, sizeof ctx.uid, "%s", uid);
    uint8_t req [256] = { 0 }, rep [256] = { 0 };
    cr_assert_leq (proto_msgs [msg_id].req->size, sizeof req);
    cr_assert_leq (proto_msgs [msg_id].rep->size, sizeof rep);
    cm_reply_info_t info;
    cm_err_t status = cm_client_call (client, &ctx, msg_id, req, rep, &info);
    proto_clear (proto_msgs [msg_id].rep, rep);
    cm_client_destroy (&client);
    zcert_destroy (&cert);
    return status;
}

Test (privacy, only_privacy_may_erase_or_list_a_user)
{
    stack_http_t *res = malloc (sizeof *res);
    user_t user;
    s_user ("not-erased", &user);
    char mission [37], file [37];
    s_mission (user.access, "Stays", mission);
    free (s_stored (user.access, mission, "text/plain", 100, 4, file, NULL));
    struct { const char *as; cm_svc_t target; int msg_id; } cases [] = {
        { "gateway",  CM_SVC_AUTH,     PROTO_MSG_auth_revoke_all },
        { "gateway",  CM_SVC_AUTH,     PROTO_MSG_auth_erase_user },
        { "gateway",  CM_SVC_MISSIONS, PROTO_MSG_missions_erase_user },
        { "gateway",  CM_SVC_EVIDENCE, PROTO_MSG_evidence_erase_user },
        { "gateway",  CM_SVC_EVIDENCE, PROTO_MSG_evidence_list_user },
        { "missions", CM_SVC_EVIDENCE, PROTO_MSG_evidence_erase_user },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++)
        cr_assert_eq (s_erase_as (cases [i].as, cases [i].target, cases [i].msg_id, user.id), CM_FORBIDDEN,
                      "%s -> %s", cases [i].as, proto_msgs [cases [i].msg_id].name);
    //  Everything is still there
    cr_assert_eq (api_get ("/api/v1/users/me", user.access, res), 200, "%s", res->body);
    char path [128];
    snprintf (path, sizeof path, "/api/v1/evidence/%s/content", file);
    cr_assert_eq (api_get (path, user.access, res), 200, "%s", res->body);
    free (res);
}
