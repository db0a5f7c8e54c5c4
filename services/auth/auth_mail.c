/*  auth_mail - outgoing mail by SMTP (libcurl) or into an outbox directory

    The message is composed once, CRLF throughout and not dot-stuffed:
    libcurl stuffs leading dots itself while it uploads (doing it here too
    would double them), and the outbox keeps the text as a mail client
    would save it.
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "auth_mail.h"
#include "../../common/cm_rand.h"
#include "../../common/cm_log.h"
#include "../../common/cm_url.h"

#define CONNECT_TIMEOUT_MS  5000
#define TOTAL_TIMEOUT_MS    15000
#define HEADER_MAX          4096    //  every header field together; each one is bounded
#define SECRET_MAX          512     //  first line of the password file
#define SUBJECT_CHUNK       39      //  raw bytes per encoded-word: 52 base64 characters,
                                    //  64 with the markers, so "Subject: " plus one word
                                    //  stays within RFC 2047's 76-character lines
#define OUTBOX_NAME_MAX     64      //  "yyyymmddThhmmss-<16 hex>.eml.tmp" and some

struct auth_mail_s {
    char *smtp_url;                     //  owned; NULL = outbox mode
    bool require_tls;                   //  smtp:// off this host: STARTTLS or no mail
    char *smtp_user;                    //  owned; NULL = no SMTP authentication
    char *smtp_password;                //  owned, wiped on destroy; NULL = none
    char from [AUTH_MAIL_ADDR_MAX + 1]; //  checked addr-spec
    const char *from_domain;            //  into from, for Message-ID
    char *outbox_dir;                   //  owned; NULL in SMTP mode
    bool curl_ready;                    //  curl_global_init done, undone on destroy
};

//  The upload position in a message; one per call, so calls share nothing
typedef struct {
    const char *data;                   //  borrowed message
    size_t len;
    size_t at;                          //  bytes handed to libcurl so far
} s_upload_t;


//  A plain addr-spec: anything refused here could end a header or an SMTP
//  command, or would need quoting that we never produce
static bool
s_valid_addr (const char *addr)
{
    if (!addr)
        return false;
    size_t len = strnlen (addr, AUTH_MAIL_ADDR_MAX + 1);
    if (len == 0 || len > AUTH_MAIL_ADDR_MAX)
        return false;
    const char *at = strchr (addr, '@');
    if (!at || at == addr || at - addr > 64 || at [1] == 0 || strchr (at + 1, '@'))
        return false;
    for (const unsigned char *p = (const unsigned char *) addr; *p; p++)
        if (*p <= 0x20 || *p >= 0x7F || strchr ("<>,;:\"()[]\\", *p))
            return false;
    return true;
}

//  Length of the well-formed UTF-8 sequence at p, or 0: overlong forms,
//  surrogates and C1 controls are refused, since a header declared utf-8
//  must decode cleanly for every reader
static size_t
s_utf8_len (const unsigned char *p)
{
    if (p [0] < 0x80)
        return 1;
    if (p [0] >= 0xC2 && p [0] <= 0xDF) {
        bool c1 = p [0] == 0xC2 && p [1] < 0xA0;
        return (p [1] & 0xC0) == 0x80 && !c1? 2: 0;
    }
    if (p [0] >= 0xE0 && p [0] <= 0xEF) {
        unsigned char lo = p [0] == 0xE0? 0xA0: 0x80;
        unsigned char hi = p [0] == 0xED? 0x9F: 0xBF;
        return p [1] >= lo && p [1] <= hi && (p [2] & 0xC0) == 0x80? 3: 0;
    }
    if (p [0] >= 0xF0 && p [0] <= 0xF4) {
        unsigned char lo = p [0] == 0xF0? 0x90: 0x80;
        unsigned char hi = p [0] == 0xF4? 0x8F: 0xBF;
        return p [1] >= lo && p [1] <= hi
            && (p [2] & 0xC0) == 0x80 && (p [3] & 0xC0) == 0x80? 4: 0;
    }
    return 0;
}

//  Text for one header line: no CR, LF or other control character but tab
//  (that is what makes header injection impossible), valid UTF-8; *ascii
//  says whether it can go out as it is
static bool
s_valid_subject (const char *subject, bool *ascii)
{
    *ascii = true;
    const unsigned char *p = (const unsigned char *) subject;
    while (*p) {
        if (*p < 0x80) {
            if ((*p < 0x20 && *p != '\t') || *p == 0x7F)
                return false;
            p++;
            continue;
        }
        size_t n = s_utf8_len (p);
        if (n == 0)
            return false;
        *ascii = false;
        p += n;
    }
    return true;
}

//  Append printf output to buffer of size bytes at *len; -1 when it did not fit
static int
s_append (char *buffer, size_t size, size_t *len, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    int n = vsnprintf (buffer + *len, size - *len, fmt, args);
    va_end (args);
    if (n < 0 || (size_t) n >= size - *len)
        return -1;
    *len += (size_t) n;
    return 0;
}

//  The subject as header text: ASCII as it is, anything else as RFC 2047
//  UTF-8 base64 encoded-words, one per folded line, each holding whole
//  characters (a word may not split one)
static int
s_encode_subject (const char *subject, bool ascii, char *out, size_t size)
{
    size_t out_len = 0;
    out [0] = 0;
    if (ascii)
        return s_append (out, size, &out_len, "%s", subject);
    const unsigned char *text = (const unsigned char *) subject;
    size_t len = strlen (subject), at = 0;
    while (at < len) {
        size_t end = at;
        while (end < len) {
            size_t n = s_utf8_len (text + end);
            if (end + n - at > SUBJECT_CHUNK)
                break;
            end += n;
        }
        char b64 [4 * ((SUBJECT_CHUNK + 2) / 3) + 1];
        EVP_EncodeBlock ((unsigned char *) b64, text + at, (int) (end - at));
        if (s_append (out, size, &out_len, "%s=?utf-8?B?%s?=", at? "\r\n ": "", b64))
            return -1;
        at = end;
    }
    return 0;
}


//  Day and month names spelled out rather than strftime's %a/%b, which
//  follow the locale; RFC 5322 wants the English ones
static void
s_date (time_t now, char *out, size_t size)
{
    static const char *days [] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *months [] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;
    gmtime_r (&now, &tm);
    snprintf (out, size, "%s, %02d %s %04d %02d:%02d:%02d +0000",
              days [tm.tm_wday % 7], tm.tm_mday, months [tm.tm_mon % 12], tm.tm_year + 1900,
              tm.tm_hour, tm.tm_min, tm.tm_sec);
}

//  Copy body into dest (NULL: only measure) with every line ending - LF,
//  CR or CRLF - made CRLF and a CRLF after a last line that had none; sets
//  *len_p. -1 when a line is longer than RFC 5322 allows, since wrapping
//  it would change the text (and break a link in it)
static int
s_body_normalise (const char *body, char *dest, size_t *len_p)
{
    size_t len = 0, line = 0;
    for (const char *p = body; *p; p++) {
        if (*p == '\r' || *p == '\n') {
            if (*p == '\r' && p [1] == '\n')
                p++;
            if (dest)
                memcpy (dest + len, "\r\n", 2);
            len += 2;
            line = 0;
        }
        else {
            if (++line > AUTH_MAIL_LINE_MAX)
                return -1;
            if (dest)
                dest [len] = *p;
            len++;
        }
    }
    if (line > 0) {
        if (dest)
            memcpy (dest + len, "\r\n", 2);
        len += 2;
    }
    *len_p = len;
    return 0;
}

//  The whole message into a new buffer (*msg_p, *len_p; caller wipes and
//  frees). Inputs are already checked; -1, logged, when the body has an
//  overlong line or the random generator or memory failed
static int
s_compose (auth_mail_t *self, const char *to, const char *subject, bool ascii, const char *body,
           char **msg_p, size_t *len_p)
{
    size_t body_len;
    if (s_body_normalise (body, NULL, &body_len)) {
        cm_warn ("mail refused: a body line is longer than %d bytes", AUTH_MAIL_LINE_MAX);
        return -1;
    }
    char subject_text [1024], date [64], id [33];
    if (s_encode_subject (subject, ascii, subject_text, sizeof subject_text)) {
        cm_error ("mail refused: the encoded subject does not fit");
        return -1;
    }
    if (cm_rand_hex (id, 16)) {
        cm_error ("mail not sent: the random generator failed");
        return -1;
    }
    s_date (time (NULL), date, sizeof date);
    char header [HEADER_MAX];
    size_t header_len = 0;
    if (s_append (header, sizeof header, &header_len,
                  "From: %s\r\n"
                  "To: %s\r\n"
                  "Subject: %s\r\n"
                  "Date: %s\r\n"
                  "Message-ID: <%s@%s>\r\n"
                  "MIME-Version: 1.0\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n"
                  "Auto-Submitted: auto-generated\r\n"
                  "\r\n",
                  self->from, to, subject_text, date, id, self->from_domain)) {
        cm_error ("mail refused: the header does not fit");
        return -1;
    }
    char *msg = (char *) malloc (header_len + body_len + 1);
    if (!msg) {
        cm_error ("mail not sent: out of memory");
        return -1;
    }
    memcpy (msg, header, header_len);
    s_body_normalise (body, msg + header_len, &body_len);
    msg [header_len + body_len] = 0;
    *msg_p = msg;
    *len_p = header_len + body_len;
    return 0;
}

//  libcurl pulls the message from memory through this
static size_t
s_upload_read (char *buffer, size_t size, size_t nitems, void *arg)
{
    s_upload_t *upload = (s_upload_t *) arg;
    size_t n = upload->len - upload->at;
    if (n > size * nitems)
        n = size * nitems;
    memcpy (buffer, upload->data + upload->at, n);
    upload->at += n;
    return n;
}

//  One SMTP transaction on a handle of its own; 0 or -1, logged without
//  addresses, credentials or text
static int
s_send_smtp (auth_mail_t *self, const char *to, const char *msg, size_t len)
{
    int rc = -1;
    struct curl_slist *rcpt = NULL;
    s_upload_t upload = { msg, len, 0 };
    char mail_from [AUTH_MAIL_ADDR_MAX + 3], rcpt_to [AUTH_MAIL_ADDR_MAX + 3];
    snprintf (mail_from, sizeof mail_from, "<%s>", self->from);
    snprintf (rcpt_to, sizeof rcpt_to, "<%s>", to);

    CURL *curl = curl_easy_init ();
    if (!curl || !(rcpt = curl_slist_append (NULL, rcpt_to))) {
        cm_error ("mail not sent: cannot set up libcurl");
        goto cleanup;
    }
    //  Signals cannot time out DNS in threads (NOSIGNAL); a relay that is
    //  slow or gone must not hold a worker longer than TOTAL_TIMEOUT_MS
    if (curl_easy_setopt (curl, CURLOPT_URL, self->smtp_url) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps") != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT_MS, (long) CONNECT_TIMEOUT_MS) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long) TOTAL_TIMEOUT_MS) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_MAIL_FROM, mail_from) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_MAIL_RCPT, rcpt) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_UPLOAD, 1L) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_READFUNCTION, s_upload_read) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_READDATA, &upload) != CURLE_OK
    ||  curl_easy_setopt (curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t) len) != CURLE_OK
    ||  (self->require_tls
         && curl_easy_setopt (curl, CURLOPT_USE_SSL, (long) CURLUSESSL_ALL) != CURLE_OK)
    ||  (self->smtp_user
         && curl_easy_setopt (curl, CURLOPT_USERNAME, self->smtp_user) != CURLE_OK)
    ||  (self->smtp_password
         && curl_easy_setopt (curl, CURLOPT_PASSWORD, self->smtp_password) != CURLE_OK)) {
        //  A libcurl without TLS, for one, would send in clear: no mail then
        cm_error ("mail not sent: libcurl refused an SMTP option");
        goto cleanup;
    }
    CURLcode code = curl_easy_perform (curl);
    if (code != CURLE_OK) {
        long reply = 0;
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &reply);
        cm_warn ("mail not delivered: %s (last SMTP reply %ld)", curl_easy_strerror (code), reply);
        goto cleanup;
    }
    cm_info ("mail handed to the SMTP relay");
    rc = 0;

cleanup:
    curl_slist_free_all (rcpt);
    curl_easy_cleanup (curl);
    return rc;
}

//  Create dir and its missing parents, 0700 each; 0, or -1 with errno
static int
s_make_dirs (const char *dir)
{
    char path [PATH_MAX];
    size_t len = strlen (dir);
    if (len == 0 || len >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy (path, dir, len + 1);
    for (char *p = path + 1; ; p++) {
        if (*p != '/' && *p != 0)
            continue;
        char saved = *p;
        *p = 0;
        if (mkdir (path, 0700) && errno != EEXIST)
            return -1;
        *p = saved;
        if (!saved)
            break;
    }
    struct stat st;
    if (stat (dir, &st))
        return -1;
    if (!S_ISDIR (st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int
s_write_all (int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write (fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t) n;
    }
    return 0;
}

//  Write the message as <UTC stamp>-<random>.eml: readers list *.eml, so
//  they never see a partial file (written as .tmp, synced, renamed)
static int
s_write_outbox (auth_mail_t *self, const char *msg, size_t len)
{
    int rc = -1, fd = -1, err = 0;
    bool tmp_exists = false;
    const char *step = "name";
    char name [OUTBOX_NAME_MAX], path [PATH_MAX], tmp [PATH_MAX];

    char stamp [32], hex [17];
    struct tm tm;
    time_t now = time (NULL);
    gmtime_r (&now, &tm);
    strftime (stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
    if (cm_rand_hex (hex, 8)) {
        cm_error ("mail not written: the random generator failed");
        return -1;
    }
    snprintf (name, sizeof name, "%s-%s.eml", stamp, hex);
    int n = snprintf (tmp, sizeof tmp, "%s/%s.tmp", self->outbox_dir, name);
    if (n < 0 || (size_t) n >= sizeof tmp) {
        err = ENAMETOOLONG;
        goto cleanup;
    }
    memcpy (path, tmp, (size_t) n - 4);
    path [n - 4] = 0;

    //  Again on each message: the local stack may have cleared the outbox
    step = "mkdir";
    if (s_make_dirs (self->outbox_dir))
        goto failed;
    step = "open";
    fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        goto failed;
    tmp_exists = true;
    //  The umask can only take bits away; this makes it exactly 0600
    step = "fchmod";
    if (fchmod (fd, 0600))
        goto failed;
    step = "write";
    if (s_write_all (fd, msg, len))
        goto failed;
    step = "fsync";
    if (fsync (fd))
        goto failed;
    step = "close";
    int closed = close (fd);
    fd = -1;
    if (closed)
        goto failed;
    step = "rename";
    if (rename (tmp, path))
        goto failed;
    tmp_exists = false;
    //  The rename itself survives a crash only once the directory is synced
    int dir_fd = open (self->outbox_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
        fsync (dir_fd);
        close (dir_fd);
    }
    cm_info ("mail written to the outbox as %s", name);
    rc = 0;
    goto cleanup;

failed:
    err = errno;
cleanup:
    if (fd >= 0)
        close (fd);
    if (tmp_exists)
        unlink (tmp);
    if (rc) {
        char reason [128];
        cm_error ("mail not written to the outbox %s (%s: %s)", self->outbox_dir, step,
                  strerror_r (err, reason, sizeof reason));
    }
    return rc;
}

//  smtp:// or smtps:// with a host and no user info (credentials have
//  settings of their own; a URL ends up in logs). Plain smtp:// to any
//  host but this one needs STARTTLS.
static int
s_check_url (auth_mail_t *self, const char *url)
{
    bool implicit_tls, local;
    if (cm_url_split (url, "smtp://", "smtps://", false, &implicit_tls, &local))
        return -1;
    self->require_tls = !implicit_tls && !local;
    return 0;
}

//  First line of path, without its line ending, as a new string; NULL when
//  unreadable, empty or too long. Read with read(2), not stdio, so that the
//  one buffer that held it can be wiped.
static char *
s_read_secret (const char *path)
{
    char buffer [SECRET_MAX];
    char *secret = NULL;
    size_t len = 0;
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        goto cleanup;
    while (len < sizeof buffer && !memchr (buffer, '\n', len)) {
        ssize_t n = read (fd, buffer + len, sizeof buffer - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto cleanup;
        if (n == 0)
            break;
        len += (size_t) n;
    }
    size_t line = 0;
    while (line < len && buffer [line] != '\n' && buffer [line] != '\r')
        line++;
    if (line == 0 || line == sizeof buffer || memchr (buffer, 0, line))
        goto cleanup;
    secret = strndup (buffer, line);

cleanup:
    if (fd >= 0)
        close (fd);
    explicit_bzero (buffer, sizeof buffer);
    return secret;
}


//  ----------------------------------------------------------------------
//  smtp_url NULL/"" = outbox mode. Returns NULL, logged, on any bad setting.
auth_mail_t *
auth_mail_new (const char *smtp_url, const char *smtp_user, const char *smtp_password_file,
               const char *from, const char *outbox_dir)
{
    auth_mail_t *self = (auth_mail_t *) calloc (1, sizeof (auth_mail_t));
    if (!self)
        return NULL;
    if (!s_valid_addr (from)) {
        cm_error ("MAIL_FROM must be a plain address (name@domain, no display name)");
        goto failed;
    }
    memcpy (self->from, from, strlen (from) + 1);
    self->from_domain = strchr (self->from, '@') + 1;

    if (smtp_url && *smtp_url) {
        if (s_check_url (self, smtp_url)) {
            cm_error ("SMTP_URL must be smtp:// or smtps://host[:port], with no credentials");
            goto failed;
        }
        bool has_user = smtp_user && *smtp_user;
        bool has_password = smtp_password_file && *smtp_password_file;
        if (has_password && !has_user) {
            cm_error ("SMTP_PASSWORD_FILE is set but SMTP_USER is not");
            goto failed;
        }
        if (has_user && strpbrk (smtp_user, "\r\n")) {
            cm_error ("SMTP_USER has a line break");
            goto failed;
        }
        self->smtp_url = strdup (smtp_url);
        self->smtp_user = has_user? strdup (smtp_user): NULL;
        if (!self->smtp_url || (has_user && !self->smtp_user))
            goto failed;
        if (has_password) {
            self->smtp_password = s_read_secret (smtp_password_file);
            if (!self->smtp_password) {
                cm_error ("cannot read a password from the first line of SMTP_PASSWORD_FILE %s",
                          smtp_password_file);
                goto failed;
            }
        }
        //  Here, before the workers start: global init is not thread-safe
        if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            cm_error ("cannot initialise libcurl");
            goto failed;
        }
        self->curl_ready = true;
        cm_info ("mail goes to the SMTP relay %s%s", smtp_url,
                 self->require_tls? " (STARTTLS required)": "");
    }
    else {
        if (!outbox_dir || !*outbox_dir) {
            cm_error ("with no SMTP_URL, MAIL_OUTBOX_DIR must be set");
            goto failed;
        }
        if (strlen (outbox_dir) + 1 + OUTBOX_NAME_MAX >= PATH_MAX) {
            cm_error ("MAIL_OUTBOX_DIR is too long");
            goto failed;
        }
        if (s_make_dirs (outbox_dir)) {
            char reason [128];
            cm_error ("cannot create MAIL_OUTBOX_DIR %s: %s", outbox_dir,
                      strerror_r (errno, reason, sizeof reason));
            goto failed;
        }
        struct stat st;
        if (stat (outbox_dir, &st) == 0 && (st.st_mode & 077))
            cm_warn ("MAIL_OUTBOX_DIR %s is open to other users; its mail holds sign-in links",
                     outbox_dir);
        self->outbox_dir = strdup (outbox_dir);
        if (!self->outbox_dir)
            goto failed;
        cm_info ("no SMTP_URL: mail is written to %s", outbox_dir);
    }
    return self;

failed:
    auth_mail_destroy (&self);
    return NULL;
}


//  ----------------------------------------------------------------------
//  Wipe the password and free; idempotent, nulls *self_p
void
auth_mail_destroy (auth_mail_t **self_p)
{
    assert (self_p);
    auth_mail_t *self = *self_p;
    if (self) {
        if (self->smtp_password) {
            explicit_bzero (self->smtp_password, strlen (self->smtp_password));
            free (self->smtp_password);
        }
        free (self->smtp_user);
        free (self->smtp_url);
        free (self->outbox_dir);
        if (self->curl_ready)
            curl_global_cleanup ();
        free (self);
        *self_p = NULL;
    }
}


//  ----------------------------------------------------------------------
//  Check, compose and deliver or write one message; 0, or -1 (logged).
//  Reads self only, so worker threads may call it at the same time.
int
auth_mail_send (auth_mail_t *self, const char *to, const char *subject, const char *body)
{
    assert (self);
    bool ascii = true;
    if (!s_valid_addr (to)) {
        cm_warn ("mail refused: the recipient is not a plain address");
        return -1;
    }
    if (!subject || strnlen (subject, AUTH_MAIL_SUBJECT_MAX + 1) > AUTH_MAIL_SUBJECT_MAX) {
        cm_warn ("mail refused: no subject, or longer than %d bytes", AUTH_MAIL_SUBJECT_MAX);
        return -1;
    }
    if (!s_valid_subject (subject, &ascii)) {
        cm_warn ("mail refused: the subject has a line break, a control character or bad UTF-8");
        return -1;
    }
    if (!body || strnlen (body, AUTH_MAIL_BODY_MAX + 1) > AUTH_MAIL_BODY_MAX) {
        cm_warn ("mail refused: no body, or longer than %d bytes", AUTH_MAIL_BODY_MAX);
        return -1;
    }
    char *msg = NULL;
    size_t len = 0;
    if (s_compose (self, to, subject, ascii, body, &msg, &len))
        return -1;
    int rc = self->smtp_url? s_send_smtp (self, to, msg, len): s_write_outbox (self, msg, len);
    //  The text carries one-time links: leave no copy in freed memory
    explicit_bzero (msg, len);
    free (msg);
    return rc;
}
