/*  test_foundation - the real stack: readiness, transport security, audit pipe

    Runs against the stack tests/run.sh started (real PostgreSQL, Redis and
    the six processes). Tests that stop a service start it again.
*/
#include <criterion/criterion.h>
#include "stack.h"

static const char *USER = "0b6f3c2e-8a51-4c1d-9e2f-1a2b3c4d5e6f";

TestSuite (foundation, .timeout = 90);

Test (foundation, readyz_is_green_and_headers_are_set)
{
    stack_http_t *res = malloc (sizeof *res);
    stack_http ("GET", "/readyz", NULL, NULL, res);
    cr_assert_eq (res->status, 200, "readyz: %s", res->body);
    cr_assert_not_null (strstr (res->body, "\"status\":\"ready\""), "%s", res->body);
    char value [256];
    cr_assert (stack_http_header (res, "X-Request-Id", value, sizeof value));
    cr_assert_eq (strlen (value), 32, "generated request ids are 128-bit hex");
    const char *expected [][2] = {
        { "X-Content-Type-Options", "nosniff" },
        { "X-Frame-Options", "DENY" },
        { "Referrer-Policy", "no-referrer" },
        { "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'" },
        { "Content-Type", "application/json; charset=utf-8" },
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected [0]; i++) {
        cr_assert (stack_http_header (res, expected [i][0], value, sizeof value), "%s missing", expected [i][0]);
        cr_assert_str_eq (value, expected [i][1]);
    }
    cr_assert_not (stack_http_header (res, "Access-Control-Allow-Origin", value, sizeof value),
                   "no CORS header for an origin nobody allowed");
    stack_http ("GET", "/healthz", NULL, NULL, res);
    cr_assert_eq (res->status, 200);
    free (res);
}

Test (foundation, unknown_routes_get_the_error_shape)
{
    stack_http_t *res = malloc (sizeof *res);
    stack_http ("GET", "/index.html", NULL, NULL, res);
    cr_assert_eq (res->status, 404);
    cr_assert_not_null (strstr (res->body, "\"error\":{\"code\":\"not_found\""), "%s", res->body);
    cr_assert_not_null (strstr (res->body, "\"request_id\":\""), "%s", res->body);
    stack_http ("DELETE", "/readyz", NULL, NULL, res);
    cr_assert_eq (res->status, 405);
    //  No file is ever served from disk, whatever the path
    stack_http ("GET", "/../../etc/passwd", NULL, NULL, res);
    cr_assert (res->status == 404 || res->status == 400, "got %ld", res->status);
    cr_assert_null (strstr (res->body, "root:"));
    free (res);
}

Test (foundation, request_id_is_echoed_only_when_sane)
{
    stack_http_t *res = malloc (sizeof *res);
    char value [256];
    stack_http ("GET", "/healthz", "X-Request-Id: client-abc-123.4", NULL, res);
    cr_assert (stack_http_header (res, "X-Request-Id", value, sizeof value));
    cr_assert_str_eq (value, "client-abc-123.4");
    stack_http ("GET", "/healthz", "X-Request-Id: bad id\"with<stuff>", NULL, res);
    cr_assert (stack_http_header (res, "X-Request-Id", value, sizeof value));
    cr_assert_neq (strcmp (value, "bad id\"with<stuff>"), 0);
    cr_assert_eq (strlen (value), 32);
    free (res);
}

Test (foundation, unlisted_key_gets_nothing_from_any_backend)
{
    for (int svc = CM_SVC_AUTH; svc < CM_SVC_COUNT; svc++) {
        zcert_t *cert;
        cm_client_t *client = stack_client (NULL, (cm_svc_t) svc, &cert);
        cr_assert_eq (stack_ping (client, 800, NULL, NULL, 0), CM_UNAVAILABLE,
                      "%s answered an unknown key", cm_svc_name ((cm_svc_t) svc));
        cm_client_destroy (&client);
        zcert_destroy (&cert);
    }
}

Test (foundation, gateway_key_gets_a_pong_from_every_backend)
{
    for (int svc = CM_SVC_AUTH; svc < CM_SVC_COUNT; svc++) {
        zcert_t *cert;
        cm_client_t *client = stack_client ("gateway", (cm_svc_t) svc, &cert);
        char code [64];
        cr_assert_eq (stack_ping (client, 3000, NULL, code, sizeof code), CM_OK,
                      "%s: %s", cm_svc_name ((cm_svc_t) svc), code);
        //  The gateway may also speak for a user
        cr_assert_eq (stack_ping (client, 3000, USER, code, sizeof code), CM_OK, "%s", code);
        cm_client_destroy (&client);
        zcert_destroy (&cert);
    }
}

Test (foundation, a_peer_may_connect_but_not_assert_identity)
{
    //  audit admits every service but takes a user identity from none of them
    struct { const char *as; cm_svc_t target; } cases [] = {
        { "missions", CM_SVC_AUDIT }, { "auth", CM_SVC_AUDIT }, { "evidence", CM_SVC_AUDIT }
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        zcert_t *cert;
        cm_client_t *client = stack_client (cases [i].as, cases [i].target, &cert);
        char code [64];
        cr_assert_eq (stack_ping (client, 3000, NULL, code, sizeof code), CM_OK, "%s", code);
        cr_assert_eq (stack_ping (client, 3000, USER, code, sizeof code), CM_IDENTITY_NOT_ALLOWED,
                      "%s -> %s: %s", cases [i].as, cm_svc_name (cases [i].target), code);
        cr_assert_str_eq (code, "identity_not_allowed");
        cm_client_destroy (&client);
        zcert_destroy (&cert);
    }
    //  A known key that is not on this service's list is refused at the handshake
    zcert_t *cert;
    cm_client_t *client = stack_client ("missions", CM_SVC_AUTH, &cert);
    cr_assert_eq (stack_ping (client, 800, NULL, NULL, 0), CM_UNAVAILABLE);
    cm_client_destroy (&client);
    zcert_destroy (&cert);
}

Test (foundation, readyz_names_a_dead_backend_and_recovers)
{
    cr_assert_eq (stack_run ("kill-service missions"), 0);
    stack_http_t *res = malloc (sizeof *res);
    int64_t until = zclock_mono () + 10000;
    do {
        stack_http ("GET", "/readyz", NULL, NULL, res);
    } while (res->status != 503 && zclock_mono () < until);
    cr_assert_eq (res->status, 503);
    cr_assert_not_null (strstr (res->body, "missions"), "%s", res->body);
    cr_assert_not_null (strstr (res->body, "\"missions\":\"unavailable\""), "%s", res->body);
    cr_assert_not_null (strstr (res->body, "\"auth\":\"ok\""), "only missions is named: %s", res->body);
    cr_assert_eq (stack_run ("start-service missions"), 0);
    cr_assert_eq (stack_wait_status ("/readyz", 200, 20000), 200);
    free (res);
}

Test (foundation, audit_events_survive_an_audit_restart)
{
    const char *count_sql = "SELECT count (*) FROM audit.events WHERE service = 'evidence'"
                            " AND type = 'service.started'";
    long before = stack_db_long (count_sql);
    cr_assert_geq (before, 1, "evidence's first start was audited");
    cr_assert_eq (stack_run ("stop-service audit"), 0);
    //  A restart of evidence while audit is away leaves its event in the outbox
    cr_assert_eq (stack_run ("stop-service evidence"), 0);
    cr_assert_eq (stack_run ("start-service evidence"), 0);
    int64_t until = zclock_mono () + 15000;
    long waiting = 0;
    while ((waiting = stack_db_long ("SELECT count (*) FROM evidence.audit_outbox")) < 1
           && zclock_mono () < until)
        zclock_sleep (100);
    cr_assert_geq (waiting, 1, "the event waits in evidence's outbox");
    cr_assert_eq (stack_db_long (count_sql), before, "audit is down: nothing stored yet");

    cr_assert_eq (stack_run ("start-service audit"), 0);
    until = zclock_mono () + 20000;
    long after = before;
    while ((after = stack_db_long (count_sql)) <= before && zclock_mono () < until)
        zclock_sleep (200);
    cr_assert_eq (after, before + 1, "delivered once after audit came back");
    until = zclock_mono () + 5000;
    while (stack_db_long ("SELECT count (*) FROM evidence.audit_outbox") != 0 && zclock_mono () < until)
        zclock_sleep (100);
    cr_assert_eq (stack_db_long ("SELECT count (*) FROM evidence.audit_outbox"), 0, "outbox drained");
    cr_assert_eq (stack_wait_status ("/readyz", 200, 20000), 200);
}

Test (foundation, each_service_owns_only_its_schema)
{
    //  The roles exist, own their schema, and are not superusers
    cr_assert_eq (stack_db_long ("SELECT count (*) FROM pg_roles WHERE rolname LIKE '%\\_svc'"
                                 " AND NOT rolsuper AND NOT rolcreaterole AND NOT rolcreatedb"), 5);
    //  ...but audit's, which audit_owner holds so audit_svc cannot drop its append-only chain
    cr_assert_eq (stack_db_long ("SELECT count (*) FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner"
                                 " WHERE r.rolname = CASE n.nspname WHEN 'audit' THEN 'audit_owner'"
                                 " ELSE n.nspname || '_svc' END"), 5);
    //  missions_svc cannot read audit's table
    cr_assert_eq (stack_db_long ("SELECT count (*) FROM (SELECT has_table_privilege ('missions_svc',"
                                 " 'audit.events', 'SELECT') AS p) x WHERE p"), 0);
}
