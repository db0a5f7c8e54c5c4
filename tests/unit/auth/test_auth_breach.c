/*  test_auth_breach - range lookups against a CivetWeb server on 127.0.0.1

    The server knows no hashes: each path answers a body the test built
    from SHA-1("correct horse battery staple"), and every request's target
    and headers are recorded, so the tests can check what left the process.
*/
#include <criterion/criterion.h>
#include <civetweb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "../../../services/auth/auth_breach.h"

#define PASSWORD        "correct horse battery staple"
#define BIG_BODY        (AUTH_BREACH_BODY_MAX + 64 * 1024)
#define SLOW_MS         5000

//  What each path answers; the handler's cbdata
typedef enum {
    MODE_RANGE,         //  padding, our suffix with 42, a malformed line; CRLF
    MODE_PADDED,        //  our suffix with count 0 only, and damaged copies of it; LF
    MODE_LOWER,         //  our suffix lower-case with 3, LF, no LF after the last line
    MODE_ERROR,         //  500
    MODE_SLOW,          //  the range, after SLOW_MS
    MODE_HUGE,          //  over the ceiling, with Content-Length; our suffix first
    MODE_STREAM,        //  over the ceiling, chunked; our suffix first
    MODE_GARBAGE,       //  200 with an HTML page
    MODE_REDIRECT       //  302 to the good range
} route_mode_t;

static struct mg_context *s_ctx;
static int s_port;
static char s_hash [41];                //  SHA-1 of PASSWORD, upper-case hex
static atomic_bool s_stopping;          //  lets the slow handler give up at teardown

//  The last request, as the server saw it
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static int s_requests;
static char s_method [16];
static char s_path [256];
static bool s_has_query;
static char s_padding [64];             //  the Add-Padding header, "" when absent
static char s_headers [8192];           //  every header "name: value\n"

//  ----------------------------------------------------------------------
//  Helpers

static void
s_sha1_hex (const char *text, char *hex)
{
    unsigned char digest [EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    cr_assert_eq (EVP_Digest (text, strlen (text), digest, &len, EVP_sha1 (), NULL), 1);
    cr_assert_eq (len, 20);
    for (unsigned int i = 0; i < len; i++)
        sprintf (hex + 2 * i, "%02X", digest [i]);
}

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

//  A padding line: some 35-hex-digit suffix that is not ours, count 0
static size_t
s_pad_line (char *out, size_t size, size_t n, const char *eol)
{
    int len = snprintf (out, size, "%035zX:0%s", n * 2654435761u, eol);
    cr_assert (len > 0 && (size_t) len < size);
    return (size_t) len;
}

//  The body for mode into a new string (caller frees), its length in *len_p
static char *
s_body (route_mode_t mode, size_t *len_p)
{
    const char *suffix = s_hash + 5;
    size_t size = mode == MODE_HUGE || mode == MODE_STREAM? BIG_BODY + 4096: 16384;
    char *body = (char *) malloc (size);
    cr_assert_not_null (body);
    size_t len = 0;
    if (mode == MODE_RANGE || mode == MODE_SLOW || mode == MODE_REDIRECT) {
        for (size_t i = 1; i <= 20; i++)
            len += s_pad_line (body + len, size - len, i, "\r\n");
        len += (size_t) snprintf (body + len, size - len, "%s:42\r\n", suffix);
        len += (size_t) snprintf (body + len, size - len, "this line is not a range line\r\n");
        for (size_t i = 21; i <= 40; i++)
            len += s_pad_line (body + len, size - len, i, "\r\n");
    }
    else
    if (mode == MODE_PADDED) {
        //  Each damaged copy has a positive count: a lax parser would match it
        len += (size_t) snprintf (body + len, size - len,
                                  "%s:0\n"              //  padding for our own suffix
                                  "%s:\n"               //  no count
                                  "%s:12x\n"            //  a count that is not a number
                                  "%s :5\n"             //  a space before the colon
                                  "%.34s:7\n"           //  one digit short
                                  "0%s:7\n"             //  one digit long
                                  "%.34sG:7\n"          //  not hex
                                  "%s:-9\n"             //  signed
                                  "%s:0000000000000000000000000000001\n",  //  too long a line
                                  suffix, suffix, suffix, suffix, suffix, suffix, suffix,
                                  suffix, suffix);
        for (size_t i = 1; i <= 10; i++)
            len += s_pad_line (body + len, size - len, i, "\n");
        len += s_pad_line (body + len, size - len, 11, "");
    }
    else
    if (mode == MODE_LOWER) {
        for (size_t i = 1; i <= 5; i++)
            len += s_pad_line (body + len, size - len, i, "\n");
        len += (size_t) snprintf (body + len, size - len, "%s:3", suffix);
        for (size_t i = len - 37; i < len - 2; i++)
            if (body [i] >= 'A' && body [i] <= 'F')
                body [i] = (char) (body [i] - 'A' + 'a');
    }
    else
    if (mode == MODE_HUGE || mode == MODE_STREAM) {
        len += (size_t) snprintf (body + len, size - len, "%s:42\r\n", suffix);
        for (size_t i = 1; len < BIG_BODY; i++)
            len += s_pad_line (body + len, size - len, i, "\r\n");
    }
    else
    if (mode == MODE_GARBAGE)
        len += (size_t) snprintf (body + len, size - len,
                                  "<html><body>Please sign in to the network</body></html>\n");
    *len_p = len;
    return body;
}

//  ----------------------------------------------------------------------
//  The server

static void
s_record (struct mg_connection *conn)
{
    const struct mg_request_info *info = mg_get_request_info (conn);
    const char *padding = mg_get_header (conn, "Add-Padding");
    pthread_mutex_lock (&s_lock);
    s_requests++;
    snprintf (s_method, sizeof s_method, "%s", info->request_method);
    snprintf (s_path, sizeof s_path, "%s", info->request_uri);
    s_has_query = info->query_string != NULL;
    snprintf (s_padding, sizeof s_padding, "%s", padding? padding: "");
    size_t len = 0;
    s_headers [0] = 0;
    for (int i = 0; i < info->num_headers; i++) {
        int n = snprintf (s_headers + len, sizeof s_headers - len, "%s: %s\n",
                          info->http_headers [i].name, info->http_headers [i].value);
        if (n < 0 || (size_t) n >= sizeof s_headers - len)
            break;
        len += (size_t) n;
    }
    pthread_mutex_unlock (&s_lock);
}

static void
s_send (struct mg_connection *conn, const char *data, size_t len)
{
    while (len > 0) {
        size_t n = len < 65536? len: 65536;
        if (mg_write (conn, data, n) <= 0)
            return;                     //  the client gave up, as it should on a huge body
        data += n;
        len -= n;
    }
}

static int
s_handler (struct mg_connection *conn, void *cbdata)
{
    route_mode_t mode = (route_mode_t) (uintptr_t) cbdata;
    s_record (conn);
    if (mode == MODE_ERROR) {
        mg_send_http_error (conn, 500, "%s", "range store unavailable");
        return 500;
    }
    if (mode == MODE_REDIRECT) {
        char target [128];
        snprintf (target, sizeof target, "http://127.0.0.1:%d/range/%.5s", s_port, s_hash);
        mg_send_http_redirect (conn, target, 302);
        return 302;
    }
    if (mode == MODE_SLOW)
        for (int waited = 0; waited < SLOW_MS && !atomic_load (&s_stopping); waited += 20)
            usleep (20 * 1000);
    size_t len = 0;
    char *body = s_body (mode, &len);
    if (mode == MODE_STREAM) {
        mg_send_http_ok (conn, "text/plain", -1);
        for (size_t at = 0; at < len; at += 65536) {
            size_t n = len - at < 65536? len - at: 65536;
            if (mg_send_chunk (conn, body + at, (unsigned int) n) < 0)
                break;
        }
        mg_send_chunk (conn, "", 0);
    }
    else {
        mg_send_http_ok (conn, "text/plain", (long long) len);
        s_send (conn, body, len);
    }
    free (body);
    return 200;
}

static void
s_setup (void)
{
    s_sha1_hex (PASSWORD, s_hash);
    atomic_store (&s_stopping, false);
    const char *options [] = {
        "listening_ports", "127.0.0.1:0", "num_threads", "8", "request_timeout_ms", "10000", NULL
    };
    struct mg_callbacks callbacks;
    memset (&callbacks, 0, sizeof callbacks);
    s_ctx = mg_start (&callbacks, NULL, options);
    cr_assert_not_null (s_ctx);
    static const struct { const char *uri; route_mode_t mode; } routes [] = {
        { "/range", MODE_RANGE }, { "/padded", MODE_PADDED }, { "/lower", MODE_LOWER },
        { "/error", MODE_ERROR }, { "/slow", MODE_SLOW }, { "/huge", MODE_HUGE },
        { "/stream", MODE_STREAM }, { "/garbage", MODE_GARBAGE }, { "/redirect", MODE_REDIRECT }
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes [0]; i++)
        mg_set_request_handler (s_ctx, routes [i].uri, s_handler,
                                (void *) (uintptr_t) routes [i].mode);
    struct mg_server_port ports [2];
    memset (ports, 0, sizeof ports);
    cr_assert_eq (mg_get_server_ports (s_ctx, 2, ports), 1);
    s_port = ports [0].port;
    cr_assert_gt (s_port, 0);
}

static void
s_teardown (void)
{
    atomic_store (&s_stopping, true);
    if (s_ctx)
        mg_stop (s_ctx);
    s_ctx = NULL;
}

//  A checker for http://127.0.0.1:<port><path>
static auth_breach_t *
s_new (const char *path)
{
    char url [256];
    snprintf (url, sizeof url, "http://127.0.0.1:%d%s", s_port, path);
    auth_breach_t *breach = auth_breach_new (url, NULL);
    cr_assert_not_null (breach, "refused %s", url);
    return breach;
}

//  One check of password against path, with a checker of its own
static auth_breach_result_t
s_check (const char *path, const char *password)
{
    auth_breach_t *breach = s_new (path);
    auth_breach_result_t result = auth_breach_check (breach, password);
    auth_breach_destroy (&breach);
    cr_assert_null (breach);
    return result;
}

static int
s_request_count (void)
{
    pthread_mutex_lock (&s_lock);
    int count = s_requests;
    pthread_mutex_unlock (&s_lock);
    return count;
}

//  ----------------------------------------------------------------------
//  Answers

TestSuite (breach, .init = s_setup, .fini = s_teardown);

Test (breach, listed_password_is_found, .timeout = 30)
{
    cr_assert_eq (s_check ("/range/", PASSWORD), AUTH_BREACH_FOUND);
    cr_assert_eq (s_request_count (), 1);
}

Test (breach, random_password_is_not_found, .timeout = 30)
{
    unsigned char raw [16];
    char password [33];
    cr_assert_eq (RAND_bytes (raw, sizeof raw), 1);
    for (size_t i = 0; i < sizeof raw; i++)
        sprintf (password + 2 * i, "%02x", raw [i]);
    cr_assert_eq (s_check ("/range/", password), AUTH_BREACH_NOT_FOUND);
}

Test (breach, only_the_prefix_is_sent, .timeout = 30)
{
    cr_assert_eq (s_check ("/range/", PASSWORD), AUTH_BREACH_FOUND);
    char expected [64];
    snprintf (expected, sizeof expected, "/range/%.5s", s_hash);
    pthread_mutex_lock (&s_lock);
    cr_assert_str_eq (s_method, "GET");
    cr_assert_str_eq (s_path, expected);
    cr_assert_eq (strlen (s_path), strlen ("/range/") + 5);
    cr_assert_not (s_has_query);
    cr_assert_str_eq (s_padding, "true");
    //  Neither the hash, nor its suffix, nor the password, in any case
    const char *fields [] = { s_path, s_headers };
    for (size_t i = 0; i < 2; i++) {
        cr_assert_null (strcasestr (fields [i], s_hash), "%s", fields [i]);
        cr_assert_null (strcasestr (fields [i], s_hash + 5), "%s", fields [i]);
        cr_assert_null (strcasestr (fields [i], PASSWORD), "%s", fields [i]);
    }
    pthread_mutex_unlock (&s_lock);
}

Test (breach, one_slash_before_the_prefix, .timeout = 30)
{
    char expected [64];
    snprintf (expected, sizeof expected, "/range/%.5s", s_hash);
    const char *paths [] = { "/range", "/range/", "/range///" };
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq (s_check (paths [i], PASSWORD), AUTH_BREACH_FOUND, "%s", paths [i]);
        pthread_mutex_lock (&s_lock);
        cr_assert_str_eq (s_path, expected, "%s", paths [i]);
        pthread_mutex_unlock (&s_lock);
    }
}

Test (breach, padding_and_damaged_lines_do_not_match, .timeout = 30)
{
    cr_assert_eq (s_check ("/padded/", PASSWORD), AUTH_BREACH_NOT_FOUND);
}

Test (breach, lower_case_lf_and_no_final_newline, .timeout = 30)
{
    cr_assert_eq (s_check ("/lower/", PASSWORD), AUTH_BREACH_FOUND);
}

//  CALLS lookups of PASSWORD on the shared checker; how many were FOUND
static void *
s_thread_main (void *arg)
{
    auth_breach_t *breach = (auth_breach_t *) arg;
    intptr_t found = 0;
    for (int i = 0; i < 5; i++)
        if (auth_breach_check (breach, PASSWORD) == AUTH_BREACH_FOUND)
            found++;
    return (void *) found;
}

Test (breach, shared_by_threads, .timeout = 30)
{
    auth_breach_t *breach = s_new ("/range/");
    enum { THREADS = 4, CALLS = 5 };       //  CALLS as in s_thread_main
    pthread_t threads [THREADS];
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq (pthread_create (&threads [i], NULL, s_thread_main, breach), 0);
    for (int i = 0; i < THREADS; i++) {
        void *found = NULL;
        pthread_join (threads [i], &found);
        cr_assert_eq ((intptr_t) found, CALLS);
    }
    auth_breach_destroy (&breach);
    cr_assert_eq (s_request_count (), THREADS * CALLS);
}

//  ----------------------------------------------------------------------
//  Failures answer UNKNOWN

Test (breach, server_error_is_unknown, .timeout = 30)
{
    cr_assert_eq (s_check ("/error/", PASSWORD), AUTH_BREACH_UNKNOWN);
}

Test (breach, slow_server_is_unknown_in_time, .timeout = 30)
{
    double start = s_now ();
    cr_assert_eq (s_check ("/slow/", PASSWORD), AUTH_BREACH_UNKNOWN);
    double elapsed = s_now () - start;
    //  3 s timeout; generous headroom for a loaded CI machine
    cr_assert_lt (elapsed, 6.0, "took %.2f s", elapsed);
    cr_assert_gt (elapsed, 2.5, "took %.2f s", elapsed);
}

Test (breach, body_over_the_ceiling_is_unknown, .timeout = 30)
{
    //  Both begin with our suffix: a body past the ceiling is no answer at all
    cr_assert_eq (s_check ("/huge/", PASSWORD), AUTH_BREACH_UNKNOWN);
    double start = s_now ();
    cr_assert_eq (s_check ("/stream/", PASSWORD), AUTH_BREACH_UNKNOWN);
    cr_assert_lt (s_now () - start, 2.5, "aborted by the ceiling, not the timeout");
}

Test (breach, page_without_range_lines_is_unknown, .timeout = 30)
{
    cr_assert_eq (s_check ("/garbage/", PASSWORD), AUTH_BREACH_UNKNOWN);
}

Test (breach, redirect_is_not_followed, .timeout = 30)
{
    cr_assert_eq (s_check ("/redirect/", PASSWORD), AUTH_BREACH_UNKNOWN);
    cr_assert_eq (s_request_count (), 1);
}

Test (breach, no_server_is_unknown, .timeout = 30)
{
    //  A port that was free a moment ago
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    cr_assert_geq (fd, 0);
    struct sockaddr_in addr;
    memset (&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    cr_assert_eq (bind (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    socklen_t addr_len = sizeof addr;
    cr_assert_eq (getsockname (fd, (struct sockaddr *) &addr, &addr_len), 0);
    close (fd);
    char url [64];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/range/", ntohs (addr.sin_port));
    auth_breach_t *breach = auth_breach_new (url, NULL);
    cr_assert_not_null (breach);
    cr_assert_eq (auth_breach_check (breach, PASSWORD), AUTH_BREACH_UNKNOWN);
    auth_breach_destroy (&breach);
}

Test (breach, tls_to_a_plain_server_is_unknown, .timeout = 30)
{
    char url [64];
    snprintf (url, sizeof url, "https://127.0.0.1:%d/range/", s_port);
    auth_breach_t *breach = auth_breach_new (url, NULL);
    cr_assert_not_null (breach);
    cr_assert_eq (auth_breach_check (breach, PASSWORD), AUTH_BREACH_UNKNOWN);
    auth_breach_destroy (&breach);
}

//  ----------------------------------------------------------------------
//  Settings

Test (breach, disabled_is_always_unknown, .timeout = 30)
{
    const char *urls [] = { NULL, "" };
    for (size_t i = 0; i < 2; i++) {
        auth_breach_t *breach = auth_breach_new (urls [i], NULL);
        cr_assert_not_null (breach);
        cr_assert_eq (auth_breach_check (breach, PASSWORD), AUTH_BREACH_UNKNOWN);
        cr_assert_eq (auth_breach_check (breach, "another password"), AUTH_BREACH_UNKNOWN);
        auth_breach_destroy (&breach);
        cr_assert_null (breach);
        auth_breach_destroy (&breach);
    }
    cr_assert_eq (s_request_count (), 0);
}

Test (breach, refused_urls, .timeout = 30)
{
    const char *urls [] = {
        "http://example.com/",                      //  clear text off this host
        "http://api.pwnedpasswords.com/range/",
        "http://127.0.0.2/range/",
        "http://localhost.example.com/range/",
        "ftp://127.0.0.1/range/",
        "api.pwnedpasswords.com/range/",            //  no scheme
        "https://",                                 //  no host
        "https:///range/",
        "https://user:secret@example.com/range/",   //  credentials
        "https://example.com/range/?key=1",         //  the prefix would land in a query
        "https://example.com/range/#x",
        "https://example.com/ran ge/",
        "https://example.com\\@evil.example/",
        "https://example.com:/range/",
        "https://example.com:99999x/range/",
        "http://[::2]/range/",
        "http://[::1/range/",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls [0]; i++) {
        auth_breach_t *breach = auth_breach_new (urls [i], NULL);
        cr_assert_null (breach, "accepted %s", urls [i]);
    }
    char url [AUTH_BREACH_URL_MAX + 16];
    memset (url, 'a', sizeof url - 1);
    url [sizeof url - 1] = 0;
    memcpy (url, "https://example.com/", 20);
    cr_assert_null (auth_breach_new (url, NULL));
}

Test (breach, accepted_urls, .timeout = 30)
{
    const char *urls [] = {
        "https://api.pwnedpasswords.com/range/",
        "https://api.pwnedpasswords.com/range",
        "HTTPS://api.pwnedpasswords.com:443/range/",
        "http://localhost/range/",
        "http://LOCALHOST:8080/range/",
        "http://127.0.0.1:8080/range/",
        "http://[::1]:8080/range/",
        "https://[2001:db8::1]/range/",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls [0]; i++) {
        auth_breach_t *breach = auth_breach_new (urls [i], NULL);
        cr_assert_not_null (breach, "refused %s", urls [i]);
        auth_breach_destroy (&breach);
    }
}

Test (breach, unreadable_ca_file_is_refused, .timeout = 30)
{
    cr_assert_null (auth_breach_new ("https://api.pwnedpasswords.com/range/",
                                     "/nonexistent/ca.pem"));
}
