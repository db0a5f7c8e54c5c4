/*  test_missions - the Missions table of the contract over HTTP at the gateway */
#include <criterion/criterion.h>
#include "api.h"

TestSuite (missions, .timeout = 120);

//  POST /api/v1/missions; returns the status, the new id into id (37) on 201
static long
s_create (const char *access, const char *body, char *id, stack_http_t *res)
{
    long status = api_call ("POST", "/api/v1/missions", access, body, res);
    if (status == 201 && id) {
        json_t *mission = api_json (res);
        snprintf (id, 37, "%s", api_str (mission, "id"));
        json_decref (mission);
    }
    return status;
}

//  A 422 whose message names field first
static void
s_assert_invalid (const stack_http_t *res, const char *field)
{
    cr_assert_eq (res->status, 422, "%ld %s", res->status, res->body);
    json_t *body = api_json (res);
    json_t *error = json_object_get (body, "error");
    cr_assert_str_eq (api_str (error, "code"), "validation_failed");
    const char *message = api_str (error, "message");
    cr_assert_eq (strncmp (message, field, strlen (field)), 0, "'%s' does not name %s", message, field);
    json_decref (body);
}

static void
s_repeat (char *out, const char *piece, size_t count)
{
    *out = 0;
    for (size_t i = 0; i < count; i++)
        strcat (out, piece);
}

Test (missions, create_read_update_delete)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], id [37], path [96];
    api_new_user ("crud", access, NULL);

    cr_assert_eq (s_create (access, "{\"title\":\"  Survey the north ridge \",\"duration_minutes\":90}",
                            id, res), 201, "%s", res->body);
    json_t *mission = api_json (res);
    cr_assert_str_eq (api_str (mission, "title"), "Survey the north ridge", "the title is stored trimmed");
    cr_assert (json_is_null (json_object_get (mission, "description")), "%s", res->body);
    cr_assert_eq (json_integer_value (json_object_get (mission, "duration_minutes")), 90);
    cr_assert_str_eq (api_str (mission, "status"), "pending", "the default status");
    cr_assert_eq (strlen (api_str (mission, "created_at")), 24, "RFC 3339 UTC: %s", api_str (mission, "created_at"));
    cr_assert_eq (api_str (mission, "created_at") [23], 'Z');
    char created [32];
    snprintf (created, sizeof created, "%s", api_str (mission, "created_at"));
    json_decref (mission);

    snprintf (path, sizeof path, "/api/v1/missions/%s", id);
    cr_assert_eq (api_get (path, access, res), 200, "%s", res->body);
    cr_assert_not_null (strstr (res->body, "\"Survey the north ridge\""));

    zclock_sleep (5);
    cr_assert_eq (api_call ("PATCH", path, access,
                            "{\"status\":\"in_progress\",\"description\":\"Bring rope\"}", res), 200, "%s", res->body);
    mission = api_json (res);
    cr_assert_str_eq (api_str (mission, "status"), "in_progress");
    cr_assert_str_eq (api_str (mission, "description"), "Bring rope");
    cr_assert_str_eq (api_str (mission, "title"), "Survey the north ridge", "untouched fields stay");
    cr_assert_str_eq (api_str (mission, "created_at"), created);
    cr_assert_gt (strcmp (api_str (mission, "updated_at"), created), 0, "updated_at moves on");
    json_decref (mission);
    //  description back to null
    cr_assert_eq (api_call ("PATCH", path, access, "{\"description\":null}", res), 200, "%s", res->body);
    cr_assert_not_null (strstr (res->body, "\"description\":null"), "%s", res->body);

    cr_assert_eq (api_call ("DELETE", path, access, NULL, res), 204, "%s", res->body);
    cr_assert_eq (api_get (path, access, res), 404);
    cr_assert_eq (api_call ("DELETE", path, access, NULL, res), 404);
    free (res);
}

Test (missions, validation_on_both_sides_of_every_limit)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], id [37];
    api_new_user ("rules", access, NULL);
    char *body = malloc (32768), *text = malloc (24000);

    //  title: 1..200 characters after trimming (counted as characters, not bytes)
    s_create (access, "{\"title\":\"\",\"duration_minutes\":30}", NULL, res);
    s_assert_invalid (res, "title");
    s_create (access, "{\"title\":\"   \",\"duration_minutes\":30}", NULL, res);
    s_assert_invalid (res, "title");
    s_create (access, "{\"duration_minutes\":30}", NULL, res);
    s_assert_invalid (res, "title");
    s_create (access, "{\"title\":42,\"duration_minutes\":30}", NULL, res);
    s_assert_invalid (res, "title");
    s_repeat (text, "a", 200);
    snprintf (body, 32768, "{\"title\":\"%s\",\"duration_minutes\":30}", text);
    cr_assert_eq (s_create (access, body, NULL, res), 201, "200 characters: %s", res->body);
    s_repeat (text, "a", 201);
    snprintf (body, 32768, "{\"title\":\"%s\",\"duration_minutes\":30}", text);
    s_create (access, body, NULL, res);
    s_assert_invalid (res, "title");
    s_repeat (text, "\xc3\xa9", 200);            //  é: 400 bytes, 200 characters
    snprintf (body, 32768, "{\"title\":\"%s\",\"duration_minutes\":30}", text);
    cr_assert_eq (s_create (access, body, NULL, res), 201, "200 two-byte characters: %s", res->body);

    //  description: up to 5,000 characters
    s_repeat (text, "d", 5000);
    snprintf (body, 32768, "{\"title\":\"t\",\"description\":\"%s\",\"duration_minutes\":30}", text);
    cr_assert_eq (s_create (access, body, NULL, res), 201, "%s", res->body);
    s_repeat (text, "d", 5001);
    snprintf (body, 32768, "{\"title\":\"t\",\"description\":\"%s\",\"duration_minutes\":30}", text);
    s_create (access, body, NULL, res);
    s_assert_invalid (res, "description");
    s_create (access, "{\"title\":\"t\",\"description\":7,\"duration_minutes\":30}", NULL, res);
    s_assert_invalid (res, "description");

    //  duration_minutes: an integer 1..480
    const char *bad_durations [] = { "0", "481", "-5", "\"30\"", "30.5", "true", "null", "1e2" };
    for (size_t i = 0; i < sizeof bad_durations / sizeof bad_durations [0]; i++) {
        snprintf (body, 32768, "{\"title\":\"t\",\"duration_minutes\":%s}", bad_durations [i]);
        s_create (access, body, NULL, res);
        s_assert_invalid (res, "duration_minutes");
    }
    s_create (access, "{\"title\":\"t\"}", NULL, res);
    s_assert_invalid (res, "duration_minutes");
    cr_assert_eq (s_create (access, "{\"title\":\"t\",\"duration_minutes\":1}", NULL, res), 201);
    cr_assert_eq (s_create (access, "{\"title\":\"t\",\"duration_minutes\":480}", NULL, res), 201);

    //  status: one of three
    s_create (access, "{\"title\":\"t\",\"duration_minutes\":5,\"status\":\"done\"}", NULL, res);
    s_assert_invalid (res, "status");
    s_create (access, "{\"title\":\"t\",\"duration_minutes\":5,\"status\":\"PENDING\"}", NULL, res);
    s_assert_invalid (res, "status");
    cr_assert_eq (s_create (access, "{\"title\":\"t\",\"duration_minutes\":5,\"status\":\"completed\"}", id, res), 201);

    //  The same rules on PATCH, and a refused PATCH changes nothing
    char path [96];
    snprintf (path, sizeof path, "/api/v1/missions/%s", id);
    api_call ("PATCH", path, access, "{\"duration_minutes\":481}", res);
    s_assert_invalid (res, "duration_minutes");
    api_call ("PATCH", path, access, "{\"title\":\"  \"}", res);
    s_assert_invalid (res, "title");
    api_call ("PATCH", path, access, "{\"status\":\"nope\",\"title\":\"changed\"}", res);
    s_assert_invalid (res, "status");
    cr_assert_eq (api_get (path, access, res), 200);
    cr_assert_not_null (strstr (res->body, "\"title\":\"t\""), "nothing changed: %s", res->body);
    cr_assert_not_null (strstr (res->body, "\"status\":\"completed\""), "%s", res->body);

    //  Malformed bodies
    cr_assert_eq (s_create (access, "{\"title\":", NULL, res), 400, "%s", res->body);
    cr_assert_eq (s_create (access, "[1,2]", NULL, res), 400, "%s", res->body);
    char header [API_TOKEN_MAX + 64];
    snprintf (header, sizeof header, "Authorization: Bearer %s\nContent-Type: text/plain", access);
    stack_http ("POST", "/api/v1/missions", header, "{\"title\":\"t\",\"duration_minutes\":5}", res);
    cr_assert_eq (res->status, 415, "%s", res->body);
    free (body);
    free (text);
    free (res);
}

Test (missions, text_is_stored_as_given_and_never_html)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], id [37], path [96];
    api_new_user ("xss", access, NULL);
    const char *body = "{\"title\":\"<script>alert(1)</script>\",\"description\":\"</textarea>\\\"'&amp;\",\"duration_minutes\":5}";
    cr_assert_eq (s_create (access, body, id, res), 201, "%s", res->body);
    snprintf (path, sizeof path, "/api/v1/missions/%s", id);
    cr_assert_eq (api_get (path, access, res), 200);
    json_t *mission = api_json (res);
    cr_assert_str_eq (api_str (mission, "title"), "<script>alert(1)</script>");
    cr_assert_str_eq (api_str (mission, "description"), "</textarea>\"'&amp;");
    json_decref (mission);
    char type [128];
    cr_assert (stack_http_header (res, "Content-Type", type, sizeof type));
    cr_assert_not_null (strstr (type, "application/json"), "%s", type);
    free (res);
}

Test (missions, another_users_mission_is_not_found_on_every_verb)
{
    stack_http_t *res = malloc (sizeof *res);
    char alice [API_TOKEN_MAX], bob [API_TOKEN_MAX], id [37], path [96];
    api_new_user ("alice", alice, NULL);
    api_new_user ("bob", bob, NULL);
    cr_assert_eq (s_create (alice, "{\"title\":\"Alice's\",\"duration_minutes\":10}", id, res), 201);
    snprintf (path, sizeof path, "/api/v1/missions/%s", id);

    cr_assert_eq (api_get (path, bob, res), 404, "%s", res->body);
    cr_assert_not_null (strstr (res->body, "\"not_found\""), "%s", res->body);
    cr_assert_eq (api_call ("PATCH", path, bob, "{\"title\":\"Bob was here\"}", res), 404);
    cr_assert_eq (api_call ("DELETE", path, bob, NULL, res), 404);
    cr_assert_eq (api_get ("/api/v1/missions", bob, res), 200);
    cr_assert_null (strstr (res->body, id), "Bob's list shows nothing of Alice's");

    //  Alice's mission is untouched
    cr_assert_eq (api_get (path, alice, res), 200);
    cr_assert_not_null (strstr (res->body, "\"Alice's\""), "%s", res->body);
    //  Not a UUID, or unknown: 404 too; no token: 401
    cr_assert_eq (api_get ("/api/v1/missions/not-a-uuid", alice, res), 404);
    cr_assert_eq (api_get ("/api/v1/missions/00000000-0000-4000-8000-000000000000", alice, res), 404);
    cr_assert_eq (api_get (path, NULL, res), 401);
    cr_assert_eq (api_call ("POST", "/api/v1/missions", NULL, "{\"title\":\"t\",\"duration_minutes\":5}", res), 401);
    free (res);
}

Test (missions, the_database_itself_hides_other_users_rows)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], user_id [37];
    api_new_user ("rls", access, user_id);
    cr_assert_eq (s_create (access, "{\"title\":\"mine\",\"duration_minutes\":10}", NULL, res), 201);
    //  As the service's own role, a query that forgets its filter sees nothing
    //  unless the transaction says whose rows it works on
    long all = stack_db_long ("SELECT count (*) FROM missions.missions");
    cr_assert_gt (all, 0);
    PGconn *db = stack_db ();
    PGresult *r = PQexec (db, "SET ROLE missions_svc");
    cr_assert_eq (PQresultStatus (r), PGRES_COMMAND_OK, "%s", PQerrorMessage (db));
    PQclear (r);
    r = PQexec (db, "SELECT count (*) FROM missions.missions");
    cr_assert_eq (PQresultStatus (r), PGRES_TUPLES_OK, "%s", PQerrorMessage (db));
    cr_assert_str_eq (PQgetvalue (r, 0, 0), "0", "no user set: no rows");
    PQclear (r);
    char sql [256];
    snprintf (sql, sizeof sql, "BEGIN; SELECT set_config ('app.user_id', '%s', true);", user_id);
    PQclear (PQexec (db, sql));
    r = PQexec (db, "SELECT count (*) FROM missions.missions");
    cr_assert_str_eq (PQgetvalue (r, 0, 0), "1", "only this user's row");
    PQclear (r);
    //  and it cannot write a row for someone else
    r = PQexec (db, "INSERT INTO missions.missions (user_id, title, duration_minutes, status)"
                    " VALUES ('00000000-0000-4000-8000-000000000000', 'x', 5, 'pending')");
    cr_assert_eq (PQresultStatus (r), PGRES_FATAL_ERROR, "row-level security refuses the insert");
    PQclear (r);
    PQclear (PQexec (db, "ROLLBACK"));
    PQfinish (db);
    free (res);
}

Test (missions, pages_are_newest_first_and_hold_every_item_once)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], ids [25][37], body [128];
    api_new_user ("pages", access, NULL);
    for (int i = 0; i < 25; i++) {
        snprintf (body, sizeof body, "{\"title\":\"m%02d\",\"duration_minutes\":%d}", i, i + 1);
        cr_assert_eq (s_create (access, body, ids [i], res), 201, "%s", res->body);
    }
    //  Default page: 20
    cr_assert_eq (api_get ("/api/v1/missions", access, res), 200);
    json_t *page = api_json (res);
    cr_assert_eq (json_array_size (json_object_get (page, "items")), 20);
    cr_assert (json_is_string (json_object_get (page, "next_cursor")));
    json_decref (page);

    int seen [25] = { 0 };
    int expect = 24;
    char path [512] = "/api/v1/missions?limit=10";
    int pages = 0;
    while (true) {
        cr_assert_eq (api_get (path, access, res), 200, "%s", res->body);
        page = api_json (res);
        json_t *items = json_object_get (page, "items");
        for (size_t i = 0; i < json_array_size (items); i++) {
            const char *title = api_str (json_array_get (items, i), "title");
            int n = atoi (title + 1);
            cr_assert_eq (n, expect, "newest first: got %s, wanted m%02d", title, expect);
            seen [n]++;
            expect--;
        }
        pages++;
        json_t *cursor = json_object_get (page, "next_cursor");
        if (json_is_null (cursor) || !cursor) {
            json_decref (page);
            break;
        }
        cr_assert (json_is_string (cursor));
        snprintf (path, sizeof path, "/api/v1/missions?limit=10&cursor=%s", json_string_value (cursor));
        json_decref (page);
    }
    cr_assert_eq (pages, 3);
    for (int i = 0; i < 25; i++)
        cr_assert_eq (seen [i], 1, "m%02d seen %d times", i, seen [i]);

    //  limit bounds and a forged cursor
    const char *bad [] = { "limit=0", "limit=101", "limit=abc", "limit=-1", "limit=1.5" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        snprintf (path, sizeof path, "/api/v1/missions?%s", bad [i]);
        api_get (path, access, res);
        s_assert_invalid (res, "limit");
    }
    cr_assert_eq (api_get ("/api/v1/missions?limit=1", access, res), 200);
    cr_assert_eq (api_get ("/api/v1/missions?limit=100", access, res), 200);
    api_get ("/api/v1/missions?cursor=bm90LWEtY3Vyc29y", access, res);
    s_assert_invalid (res, "cursor");
    free (res);
}

Test (missions, a_retried_create_with_the_same_idempotency_key_creates_one)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], other [API_TOKEN_MAX], first [37], second [37];
    api_new_user ("idem", access, NULL);
    api_new_user ("idem2", other, NULL);
    char header [API_TOKEN_MAX + 128];
    const char *body = "{\"title\":\"Once only\",\"duration_minutes\":15}";
    snprintf (header, sizeof header, "Authorization: Bearer %s\nIdempotency-Key: order-7f3a", access);
    stack_http ("POST", "/api/v1/missions", header, body, res);
    cr_assert_eq (res->status, 201, "%s", res->body);
    json_t *mission = api_json (res);
    snprintf (first, sizeof first, "%s", api_str (mission, "id"));
    json_decref (mission);
    stack_http ("POST", "/api/v1/missions", header, body, res);
    cr_assert_eq (res->status, 201, "a retry answers like the first time: %s", res->body);
    mission = api_json (res);
    snprintf (second, sizeof second, "%s", api_str (mission, "id"));
    json_decref (mission);
    cr_assert_str_eq (first, second, "the same mission, not a new one");
    cr_assert_eq (api_get ("/api/v1/missions", access, res), 200);
    json_t *list = api_json (res);
    cr_assert_eq (json_array_size (json_object_get (list, "items")), 1, "one mission exists");
    json_decref (list);

    //  The same key with another body is refused and creates nothing
    stack_http ("POST", "/api/v1/missions", header, "{\"title\":\"Something else\",\"duration_minutes\":15}", res);
    cr_assert_eq (res->status, 422, "%s", res->body);
    cr_assert_not_null (strstr (res->body, "idempotency_key_reused"), "%s", res->body);
    //  Keys belong to one user: another user's same key is a new request
    snprintf (header, sizeof header, "Authorization: Bearer %s\nIdempotency-Key: order-7f3a", other);
    stack_http ("POST", "/api/v1/missions", header, body, res);
    cr_assert_eq (res->status, 201, "%s", res->body);
    cr_assert_null (strstr (res->body, first), "another user gets their own mission");
    free (res);
}

Test (missions, creating_and_deleting_are_audited)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], user_id [37], id [37], path [96], sql [256];
    api_new_user ("audited", access, user_id);
    cr_assert_eq (s_create (access, "{\"title\":\"a\",\"duration_minutes\":5}", id, res), 201);
    snprintf (path, sizeof path, "/api/v1/missions/%s", id);
    cr_assert_eq (api_call ("DELETE", path, access, NULL, res), 204);
    snprintf (sql, sizeof sql, "SELECT count (DISTINCT type) FROM audit.events WHERE user_id = '%s'"
              " AND type IN ('mission.created', 'mission.deleted')", user_id);
    int64_t until = zclock_mono () + 10000;
    long types = 0;
    while ((types = stack_db_long (sql)) < 2 && zclock_mono () < until)
        zclock_sleep (100);
    cr_assert_eq (types, 2, "mission.created and mission.deleted reach the audit trail");
    free (res);
}
