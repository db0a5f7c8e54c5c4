/*  test_edge - the gateway's edge over the wire: TLS, client IP, rate limits,
    Redis away, CORS, request limits, security headers, request ids, metrics

    Runs against the stack tests/run.sh started. What the stack's gateway
    cannot show (low limits, trusted proxies, an allowed origin, production
    mode, an RSA certificate) is tested on extra gateways of the same build
    beside it. Those are started once for the whole run, before the first
    test, and stopped together after the last: a gateway takes seconds to
    stop, so one per test would make the run slow.
*/
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "api.h"

//  Extra gateways, by how far their ports are from the stack's gateway's
#define EDGE_GW     101     //  behind 127.0.0.1 as a proxy, one allowed origin, low limits
#define RSA_GW      102     //  an RSA certificate: key exchange without forward secrecy is possible
#define PROXIED_GW  103     //  production, plain HTTP from proxies in 10.0.0.0/8 only
#define REFUSED_GW  104     //  production settings it must refuse (never stays up)
#define BAD_ENV_GW  105

#define ORIGIN      "https://app.example.com"

static const char *EDGE_SETTINGS =
    "TRUSTED_PROXIES=127.0.0.1/32\n"
    "CORS_ALLOWED_ORIGINS=" ORIGIN "\n"
    "RATE_LIMIT_DEFAULT_PER_MIN=5\n"
    "RATE_LIMIT_TOKEN_PER_MIN_IP=3\n"
    "RATE_LIMIT_TOKEN_PER_MIN_ACCOUNT=2\n"
    "RATE_LIMIT_REGISTER_PER_HOUR_IP=2\n"
    "RATE_LIMIT_MISSION_CREATE_PER_HOUR=2\n";

//  ----------------------------------------------------------------------
//  The extra gateways: started by the test runner before the first test,
//  stopped after the last

static pid_t s_shared [3];

//  A self-signed RSA pair under $RUN_DIR/tls-rsa; 0 when it is there
static int
s_make_rsa_pair (void)
{
    char dir [1024], command [4096];
    snprintf (dir, sizeof dir, "%s/tls-rsa", getenv ("RUN_DIR"));
    mkdir (dir, 0700);
    snprintf (command, sizeof command,
              "test -s '%s/server.key' || openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 2"
              " -subj /CN=localhost -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1'"
              " -keyout '%s/server.key' -out '%s/server.crt' >/dev/null 2>&1", dir, dir, dir);
    return system (command) == 0? 0: -1;
}

static pid_t
s_start_shared (const char *settings, int delta)
{
    return stack_gateway_start (settings, stack_port ("GATEWAY_HTTP_PORT", delta),
                                stack_port ("GATEWAY_HTTPS_PORT", delta),
                                stack_port ("GATEWAY_METRICS_PORT", delta), NULL);
}

ReportHook (PRE_ALL) (struct criterion_test_set *tests)
{
    (void) tests;
    //  Outside tests/run.sh there is no stack: every test says so itself
    if (!getenv ("RUN_DIR") || !getenv ("BIN_DIR") || !getenv ("REPO_ROOT") || !getenv ("GATEWAY_HTTP_PORT"))
        return;
    s_shared [0] = s_start_shared (EDGE_SETTINGS, EDGE_GW);
    if (s_make_rsa_pair () == 0) {
        char settings [2048];
        const char *run = getenv ("RUN_DIR");
        snprintf (settings, sizeof settings, "TLS_CERT_FILE=%s/tls-rsa/server.crt\n"
                  "TLS_KEY_FILE=%s/tls-rsa/server.key\n", run, run);
        s_shared [1] = s_start_shared (settings, RSA_GW);
    }
    s_shared [2] = s_start_shared ("GATEWAY_ENV=production\nTLS_CERT_FILE=\nTLS_KEY_FILE=\n"
                                   "TRUSTED_PROXIES=10.0.0.0/8\n", PROXIED_GW);
}

ReportHook (POST_ALL) (struct criterion_global_stats *stats)
{
    (void) stats;
    //  All told at once, so their shutdowns overlap
    for (size_t i = 0; i < sizeof s_shared / sizeof s_shared [0]; i++)
        if (s_shared [i] > 0)
            kill (s_shared [i], SIGTERM);
    for (size_t i = 0; i < sizeof s_shared / sizeof s_shared [0]; i++)
        if (s_shared [i] > 0)
            stack_gateway_stop (s_shared [i]);
}

//  ----------------------------------------------------------------------
//  Helpers

//  A fresh address in 10/8 for X-Forwarded-For: each caller its own budget
static void
s_new_ip (char *out, size_t size)
{
    static bool seeded;
    if (!seeded) {
        srand ((unsigned) zclock_usecs () ^ ((unsigned) getpid () << 16));
        seeded = true;
    }
    snprintf (out, size, "10.%d.%d.%d", rand () % 256, rand () % 256, 1 + rand () % 254);
}

//  A request id of our own, to find the request again in logs and audit
static void
s_new_rid (char *out, size_t size, const char *tag)
{
    snprintf (out, size, "edge-%s-%llx-%d", tag, (unsigned long long) zclock_usecs (), getpid ());
}

//  method path on the extra gateway at delta, as forwarded for ip (none when NULL)
static long
s_at (int delta, const char *ip, const char *method, const char *path, const char *extra,
      const char *body, stack_http_t *res)
{
    char headers [API_TOKEN_MAX + 512];
    snprintf (headers, sizeof headers, "%s%s%s%s", ip? "X-Forwarded-For: ": "", ip? ip: "",
              ip && extra? "\n": "", extra? extra: "");
    stack_http_at (stack_port ("GATEWAY_HTTP_PORT", delta), method, path, *headers? headers: NULL, body, res);
    return res->status;
}

static long
s_header_long (const stack_http_t *res, const char *name)
{
    char value [64];
    cr_assert (stack_http_header (res, name, value, sizeof value), "no %s in:\n%s", name, res->headers);
    char *end;
    long number = strtol (value, &end, 10);
    cr_assert (end != value && *end == 0, "%s: '%s' is not a number", name, value);
    return number;
}

static const char *s_security [][2] = {
    { "X-Content-Type-Options", "nosniff" },
    { "X-Frame-Options", "DENY" },
    { "Referrer-Policy", "no-referrer" },
    { "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'" },
};

//  The headers every response carries, whatever its status
static void
s_assert_edge_headers (const stack_http_t *res, const char *what)
{
    char value [256];
    for (size_t i = 0; i < sizeof s_security / sizeof s_security [0]; i++) {
        cr_assert (stack_http_header (res, s_security [i][0], value, sizeof value),
                   "%s (%ld): no %s in:\n%s", what, res->status, s_security [i][0], res->headers);
        cr_assert_str_eq (value, s_security [i][1], "%s: %s", what, s_security [i][0]);
    }
    cr_assert (stack_http_header (res, "X-Request-Id", value, sizeof value) && *value,
               "%s (%ld): no X-Request-Id in:\n%s", what, res->status, res->headers);
}

//  No Access-Control-* header at all
static void
s_assert_no_cors (const stack_http_t *res, const char *what)
{
    for (const char *line = res->headers; line && *line; ) {
        cr_assert_neq (strncasecmp (line, "Access-Control-", 15), 0, "%s: %.*s", what,
                       (int) strcspn (line, "\r\n"), line);
        line = strchr (line, '\n');
        line = line? line + 1: NULL;
    }
}

static void
s_assert_error_code (const stack_http_t *res, const char *code)
{
    json_t *body = api_json (res);
    const char *got = json_string_value (json_object_get (json_object_get (body, "error"), "code"));
    cr_assert (got && streq (got, code), "wanted error %s: %s", code, res->body);
    json_decref (body);
}

//  openssl s_client against 127.0.0.1:port; its output into out. Returns its exit status.
static int
s_openssl (int port, const char *args, char *out, size_t size)
{
    char command [512];
    snprintf (command, sizeof command, "timeout 10 openssl s_client -connect 127.0.0.1:%d"
              " -servername localhost %s </dev/null 2>&1", port, args);
    FILE *pipe = popen (command, "r");
    cr_assert_not_null (pipe);
    size_t used = 0;
    char scratch [4096];
    size_t got;
    while ((got = fread (scratch, 1, sizeof scratch, pipe)) > 0) {
        size_t take = used + got < size - 1? got: size - 1 - used;
        memcpy (out + used, scratch, take);
        used += take;
    }
    out [used] = 0;
    int rc = pclose (pipe);
    return WIFEXITED (rc)? WEXITSTATUS (rc): -1;
}

static void
s_assert_handshake (int port, const char *args, const char *negotiated)
{
    char *out = malloc (65536);
    int rc = s_openssl (port, args, out, 65536);
    cr_assert_eq (rc, 0, "%s refused:\n%s", args, out);
    cr_assert_not_null (strstr (out, negotiated), "%s: wanted '%s' in:\n%s", args, negotiated, out);
    free (out);
}

//  The server must be the one that says no, with this alert
static void
s_assert_refused (int port, const char *args, const char *alert)
{
    char *out = malloc (65536);
    int rc = s_openssl (port, args, out, 65536);
    cr_assert_neq (rc, 0, "%s accepted:\n%s", args, out);
    cr_assert_not_null (strstr (out, alert), "%s: wanted the server's '%s' in:\n%s", args, alert, out);
    cr_assert_not_null (strstr (out, "Cipher is (NONE)"), "%s: a session was set up:\n%s", args, out);
    free (out);
}

//  The whole /metrics text of the gateway at delta (caller frees)
static char *
s_metrics (int delta)
{
    char url [128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/metrics", stack_port ("GATEWAY_METRICS_PORT", delta));
    stack_http_t *res = malloc (sizeof *res);
    char *text = NULL;
    size_t len = 0;
    stack_http_bytes ("GET", url, NULL, NULL, 0, res, &text, &len);
    cr_assert_eq (res->status, 200, "metrics: %ld", res->status);
    free (res);
    return text;
}

//  The value of one series ("name{labels}" exactly as printed), 0 when absent
static double
s_metric (const char *text, const char *series)
{
    size_t len = strlen (series);
    for (const char *line = text; line && *line; ) {
        if (strncmp (line, series, len) == 0 && line [len] == ' ')
            return strtod (line + len + 1, NULL);
        line = strchr (line, '\n');
        line = line? line + 1: NULL;
    }
    return 0;
}

//  The ip field of the access line of request rid in the log of the gateway
//  at delta (0: the stack's own); polls, since the line follows the response
static void
s_access_ip (int delta, const char *rid, char *ip, size_t size)
{
    char path [1024], needle [128];
    if (delta)
        snprintf (path, sizeof path, "%s/logs/gateway-%d.log", stack_env ("RUN_DIR"),
                  stack_port ("GATEWAY_HTTP_PORT", delta));
    else
        snprintf (path, sizeof path, "%s/logs/gateway.log", stack_env ("RUN_DIR"));
    snprintf (needle, sizeof needle, "\"rid\":\"%s\"", rid);
    *ip = 0;
    int64_t until = zclock_mono () + 3000;
    char *line = malloc (8192);
    do {
        FILE *log = fopen (path, "r");
        cr_assert_not_null (log, "%s", path);
        while (fgets (line, 8192, log))
            if (strstr (line, needle) && strstr (line, "\"msg\":\"access\"")) {
                const char *at = strstr (line, "\"ip\":\"");
                cr_assert_not_null (at, "%s", line);
                at += 6;
                snprintf (ip, size, "%.*s", (int) strcspn (at, "\""), at);
            }
        fclose (log);
        if (*ip)
            break;
        zclock_sleep (50);
    } while (zclock_mono () < until);
    free (line);
    cr_assert (*ip, "no access line for %s in %s", rid, path);
}

//  Polls a count query until it reaches at least want (10 s); returns the last count
static long
s_wait_count (const char *sql, long want)
{
    int64_t until = zclock_mono () + 10000;
    long count;
    while ((count = stack_db_long (sql)) < want && zclock_mono () < until)
        zclock_sleep (100);
    return count;
}

static int
s_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    cr_assert_geq (fd, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    inet_pton (AF_INET, "127.0.0.1", &address.sin_addr);
    cr_assert_eq (connect (fd, (struct sockaddr *) &address, sizeof address), 0, "%s", strerror (errno));
    return fd;
}

//  Reads what fd brings until the peer closes it (true) or the clock passes
//  until (false); the first bytes into got
static bool
s_closed_by_peer (int fd, int64_t until, char *got, size_t size)
{
    size_t used = strlen (got);
    while (zclock_mono () < until) {
        struct pollfd item = { fd, POLLIN, 0 };
        int timeout = (int) (until - zclock_mono ());
        if (poll (&item, 1, timeout > 0? timeout: 0) <= 0)
            continue;
        char buf [4096];
        ssize_t n = recv (fd, buf, sizeof buf, 0);
        if (n <= 0)
            return true;            //  end of stream, or reset
        size_t take = used + (size_t) n < size - 1? (size_t) n: size - 1 - used;
        memcpy (got + used, buf, take);
        used += take;
        got [used] = 0;
    }
    return false;
}

//  Sends request as is on a new connection; the answer into out, read
//  until the gateway closes it or 6 s pass
static void
s_raw (int port, const char *request, char *out, size_t size)
{
    int fd = s_connect (port);
    cr_assert_eq (send (fd, request, strlen (request), 0), (ssize_t) strlen (request));
    *out = 0;
    s_closed_by_peer (fd, zclock_mono () + 6000, out, size);
    close (fd);
}

static void
s_repeat (char *out, char c, size_t count)
{
    memset (out, c, count);
    out [count] = 0;
}

//  ----------------------------------------------------------------------
//  TLS

TestSuite (edge_tls, .timeout = 60);

Test (edge_tls, only_tls_1_2_and_1_3_are_spoken)
{
    int port = stack_port ("GATEWAY_HTTPS_PORT", 0);
    //  The client is made willing (security level 0): the refusal must be the server's
    s_assert_refused (port, "-tls1_1 -cipher DEFAULT:@SECLEVEL=0", "alert protocol version");
    s_assert_refused (port, "-tls1 -cipher DEFAULT:@SECLEVEL=0", "alert protocol version");
    s_assert_handshake (port, "-tls1_3", "New, TLSv1.3, Cipher is TLS_");
    const char *suites [] = { "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                              "ECDHE-ECDSA-CHACHA20-POLY1305" };
    for (size_t i = 0; i < sizeof suites / sizeof suites [0]; i++) {
        char args [128], negotiated [128];
        snprintf (args, sizeof args, "-tls1_2 -cipher %s", suites [i]);
        snprintf (negotiated, sizeof negotiated, "New, TLSv1.2, Cipher is %s", suites [i]);
        s_assert_handshake (port, args, negotiated);
    }
}

Test (edge_tls, suites_without_forward_secrecy_or_aead_are_refused)
{
    //  With the stack's EC key only ECDHE-ECDSA suites are possible at all,
    //  so RSA key exchange is tried on a gateway with an RSA key, where it
    //  would work if the policy let it
    int rsa = stack_port ("GATEWAY_HTTPS_PORT", RSA_GW);
    s_assert_handshake (rsa, "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256",
                        "New, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256");
    const char *refused [] = {
        "AES128-SHA",                   //  RSA key exchange, CBC
        "AES256-GCM-SHA384",            //  RSA key exchange: no forward secrecy, even with GCM
        "ECDHE-RSA-AES128-SHA",         //  forward secret, but CBC with SHA-1
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused [0]; i++) {
        char args [128];
        snprintf (args, sizeof args, "-tls1_2 -cipher %s:@SECLEVEL=0", refused [i]);
        s_assert_refused (rsa, args, "alert handshake failure");
    }
    int port = stack_port ("GATEWAY_HTTPS_PORT", 0);
    s_assert_refused (port, "-tls1_2 -cipher AES128-SHA:@SECLEVEL=0", "alert handshake failure");
    s_assert_refused (port, "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0", "alert handshake failure");
}

Test (edge_tls, hsts_on_https_responses_only)
{
    stack_http_t *res = malloc (sizeof *res);
    char url [128], value [256];
    const char *paths [] = { "/healthz", "/api/v1/nothing-here", "/api/v1/users/me" };
    for (size_t i = 0; i < sizeof paths / sizeof paths [0]; i++) {
        snprintf (url, sizeof url, "https://127.0.0.1:%d%s", stack_port ("GATEWAY_HTTPS_PORT", 0), paths [i]);
        stack_http_bytes ("GET", url, NULL, NULL, 0, res, NULL, NULL);
        cr_assert_neq (res->status, 0, "no answer over HTTPS from %s", url);
        cr_assert (stack_http_header (res, "Strict-Transport-Security", value, sizeof value),
                   "%s (%ld) has no HSTS:\n%s", paths [i], res->status, res->headers);
        long age = strncmp (value, "max-age=", 8) == 0? atol (value + 8): 0;
        cr_assert_geq (age, 31536000, "at least a year: %s", value);
        s_assert_edge_headers (res, paths [i]);

        stack_http ("GET", paths [i], NULL, NULL, res);
        cr_assert_neq (res->status, 0);
        cr_assert_not (stack_http_header (res, "Strict-Transport-Security", value, sizeof value),
                       "HSTS over plain HTTP on %s", paths [i]);
    }
    free (res);
}

//  True when the log of the gateway on port (0: the stack's own) says text
static bool
s_log_says (int port, const char *text)
{
    char path [1024], line [4096];
    if (port)
        snprintf (path, sizeof path, "%s/logs/gateway-%d.log", stack_env ("RUN_DIR"), port);
    else
        snprintf (path, sizeof path, "%s/logs/gateway.log", stack_env ("RUN_DIR"));
    FILE *log = fopen (path, "r");
    bool found = false;
    while (log && !found && fgets (line, sizeof line, log))
        found = strstr (line, text) != NULL;
    if (log)
        fclose (log);
    return found;
}

static void
s_assert_does_not_start (const char *settings, int delta, const char *why)
{
    int code = 0;
    int port = stack_port ("GATEWAY_HTTP_PORT", delta);
    pid_t pid = stack_gateway_start (settings, port, stack_port ("GATEWAY_HTTPS_PORT", delta),
                                     stack_port ("GATEWAY_METRICS_PORT", delta), &code);
    if (pid > 0)
        stack_gateway_stop (pid);
    cr_assert_eq (pid, -1, "started with:\n%s", settings);
    cr_assert (code > 0 && code < 128, "a refusal is an exit with an error status, not %d", code);
    cr_assert (s_log_says (port, why), "the log does not say '%s'", why);
}

Test (edge_tls, production_without_tls_or_trusted_proxies_does_not_start)
{
    s_assert_does_not_start ("GATEWAY_ENV=production\nTLS_CERT_FILE=\nTLS_KEY_FILE=\nTRUSTED_PROXIES=\n",
                             REFUSED_GW, "refusing to serve plain HTTP in production");
    s_assert_does_not_start ("GATEWAY_ENV=staging\n", BAD_ENV_GW, "must be development or production");
}

Test (edge_tls, production_behind_trusted_proxies_starts_and_refuses_others_plain_http)
{
    stack_http_t *res = malloc (sizeof *res);
    //  Started before the tests with GATEWAY_ENV=production, no TLS, TRUSTED_PROXIES=10.0.0.0/8
    cr_assert_eq (s_at (PROXIED_GW, NULL, "GET", "/healthz", NULL, NULL, res), 200,
                  "the production gateway behind proxies did not start (logs/gateway-%d.log)",
                  stack_port ("GATEWAY_HTTP_PORT", PROXIED_GW));
    cr_assert_eq (s_at (PROXIED_GW, NULL, "GET", "/readyz", NULL, NULL, res), 200, "probes pass: %s", res->body);
    //  No TLS of its own (TLS_CERT_FILE is empty): nothing on its HTTPS port
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_port = htons ((uint16_t) stack_port ("GATEWAY_HTTPS_PORT", PROXIED_GW)) };
    inet_pton (AF_INET, "127.0.0.1", &address.sin_addr);
    cr_assert_neq (connect (fd, (struct sockaddr *) &address, sizeof address), 0, "it serves HTTPS after all");
    close (fd);
    //  127.0.0.1 is none of its proxies: plain HTTP from it is refused
    cr_assert_eq (s_at (PROXIED_GW, NULL, "GET", "/api/v1/openapi.json", NULL, NULL, res), 403);
    s_assert_error_code (res, "https_required");
    s_assert_edge_headers (res, "https_required");
    free (res);
}

//  ----------------------------------------------------------------------
//  Client IP

TestSuite (edge_client_ip, .timeout = 60);

Test (edge_client_ip, spoofed_forwarded_for_is_ignored_without_trusted_proxies)
{
    stack_http_t *res = malloc (sizeof *res);
    char rid [64], headers [256], ip [64], sql [512];
    s_new_rid (rid, sizeof rid, "spoof");
    snprintf (headers, sizeof headers, "X-Request-Id: %s\nX-Forwarded-For: 203.0.113.77, 198.51.100.9", rid);
    stack_http ("GET", "/api/v1/users/me", headers, NULL, res);
    cr_assert_eq (res->status, 401);
    s_access_ip (0, rid, ip, sizeof ip);
    cr_assert_str_eq (ip, "127.0.0.1", "the access log took the header's word");
    //  The refusal's audit event names the real peer too
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.events WHERE type = 'authz.denied'"
              " AND request_id = '%s'", rid);
    cr_assert_eq (s_wait_count (sql, 1), 1, "no authz.denied event for %s", rid);
    //  (by type: an alert that this refusal tips over carries its request id too)
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.events WHERE type = 'authz.denied'"
              " AND request_id = '%s' AND ip = '127.0.0.1'", rid);
    cr_assert_eq (stack_db_long (sql), 1, "the audit event has another ip");
    free (res);
}

Test (edge_client_ip, forwarded_for_is_believed_from_a_trusted_proxy)
{
    stack_http_t *res = malloc (sizeof *res);
    char a [32], b [32], c [32], rid [64], extra [128], ip [64], xff [96], sql [512];
    s_new_ip (a, sizeof a);
    s_new_ip (b, sizeof b);
    s_new_ip (c, sizeof c);
    //  Per-IP limits count the forwarded address: two clients, two budgets of 5
    for (int i = 0; i < 5; i++) {
        cr_assert_eq (s_at (EDGE_GW, a, "GET", "/api/v1/openapi.json", NULL, NULL, res), 200,
                      "request %d: %ld", i + 1, res->status);
        cr_assert_eq (s_header_long (res, "RateLimit-Remaining"), 4 - i);
    }
    cr_assert_eq (s_at (EDGE_GW, a, "GET", "/api/v1/openapi.json", NULL, NULL, res), 429);
    cr_assert_eq (s_at (EDGE_GW, b, "GET", "/api/v1/openapi.json", NULL, NULL, res), 200,
                  "another forwarded client shares the first one's budget");
    cr_assert_eq (s_header_long (res, "RateLimit-Remaining"), 4);

    //  The access log and the audit trail name the forwarded client
    s_new_rid (rid, sizeof rid, "xff");
    snprintf (extra, sizeof extra, "X-Request-Id: %s", rid);
    cr_assert_eq (s_at (EDGE_GW, c, "GET", "/api/v1/users/me", extra, NULL, res), 401);
    s_access_ip (EDGE_GW, rid, ip, sizeof ip);
    cr_assert_str_eq (ip, c);
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.events WHERE type = 'authz.denied'"
              " AND request_id = '%s' AND ip = '%s'", rid, c);
    cr_assert_eq (s_wait_count (sql, 1), 1, "no authz.denied event naming %s", c);

    //  Only the hop the proxy added is believed, not what the client wrote before it
    s_new_rid (rid, sizeof rid, "chain");
    snprintf (extra, sizeof extra, "X-Request-Id: %s", rid);
    snprintf (xff, sizeof xff, "203.0.113.5, %s", c);
    cr_assert_eq (s_at (EDGE_GW, xff, "GET", "/healthz", extra, NULL, res), 200);
    s_access_ip (EDGE_GW, rid, ip, sizeof ip);
    cr_assert_str_eq (ip, c);
    free (res);
}

//  ----------------------------------------------------------------------
//  Rate limits (on the gateway with low limits, each caller a fresh
//  forwarded address or a fresh user)

TestSuite (edge_ratelimit, .timeout = 60);

Test (edge_ratelimit, over_the_limit_is_429_with_headers_and_one_audit_event)
{
    stack_http_t *res = malloc (sizeof *res);
    char x [32], y [32], sql [512];
    s_new_ip (x, sizeof x);
    s_new_ip (y, sizeof y);
    long reset = 0;
    for (int i = 0; i < 5; i++) {
        cr_assert_eq (s_at (EDGE_GW, x, "GET", "/api/v1/openapi.json", NULL, NULL, res), 200);
        cr_assert_eq (s_header_long (res, "RateLimit-Limit"), 5);
        cr_assert_eq (s_header_long (res, "RateLimit-Remaining"), 4 - i);
        reset = s_header_long (res, "RateLimit-Reset");
        cr_assert (reset >= 1 && reset <= 60, "a minute's window: reset %ld", reset);
    }
    for (int i = 0; i < 3; i++) {
        cr_assert_eq (s_at (EDGE_GW, x, "GET", "/api/v1/openapi.json", NULL, NULL, res), 429,
                      "request %d over the limit: %ld", i + 1, res->status);
        long retry = s_header_long (res, "Retry-After");
        cr_assert (retry >= 1 && retry <= reset, "Retry-After %ld (window ends in %ld s)", retry, reset);
        cr_assert_eq (s_header_long (res, "RateLimit-Limit"), 5);
        cr_assert_eq (s_header_long (res, "RateLimit-Remaining"), 0);
        cr_assert_eq (s_header_long (res, "RateLimit-Reset"), retry);
        s_assert_error_code (res, "rate_limited");
        s_assert_edge_headers (res, "429");
    }
    //  A second caller over the limit has its own event
    for (int i = 0; i < 7; i++)
        s_at (EDGE_GW, y, "GET", "/api/v1/openapi.json", NULL, NULL, res);
    cr_assert_eq (res->status, 429);

    //  One event per caller and minute, not one per refused request
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.events WHERE type = 'ratelimit.exceeded'"
              " AND ip = '%s'", y);
    cr_assert_eq (s_wait_count (sql, 1), 1, "no ratelimit.exceeded event for %s", y);
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.events WHERE type = 'ratelimit.exceeded'"
              " AND ip = '%s' AND outcome = 'denied' AND detail LIKE '%%default%%'", x);
    cr_assert_eq (s_wait_count (sql, 1), 1, "no ratelimit.exceeded event for %s", x);
    zclock_sleep (1000);               //  anything still on its way would be there by now
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.events WHERE type = 'ratelimit.exceeded'"
              " AND ip IN ('%s', '%s')", x, y);
    cr_assert_eq (stack_db_long (sql), 2, "3 and 2 refusals: one event each");
    free (res);
}

Test (edge_ratelimit, sign_up_token_and_mission_limits)
{
    stack_http_t *res = malloc (sizeof *res);
    char ip [32], email [128], body [512];
    const char *form = "Content-Type: application/x-www-form-urlencoded";

    //  RATE_LIMIT_REGISTER_PER_HOUR_IP=2
    s_new_ip (ip, sizeof ip);
    for (int i = 0; i < 3; i++) {
        api_email (email, sizeof email, "edge-signup");
        snprintf (body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, API_PASSWORD);
        s_at (EDGE_GW, ip, "POST", "/api/v1/auth/register", NULL, body, res);
        cr_assert_eq (s_header_long (res, "RateLimit-Limit"), 2);
        if (i < 2) {
            cr_assert_eq (res->status, 201, "sign-up %d: %s", i + 1, res->body);
            cr_assert_eq (s_header_long (res, "RateLimit-Remaining"), 1 - i);
        }
    }
    cr_assert_eq (res->status, 429, "third sign-up in the hour: %s", res->body);
    long retry = s_header_long (res, "Retry-After");
    cr_assert (retry > 60 && retry <= 3600, "an hour's window: %ld", retry);

    //  RATE_LIMIT_TOKEN_PER_MIN_IP=3: any three token requests from one address
    s_new_ip (ip, sizeof ip);
    for (int i = 0; i < 4; i++) {
        snprintf (body, sizeof body, "grant_type=password&username=edge-nobody-%d-%d%%40example.com"
                  "&password=wrong", getpid (), i);
        s_at (EDGE_GW, ip, "POST", "/api/v1/auth/token", form, body, res);
        if (i < 3)
            cr_assert_eq (res->status, 401, "token request %d: %s", i + 1, res->body);
    }
    cr_assert_eq (res->status, 429, "%s", res->body);
    cr_assert_eq (s_header_long (res, "RateLimit-Limit"), 3);
    cr_assert (s_header_long (res, "Retry-After") <= 60);

    //  RATE_LIMIT_TOKEN_PER_MIN_ACCOUNT=2: one account from ever new addresses
    snprintf (body, sizeof body, "grant_type=password&username=edge-target-%d%%40example.com"
              "&password=wrong", getpid ());
    for (int i = 0; i < 3; i++) {
        s_new_ip (ip, sizeof ip);
        s_at (EDGE_GW, ip, "POST", "/api/v1/auth/token", form, body, res);
        if (i < 2)
            cr_assert_eq (res->status, 401, "attempt %d: %s", i + 1, res->body);
    }
    cr_assert_eq (res->status, 429, "spreading guesses over addresses: %s", res->body);
    cr_assert_eq (s_header_long (res, "RateLimit-Limit"), 2);

    //  RATE_LIMIT_MISSION_CREATE_PER_HOUR=2, counted per user
    char access [API_TOKEN_MAX], bearer [API_TOKEN_MAX + 32];
    api_new_user ("edge-creator", access, NULL);
    snprintf (bearer, sizeof bearer, "Authorization: Bearer %s", access);
    for (int i = 0; i < 3; i++) {
        s_at (EDGE_GW, NULL, "POST", "/api/v1/missions", bearer, "{\"title\":\"t\",\"duration_minutes\":5}", res);
        if (i < 2) {
            cr_assert_eq (res->status, 201, "mission %d: %s", i + 1, res->body);
            //  The bucket closest to its limit speaks
            cr_assert_eq (s_header_long (res, "RateLimit-Limit"), 2);
            cr_assert_eq (s_header_long (res, "RateLimit-Remaining"), 1 - i);
        }
    }
    cr_assert_eq (res->status, 429, "%s", res->body);
    cr_assert_eq (s_header_long (res, "RateLimit-Limit"), 2);
    cr_assert_gt (s_header_long (res, "Retry-After"), 60);
    //  Reading is another bucket
    cr_assert_eq (s_at (EDGE_GW, NULL, "GET", "/api/v1/missions", bearer, NULL, res), 200, "%s", res->body);
    cr_assert_eq (s_header_long (res, "RateLimit-Limit"), 5);
    free (res);
}

//  Whether a session has ended is asked in the same Redis step that counts
//  the user's request: an ended one is refused before any limit, and
//  uses none of its user's budget up
Test (edge_ratelimit, an_ended_session_is_401_and_uses_up_nothing)
{
    stack_http_t *res = malloc (sizeof *res);
    char email [128], access [API_TOKEN_MAX], ended [API_TOKEN_MAX];
    char bearer [API_TOKEN_MAX + 32], ended_bearer [API_TOKEN_MAX + 32], value [64];
    api_email (email, sizeof email, "edge-ended");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201, "%s", res->body);
    cr_assert_eq (api_login (email, API_PASSWORD, access, NULL, res), 200, "%s", res->body);
    cr_assert_eq (api_login (email, API_PASSWORD, ended, NULL, res), 200, "%s", res->body);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/logout", ended, NULL, res), 204, "%s", res->body);
    snprintf (bearer, sizeof bearer, "Authorization: Bearer %s", access);
    snprintf (ended_bearer, sizeof ended_bearer, "Authorization: Bearer %s", ended);
    int64_t deadline = zclock_mono () + 1000;
    while (s_at (EDGE_GW, NULL, "GET", "/api/v1/missions", ended_bearer, NULL, res) != 401
       &&  zclock_mono () < deadline)
        zclock_sleep (20);
    cr_assert_eq (res->status, 401, "the session still works after logout");

    //  RATE_LIMIT_DEFAULT_PER_MIN=5, per user, shared by the user's sessions
    cr_assert_eq (s_at (EDGE_GW, NULL, "GET", "/api/v1/missions", bearer, NULL, res), 200, "%s", res->body);
    long remaining = s_header_long (res, "RateLimit-Remaining");
    cr_assert_geq (remaining, 1);
    char *before = s_metrics (EDGE_GW);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq (s_at (EDGE_GW, NULL, "GET", "/api/v1/missions", ended_bearer, NULL, res), 401);
        s_assert_error_code (res, "invalid_token");
        cr_assert_not (stack_http_header (res, "RateLimit-Remaining", value, sizeof value),
                       "a refused session is not counted: %s", res->headers);
    }
    cr_assert_eq (s_at (EDGE_GW, NULL, "GET", "/api/v1/missions", bearer, NULL, res), 200, "%s", res->body);
    cr_assert_eq (s_header_long (res, "RateLimit-Remaining"), remaining - 1);
    //  Both tokens had been verified on this gateway: found again, not
    //  verified again, and the session still checked each time (401 above)
    char *after = s_metrics (EDGE_GW);
    cr_assert_geq (s_metric (after, "gateway_token_cache_hits_total"),
                   s_metric (before, "gateway_token_cache_hits_total") + 4, "%s", after);
    free (before);
    free (after);

    //  Over the limit, the ended session still hears 401, not 429
    for (int i = 0; i < 6 && s_at (EDGE_GW, NULL, "GET", "/api/v1/missions", bearer, NULL, res) == 200; i++)
        ;
    cr_assert_eq (res->status, 429, "%s", res->body);
    cr_assert_eq (s_at (EDGE_GW, NULL, "GET", "/api/v1/missions", ended_bearer, NULL, res), 401, "%s", res->body);
    free (res);
}

Test (edge_ratelimit, ratelimit_headers_on_limited_routes_only)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], value [64];
    api_new_user ("edge-headers", access, NULL);
    const char *limited [] = { "/api/v1/missions", "/api/v1/users/me", "/api/v1/auth/sessions",
                               "/api/v1/openapi.json", "/.well-known/jwks.json" };
    for (size_t i = 0; i < sizeof limited / sizeof limited [0]; i++) {
        cr_assert_eq (api_get (limited [i], access, res), 200, "%s: %s", limited [i], res->body);
        const char *names [] = { "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset" };
        for (size_t j = 0; j < 3; j++)
            cr_assert (stack_http_header (res, names [j], value, sizeof value), "%s has no %s",
                       limited [i], names [j]);
    }
    //  Probes are never limited
    const char *probes [] = { "/healthz", "/readyz" };
    for (size_t i = 0; i < 2; i++) {
        stack_http ("GET", probes [i], NULL, NULL, res);
        cr_assert_eq (res->status, 200);
        cr_assert_not (stack_http_header (res, "RateLimit-Limit", value, sizeof value), "%s", probes [i]);
    }
    free (res);
}

//  ----------------------------------------------------------------------
//  Redis away (the stack's own Redis; always started again)

//  Until a token request is no longer refused for want of Redis
static void
s_redis_back (void)
{
    stack_http_t *res = malloc (sizeof *res);
    int64_t until = zclock_mono () + 20000;
    do {
        //  An unknown grant: answered 400 once the limiter can count, and
        //  never a sign-in failure that auth would count against 127.0.0.1
        stack_http ("POST", "/api/v1/auth/token", "Content-Type: application/x-www-form-urlencoded",
                    "grant_type=edge_probe", res);
        if (res->status != 503 && res->status != 0)
            break;
        zclock_sleep (100);
    } while (zclock_mono () < until);
    free (res);
}

static void
s_start_redis (void)
{
    stack_run ("start-redis");
    s_redis_back ();
}

TestSuite (edge_redis, .timeout = 60, .fini = s_start_redis);

Test (edge_redis, sign_in_fails_closed_and_limits_fall_back_in_process)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], email [128];
    api_email (email, sizeof email, "edge-redis");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201, "%s", res->body);
    char *before = s_metrics (0);
    double fallbacks = s_metric (before, "gateway_ratelimit_fallbacks_total");
    double errors = s_metric (before, "gateway_ratelimit_redis_errors_total");
    free (before);

    cr_assert_eq (stack_run ("stop-redis"), 0);
    cr_assert_eq (api_login (email, API_PASSWORD, access, NULL, res), 503, "sign-in without Redis: %s", res->body);
    s_assert_error_code (res, "service_unavailable");
    s_assert_edge_headers (res, "503");
    char other [128], body [512];
    api_email (other, sizeof other, "edge-redis-signup");
    snprintf (body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", other, API_PASSWORD);
    stack_http ("POST", "/api/v1/auth/register", NULL, body, res);
    cr_assert_eq (res->status, 503, "sign-up without Redis: %s", res->body);
    //  Other routes are limited in process, and say so with the usual headers
    for (int i = 0; i < 3; i++) {
        stack_http ("GET", "/api/v1/openapi.json", NULL, NULL, res);
        cr_assert_eq (res->status, 200, "without Redis: %ld %s", res->status, res->body);
        cr_assert_geq (s_header_long (res, "RateLimit-Remaining"), 0);
    }
    char *during = s_metrics (0);
    cr_assert_geq (s_metric (during, "gateway_ratelimit_fallbacks_total"), fallbacks + 3, "%s", during);
    cr_assert_gt (s_metric (during, "gateway_ratelimit_redis_errors_total"), errors);
    free (during);
    cr_assert (s_log_says (0, "ALERT rate limiter"), "no alert in the gateway's log");

    cr_assert_eq (stack_run ("start-redis"), 0);
    s_redis_back ();
    cr_assert_eq (api_login (email, API_PASSWORD, access, NULL, res), 200, "Redis is back: %s", res->body);
    cr_assert_eq (api_get ("/api/v1/missions", access, res), 200, "%s", res->body);
    cr_assert_eq (api_register (other, API_PASSWORD, res), 201, "%s", res->body);
    free (res);
}

Test (edge_redis, missions_are_still_served)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], ended [API_TOKEN_MAX], email [128];
    api_email (email, sizeof email, "edge-redis-missions");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201, "%s", res->body);
    cr_assert_eq (api_login (email, API_PASSWORD, access, NULL, res), 200, "%s", res->body);
    cr_assert_eq (api_login (email, API_PASSWORD, ended, NULL, res), 200, "%s", res->body);
    cr_assert_eq (api_call ("POST", "/api/v1/auth/logout", ended, NULL, res), 204, "%s", res->body);
    cr_assert_eq (api_get ("/api/v1/missions", access, res), 200, "%s", res->body);
    cr_assert_eq (stack_run ("stop-redis"), 0);
    //  The contract: with Redis down, sign-in fails closed and missions are still served
    cr_assert_eq (api_get ("/api/v1/missions", access, res), 200,
                  "a token obtained before Redis went away: %ld %s", res->status, res->body);
    cr_assert_eq (api_call ("POST", "/api/v1/missions", access, "{\"title\":\"t\",\"duration_minutes\":5}", res),
                  201, "%s", res->body);
    //  ...and a session that ended is still refused: auth's own table says so
    cr_assert_eq (api_get ("/api/v1/missions", ended, res), 401, "a signed-out token: %s", res->body);
    free (res);
}

//  ----------------------------------------------------------------------
//  CORS (on the gateway that allows one origin)

TestSuite (edge_cors, .timeout = 60);

Test (edge_cors, an_allowed_origin_is_echoed_with_credentials)
{
    stack_http_t *res = malloc (sizeof *res);
    char value [256];
    const char *paths [][2] = { { "/healthz", "200" }, { "/api/v1/users/me", "401" }, { "/nowhere", "404" } };
    for (size_t i = 0; i < 3; i++) {
        s_at (EDGE_GW, NULL, "GET", paths [i][0], "Origin: " ORIGIN, NULL, res);
        cr_assert_eq (res->status, atol (paths [i][1]), "%s", paths [i][0]);
        cr_assert (stack_http_header (res, "Access-Control-Allow-Origin", value, sizeof value),
                   "%s: errors too must be readable by the page:\n%s", paths [i][0], res->headers);
        cr_assert_str_eq (value, ORIGIN);
        cr_assert (stack_http_header (res, "Access-Control-Allow-Credentials", value, sizeof value));
        cr_assert_str_eq (value, "true");
        cr_assert (stack_http_header (res, "Vary", value, sizeof value), "no Vary:\n%s", res->headers);
        cr_assert_not_null (strstr (value, "Origin"), "Vary: %s", value);
    }
    free (res);
}

Test (edge_cors, other_origins_get_no_cors_headers)
{
    stack_http_t *res = malloc (sizeof *res);
    char value [256];
    const char *origins [] = { "https://evil.example.com", "http://app.example.com",
                               "https://app.example.com.evil.example", "https://app.example.com:8443", "null" };
    for (size_t i = 0; i < sizeof origins / sizeof origins [0]; i++) {
        char header [300];
        snprintf (header, sizeof header, "Origin: %s", origins [i]);
        s_at (EDGE_GW, NULL, "GET", "/healthz", header, NULL, res);
        cr_assert_eq (res->status, 200);
        s_assert_no_cors (res, origins [i]);
        //  Caches must still keep the answers for different origins apart
        cr_assert (stack_http_header (res, "Vary", value, sizeof value) && strstr (value, "Origin"),
                   "%s: no Vary: Origin", origins [i]);
    }
    //  The stack's gateway allows no origin at all
    stack_http ("GET", "/healthz", "Origin: " ORIGIN, NULL, res);
    cr_assert_eq (res->status, 200);
    s_assert_no_cors (res, "stack gateway");
    free (res);
}

Test (edge_cors, preflights_allowed_and_refused)
{
    stack_http_t *res = malloc (sizeof *res);
    char value [256];
    s_at (EDGE_GW, NULL, "OPTIONS", "/api/v1/missions",
          "Origin: " ORIGIN "\nAccess-Control-Request-Method: POST\n"
          "Access-Control-Request-Headers: authorization, content-type", NULL, res);
    cr_assert_eq (res->status, 204, "%s", res->headers);
    cr_assert (stack_http_header (res, "Access-Control-Allow-Origin", value, sizeof value));
    cr_assert_str_eq (value, ORIGIN);
    cr_assert (stack_http_header (res, "Access-Control-Allow-Credentials", value, sizeof value));
    cr_assert_str_eq (value, "true");
    cr_assert (stack_http_header (res, "Access-Control-Allow-Methods", value, sizeof value));
    cr_assert (strstr (value, "POST") && strstr (value, "GET"), "methods: %s", value);
    cr_assert_null (strstr (value, "DELETE"), "only the path's own methods: %s", value);
    cr_assert (stack_http_header (res, "Access-Control-Allow-Headers", value, sizeof value));
    cr_assert (strstr (value, "Authorization") && strstr (value, "Content-Type"), "headers: %s", value);
    long age = s_header_long (res, "Access-Control-Max-Age");
    cr_assert (age > 0 && age <= 86400, "max age %ld", age);
    cr_assert (stack_http_header (res, "Vary", value, sizeof value) && strstr (value, "Origin"));
    s_assert_edge_headers (res, "preflight");

    //  A path with an id, and a method only it has
    s_at (EDGE_GW, NULL, "OPTIONS", "/api/v1/missions/0b6f3c2e-8a51-4c1d-9e2f-1a2b3c4d5e6f",
          "Origin: " ORIGIN "\nAccess-Control-Request-Method: DELETE", NULL, res);
    cr_assert_eq (res->status, 204, "%s", res->headers);

    const char *refused [][2] = {
        { "/api/v1/missions", "Origin: https://evil.example.com\nAccess-Control-Request-Method: POST" },
        { "/api/v1/missions", "Origin: " ORIGIN "\nAccess-Control-Request-Method: PUT" },
        { "/api/v1/missions", "Origin: " ORIGIN "\nAccess-Control-Request-Method: POST\n"
                              "Access-Control-Request-Headers: content-type, x-evil" },
        { "/api/v1/no-such-route", "Origin: " ORIGIN "\nAccess-Control-Request-Method: GET" },
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused [0]; i++) {
        s_at (EDGE_GW, NULL, "OPTIONS", refused [i][0], refused [i][1], NULL, res);
        cr_assert_eq (res->status, 403, "%s\n%s: %ld", refused [i][0], refused [i][1], res->status);
        s_assert_no_cors (res, refused [i][1]);
        s_assert_edge_headers (res, "refused preflight");
    }
    free (res);
}

//  ----------------------------------------------------------------------
//  Request limits and malformed requests (the stack's gateway)

TestSuite (edge_requests, .timeout = 60);

//  A JSON value nested depth deep in all: {"title":[[...]]}
static void
s_nested (char *out, int depth)
{
    size_t at = (size_t) sprintf (out, "{\"title\":");
    for (int i = 1; i < depth; i++)
        out [at++] = '[';
    for (int i = 1; i < depth; i++)
        out [at++] = ']';
    strcpy (out + at, "}");
}

Test (edge_requests, json_bodies_are_bounded_and_checked)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], bearer [API_TOKEN_MAX + 32];
    api_new_user ("edge-bodies", access, NULL);
    snprintf (bearer, sizeof bearer, "Authorization: Bearer %s", access);

    //  1 MiB is the most a JSON body may be
    size_t mib = 1024 * 1024;
    char *big = malloc (mib + 64);
    size_t at = (size_t) sprintf (big, "{\"title\":\"");
    memset (big + at, 'a', mib - at - 2);
    strcpy (big + mib - 2, "\"}");
    stack_http_bytes ("POST", "/api/v1/missions", bearer, big, mib, res, NULL, NULL);
    cr_assert_neq (res->status, 413, "exactly 1 MiB is allowed");
    cr_assert (res->status == 400 || res->status == 422, "%ld %s", res->status, res->body);
    memset (big + mib - 2, 'a', 1);
    strcpy (big + mib - 1, "\"}");
    stack_http_bytes ("POST", "/api/v1/missions", bearer, big, mib + 1, res, NULL, NULL);
    cr_assert_eq (res->status, 413, "1 MiB + 1: %s", res->body);
    s_assert_error_code (res, "payload_too_large");
    s_assert_edge_headers (res, "413");
    //  Without a Content-Length the body is cut off at the limit all the same
    char chunked [API_TOKEN_MAX + 64];
    snprintf (chunked, sizeof chunked, "%s\nTransfer-Encoding: chunked", bearer);
    stack_http_bytes ("POST", "/api/v1/missions", chunked, big, mib + 1, res, NULL, NULL);
    cr_assert_eq (res->status, 413, "chunked 1 MiB + 1: %s", res->body);
    free (big);

    const char *malformed [] = { "{\"title\":", "{\"title\":\"t\",}", "{\"title\":\"t\"} x",
                                 "[1,2]", "{\"title\":\"a\",\"title\":\"b\"}", "\xff\xfe{}", "" };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed [0]; i++) {
        stack_http ("POST", "/api/v1/missions", bearer, malformed [i], res);
        cr_assert_eq (res->status, 400, "'%s': %ld %s", malformed [i], res->status, res->body);
        s_assert_error_code (res, "invalid_request");
    }
    s_assert_edge_headers (res, "400");

    const char *types [] = { "Content-Type: text/plain", "Content-Type: application/x-www-form-urlencoded",
                             "Content-Type: application/json; charset=iso-8859-1", "Content-Type: application/jsonx" };
    for (size_t i = 0; i < sizeof types / sizeof types [0]; i++) {
        char headers [API_TOKEN_MAX + 128];
        snprintf (headers, sizeof headers, "%s\n%s", bearer, types [i]);
        stack_http ("POST", "/api/v1/missions", headers, "{\"title\":\"t\",\"duration_minutes\":5}", res);
        cr_assert_eq (res->status, 415, "%s: %ld", types [i], res->status);
        s_assert_error_code (res, "unsupported_media_type");
    }
    s_assert_edge_headers (res, "415");

    //  16 levels are parsed (and then refused as a field), 17 are not parsed at all
    char nested [128];
    s_nested (nested, 16);
    stack_http ("POST", "/api/v1/missions", bearer, nested, res);
    cr_assert_eq (res->status, 422, "16 deep: %s", res->body);
    s_nested (nested, 17);
    stack_http ("POST", "/api/v1/missions", bearer, nested, res);
    cr_assert_eq (res->status, 400, "17 deep: %s", res->body);
    s_assert_error_code (res, "invalid_request");

    //  At most 256 members and elements in all
    char *wide = malloc (8192);
    at = (size_t) sprintf (wide, "{\"title\":[");
    for (int i = 0; i < 300; i++)
        at += (size_t) sprintf (wide + at, "%s1", i? ",": "");
    strcpy (wide + at, "]}");
    stack_http ("POST", "/api/v1/missions", bearer, wide, res);
    cr_assert_eq (res->status, 400, "300 elements: %s", res->body);
    free (wide);
    free (res);
}

Test (edge_requests, oversized_heads_and_uris_are_refused_and_the_gateway_stays_up)
{
    stack_http_t *res = malloc (sizeof *res);
    char *text = malloc (32768), *header = malloc (32768);

    s_repeat (text, 'h', 20000);
    snprintf (header, 32768, "X-Big: %s", text);
    stack_http ("GET", "/healthz", header, NULL, res);
    cr_assert (res->status == 400 || res->status == 431, "a 20 kB header: %ld", res->status);
    s_assert_edge_headers (res, "oversized head");

    //  Header lines are counted too: CivetWeb keeps 64 and would drop the
    //  rest unseen, so a request with more is refused, not half read
    size_t at = 0;
    for (int i = 0; i < 30; i++)
        at += (size_t) sprintf (header + at, "%sX-H%d: %d", i? "\n": "", i, i);
    stack_http ("GET", "/healthz", header, NULL, res);
    cr_assert_eq (res->status, 200, "30 header lines: %ld", res->status);
    for (int i = 30; i < 70; i++)
        at += (size_t) sprintf (header + at, "\nX-H%d: %d", i, i);
    stack_http ("GET", "/healthz", header, NULL, res);
    cr_assert_eq (res->status, 431, "70 header lines: %ld", res->status);
    s_assert_error_code (res, "headers_too_large");
    s_assert_edge_headers (res, "70 header lines");

    snprintf (header, 32768, "/api/v1/missions?x=");
    s_repeat (header + strlen (header), 'u', 17000);
    stack_http ("GET", header, NULL, NULL, res);
    cr_assert (res->status == 400 || res->status == 414 || res->status == 431, "a 17 kB URI: %ld", res->status);
    s_assert_edge_headers (res, "overlong URI");

    stack_http ("GET", "/healthz", NULL, NULL, res);
    cr_assert_eq (res->status, 200, "the gateway is still up");
    free (text);
    free (header);
    free (res);
}

Test (edge_requests, heads_civetweb_refuses_get_the_contract_error)
{
    //  Answered before any handler runs, yet with the same headers and body shape
    const char *requests [][2] = {
        { "GARBAGE\r\n\r\n", "400" },
        { "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", "505" },
        { "GET /he\x01lthz HTTP/1.1\r\nHost: x\r\n\r\n", "400" },
        { "GET /healthz HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", "400" },
    };
    char *out = malloc (16384);
    for (size_t i = 0; i < sizeof requests / sizeof requests [0]; i++) {
        s_raw (stack_port ("GATEWAY_HTTP_PORT", 0), requests [i][0], out, 16384);
        char status [32];
        snprintf (status, sizeof status, "HTTP/1.1 %s ", requests [i][1]);
        cr_assert_eq (strncmp (out, status, strlen (status)), 0, "%.40s...: %.200s", requests [i][0], out);
        for (size_t j = 0; j < sizeof s_security / sizeof s_security [0]; j++)
            cr_assert_not_null (strstr (out, s_security [j][0]), "%.40s: no %s in\n%s", requests [i][0],
                                s_security [j][0], out);
        cr_assert_not_null (strstr (out, "\r\nX-Request-Id: "), "%s", out);
        const char *body = strstr (out, "\r\n\r\n");
        cr_assert_not_null (body);
        json_t *error = json_loads (body + 4, 0, NULL);
        cr_assert_not_null (error, "not JSON: %s", body + 4);
        cr_assert (json_is_string (json_object_get (json_object_get (error, "error"), "code")), "%s", body + 4);
        cr_assert (json_is_string (json_object_get (error, "request_id")), "%s", body + 4);
        json_decref (error);
    }

    //  Both framings at once is how requests are smuggled past a proxy that
    //  reads the other one: refused, and nothing after it is taken as a request
    int64_t sent = zclock_mono ();
    s_raw (stack_port ("GATEWAY_HTTP_PORT", 0),
           "POST /api/v1/missions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
           "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", out, 16384);
    cr_assert_eq (strncmp (out, "HTTP/1.1 400 ", 13), 0, "%s", out);
    cr_assert_null (strstr (out + 1, "HTTP/1.1 "), "the smuggled request was answered:\n%s", out);
    cr_assert_lt (zclock_mono () - sent, 2000, "the connection stayed open after it");
    free (out);
    stack_http_t *res = malloc (sizeof *res);
    stack_http ("GET", "/healthz", NULL, NULL, res);
    cr_assert_eq (res->status, 200, "the gateway is still up");
    free (res);
}

Test (edge_requests, security_headers_on_every_response)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], bearer [API_TOKEN_MAX + 32], path [128];
    char uid [37];
    api_new_user ("edge-headers", access, uid);
    snprintf (bearer, sizeof bearer, "Authorization: Bearer %s", access);
    struct { const char *method, *path; bool token; const char *body; long status; } cases [] = {
        { "GET",    "/healthz", false, NULL, 200 },
        { "GET",    "/api/v1/missions", true, NULL, 200 },
        { "POST",   "/api/v1/missions", true, "{\"title\":\"t\",\"duration_minutes\":5}", 201 },
        { "POST",   "/api/v1/auth/logout", false, NULL, 401 },
        { "GET",    "/api/v1/users/me", false, NULL, 401 },
        { "POST",   "/api/v1/admin/users/%s/lock", true, NULL, 403 },
        { "GET",    "/api/v1/missions/00000000-0000-4000-8000-000000000000", true, NULL, 404 },
        { "GET",    "/no/such/route", false, NULL, 404 },
        { "DELETE", "/healthz", false, NULL, 405 },
        { "PATCH",  "/api/v1/missions/00000000-0000-4000-8000-000000000000", true, "{", 400 },
        { "HEAD",   "/api/v1/openapi.json", false, NULL, 200 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        snprintf (path, sizeof path, cases [i].path, uid);
        stack_http (cases [i].method, path, cases [i].token? bearer: NULL, cases [i].body, res);
        cr_assert_eq (res->status, cases [i].status, "%s %s: %ld %s", cases [i].method, path,
                      res->status, res->body);
        s_assert_edge_headers (res, path);
    }
    //  and DELETE's 204
    cr_assert_eq (api_get ("/api/v1/missions", access, res), 200);
    json_t *list = api_json (res);
    json_t *first = json_array_get (json_object_get (list, "items"), 0);
    cr_assert_not_null (first, "%s", res->body);
    snprintf (path, sizeof path, "/api/v1/missions/%s", api_str (first, "id"));
    json_decref (list);
    cr_assert_eq (api_call ("DELETE", path, access, NULL, res), 204);
    s_assert_edge_headers (res, "204");
    free (res);
}

Test (edge_requests, slow_clients_are_cut_off_and_others_still_served)
{
    int port = stack_port ("GATEWAY_HTTP_PORT", 0);
    int64_t started = zclock_mono ();
    //  A few dozen connections that send nothing, and one that stalls half-way through its head
    int idle [40];
    for (size_t i = 0; i < 40; i++)
        idle [i] = s_connect (port);
    int slow = s_connect (port);
    const char *half = "GET /api/v1/missions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    cr_assert_eq (send (slow, half, strlen (half), 0), (ssize_t) strlen (half));

    //  Meanwhile everyone else is served at once
    stack_http_t *res = malloc (sizeof *res);
    for (int i = 0; i < 5; i++) {
        int64_t asked = zclock_mono ();
        stack_http ("GET", "/healthz", NULL, NULL, res);
        cr_assert_eq (res->status, 200);
        cr_assert_lt (zclock_mono () - asked, 1000, "a normal request waited behind the slow ones");
        zclock_sleep (200);
    }
    //  request_timeout_ms is 10 s: the stalled one is gone soon after
    char *got = calloc (1, 8192);
    cr_assert (s_closed_by_peer (slow, started + 12500, got, 8192),
               "a connection stalled mid-head is still open after 12.5 s");
    int64_t closed = zclock_mono () - started;
    cr_assert_geq (closed, 5000, "cut off after %lld ms: too eager for a 10 s timeout", (long long) closed);
    //  If it is told why, the answer carries the usual headers
    if (strncmp (got, "HTTP/1.", 7) == 0)
        for (size_t i = 0; i < sizeof s_security / sizeof s_security [0]; i++)
            cr_assert_not_null (strstr (got, s_security [i][0]), "the timeout answer lacks %s:\n%s",
                                s_security [i][0], got);
    close (slow);
    for (size_t i = 0; i < 40; i++) {
        *got = 0;
        cr_assert (s_closed_by_peer (idle [i], started + 13000, got, 8192), "idle connection %zu is still open", i);
        close (idle [i]);
    }
    free (got);
    stack_http ("GET", "/healthz", NULL, NULL, res);
    cr_assert_eq (res->status, 200);
    free (res);
}

Test (edge_requests, every_response_carries_a_request_id)
{
    stack_http_t *res = malloc (sizeof *res);
    char value [256], rid [64], header [128], ip [64];
    //  A sane id is echoed, on errors too, and is the one in the access log
    s_new_rid (rid, sizeof rid, "echo");
    snprintf (header, sizeof header, "X-Request-Id: %s", rid);
    const char *paths [] = { "/healthz", "/api/v1/users/me", "/no/such/route" };
    for (size_t i = 0; i < 3; i++) {
        stack_http ("GET", paths [i], header, NULL, res);
        cr_assert (stack_http_header (res, "X-Request-Id", value, sizeof value), "%s", paths [i]);
        cr_assert_str_eq (value, rid, "%s", paths [i]);
    }
    cr_assert_not_null (strstr (res->body, rid), "the error body names the request: %s", res->body);
    s_access_ip (0, rid, ip, sizeof ip);

    //  Anything else is replaced by a generated id
    char *longer = malloc (128);
    s_repeat (longer, 'a', 65);
    const char *insane [] = { "short", "has space inside", "semi;colon;here", "back\\slash-xxxxxxxx",
                              "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", longer };
    for (size_t i = 0; i < sizeof insane / sizeof insane [0]; i++) {
        snprintf (header, sizeof header, "X-Request-Id: %s", insane [i]);
        stack_http ("GET", "/api/v1/users/me", header, NULL, res);
        cr_assert (stack_http_header (res, "X-Request-Id", value, sizeof value));
        cr_assert_neq (strcmp (value, insane [i]), 0, "'%s' was echoed", insane [i]);
        cr_assert_eq (strlen (value), 32, "a generated id: '%s'", value);
        cr_assert_eq (strspn (value, "0123456789abcdef"), 32, "'%s'", value);
    }
    free (longer);
    //  An id on responses CivetWeb would otherwise answer alone
    char *big = malloc (32768);
    strcpy (big, "X-Big: ");
    s_repeat (big + 7, 'b', 20000);
    stack_http ("GET", "/healthz", big, NULL, res);
    cr_assert_neq (res->status, 200);
    cr_assert (stack_http_header (res, "X-Request-Id", value, sizeof value), "%ld:\n%s", res->status, res->headers);
    free (big);
    free (res);
}

//  ----------------------------------------------------------------------
//  Metrics and the published document

TestSuite (edge_metrics, .timeout = 60);

Test (edge_metrics, metrics_only_on_the_internal_port)
{
    stack_http_t *res = malloc (sizeof *res);
    char url [128], value [128];
    char *text = s_metrics (0);
    cr_assert_not_null (strstr (text, "# TYPE gateway_http_requests_total counter"), "%s", text);
    free (text);
    snprintf (url, sizeof url, "http://127.0.0.1:%d/metrics", stack_port ("GATEWAY_METRICS_PORT", 0));
    stack_http_bytes ("GET", url, NULL, NULL, 0, res, NULL, NULL);
    cr_assert (stack_http_header (res, "Content-Type", value, sizeof value));
    cr_assert_eq (strncmp (value, "text/plain", 10), 0, "%s", value);

    //  Not on the public ports, by any spelling
    const char *public [] = { "/metrics", "/metrics/", "/METRICS", "/api/v1/metrics", "/metrics?x=1" };
    for (size_t i = 0; i < sizeof public / sizeof public [0]; i++) {
        stack_http ("GET", public [i], NULL, NULL, res);
        cr_assert_eq (res->status, 404, "%s: %ld", public [i], res->status);
        cr_assert_null (strstr (res->body, "gateway_http_requests_total"), "%s", public [i]);
    }
    snprintf (url, sizeof url, "https://127.0.0.1:%d/metrics", stack_port ("GATEWAY_HTTPS_PORT", 0));
    stack_http_bytes ("GET", url, NULL, NULL, 0, res, NULL, NULL);
    cr_assert_eq (res->status, 404, "over HTTPS: %ld", res->status);

    //  Bound to loopback: another address of this host does not answer
    struct ifaddrs *list = NULL, *at;
    cr_assert_eq (getifaddrs (&list), 0);
    for (at = list; at; at = at->ifa_next) {
        if (!at->ifa_addr || at->ifa_addr->sa_family != AF_INET)
            continue;
        struct sockaddr_in address = *(struct sockaddr_in *) at->ifa_addr;
        if ((ntohl (address.sin_addr.s_addr) >> 24) == 127)
            continue;
        address.sin_port = htons ((uint16_t) stack_port ("GATEWAY_METRICS_PORT", 0));
        //  Refused, or at worst not answered within 2 s (a firewall)
        int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        bool connected = connect (fd, (struct sockaddr *) &address, sizeof address) == 0;
        if (!connected && errno == EINPROGRESS) {
            struct pollfd item = { fd, POLLOUT, 0 };
            int error = 0;
            socklen_t len = sizeof error;
            connected = poll (&item, 1, 2000) == 1
                     && getsockopt (fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0;
        }
        close (fd);
        char name [INET_ADDRSTRLEN];
        inet_ntop (AF_INET, &address.sin_addr, name, sizeof name);
        cr_assert_not (connected, "metrics answer on %s", name);
    }
    freeifaddrs (list);
    free (res);
}

Test (edge_metrics, requests_latency_backends_and_refusals_are_counted)
{
    stack_http_t *res = malloc (sizeof *res);
    char access [API_TOKEN_MAX], uid [37], path [128];
    const char *me_401 = "gateway_http_requests_total{route=\"/api/v1/users/me\",status=\"401\"}";
    const char *lock_403 = "gateway_http_requests_total{route=\"/api/v1/admin/users/{id}/lock\",status=\"403\"}";
    char *before = s_metrics (0);

    stack_http ("GET", "/api/v1/users/me", NULL, NULL, res);
    cr_assert_eq (res->status, 401);
    stack_http ("GET", "/api/v1/users/me", "Authorization: Bearer not-a-token", NULL, res);
    cr_assert_eq (res->status, 401);
    api_new_user ("edge-metrics", access, uid);
    cr_assert_eq (api_get ("/api/v1/missions", access, res), 200);
    snprintf (path, sizeof path, "/api/v1/admin/users/%s/lock", uid);
    cr_assert_eq (api_call ("POST", path, access, NULL, res), 403);
    char *after = s_metrics (0);

    cr_assert_geq (s_metric (after, me_401), s_metric (before, me_401) + 2, "%s", after);
    cr_assert_geq (s_metric (after, lock_403), s_metric (before, lock_403) + 1, "%s", after);
    cr_assert_geq (s_metric (after, "gateway_http_requests_total{route=\"/api/v1/missions\",status=\"200\"}"), 1);
    const char *denied [][2] = { { "gateway_http_denied_total{status=\"401\"}", "2" },
                                 { "gateway_http_denied_total{status=\"403\"}", "1" } };
    for (size_t i = 0; i < 2; i++)
        cr_assert_geq (s_metric (after, denied [i][0]), s_metric (before, denied [i][0]) + atof (denied [i][1]),
                       "%s", denied [i][0]);

    //  The latency histogram: every request counted, buckets cumulative
    const char *count = "gateway_http_request_duration_seconds_count{}";
    cr_assert_geq (s_metric (after, count), s_metric (before, count) + 6);
    double last = 0;
    size_t buckets = 0;
    for (const char *line = strstr (after, "gateway_http_request_duration_seconds_bucket{"); line;
         line = strstr (line + 1, "\ngateway_http_request_duration_seconds_bucket{")) {
        const char *value = strchr (line, '}') + 2;
        double n = strtod (value, NULL);
        cr_assert_geq (n, last, "buckets must not shrink: %.80s", line);
        last = n;
        buckets++;
    }
    cr_assert_geq (buckets, 5);
    cr_assert_eq (s_metric (after, "gateway_http_request_duration_seconds_bucket{le=\"+Inf\"}"),
                  s_metric (after, count));

    //  Calls to the backends: auth for sign-up and sign-in, missions for the list
    const char *auth_calls = "gateway_backend_call_duration_seconds_count{service=\"auth\"}";
    const char *missions_calls = "gateway_backend_call_duration_seconds_count{service=\"missions\"}";
    cr_assert_geq (s_metric (after, auth_calls), s_metric (before, auth_calls) + 2);
    cr_assert_geq (s_metric (after, missions_calls), s_metric (before, missions_calls) + 1);
    cr_assert_not_null (strstr (after, "gateway_backend_call_failures_total{service=\"missions\"}"));
    cr_assert_not_null (strstr (after, "gateway_ratelimit_fallbacks_total"));
    free (before);
    free (after);
    free (res);
}

Test (edge_metrics, the_served_openapi_document_is_the_repository_one)
{
    stack_http_t *res = malloc (sizeof *res);
    char *data = NULL, file [1024];
    size_t len = 0;
    stack_http_bytes ("GET", "/api/v1/openapi.json", NULL, NULL, 0, res, &data, &len);
    cr_assert_eq (res->status, 200);
    json_t *served = json_loadb (data, len, 0, NULL);
    cr_assert_not_null (served, "not JSON");
    snprintf (file, sizeof file, "%s/docs/openapi.json", stack_env ("REPO_ROOT"));
    json_t *kept = json_load_file (file, 0, NULL);
    cr_assert_not_null (kept, "%s", file);
    cr_assert (json_equal (served, kept), "the gateway serves another document than %s (rebuild?)", file);
    cr_assert_str_eq (json_string_value (json_object_get (served, "openapi")), "3.1.0");
    json_decref (served);
    json_decref (kept);
    free (data);
    free (res);
}
