/*  audit_rules - filters, cursors and timestamps of the audit query */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "audit_rules.h"
#include "../../common/cm_jwt.h"

//  Milliseconds of 9999-12-31T23:59:59.999Z, the last time this formats
#define TIME_MS_MAX INT64_C (253402300799999)
#define CURSOR_DIGITS_MAX 19

int
audit_rules_type (const char *type)
{
    if (!type)
        return -1;
    size_t len = strlen (type);
    if (len < 1 || len > AUDIT_TYPE_MAX)
        return -1;
    bool part_start = true;
    for (size_t i = 0; i < len; i++) {
        char c = type [i];
        bool word = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (c == '.') {
            if (part_start)
                return -1;              //  empty part: ".x", "x..y"
            part_start = true;
            continue;
        }
        if (!word && !(c == '_' && !part_start))
            return -1;
        part_start = false;
    }
    return part_start? -1: 0;           //  "x."
}

int64_t
audit_rules_limit (bool given, int64_t limit)
{
    if (!given)
        return AUDIT_LIMIT_DEFAULT;
    return limit >= 1 && limit <= AUDIT_LIMIT_MAX? limit: -1;
}

//  Days since 1970-01-01 of a civil date (proleptic Gregorian)
static int64_t
s_days_from_civil (int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0? y: y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2? -3: 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void
s_civil_from_days (int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0? z: z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp + (mp < 10? 3: -9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool
s_leap (int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

//  n decimal digits at text; -1 when any is not a digit
static int64_t
s_digits (const char *text, int n)
{
    int64_t value = 0;
    for (int i = 0; i < n; i++) {
        if (text [i] < '0' || text [i] > '9')
            return -1;
        value = value * 10 + (text [i] - '0');
    }
    return value;
}

int
audit_rules_time_parse (const char *text, int64_t *ms)
{
    assert (ms);
    *ms = 0;
    if (!text || strnlen (text, 64) < 20)
        return -1;
    const char *p = text;
    int64_t year = s_digits (p, 4), month = s_digits (p + 5, 2), day = s_digits (p + 8, 2);
    int64_t hour = s_digits (p + 11, 2), minute = s_digits (p + 14, 2), second = s_digits (p + 17, 2);
    if (p [4] != '-' || p [7] != '-' || (p [10] != 'T' && p [10] != 't') || p [13] != ':' || p [16] != ':')
        return -1;
    if (year < 1 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23
    ||  minute < 0 || minute > 59 || second < 0 || second > 60)
        return -1;
    static const int days [] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (day > days [month - 1] + (month == 2 && s_leap (year)))
        return -1;
    p += 19;
    int64_t fraction_ms = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (p [n] >= '0' && p [n] <= '9')
            n++;
        if (n < 1 || n > 9)
            return -1;
        int64_t scale = 100;
        for (int i = 0; i < n && i < 3; i++, scale /= 10)
            fraction_ms += (p [i] - '0') * scale;
        p += n;
    }
    int64_t offset_min = 0;
    if (*p == 'Z' || *p == 'z')
        p++;
    else
    if (*p == '+' || *p == '-') {
        int64_t oh = s_digits (p + 1, 2), om = p [1] && p [2] && p [3] == ':'? s_digits (p + 4, 2): -1;
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        offset_min = (*p == '+'? 1: -1) * (oh * 60 + om);
        p += 6;
    }
    else
        return -1;
    if (*p)
        return -1;
    //  A leap second is the last moment of its minute
    if (second == 60) {
        second = 59;
        fraction_ms = 999;
    }
    int64_t seconds = s_days_from_civil (year, month, day) * 86400 + hour * 3600 + minute * 60 + second
                    - offset_min * 60;
    *ms = seconds * 1000 + fraction_ms;
    return 0;
}

int
audit_rules_time_format (int64_t ms, char *out)
{
    assert (out);
    *out = 0;
    if (ms < 0 || ms > TIME_MS_MAX)
        return -1;
    int64_t days = ms / 86400000, rest = ms % 86400000;
    int64_t y, m, d;
    s_civil_from_days (days, &y, &m, &d);
    //  Every part is in range here: the text is always 24 characters
    char text [64];
    snprintf (text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int) y, (int) m, (int) d,
              (int) (rest / 3600000), (int) (rest / 60000 % 60), (int) (rest / 1000 % 60),
              (int) (rest % 1000));
    if (strlen (text) != AUDIT_TIME_SIZE - 1)
        return -1;
    memcpy (out, text, AUDIT_TIME_SIZE);
    return 0;
}

int
audit_rules_cursor_encode (int64_t seq, char *out)
{
    assert (out);
    *out = 0;
    if (seq < 1)
        return -1;
    char digits [24];
    int len = snprintf (digits, sizeof digits, "%" PRId64, seq);
    return cm_jwt_b64url_encode ((const uint8_t *) digits, (size_t) len, out, AUDIT_CURSOR_SIZE) < 0? -1: 0;
}

int
audit_rules_cursor_decode (const char *cursor, int64_t *seq)
{
    assert (seq);
    *seq = 0;
    if (!cursor)
        return -1;
    size_t len = strnlen (cursor, AUDIT_CURSOR_SIZE);
    if (len == 0 || len >= AUDIT_CURSOR_SIZE)
        return -1;
    uint8_t text [32];
    size_t text_len = 0;
    if (cm_jwt_b64url_decode (cursor, len, text, sizeof text, &text_len)
    ||  text_len < 1 || text_len > CURSOR_DIGITS_MAX || text [0] == '0')
        return -1;
    //  19 digits may pass INT64_MAX: check before each step
    int64_t value = 0;
    for (size_t i = 0; i < text_len; i++) {
        if (text [i] < '0' || text [i] > '9' || value > (INT64_MAX - (text [i] - '0')) / 10)
            return -1;
        value = value * 10 + (text [i] - '0');
    }
    *seq = value;
    return 0;
}
