/*  cm_log - structured logs

    Each line is formatted into one buffer and written with one write(2),
    so lines from different threads never interleave.
*/
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cm_log.h"

#define LINE_MAX_BYTES 4096

static char s_service [32] = "unknown";
static cm_log_level_t s_level = CM_LOG_INFO;
static _Thread_local char s_request_id [65];
static const char *s_level_names [] = { "debug", "info", "warn", "error" };

void
cm_log_init (const char *service, cm_log_level_t level)
{
    snprintf (s_service, sizeof s_service, "%s", service);
    s_level = level;
}

int
cm_log_level_parse (const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp (name, s_level_names [i]) == 0)
            return i;
    return -1;
}

void
cm_log_set_request_id (const char *rid)
{
    snprintf (s_request_id, sizeof s_request_id, "%s", rid? rid: "");
}

const char *
cm_log_request_id (void)
{
    return s_request_id;
}

int
cm_json_escape (char *dest, size_t size, size_t *len, const char *s)
{
    static const char hex [] = "0123456789abcdef";
    size_t at = *len;
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        char esc [7];
        size_t n = 0;
        if (*p == '"' || *p == '\\') {
            esc [n++] = '\\';
            esc [n++] = (char) *p;
        }
        else
        if (*p < 0x20 || *p == 0x7F) {
            esc [n++] = '\\'; esc [n++] = 'u'; esc [n++] = '0'; esc [n++] = '0';
            esc [n++] = hex [*p >> 4];
            esc [n++] = hex [*p & 15];
        }
        else
            esc [n++] = (char) *p;
        if (at + n >= size) {
            dest [at] = 0;
            *len = at;
            return -1;
        }
        memcpy (dest + at, esc, n);
        at += n;
    }
    dest [at] = 0;
    *len = at;
    return 0;
}

//  Opens a line with the fixed fields; returns its length
static size_t
s_open_line (char *line, cm_log_level_t level)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r (&now.tv_sec, &tm);
    char stamp [32];
    strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    int n = snprintf (line, LINE_MAX_BYTES, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"service\":\"%s\"",
                      stamp, now.tv_nsec / 1000000, s_level_names [level], s_service);
    size_t len = (size_t) n;
    if (s_request_id [0]) {
        len += (size_t) snprintf (line + len, LINE_MAX_BYTES - len, ",\"rid\":\"");
        cm_json_escape (line, LINE_MAX_BYTES - 3, &len, s_request_id);
        line [len++] = '"';
        line [len] = 0;
    }
    return len;
}

static void
s_add_field (char *line, size_t *len, const char *key, const char *value)
{
    if (*len + 8 >= LINE_MAX_BYTES - 4)
        return;
    line [(*len)++] = ',';
    line [(*len)++] = '"';
    cm_json_escape (line, LINE_MAX_BYTES - 8, len, key);
    memcpy (line + *len, "\":\"", 3);
    *len += 3;
    cm_json_escape (line, LINE_MAX_BYTES - 4, len, value? value: "");
    line [(*len)++] = '"';
    line [*len] = 0;
}

static void
s_close_line (char *line, size_t len)
{
    line [len++] = '}';
    line [len++] = '\n';
    //  One write per line; a failed log write has nowhere to be reported
    ssize_t rc = write (STDERR_FILENO, line, len);
    (void) rc;
}

void
cm_log (cm_log_level_t level, const char *fmt, ...)
{
    if (level < s_level)
        return;
    char message [LINE_MAX_BYTES / 2];
    va_list args;
    va_start (args, fmt);
    vsnprintf (message, sizeof message, fmt, args);
    va_end (args);

    char line [LINE_MAX_BYTES];
    size_t len = s_open_line (line, level);
    s_add_field (line, &len, "msg", message);
    s_close_line (line, len);
}

void
cm_log_fields (cm_log_level_t level, const char *msg, ...)
{
    if (level < s_level)
        return;
    char line [LINE_MAX_BYTES];
    size_t len = s_open_line (line, level);
    s_add_field (line, &len, "msg", msg);
    va_list args;
    va_start (args, msg);
    const char *key;
    while ((key = va_arg (args, const char *))) {
        const char *value = va_arg (args, const char *);
        s_add_field (line, &len, key, value);
    }
    va_end (args);
    s_close_line (line, len);
}
