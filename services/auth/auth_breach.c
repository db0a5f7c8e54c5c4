/*  auth_breach - breached-password range lookup (k-anonymity, HIBP style)

    The response is parsed as it streams in, a line at a time through a
    small fixed buffer, so a range answer never sits in memory whole and
    the body ceiling is enforced byte by byte, whatever Content-Length says.
    Nothing derived from the password is logged, not even the prefix sent.
*/
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include "auth_breach.h"
#include "auth_http.h"
#include "../../common/cm_url.h"
#include "../../common/cm_log.h"

#define SHA1_BYTES      20
#define SHA1_HEX        (2 * SHA1_BYTES)
#define PREFIX_LEN      5                       //  the only part of the hash that is sent
#define SUFFIX_LEN      (SHA1_HEX - PREFIX_LEN)
#define COUNT_DIGITS    20                      //  more than any real count needs
#define RANGE_LINE_MAX  (SUFFIX_LEN + 1 + COUNT_DIGITS + 1)   //  "SUFFIX:COUNT\r"
#define USER_AGENT      "auth-breach-check"     //  some front ends drop requests without one

struct auth_breach_s {
    char *base;                         //  owned; the URL ending in exactly one '/',
                                        //  NULL = lookups disabled
    char *ca_file;                      //  owned; NULL = the system's CAs
    bool curl_ready;                    //  curl_global_init done, undone on destroy
};

//  One response being read; one per call, so calls share nothing
typedef struct {
    const char *suffix;                 //  borrowed: our SUFFIX_LEN upper-case hex characters
    char line [RANGE_LINE_MAX];         //  the current line so far, without its LF
    size_t line_len;
    bool line_long;                     //  it outgrew line: malformed, skipped at its LF
    size_t total;                       //  body bytes received
    size_t lines;                       //  well-formed lines seen
    bool too_big;                       //  the body passed AUTH_BREACH_BODY_MAX
    bool found;                         //  our suffix, with a count above zero
} s_reader_t;


//  True when the SUFFIX_LEN characters at text, any case, are ours
static bool
s_suffix_eq (const char *text, const char *ours)
{
    for (size_t i = 0; i < SUFFIX_LEN; i++) {
        char c = text [i];
        if (c >= 'a' && c <= 'f')
            c = (char) (c - 'a' + 'A');
        if (c != ours [i])
            return false;
    }
    return true;
}

//  One complete line, its LF already gone: "SUFFIX:COUNT", CR allowed at
//  the end. Anything else is skipped, so a damaged line can never match.
static void
s_reader_line (s_reader_t *reader)
{
    size_t len = reader->line_len;
    const char *line = reader->line;
    if (reader->line_long)
        goto done;
    if (len > 0 && line [len - 1] == '\r')
        len--;
    if (len < SUFFIX_LEN + 2 || line [SUFFIX_LEN] != ':')
        goto done;
    for (size_t i = 0; i < SUFFIX_LEN; i++) {
        char c = line [i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f')))
            goto done;
    }
    //  Padding lines carry a count of 0; only a non-zero digit means "seen"
    bool positive = false;
    for (size_t i = SUFFIX_LEN + 1; i < len; i++) {
        if (line [i] < '0' || line [i] > '9')
            goto done;
        if (line [i] != '0')
            positive = true;
    }
    reader->lines++;
    if (positive && s_suffix_eq (line, reader->suffix))
        reader->found = true;
done:
    reader->line_len = 0;
    reader->line_long = false;
}

//  libcurl hands the body over through this. Returning short aborts the
//  transfer: that is how the ceiling stops a server that keeps sending.
static size_t
s_reader_write (char *data, size_t size, size_t nitems, void *arg)
{
    s_reader_t *reader = (s_reader_t *) arg;
    size_t len = size * nitems;
    if (len > AUTH_BREACH_BODY_MAX - reader->total) {
        reader->too_big = true;
        return 0;
    }
    reader->total += len;
    for (size_t i = 0; i < len; i++) {
        if (data [i] == '\n')
            s_reader_line (reader);
        else
        if (reader->line_len < sizeof reader->line)
            reader->line [reader->line_len++] = data [i];
        else
            reader->line_long = true;
    }
    return len;
}

//  GET url on a handle of its own and read the range into reader; the
//  verdict, UNKNOWN (logged, without the URL) on any failure
static auth_breach_result_t
s_fetch (auth_breach_t *self, const char *url, s_reader_t *reader)
{
    auth_breach_result_t result = AUTH_BREACH_UNKNOWN;
    struct curl_slist *headers = NULL;
    CURL *curl = auth_http_handle_new (url, self->ca_file, NULL, AUTH_BREACH_CONNECT_MS,
                                       AUTH_BREACH_TIMEOUT_MS);
    if (!curl || !(headers = curl_slist_append (NULL, "Add-Padding: true"))) {
        cm_warn ("breached-password lookup skipped: cannot set up libcurl");
        goto cleanup;
    }
    //  The lookup sits in a sign-up request, so a slow service costs it
    //  TIMEOUT_MS at most (auth_http sets the timeouts and TLS rules)
    if (curl_easy_setopt (curl, CURLOPT_HTTPGET, 1L) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_USERAGENT, USER_AGENT) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_FAILONERROR, 1L) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_MAXFILESIZE_LARGE,
                          (curl_off_t) AUTH_BREACH_BODY_MAX) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_reader_write) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_WRITEDATA, reader) != CURLE_OK) {
        cm_warn ("breached-password lookup skipped: libcurl refused an option");
        goto cleanup;
    }
    CURLcode code = curl_easy_perform (curl);
    long status = 0;
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    if (reader->too_big || code == CURLE_FILESIZE_EXCEEDED) {
        cm_warn ("breached-password lookup failed: the answer is over %d bytes",
                 AUTH_BREACH_BODY_MAX);
        goto cleanup;
    }
    if (code != CURLE_OK) {
        cm_warn ("breached-password lookup failed: %s (HTTP %ld)", curl_easy_strerror (code),
                 status);
        goto cleanup;
    }
    if (status != 200) {
        cm_warn ("breached-password lookup failed: HTTP %ld", status);
        goto cleanup;
    }
    //  The last line may have no LF
    if (reader->line_len > 0 || reader->line_long)
        s_reader_line (reader);
    //  A real range always lists hundreds of suffixes; a 200 with none is
    //  some other page (a captive portal, say), not an answer
    if (reader->lines == 0) {
        cm_warn ("breached-password lookup failed: the answer has no range lines");
        goto cleanup;
    }
    result = reader->found? AUTH_BREACH_FOUND: AUTH_BREACH_NOT_FOUND;

cleanup:
    curl_slist_free_all (headers);
    if (curl)
        curl_easy_cleanup (curl);
    return result;
}


//  ----------------------------------------------------------------------
//  url NULL/"" = disabled. NULL, logged, when the URL or CA file is refused.
auth_breach_t *
auth_breach_new (const char *url, const char *ca_file)
{
    auth_breach_t *self = (auth_breach_t *) calloc (1, sizeof (auth_breach_t));
    if (!self)
        return NULL;
    if (!url || !*url) {
        cm_info ("BREACHED_PASSWORD_RANGE_URL is not set: no breached-password lookups");
        return self;
    }
    size_t len = strnlen (url, AUTH_BREACH_URL_MAX + 1);
    if (len > AUTH_BREACH_URL_MAX || cm_url_check_outbound (url, true, false)) {
        cm_error ("BREACHED_PASSWORD_RANGE_URL must be https://host[:port]/path (http:// only "
                  "to localhost), with no credentials, query or fragment");
        goto failed;
    }
    //  One '/' before the prefix, however many the setting ends with; the
    //  host check above leaves at least the host in front of them
    while (url [len - 1] == '/')
        len--;
    self->base = (char *) malloc (len + 2);
    if (!self->base)
        goto failed;
    memcpy (self->base, url, len);
    memcpy (self->base + len, "/", 2);

    if (ca_file && *ca_file) {
        //  Here rather than on the first sign-up: a typo should stop start-up
        if (access (ca_file, R_OK)) {
            cm_error ("cannot read the CA file %s for breached-password lookups", ca_file);
            goto failed;
        }
        self->ca_file = strdup (ca_file);
        if (!self->ca_file)
            goto failed;
    }
    //  Here, before the workers start: global init is not thread-safe
    if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cm_error ("cannot initialise libcurl");
        goto failed;
    }
    self->curl_ready = true;
    cm_info ("breached-password lookups go to %s", self->base);
    return self;

failed:
    auth_breach_destroy (&self);
    return NULL;
}


//  ----------------------------------------------------------------------
//  Free; idempotent, nulls *self_p
void
auth_breach_destroy (auth_breach_t **self_p)
{
    assert (self_p);
    auth_breach_t *self = *self_p;
    if (self) {
        free (self->base);
        free (self->ca_file);
        if (self->curl_ready)
            curl_global_cleanup ();
        free (self);
        *self_p = NULL;
    }
}


//  ----------------------------------------------------------------------
//  FOUND, NOT_FOUND, or UNKNOWN when disabled or on any failure (logged).
//  Reads self only, so worker threads may call it at the same time.
auth_breach_result_t
auth_breach_check (auth_breach_t *self, const char *password)
{
    assert (self);
    assert (password);
    static const char hex_digits [] = "0123456789ABCDEF";
    auth_breach_result_t result = AUTH_BREACH_UNKNOWN;
    unsigned char digest [EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    char hex [SHA1_HEX + 1];
    char url [AUTH_BREACH_URL_MAX + 2 + PREFIX_LEN];
    s_reader_t reader;
    memset (&reader, 0, sizeof reader);
    if (!self->base)
        return AUTH_BREACH_UNKNOWN;

    //  The password is hashed where it is, never copied
    if (EVP_Digest (password, strlen (password), digest, &digest_len, EVP_sha1 (), NULL) != 1
    ||  digest_len != SHA1_BYTES) {
        cm_warn ("breached-password lookup skipped: SHA-1 is not available");
        goto cleanup;
    }
    for (size_t i = 0; i < SHA1_BYTES; i++) {
        hex [2 * i] = hex_digits [digest [i] >> 4];
        hex [2 * i + 1] = hex_digits [digest [i] & 15];
    }
    hex [SHA1_HEX] = 0;
    snprintf (url, sizeof url, "%s%.*s", self->base, PREFIX_LEN, hex);
    reader.suffix = hex + PREFIX_LEN;
    result = s_fetch (self, url, &reader);

cleanup:
    //  The full hash is as good as the password against a cracking rig;
    //  the reader's line may hold our suffix
    explicit_bzero (digest, sizeof digest);
    explicit_bzero (hex, sizeof hex);
    explicit_bzero (url, sizeof url);
    explicit_bzero (&reader, sizeof reader);
    return result;
}
