/*  test_auth_mail - outbox files, refused input, and SMTP against a fake server

    The fake server is a thread on 127.0.0.1 that speaks just enough SMTP
    for libcurl and records what it was sent, so the tests can check the
    envelope, the message and the dot-stuffing on the wire.
*/
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "../../../services/auth/auth_mail.h"
#include "tmpdir.h"

#define FROM        "no-reply@example.com"
#define TO          "alice@example.org"
#define DATA_MAX    (256 * 1024)

//  ----------------------------------------------------------------------
//  Files

static char s_root [64];

static void
s_make_root (void)
{
    snprintf (s_root, sizeof s_root, "/tmp/test_auth_mail.XXXXXX");
    cr_assert_not_null (mkdtemp (s_root));
}

static void
s_remove_root (void)
{
    if (s_root [0])
        tmpdir_remove (s_root);
}

//  Names in dir ending in suffix, the last one into name (if not NULL)
static int
s_count (const char *dir, const char *suffix, char *name, size_t size)
{
    DIR *handle = opendir (dir);
    if (!handle)
        return 0;
    int count = 0;
    struct dirent *entry;
    size_t suffix_len = strlen (suffix);
    while ((entry = readdir (handle))) {
        size_t len = strlen (entry->d_name);
        if (len > suffix_len && strcmp (entry->d_name + len - suffix_len, suffix) == 0) {
            count++;
            if (name)
                snprintf (name, size, "%s", entry->d_name);
        }
    }
    closedir (handle);
    return count;
}

//  Every entry in dir but "." and ".."
static int
s_count_all (const char *dir)
{
    DIR *handle = opendir (dir);
    if (!handle)
        return 0;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (handle)))
        if (strcmp (entry->d_name, ".") && strcmp (entry->d_name, ".."))
            count++;
    closedir (handle);
    return count;
}

static void
s_unlink (const char *dir, const char *name)
{
    char path [512];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq (unlink (path), 0, "cannot remove %s", path);
}

static char *
s_read_file (const char *path)
{
    FILE *file = fopen (path, "rb");
    cr_assert_not_null (file, "cannot open %s", path);
    char *data = (char *) calloc (1, DATA_MAX + 1);
    size_t len = fread (data, 1, DATA_MAX, file);
    fclose (file);
    data [len] = 0;
    return data;
}

//  Every LF preceded by CR, and no CR without its LF
static bool
s_crlf_only (const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\n' && (p == text || p [-1] != '\r'))
            return false;
        if (*p == '\r' && p [1] != '\n')
            return false;
    }
    return true;
}

//  The one .eml written into dir, read; fails the test if not exactly one
static char *
s_only_message (const char *dir, char *name, size_t size)
{
    cr_assert_eq (s_count (dir, ".eml", name, size), 1, "expected exactly one .eml in %s", dir);
    cr_assert_eq (s_count (dir, ".tmp", NULL, 0), 0, "a temporary file was left behind");
    char path [512];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    return s_read_file (path);
}

//  The value of header field in msg, unfolded as received (continuation
//  lines included), into out
static void
s_header (const char *msg, const char *field, char *out, size_t size)
{
    char key [64];
    snprintf (key, sizeof key, "%s: ", field);
    const char *start = strncmp (msg, key, strlen (key)) == 0? msg: NULL;
    if (!start) {
        char line_key [66];
        snprintf (line_key, sizeof line_key, "\r\n%s", key);
        start = strstr (msg, line_key);
        cr_assert_not_null (start, "no %s header", field);
        start += 2;
    }
    start += strlen (key);
    const char *end = start;
    while (*end && !(end [0] == '\r' && end [1] == '\n' && end [2] != ' ' && end [2] != '\t'))
        end++;
    size_t len = (size_t) (end - start);
    cr_assert_lt (len, size);
    memcpy (out, start, len);
    out [len] = 0;
}

static auth_mail_t *
s_outbox_mail (const char *dir)
{
    auth_mail_t *mail = auth_mail_new (NULL, NULL, NULL, FROM, dir);
    cr_assert_not_null (mail);
    return mail;
}

//  ----------------------------------------------------------------------
//  Fake SMTP server: one connection, then the thread ends

typedef struct {
    int listener;
    int port;
    bool advertise_auth;            //  offer AUTH PLAIN in the EHLO reply
    bool silent;                    //  never accept: libcurl waits for a greeting
    bool stall;                     //  greet, then never answer MAIL FROM
    pthread_t thread;
    char ehlo [256];
    char auth [512];                //  base64 AUTH PLAIN response as received
    char mail_from [512];           //  the MAIL command as received
    char rcpt_to [512];             //  the RCPT command as received
    char *data;                     //  DATA as received, still dot-stuffed, without "."
    size_t data_len;
    bool data_done;                 //  "." seen and 250 sent
    bool bare_line_end;             //  a line ended in LF without CR
    bool quit;
} fake_smtp_t;

static void
s_say (int fd, const char *reply)
{
    size_t len = strlen (reply);
    cr_assert_eq (send (fd, reply, len, MSG_NOSIGNAL), (ssize_t) len);
}

//  One line without its CRLF; -1 at end of stream or on overflow
static int
s_read_line (fake_smtp_t *self, int fd, char *line, size_t size)
{
    size_t len = 0;
    while (len + 1 < size) {
        char c;
        if (recv (fd, &c, 1, 0) != 1)
            return -1;
        if (c == '\n') {
            if (len > 0 && line [len - 1] == '\r')
                len--;
            else
                self->bare_line_end = true;
            line [len] = 0;
            return 0;
        }
        line [len++] = c;
    }
    return -1;
}

static void
s_copy (char *dest, size_t size, const char *src)
{
    size_t len = strnlen (src, size - 1);
    memcpy (dest, src, len);
    dest [len] = 0;
}

static void *
s_fake_smtp_run (void *arg)
{
    fake_smtp_t *self = (fake_smtp_t *) arg;
    struct pollfd item = { self->listener, POLLIN, 0 };
    if (self->silent || poll (&item, 1, 20000) != 1)
        return NULL;
    int fd = accept (self->listener, NULL, NULL);
    if (fd < 0)
        return NULL;
    struct timeval wait = { 20, 0 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    s_say (fd, "220 fake.test ESMTP ready\r\n");
    char line [4096];
    bool in_data = false;
    while (s_read_line (self, fd, line, sizeof line) == 0) {
        if (in_data) {
            if (strcmp (line, ".") == 0) {
                in_data = false;
                self->data_done = true;
                s_say (fd, "250 2.0.0 queued\r\n");
            }
            else {
                size_t len = strlen (line);
                if (self->data_len + len + 2 < DATA_MAX) {
                    memcpy (self->data + self->data_len, line, len);
                    memcpy (self->data + self->data_len + len, "\r\n", 2);
                    self->data_len += len + 2;
                }
            }
        }
        else
        if (strncasecmp (line, "EHLO ", 5) == 0) {
            s_copy (self->ehlo, sizeof self->ehlo, line);
            s_say (fd, self->advertise_auth? "250-fake.test\r\n250 AUTH PLAIN\r\n": "250 fake.test\r\n");
        }
        else
        if (strncasecmp (line, "AUTH PLAIN", 10) == 0) {
            if (line [10] == ' ')
                s_copy (self->auth, sizeof self->auth, line + 11);
            else {
                s_say (fd, "334 \r\n");
                if (s_read_line (self, fd, line, sizeof line))
                    break;
                s_copy (self->auth, sizeof self->auth, line);
            }
            s_say (fd, "235 2.7.0 accepted\r\n");
        }
        else
        if (strncasecmp (line, "MAIL FROM:", 10) == 0) {
            s_copy (self->mail_from, sizeof self->mail_from, line);
            if (!self->stall)
                s_say (fd, "250 2.1.0 ok\r\n");
        }
        else
        if (strncasecmp (line, "RCPT TO:", 8) == 0) {
            s_copy (self->rcpt_to, sizeof self->rcpt_to, line);
            s_say (fd, "250 2.1.5 ok\r\n");
        }
        else
        if (strcasecmp (line, "DATA") == 0) {
            in_data = true;
            s_say (fd, "354 end with <CRLF>.<CRLF>\r\n");
        }
        else
        if (strcasecmp (line, "QUIT") == 0) {
            self->quit = true;
            s_say (fd, "221 2.0.0 bye\r\n");
            break;
        }
        else
            s_say (fd, "502 5.5.2 not implemented\r\n");
    }
    close (fd);
    return NULL;
}

//  Listen on ip, port 0; false when that address cannot be bound here
static bool
s_fake_smtp_start (fake_smtp_t *self, const char *ip)
{
    self->data = (char *) calloc (1, DATA_MAX);
    self->listener = socket (AF_INET, SOCK_STREAM, 0);
    cr_assert_geq (self->listener, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET };
    cr_assert_eq (inet_pton (AF_INET, ip, &addr.sin_addr), 1);
    if (bind (self->listener, (struct sockaddr *) &addr, sizeof addr)) {
        close (self->listener);
        free (self->data);
        return false;
    }
    cr_assert_eq (listen (self->listener, 4), 0);
    socklen_t len = sizeof addr;
    cr_assert_eq (getsockname (self->listener, (struct sockaddr *) &addr, &len), 0);
    self->port = ntohs (addr.sin_port);
    cr_assert_eq (pthread_create (&self->thread, NULL, s_fake_smtp_run, self), 0);
    return true;
}

static void
s_fake_smtp_stop (fake_smtp_t *self)
{
    pthread_join (self->thread, NULL);
    close (self->listener);
    self->data [self->data_len] = 0;
}

//  Undo SMTP dot-stuffing: one leading dot off every line that has one
static char *
s_unstuff (const char *data)
{
    char *out = (char *) calloc (1, strlen (data) + 1);
    size_t len = 0;
    bool line_start = true;
    for (const char *p = data; *p; ) {
        if (line_start && *p == '.')
            p++;
        if (!*p)
            break;
        line_start = *p == '\n';
        out [len++] = *p++;
    }
    out [len] = 0;
    return out;
}

//  A port on 127.0.0.1 where nothing listens (bound, then closed)
static int
s_dead_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    cr_assert_eq (bind (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    socklen_t len = sizeof addr;
    getsockname (fd, (struct sockaddr *) &addr, &len);
    close (fd);
    return ntohs (addr.sin_port);
}

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

//  ----------------------------------------------------------------------
//  Outbox mode

TestSuite (auth_mail, .init = s_make_root, .fini = s_remove_root);

Test (auth_mail, outbox_writes_one_private_eml, .timeout = 30)
{
    char dir [128];
    snprintf (dir, sizeof dir, "%s/run/outbox", s_root);          //  missing: created
    auth_mail_t *mail = s_outbox_mail (dir);
    const char *body = "Sign in with this link:\n"
                       "https://app.example.com/auth/magic?token=abc123\n"
                       ".a line that starts with a dot\r\n"
                       ".\n"
                       "\n"
                       "mixed\rendings";
    cr_assert_eq (auth_mail_send (mail, TO, "Your sign-in link", body), 0);

    char name [256];
    char *msg = s_only_message (dir, name, sizeof name);
    //  <yyyymmddThhmmss>-<16 hex>.eml
    cr_assert_eq (strlen (name), 15 + 1 + 16 + 4, "%s", name);
    cr_assert_eq (name [8], 'T');
    cr_assert_eq (name [15], '-');
    cr_assert_eq (strspn (name, "0123456789T"), 15);
    cr_assert_eq (strspn (name + 16, "0123456789abcdef"), 16);
    cr_assert_str_eq (name + 32, ".eml");

    char path [512];
    struct stat st;
    snprintf (path, sizeof path, "%s/%s", dir, name);
    cr_assert_eq (stat (path, &st), 0);
    cr_assert_eq (st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
    cr_assert_eq (stat (dir, &st), 0);
    cr_assert_eq (st.st_mode & 0777, 0700, "dir mode %o", st.st_mode & 0777);

    cr_assert (s_crlf_only (msg), "a line does not end in CRLF");
    cr_assert (strncmp (msg, "From: " FROM "\r\n", strlen ("From: " FROM "\r\n")) == 0, "%s", msg);
    char value [512];
    s_header (msg, "To", value, sizeof value);
    cr_assert_str_eq (value, TO);
    s_header (msg, "Subject", value, sizeof value);
    cr_assert_str_eq (value, "Your sign-in link");
    s_header (msg, "MIME-Version", value, sizeof value);
    cr_assert_str_eq (value, "1.0");
    s_header (msg, "Content-Type", value, sizeof value);
    cr_assert_str_eq (value, "text/plain; charset=utf-8");
    s_header (msg, "Content-Transfer-Encoding", value, sizeof value);
    cr_assert_str_eq (value, "8bit");
    s_header (msg, "Auto-Submitted", value, sizeof value);
    cr_assert_str_eq (value, "auto-generated");

    //  Date: "Thu, 01 Jan 2026 12:34:56 +0000", and within a minute of now
    s_header (msg, "Date", value, sizeof value);
    struct tm tm = { 0 };
    const char *end = strptime (value, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    cr_assert (end && *end == 0, "Date '%s'", value);
    cr_assert_eq (strlen (value), 31, "Date '%s'", value);
    time_t stamp = timegm (&tm);
    cr_assert_lt (labs ((long) (time (NULL) - stamp)), 60);

    //  Message-ID: <32 hex@from-domain>
    s_header (msg, "Message-ID", value, sizeof value);
    cr_assert_eq (strlen (value), 1 + 32 + strlen ("@example.com>"), "%s", value);
    cr_assert_eq (value [0], '<');
    cr_assert_eq (strspn (value + 1, "0123456789abcdef"), 32);
    cr_assert_str_eq (value + 33, "@example.com>");

    //  Body exactly as given, CRLF only, no dot-stuffing in a file
    const char *blank = strstr (msg, "\r\n\r\n");
    cr_assert_not_null (blank);
    cr_assert_str_eq (blank + 4,
                      "Sign in with this link:\r\n"
                      "https://app.example.com/auth/magic?token=abc123\r\n"
                      ".a line that starts with a dot\r\n"
                      ".\r\n"
                      "\r\n"
                      "mixed\r\n"
                      "endings\r\n");
    //  Nothing before the blank line but the nine header fields
    int fields = 0;
    for (const char *p = msg; p <= blank; p = strstr (p, "\r\n") + 2)
        fields++;
    cr_assert_eq (fields, 9);
    free (msg);

    //  A second message is a second file
    cr_assert_eq (auth_mail_send (mail, TO, "Again", "x"), 0);
    cr_assert_eq (s_count (dir, ".eml", NULL, 0), 2);
    auth_mail_destroy (&mail);
    cr_assert_null (mail);
    auth_mail_destroy (&mail);          //  idempotent
}

Test (auth_mail, line_breaks_in_headers_are_refused, .timeout = 30)
{
    char dir [128];
    snprintf (dir, sizeof dir, "%s/outbox", s_root);
    auth_mail_t *mail = s_outbox_mail (dir);
    const char *bad_to [] = {
        TO "\r\nBcc: eve@example.net", TO "\nBcc: eve@example.net", TO "\r",
        "alice\r\n@example.org", "\r\n" TO,
    };
    for (size_t i = 0; i < sizeof bad_to / sizeof bad_to [0]; i++)
        cr_expect_eq (auth_mail_send (mail, bad_to [i], "Hello", "body"), -1, "to #%zu", i);
    const char *bad_subject [] = {
        "Hello\r\nBcc: eve@example.net", "Hello\nBcc: eve@example.net", "Hello\r",
        "\r\n\r\nbody injected", "tab\tis fine but bell\a is not", "del\x7f",
    };
    for (size_t i = 0; i < sizeof bad_subject / sizeof bad_subject [0]; i++)
        cr_expect_eq (auth_mail_send (mail, TO, bad_subject [i], "body"), -1, "subject #%zu", i);
    //  A NUL ends a C string: what follows it never reaches the message
    cr_expect_eq (auth_mail_send (mail, TO, "Hello\0\r\nBcc: eve@example.net", "body"), 0);
    char name [256];
    char *msg = s_only_message (dir, name, sizeof name);
    cr_expect_null (strstr (msg, "Bcc"));
    free (msg);
    s_unlink (dir, name);
    cr_assert_eq (s_count_all (dir), 0, "something was written");

    //  from is fixed at creation: a bad one means no mail object at all
    const char *bad_from [] = { FROM "\r\nBcc: eve@example.net", FROM "\n", "\r\n" FROM };
    for (size_t i = 0; i < sizeof bad_from / sizeof bad_from [0]; i++)
        cr_expect_null (auth_mail_new (NULL, NULL, NULL, bad_from [i], dir), "from #%zu", i);
    cr_assert_eq (s_count_all (dir), 0, "something was written");
    auth_mail_destroy (&mail);
}

Test (auth_mail, malformed_addresses_are_refused, .timeout = 30)
{
    char dir [128];
    snprintf (dir, sizeof dir, "%s/outbox", s_root);
    auth_mail_t *mail = s_outbox_mail (dir);
    char too_long [300];
    memset (too_long, 'a', 250);
    strcpy (too_long + 250, "@b.c");                    //  255 bytes
    char long_local [100];
    memset (long_local, 'a', 65);
    strcpy (long_local + 65, "@example.org");
    const char *bad [] = {
        "", "alice", "@example.org", "alice@", "alice@@example.org", "a@b@example.org",
        "alice @example.org", "alice@exa mple.org", "Alice <alice@example.org>",
        "<alice@example.org>", "alice@example.org, eve@example.net", "alice@example.org;eve@x.y",
        "\"alice\"@example.org", "alice@[127.0.0.1]", "al\xc3\xa9@example.org", "alice@example.org\t",
        too_long, long_local,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        cr_expect_eq (auth_mail_send (mail, bad [i], "Hello", "body"), -1, "accepted to '%s'", bad [i]);
        cr_expect_null (auth_mail_new (NULL, NULL, NULL, bad [i], dir), "accepted from '%s'", bad [i]);
    }
    cr_expect_eq (auth_mail_send (mail, NULL, "Hello", "body"), -1);
    cr_expect_null (auth_mail_new (NULL, NULL, NULL, NULL, dir));
    cr_assert_eq (s_count_all (dir), 0, "something was written");

    //  254 bytes (64 before the '@') is still an address
    char at_limit [300];
    memset (at_limit, 'a', 64);
    at_limit [64] = '@';
    memset (at_limit + 65, 'b', 185);
    strcpy (at_limit + 250, ".com");
    cr_assert_eq (strlen (at_limit), 254);
    cr_assert_eq (auth_mail_send (mail, at_limit, "Hello", "body"), 0);
    cr_assert_eq (auth_mail_send (mail, "bob+tag@mail.example.org", "Hello", "body"), 0);
    cr_assert_eq (s_count (dir, ".eml", NULL, 0), 2);
    auth_mail_destroy (&mail);
}

Test (auth_mail, utf8_subject_is_an_encoded_word, .timeout = 30)
{
    char dir [128], name [256], value [1024];
    snprintf (dir, sizeof dir, "%s/outbox", s_root);
    auth_mail_t *mail = s_outbox_mail (dir);

    cr_assert_eq (auth_mail_send (mail, TO, "Connexion \xc3\xa0 votre compte", "body"), 0);
    char *msg = s_only_message (dir, name, sizeof name);
    s_header (msg, "Subject", value, sizeof value);
    cr_assert_str_eq (value, "=?utf-8?B?Q29ubmV4aW9uIMOgIHZvdHJlIGNvbXB0ZQ==?=");
    free (msg);
    s_unlink (dir, name);

    //  200 bytes of two-byte characters: several words, folded, each line
    //  within 76 characters, no character split between words
    char subject [AUTH_MAIL_SUBJECT_MAX + 2] = "";
    for (int i = 0; i < 100; i++)
        strcat (subject, "\xc3\xa9");
    cr_assert_eq (auth_mail_send (mail, TO, subject, "body"), 0);
    msg = s_only_message (dir, name, sizeof name);
    s_header (msg, "Subject", value, sizeof value);
    cr_assert_gt (strlen (value), 76);
    char decoded [512] = "";
    size_t decoded_len = 0;
    int words = 0;
    for (char *line = strtok (value, "\r\n"); line; line = strtok (NULL, "\r\n")) {
        if (words == 0)
            cr_assert_leq (strlen ("Subject: ") + strlen (line), 76, "%s", line);
        else {
            cr_assert_eq (line [0], ' ');
            line++;
            cr_assert_leq (strlen (line) + 1, 76);
        }
        size_t len = strlen (line);
        cr_assert (strncmp (line, "=?utf-8?B?", 10) == 0 && strcmp (line + len - 2, "?=") == 0, "%s", line);
        line [len - 2] = 0;
        unsigned char part [128];
        int n = EVP_DecodeBlock (part, (unsigned char *) line + 10, (int) (len - 12));
        cr_assert_gt (n, 0);
        //  EVP_DecodeBlock counts padding bytes as output
        if (len >= 14 && line [len - 3] == '=')
            n--;
        if (len >= 14 && line [len - 4] == '=')
            n--;
        cr_assert_eq (n % 2, 0, "a character was split");
        memcpy (decoded + decoded_len, part, (size_t) n);
        decoded_len += (size_t) n;
        words++;
    }
    decoded [decoded_len] = 0;
    cr_assert_gt (words, 1);
    cr_assert_str_eq (decoded, subject);
    free (msg);
    s_unlink (dir, name);

    //  201 bytes, bad UTF-8, overlong forms, surrogates and C1 controls are refused
    strcat (subject, "x");
    cr_assert_eq (auth_mail_send (mail, TO, subject, "body"), -1);
    const char *bad [] = { "bad \xff", "cut \xc3", "overlong \xc0\xaf", "surrogate \xed\xa0\x80",
                           "c1 \xc2\x85 next line", "too high \xf4\x90\x80\x80" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        cr_expect_eq (auth_mail_send (mail, TO, bad [i], "body"), -1, "accepted '%s'", bad [i]);
    cr_assert_eq (s_count_all (dir), 0);
    auth_mail_destroy (&mail);
}

Test (auth_mail, body_limits, .timeout = 30)
{
    char dir [128];
    snprintf (dir, sizeof dir, "%s/outbox", s_root);
    auth_mail_t *mail = s_outbox_mail (dir);
    //  65 KiB in short lines: refused for its size alone
    size_t size = 65 * 1024;
    char *body = (char *) malloc (size + 1);
    for (size_t i = 0; i < size; i++)
        body [i] = i % 80 == 79? '\n': 'a';
    body [size] = 0;
    cr_assert_eq (auth_mail_send (mail, TO, "Big", body), -1);
    cr_assert_eq (s_count_all (dir), 0);
    //  64 KiB is the limit itself
    body [AUTH_MAIL_BODY_MAX] = 0;
    cr_assert_eq (auth_mail_send (mail, TO, "At the limit", body), 0);
    cr_assert_eq (s_count (dir, ".eml", NULL, 0), 1);
    //  A line SMTP cannot carry (over 998 bytes) is refused, not wrapped
    memset (body, 'b', 999);
    body [999] = 0;
    cr_assert_eq (auth_mail_send (mail, TO, "Long line", body), -1);
    body [998] = 0;
    cr_assert_eq (auth_mail_send (mail, TO, "Longest line", body), 0);
    cr_assert_eq (auth_mail_send (mail, TO, "No body", NULL), -1);
    cr_assert_eq (s_count (dir, ".eml", NULL, 0), 2);
    free (body);
    auth_mail_destroy (&mail);
}

typedef struct {
    auth_mail_t *mail;
    int failures;
} s_sender_t;

static void *
s_sender (void *arg)
{
    s_sender_t *sender = (s_sender_t *) arg;
    for (int i = 0; i < 10; i++)
        if (auth_mail_send (sender->mail, TO, "Concurrent", "one of many\n"))
            sender->failures++;
    return NULL;
}

Test (auth_mail, threads_share_one_mail_object, .timeout = 30)
{
    char dir [128];
    snprintf (dir, sizeof dir, "%s/outbox", s_root);
    auth_mail_t *mail = s_outbox_mail (dir);
    pthread_t threads [8];
    s_sender_t senders [8];
    for (int i = 0; i < 8; i++) {
        senders [i] = (s_sender_t) { mail, 0 };
        cr_assert_eq (pthread_create (&threads [i], NULL, s_sender, &senders [i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join (threads [i], NULL);
        cr_expect_eq (senders [i].failures, 0);
    }
    cr_assert_eq (s_count (dir, ".eml", NULL, 0), 80);
    cr_assert_eq (s_count (dir, ".tmp", NULL, 0), 0);
    auth_mail_destroy (&mail);
}

Test (auth_mail, bad_settings_give_no_object, .timeout = 30)
{
    char dir [128], secret [128];
    snprintf (dir, sizeof dir, "%s/outbox", s_root);
    snprintf (secret, sizeof secret, "%s/empty", s_root);
    FILE *file = fopen (secret, "w");
    fclose (file);
    cr_expect_null (auth_mail_new ("http://mail.example.com", NULL, NULL, FROM, dir));
    cr_expect_null (auth_mail_new ("smtp://", NULL, NULL, FROM, dir));
    cr_expect_null (auth_mail_new ("smtp://user:pw@mail.example.com", NULL, NULL, FROM, dir));
    cr_expect_null (auth_mail_new ("smtp://mail.example.com /x", NULL, NULL, FROM, dir));
    cr_expect_null (auth_mail_new ("smtps://mail.example.com", "mailer", "/nonexistent/pw", FROM, dir));
    cr_expect_null (auth_mail_new ("smtps://mail.example.com", "mailer", secret, FROM, dir));
    cr_expect_null (auth_mail_new ("smtps://mail.example.com", NULL, secret, FROM, dir));
    cr_expect_null (auth_mail_new (NULL, NULL, NULL, FROM, NULL));
    cr_expect_null (auth_mail_new ("", NULL, NULL, FROM, ""));
    //  The outbox must be a directory
    cr_expect_null (auth_mail_new (NULL, NULL, NULL, FROM, secret));
    //  SMTP mode does not touch the outbox
    auth_mail_t *mail = auth_mail_new ("smtps://mail.example.com:465", "", "", FROM, dir);
    cr_assert_not_null (mail);
    auth_mail_destroy (&mail);
    mail = auth_mail_new ("SMTP://[::1]:2525", NULL, NULL, FROM, dir);
    cr_assert_not_null (mail);
    auth_mail_destroy (&mail);
    struct stat st;
    cr_assert_neq (stat (dir, &st), 0);
}

//  ----------------------------------------------------------------------
//  SMTP mode

Test (auth_mail, smtp_delivers_through_a_fake_server, .timeout = 30)
{
    fake_smtp_t server = { 0 };
    cr_assert (s_fake_smtp_start (&server, "127.0.0.1"));
    char url [64], dir [128];
    snprintf (url, sizeof url, "smtp://127.0.0.1:%d", server.port);
    snprintf (dir, sizeof dir, "%s/outbox", s_root);
    auth_mail_t *mail = auth_mail_new (url, NULL, NULL, FROM, dir);
    cr_assert_not_null (mail);
    //  A line of only "." would end DATA early if it were not stuffed
    const char *body = ".starts with a dot\n"
                       "https://app.example.com/auth/magic?token=abc123\n"
                       ".\n"
                       "..two dots\n"
                       "last line";
    cr_assert_eq (auth_mail_send (mail, TO, "Your sign-in link", body), 0);
    s_fake_smtp_stop (&server);

    cr_assert_str_eq (server.mail_from, "MAIL FROM:<" FROM ">");
    cr_assert_str_eq (server.rcpt_to, "RCPT TO:<" TO ">");
    cr_assert (server.data_done, "no end of DATA");
    cr_assert_not (server.bare_line_end, "a line ended in LF alone");
    cr_assert (server.quit);
    cr_assert_str_empty (server.auth);

    //  On the wire each leading dot is doubled exactly once
    cr_assert_not_null (strstr (server.data, "\r\n\r\n..starts with a dot\r\n"), "%s", server.data);
    cr_assert_not_null (strstr (server.data, "\r\n..\r\n...two dots\r\n"), "%s", server.data);
    char *msg = s_unstuff (server.data);
    cr_assert (strncmp (msg, "From: " FROM "\r\n", strlen ("From: " FROM "\r\n")) == 0, "%s", msg);
    char value [512];
    s_header (msg, "To", value, sizeof value);
    cr_assert_str_eq (value, TO);
    s_header (msg, "Subject", value, sizeof value);
    cr_assert_str_eq (value, "Your sign-in link");
    s_header (msg, "Message-ID", value, sizeof value);
    cr_assert_not_null (strstr (value, "@example.com>"));
    s_header (msg, "Content-Type", value, sizeof value);
    cr_assert_str_eq (value, "text/plain; charset=utf-8");
    s_header (msg, "Auto-Submitted", value, sizeof value);
    cr_assert_str_eq (value, "auto-generated");
    const char *blank = strstr (msg, "\r\n\r\n");
    cr_assert_not_null (blank);
    cr_assert_str_eq (blank + 4,
                      ".starts with a dot\r\n"
                      "https://app.example.com/auth/magic?token=abc123\r\n"
                      ".\r\n"
                      "..two dots\r\n"
                      "last line\r\n");
    free (msg);
    free (server.data);
    auth_mail_destroy (&mail);
    struct stat st;
    cr_assert_neq (stat (dir, &st), 0, "SMTP mode wrote to the outbox");
}

Test (auth_mail, smtp_authenticates_with_the_password_file, .timeout = 30)
{
    char secret [128];
    snprintf (secret, sizeof secret, "%s/smtp_password", s_root);
    FILE *file = fopen (secret, "w");
    fputs ("s3cret pass\r\nsecond line is ignored\n", file);
    fclose (file);
    fake_smtp_t server = { .advertise_auth = true };
    cr_assert (s_fake_smtp_start (&server, "127.0.0.1"));
    char url [64];
    snprintf (url, sizeof url, "smtp://localhost:%d", server.port);
    auth_mail_t *mail = auth_mail_new (url, "mailer", secret, FROM, NULL);
    cr_assert_not_null (mail);
    int rc = auth_mail_send (mail, TO, "Your password was changed", "If it was not you, reset it.");
    s_fake_smtp_stop (&server);
    //  localhost may resolve to ::1 first; libcurl then falls back to 127.0.0.1
    cr_assert_eq (rc, 0);
    cr_assert_str_eq (server.auth, "AG1haWxlcgBzM2NyZXQgcGFzcw==", "\\0mailer\\0s3cret pass");
    cr_assert_str_eq (server.rcpt_to, "RCPT TO:<" TO ">");
    free (server.data);
    auth_mail_destroy (&mail);
}

Test (auth_mail, smtp_off_host_requires_starttls, .timeout = 30)
{
    //  127.0.0.2 is this machine too, but not by a name the rule trusts
    fake_smtp_t server = { 0 };
    if (!s_fake_smtp_start (&server, "127.0.0.2"))
        cr_skip_test ("127.0.0.2 cannot be bound here");
    char url [64];
    snprintf (url, sizeof url, "smtp://127.0.0.2:%d", server.port);
    auth_mail_t *mail = auth_mail_new (url, NULL, NULL, FROM, NULL);
    cr_assert_not_null (mail);
    cr_assert_eq (auth_mail_send (mail, TO, "Hello", "nothing secret"), -1);
    s_fake_smtp_stop (&server);
    cr_assert_str_not_empty (server.ehlo, "libcurl never talked to the server");
    cr_assert_str_empty (server.mail_from, "mail went out without TLS");
    cr_assert_not (server.data_done);
    free (server.data);
    auth_mail_destroy (&mail);
}

Test (auth_mail, smtp_with_nothing_listening_fails, .timeout = 30)
{
    char url [64];
    snprintf (url, sizeof url, "smtp://127.0.0.1:%d", s_dead_port ());
    auth_mail_t *mail = auth_mail_new (url, NULL, NULL, FROM, NULL);
    cr_assert_not_null (mail);
    double start = s_now ();
    cr_assert_eq (auth_mail_send (mail, TO, "Hello", "body"), -1);
    cr_assert_lt (s_now () - start, 6.0, "took %.1f s", s_now () - start);
    auth_mail_destroy (&mail);
}

Test (auth_mail, smtp_silent_server_hits_the_connect_timeout, .timeout = 30)
{
    //  The kernel completes the handshake but nobody greets: for libcurl
    //  the SMTP greeting is part of connecting (5 s)
    fake_smtp_t server = { .silent = true };
    cr_assert (s_fake_smtp_start (&server, "127.0.0.1"));
    char url [64];
    snprintf (url, sizeof url, "smtp://127.0.0.1:%d", server.port);
    auth_mail_t *mail = auth_mail_new (url, NULL, NULL, FROM, NULL);
    cr_assert_not_null (mail);
    double start = s_now ();
    cr_assert_eq (auth_mail_send (mail, TO, "Hello", "body"), -1);
    double took = s_now () - start;
    cr_assert (took >= 4.5 && took < 8.0, "took %.1f s", took);
    s_fake_smtp_stop (&server);
    free (server.data);
    auth_mail_destroy (&mail);
}

Test (auth_mail, smtp_stalled_server_hits_the_total_timeout, .timeout = 30)
{
    //  Connected and greeted, then no answer to MAIL FROM: 15 s in all
    fake_smtp_t server = { .stall = true };
    cr_assert (s_fake_smtp_start (&server, "127.0.0.1"));
    char url [64];
    snprintf (url, sizeof url, "smtp://127.0.0.1:%d", server.port);
    auth_mail_t *mail = auth_mail_new (url, NULL, NULL, FROM, NULL);
    cr_assert_not_null (mail);
    double start = s_now ();
    cr_assert_eq (auth_mail_send (mail, TO, "Hello", "body"), -1);
    double took = s_now () - start;
    cr_assert (took >= 14.5 && took < 20.0, "took %.1f s", took);
    s_fake_smtp_stop (&server);
    cr_assert_str_eq (server.mail_from, "MAIL FROM:<" FROM ">");
    cr_assert_not (server.data_done);
    free (server.data);
    auth_mail_destroy (&mail);
}
