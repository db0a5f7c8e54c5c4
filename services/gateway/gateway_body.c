/*  gateway_body - request bodies: bounded reading, media types, strict JSON and forms

    The limits are checked twice on purpose: a pre-scan of the raw text
    stops deep or wide bodies before jansson allocates or recurses, and a
    walk of the parsed value checks what only a parser knows (decoded string
    and key lengths). Messages never quote client data except a field name
    that has been cut short and made printable.
*/
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <civetweb.h>
#include "gateway_body.h"

#define S_READ_CHUNK    4096            //  first allocation when the length is unknown
#define S_CHARSET_MAX   32              //  longest charset value we look at

typedef struct {
    const char *ptr;                    //  into the caller's form body
    size_t len;
} span_t;

//  Incremental UTF-8 check (RFC 3629: no overlongs, surrogates or
//  values past U+10FFFF), for bytes that only exist one at a time
typedef struct {
    int need;                           //  continuation bytes still expected
    unsigned char lo, hi;               //  range allowed for the next one
} utf8_t;

//  Formats error and returns status, so failures are one line each
static int
s_fail (char *error, size_t size, int status, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

static int
s_fail (char *error, size_t size, int status, const char *format, ...)
{
    if (error && size) {
        va_list args;
        va_start (args, format);
        vsnprintf (error, size, format, args);
        va_end (args);
    }
    return status;
}

//  ----------------------------------------------------------------------
//  Reading

int
gateway_body_read (struct mg_connection *conn, size_t limit, char **data_p, size_t *len_p)
{
    assert (conn);
    assert (data_p);
    assert (len_p);
    //  limit + 2 must not wrap: one byte to detect overflow, one for the NUL
    assert (limit < SIZE_MAX - 2);
    *data_p = NULL;
    *len_p = 0;

    const struct mg_request_info *info = mg_get_request_info (conn);
    long long declared = info? info->content_length: -1;
    if (declared >= 0 && (unsigned long long) declared > limit)
        return 413;                     //  refuse before a single byte is read

    //  With a declared length we need exactly that; otherwise (chunked or
    //  read-until-close) we take up to limit + 1, the byte that proves "too large"
    size_t want = declared >= 0? (size_t) declared: limit + 1;
    size_t capacity = declared >= 0? want: (want < S_READ_CHUNK? want: S_READ_CHUNK);
    char *data = (char *) malloc (capacity + 1);
    if (!data)
        return 500;
    size_t len = 0;
    int status = 0;
    while (len < want) {
        if (len == capacity) {
            //  Not realloc: the body may hold a password, so no stale copy is left
            size_t grown = capacity > want / 2? want: capacity * 2;
            char *bigger = (char *) malloc (grown + 1);
            if (!bigger) {
                status = 500;
                goto cleanup;
            }
            memcpy (bigger, data, len);
            explicit_bzero (data, len);
            free (data);
            data = bigger;
            capacity = grown;
        }
        int got = mg_read (conn, data + len, capacity - len);
        if (got < 0) {
            status = 400;
            goto cleanup;
        }
        if (got == 0)
            break;                      //  end of body, or the peer gave up
        len += (size_t) got;
    }
    if (declared >= 0 && len < want)
        status = 400;                   //  shorter than it said
    else
    if (len > limit)
        status = 413;
    else {
        data [len] = '\0';
        *data_p = data;
        *len_p = len;
        return 0;
    }
cleanup:
    explicit_bzero (data, len);
    free (data);
    return status;
}

//  ----------------------------------------------------------------------
//  Media types

//  RFC 9110 token characters
static bool
s_is_tchar (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || (c && strchr ("!#$%&'*+-.^_`|~", c));
}

static const char *
s_skip_ows (const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int
gateway_body_check_type (const char *content_type, const char *want)
{
    assert (want);
    if (!content_type)
        return 415;
    const char *p = s_skip_ows (content_type);
    size_t want_len = strlen (want);
    if (strncasecmp (p, want, want_len) != 0)
        return 415;
    p = s_skip_ows (p + want_len);

    //  Parameters: OWS ";" OWS [ name "=" ( token / quoted-string ) ]
    while (*p == ';') {
        p = s_skip_ows (p + 1);
        if (*p == ';' || *p == '\0')
            continue;                   //  empty parameters are allowed
        const char *name = p;
        while (s_is_tchar (*p))
            p++;
        size_t name_len = (size_t) (p - name);
        if (name_len == 0 || *p != '=')
            return 415;
        p++;
        char value [S_CHARSET_MAX + 1];
        size_t value_len = 0;
        bool overlong = false;
        if (*p == '"') {
            for (p++; *p != '"'; p++) {
                if (*p == '\0')
                    return 415;         //  unterminated quoted string
                if (*p == '\\' && p [1])
                    p++;
                if (value_len < S_CHARSET_MAX)
                    value [value_len++] = *p;
                else
                    overlong = true;
            }
            p++;
        }
        else {
            for (; s_is_tchar (*p); p++) {
                if (value_len < S_CHARSET_MAX)
                    value [value_len++] = *p;
                else
                    overlong = true;
            }
            if (value_len == 0)
                return 415;
        }
        value [value_len] = '\0';
        //  The body will be read as UTF-8; any other declared charset would be misread
        if (name_len == 7 && strncasecmp (name, "charset", 7) == 0
        && (overlong || strcasecmp (value, "utf-8") != 0))
            return 415;
        p = s_skip_ows (p);
    }
    return *p? 415: 0;
}

//  ----------------------------------------------------------------------
//  JSON

//  Bounds depth and width on the raw text, outside strings, so a hostile
//  body never reaches jansson's recursion or allocator. n commas mean at
//  least n + 1 members or elements, so the width test is exact for valid JSON.
static bool
s_prescan (const char *data, size_t len, char *error, size_t size)
{
    size_t depth = 0, commas = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = data [i];
        if (in_string) {
            if (c == '\\')
                i++;                    //  an escaped quote does not end the string
            else
            if (c == '"')
                in_string = false;
        }
        else
        if (c == '"')
            in_string = true;
        else
        if (c == '[' || c == '{') {
            if (++depth > GATEWAY_BODY_MAX_DEPTH) {
                s_fail (error, size, 400, "body nests deeper than %d levels", GATEWAY_BODY_MAX_DEPTH);
                return false;
            }
        }
        else
        if (c == ']' || c == '}') {
            if (depth)
                depth--;
        }
        else
        if (c == ',' && ++commas >= GATEWAY_BODY_MAX_ITEMS) {
            s_fail (error, size, 400, "body has more than %d members and elements",
                    GATEWAY_BODY_MAX_ITEMS);
            return false;
        }
    }
    return true;
}

//  Checks the parsed value against every limit; recursion is bounded by
//  the depth test itself, whatever the parser let through
static bool
s_walk (json_t *value, int depth, size_t *items, char *error, size_t size)
{
    if (json_is_object (value) || json_is_array (value)) {
        if (depth + 1 > GATEWAY_BODY_MAX_DEPTH) {
            s_fail (error, size, 400, "body nests deeper than %d levels", GATEWAY_BODY_MAX_DEPTH);
            return false;
        }
        size_t count = json_is_object (value)? json_object_size (value): json_array_size (value);
        *items += count;
        if (*items > GATEWAY_BODY_MAX_ITEMS) {
            s_fail (error, size, 400, "body has more than %d members and elements",
                    GATEWAY_BODY_MAX_ITEMS);
            return false;
        }
    }
    if (json_is_object (value)) {
        const char *key;
        json_t *member;
        json_object_foreach (value, key, member) {
            if (strlen (key) > GATEWAY_BODY_MAX_KEY) {
                s_fail (error, size, 400, "body has a key longer than %d bytes",
                        GATEWAY_BODY_MAX_KEY);
                return false;
            }
            if (!s_walk (member, depth + 1, items, error, size))
                return false;
        }
    }
    else
    if (json_is_array (value)) {
        size_t index;
        json_t *element;
        json_array_foreach (value, index, element)
            if (!s_walk (element, depth + 1, items, error, size))
                return false;
    }
    else
    if (json_is_string (value) && json_string_length (value) > GATEWAY_BODY_MAX_STRING) {
        s_fail (error, size, 400, "body has a string longer than %d bytes", GATEWAY_BODY_MAX_STRING);
        return false;
    }
    return true;
}

json_t *
gateway_body_json (const char *data, size_t len, char *error, size_t error_size)
{
    assert (data || len == 0);
    if (len == 0) {
        s_fail (error, error_size, 400, "body is empty");
        return NULL;
    }
    if (!s_prescan (data, len, error, error_size))
        return NULL;

    //  Duplicate keys are refused: two services could each read a different
    //  one. The end-of-input check stays on so trailing data is an error.
    json_error_t parse_error;
    json_t *root = json_loadb (data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &parse_error);
    if (!root) {
        switch (json_error_code (&parse_error)) {
            case json_error_duplicate_key:
                s_fail (error, error_size, 400, "body repeats a key at line %d column %d",
                        parse_error.line, parse_error.column);
                break;
            case json_error_end_of_input_expected:
                s_fail (error, error_size, 400, "body has data after the JSON value at line %d column %d",
                        parse_error.line, parse_error.column);
                break;
            case json_error_invalid_utf8:
                s_fail (error, error_size, 400, "body is not valid UTF-8");
                break;
            default:
                s_fail (error, error_size, 400, "body is not valid JSON at line %d column %d",
                        parse_error.line, parse_error.column);
        }
        return NULL;
    }
    if (!json_is_object (root)) {
        s_fail (error, error_size, 400, "body must be a JSON object");
        json_decref (root);
        return NULL;
    }
    size_t items = 0;
    if (!s_walk (root, 0, &items, error, error_size)) {
        json_decref (root);
        return NULL;
    }
    return root;
}

//  ----------------------------------------------------------------------
//  Field getters

//  Looks up field; 0 with *member NULL when absent and optional
static int
s_member (json_t *obj, const char *field, bool required, json_t **member, char *error, size_t size)
{
    assert (field);
    *member = NULL;
    if (!json_is_object (obj))
        return s_fail (error, size, 400, "body must be a JSON object");
    *member = json_object_get (obj, field);
    if (!*member && required)
        return s_fail (error, size, 422, "%s is required", field);
    return 0;
}

//  Code points of valid UTF-8 (jansson has already validated it)
static size_t
s_code_points (const char *text, size_t len)
{
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char) text [i] & 0xC0) != 0x80)
            count++;
    return count;
}

static bool
s_is_ascii_space (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int
s_check_length (const char *field, const char *text, size_t len,
                size_t min_chars, size_t max_chars, char *error, size_t size)
{
    size_t chars = s_code_points (text, len);
    if (chars == 0 && min_chars > 0)
        return s_fail (error, size, 422, "%s must not be empty", field);
    if (chars < min_chars)
        return s_fail (error, size, 422, "%s must be at least %zu characters", field, min_chars);
    if (chars > max_chars)
        return s_fail (error, size, 422, "%s must be at most %zu characters", field, max_chars);
    return 0;
}

int
gateway_body_string (json_t *obj, const char *field, bool required,
                     size_t min_chars, size_t max_chars,
                     const char **value, char *error, size_t size)
{
    assert (value);
    *value = NULL;
    json_t *member;
    int rc = s_member (obj, field, required, &member, error, size);
    if (rc || !member)
        return rc;
    if (!json_is_string (member))
        return s_fail (error, size, 422, "%s must be a string", field);
    const char *text = json_string_value (member);
    rc = s_check_length (field, text, json_string_length (member), min_chars, max_chars,
                         error, size);
    if (rc == 0)
        *value = text;
    return rc;
}

int
gateway_body_string_copy (json_t *obj, const char *field, bool required,
                          size_t min_chars, size_t max_chars, bool trim,
                          char *out, size_t out_size, bool *present,
                          char *error, size_t size)
{
    assert (out && out_size);
    out [0] = '\0';
    if (present)
        *present = false;
    json_t *member;
    int rc = s_member (obj, field, required, &member, error, size);
    if (rc || !member)
        return rc;
    if (!json_is_string (member))
        return s_fail (error, size, 422, "%s must be a string", field);
    const char *text = json_string_value (member);
    size_t len = json_string_length (member);
    if (trim) {
        while (len && s_is_ascii_space (*text)) {
            text++;
            len--;
        }
        while (len && s_is_ascii_space (text [len - 1]))
            len--;
    }
    rc = s_check_length (field, text, len, min_chars, max_chars, error, size);
    if (rc)
        return rc;
    if (len >= out_size)
        return s_fail (error, size, 422, "%s is too long", field);
    memcpy (out, text, len);
    out [len] = '\0';
    if (present)
        *present = true;
    return 0;
}

int
gateway_body_integer (json_t *obj, const char *field, bool required,
                      int64_t min, int64_t max, int64_t *value, bool *present,
                      char *error, size_t size)
{
    assert (value);
    if (present)
        *present = false;
    json_t *member;
    int rc = s_member (obj, field, required, &member, error, size);
    if (rc || !member)
        return rc;
    //  json_is_integer is false for 5.0 and for true/false: no silent coercion
    if (!json_is_integer (member))
        return s_fail (error, size, 422, "%s must be an integer", field);
    json_int_t number = json_integer_value (member);
    if (number < min || number > max)
        return s_fail (error, size, 422, "%s must be between %lld and %lld",
                       field, (long long) min, (long long) max);
    *value = (int64_t) number;
    if (present)
        *present = true;
    return 0;
}

int
gateway_body_boolean (json_t *obj, const char *field, bool required,
                      bool *value, bool *present, char *error, size_t size)
{
    assert (value);
    if (present)
        *present = false;
    json_t *member;
    int rc = s_member (obj, field, required, &member, error, size);
    if (rc || !member)
        return rc;
    if (!json_is_boolean (member))
        return s_fail (error, size, 422, "%s must be true or false", field);
    *value = json_is_true (member);
    if (present)
        *present = true;
    return 0;
}

int
gateway_body_enum (json_t *obj, const char *field, bool required,
                   const char *const *allowed, const char **value,
                   char *error, size_t size)
{
    assert (allowed);
    assert (value);
    *value = NULL;
    json_t *member;
    int rc = s_member (obj, field, required, &member, error, size);
    if (rc || !member)
        return rc;
    if (json_is_string (member)) {
        const char *text = json_string_value (member);
        for (size_t i = 0; allowed [i]; i++)
            if (strcmp (text, allowed [i]) == 0) {
                *value = allowed [i];
                return 0;
            }
    }
    //  The choices are ours, so listing them leaks nothing and helps the client
    char choices [256] = "";
    size_t used = 0;
    for (size_t i = 0; allowed [i] && used < sizeof choices; i++) {
        int n = snprintf (choices + used, sizeof choices - used, "%s%s", i? ", ": "", allowed [i]);
        if (n < 0)
            break;
        used += (size_t) n;
    }
    return s_fail (error, size, 422, "%s must be one of: %s", field, choices);
}

//  Cuts a client's key short and replaces anything that is not plain
//  printable ASCII (quotes and backslash too), so the message is safe to
//  echo into JSON, logs and terminals
static void
s_safe_name (const char *name, char *out, size_t out_size)
{
    assert (out_size > GATEWAY_BODY_ECHO_MAX + 3);
    size_t i = 0;
    for (; i < GATEWAY_BODY_ECHO_MAX && name [i]; i++) {
        unsigned char c = (unsigned char) name [i];
        out [i] = (c >= 0x20 && c < 0x7F && c != '\'' && c != '"' && c != '\\')? (char) c: '?';
    }
    if (name [i]) {
        memcpy (out + i, "...", 3);
        i += 3;
    }
    out [i] = '\0';
}

int
gateway_body_only_fields (json_t *obj, const char *const *allowed, char *error, size_t size)
{
    assert (allowed);
    if (!json_is_object (obj))
        return s_fail (error, size, 400, "body must be a JSON object");
    const char *key;
    json_t *member;
    json_object_foreach (obj, key, member) {
        bool known = false;
        for (size_t i = 0; allowed [i] && !known; i++)
            known = strcmp (key, allowed [i]) == 0;
        if (!known) {
            char safe [GATEWAY_BODY_ECHO_MAX + 4];
            s_safe_name (key, safe, sizeof safe);
            return s_fail (error, size, 422, "unknown field '%s'", safe);
        }
    }
    return 0;
}

//  ----------------------------------------------------------------------
//  Forms

static int
s_hex (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

//  Decodes the byte at *pos and moves past it; -1 for a broken %XX
static int
s_form_byte (span_t span, size_t *pos)
{
    char c = span.ptr [*pos];
    if (c == '+') {
        (*pos)++;
        return ' ';
    }
    if (c != '%') {
        (*pos)++;
        return (unsigned char) c;
    }
    if (*pos + 2 >= span.len)
        return -1;                      //  cut short: "%" or "%4" at the end
    int high = s_hex (span.ptr [*pos + 1]);
    int low = s_hex (span.ptr [*pos + 2]);
    if (high < 0 || low < 0)
        return -1;
    *pos += 3;
    return high * 16 + low;
}

static bool
s_utf8_feed (utf8_t *state, unsigned char c)
{
    if (state->need == 0) {
        state->lo = 0x80;
        state->hi = 0xBF;
        if (c < 0x80)
            return true;
        if (c >= 0xC2 && c <= 0xDF)
            state->need = 1;
        else
        if (c >= 0xE0 && c <= 0xEF) {
            state->need = 2;
            if (c == 0xE0)
                state->lo = 0xA0;       //  overlong
            if (c == 0xED)
                state->hi = 0x9F;       //  surrogates
        }
        else
        if (c >= 0xF0 && c <= 0xF4) {
            state->need = 3;
            if (c == 0xF0)
                state->lo = 0x90;       //  overlong
            if (c == 0xF4)
                state->hi = 0x8F;       //  past U+10FFFF
        }
        else
            return false;
        return true;
    }
    if (c < state->lo || c > state->hi)
        return false;
    state->lo = 0x80;
    state->hi = 0xBF;
    state->need--;
    return true;
}

//  A name or value must decode cleanly to UTF-8 text without NUL
static bool
s_form_valid (span_t span)
{
    utf8_t state = { 0, 0x80, 0xBF };
    size_t pos = 0;
    while (pos < span.len) {
        int c = s_form_byte (span, &pos);
        if (c <= 0 || !s_utf8_feed (&state, (unsigned char) c))
            return false;
    }
    return state.need == 0;
}

//  Compares two valid encoded spans by their decoded bytes
static bool
s_form_same (span_t a, span_t b)
{
    size_t pa = 0, pb = 0;
    while (pa < a.len && pb < b.len)
        if (s_form_byte (a, &pa) != s_form_byte (b, &pb))
            return false;
    return pa == a.len && pb == b.len;
}

static bool
s_form_is (span_t span, const char *name)
{
    size_t pos = 0, i = 0;
    while (pos < span.len && name [i])
        if (s_form_byte (span, &pos) != (unsigned char) name [i++])
            return false;
    return pos == span.len && name [i] == '\0';
}

//  Checks every parameter of a form (not only the one asked for, so each
//  lookup on the same body gives the same verdict) and finds name's value.
//  Returns 0 (*found says if it is there), or 400 when any parameter is
//  malformed or repeated, or there are too many.
static int
s_form_find (const char *data, size_t len, const char *name, span_t *value, bool *found)
{
    *found = false;
    span_t names [GATEWAY_BODY_MAX_FORM], values [GATEWAY_BODY_MAX_FORM];
    size_t count = 0;
    size_t start = 0;
    while (start < len) {
        const char *amp = (const char *) memchr (data + start, '&', len - start);
        size_t end = amp? (size_t) (amp - data): len;
        if (end > start) {              //  empty pairs ("a=1&&b=2") carry nothing
            if (count == GATEWAY_BODY_MAX_FORM)
                return 400;
            span_t pair = { data + start, end - start };
            const char *equals = (const char *) memchr (pair.ptr, '=', pair.len);
            size_t name_len = equals? (size_t) (equals - pair.ptr): pair.len;
            names [count] = (span_t) { pair.ptr, name_len };
            values [count] = equals? (span_t) { equals + 1, pair.len - name_len - 1 }
                                   : (span_t) { pair.ptr + pair.len, 0 };
            if (!s_form_valid (names [count]) || !s_form_valid (values [count]))
                return 400;
            //  RFC 6749 3.2: a repeated parameter is an error, never "first wins"
            for (size_t i = 0; i < count; i++)
                if (s_form_same (names [i], names [count]))
                    return 400;
            count++;
        }
        start = end + 1;
    }
    for (size_t i = 0; i < count; i++)
        if (s_form_is (names [i], name)) {
            *value = values [i];
            *found = true;
            break;
        }
    return 0;
}

int
gateway_body_form_get (const char *data, size_t len, const char *name,
                       char *value, size_t size, bool *present)
{
    assert (data || len == 0);
    assert (name);
    assert (value && size);
    value [0] = '\0';
    if (present)
        *present = false;
    span_t span;
    bool found;
    int rc = s_form_find (data, len, name, &span, &found);
    if (rc || !found)
        return rc;
    size_t pos = 0, used = 0;
    while (pos < span.len) {
        if (used == size - 1) {
            //  The value may be a password: leave no partial copy behind
            explicit_bzero (value, size);
            return 400;
        }
        value [used++] = (char) s_form_byte (span, &pos);
    }
    value [used] = '\0';
    if (present)
        *present = true;
    return 0;
}

int
gateway_body_form_integer (const char *data, size_t len, const char *name,
                           int64_t *value, bool *present, char *error, size_t size)
{
    assert (data || len == 0);
    assert (name);
    assert (value);
    *value = 0;
    if (present)
        *present = false;
    span_t span;
    bool found;
    if (s_form_find (data, len, name, &span, &found))
        return s_fail (error, size, 400, GATEWAY_BODY_FORM_MALFORMED);
    if (!found)
        return 0;
    //  Decimal digits with an optional minus, accumulated negatively so
    //  INT64_MIN fits too; anything else, or an overflow, is refused
    size_t pos = 0;
    bool negative = false;
    int64_t number = 0;
    size_t digits = 0;
    while (pos < span.len) {
        int c = s_form_byte (span, &pos);
        if (c == '-' && digits == 0 && !negative && pos < span.len) {
            negative = true;
            continue;
        }
        if (c < '0' || c > '9' || number < (INT64_MIN + (c - '0')) / 10)
            return s_fail (error, size, 422, "%s must be an integer", name);
        number = number * 10 - (c - '0');
        digits++;
    }
    if (digits == 0 || (!negative && number == INT64_MIN))
        return s_fail (error, size, 422, "%s must be an integer", name);
    *value = negative? number: -number;
    if (present)
        *present = true;
    return 0;
}
