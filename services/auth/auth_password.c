/*  auth_password - password policy, common-password list and argon2id hashes

    The list is read-mostly: loaded once at start-up, looked up by every
    worker, so a reader-writer lock guards it. Hashing and verifying keep no
    state between calls; libargon2 allocates its memory per call.
*/
#include <argon2.h>
#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include "auth_password.h"

//  The embedded list is under 1 MiB; this only stops a wrong file
#define LIST_MAX_BYTES      (64u * 1024 * 1024)
//  Longest PHC string worth parsing; ours are under 100 bytes
#define PHC_MAX_BYTES       512

//  ---------------------------------------------------------------------
//  Text helpers

static char
s_lower (char c)
{
    return (c >= 'A' && c <= 'Z')? (char) (c - 'A' + 'a'): c;
}

//  Counts the code points of s, stopping as soon as the count passes limit
//  so a huge input costs no more than a long one. Returns -1 when s is not
//  well-formed UTF-8 (Unicode table 3-7: no overlongs, surrogates or values
//  past U+10FFFF), which also refuses a sequence cut by the terminating NUL.
static long
s_utf8_count (const char *s, long limit)
{
    const unsigned char *p = (const unsigned char *) s;
    long count = 0;
    while (*p && count <= limit) {
        unsigned char c = *p++;
        unsigned char lo = 0x80, hi = 0xBF;
        int more;
        if (c < 0x80)
            more = 0;
        else
        if (c >= 0xC2 && c <= 0xDF)
            more = 1;
        else
        if (c == 0xE0) {
            more = 2;
            lo = 0xA0;
        }
        else
        if (c == 0xED) {
            more = 2;
            hi = 0x9F;
        }
        else
        if (c >= 0xE1 && c <= 0xEF)
            more = 2;
        else
        if (c == 0xF0) {
            more = 3;
            lo = 0x90;
        }
        else
        if (c == 0xF4) {
            more = 3;
            hi = 0x8F;
        }
        else
        if (c >= 0xF1 && c <= 0xF3)
            more = 3;
        else
            return -1;
        for (int i = 0; i < more; i++, p++) {
            if (*p < lo || *p > hi)
                return -1;
            lo = 0x80;
            hi = 0xBF;
        }
        count++;
    }
    return count;
}

//  True when needle (nlen bytes, nlen > 0) occurs in hay, ignoring the case
//  of ASCII letters
static bool
s_contains_ci (const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    for (size_t i = 0; nlen <= hlen && i <= hlen - nlen; i++) {
        size_t j = 0;
        while (j < nlen && s_lower (hay [i + j]) == s_lower (needle [j]))
            j++;
        if (j == nlen)
            return true;
    }
    return false;
}

//  The email rule: the password is the whole address, or contains its local
//  part, or the local part before a "+tag" (people reuse the name, not the tag)
static bool
s_contains_email (const char *password, const char *email)
{
    size_t plen = strlen (password);
    size_t elen = strlen (email);
    if (elen && plen == elen && s_contains_ci (password, plen, email, elen))
        return true;

    const char *at = strrchr (email, '@');
    size_t local_len = at? (size_t) (at - email): elen;
    const char *plus = memchr (email, '+', local_len);
    size_t parts [2] = { local_len, plus? (size_t) (plus - email): 0 };
    for (int i = 0; i < 2; i++) {
        if (parts [i] == 0)
            continue;
        char local [256];
        if (parts [i] >= sizeof local)
            parts [i] = sizeof local - 1;   //  a local part is at most 64 bytes anyway
        memcpy (local, email, parts [i]);
        local [parts [i]] = 0;
        long chars = s_utf8_count (local, AUTH_PASSWORD_EMAIL_MIN_CHARS);
        if (chars < 0)
            chars = (long) parts [i];       //  not UTF-8: count bytes instead
        if (chars >= AUTH_PASSWORD_EMAIL_MIN_CHARS
        &&  s_contains_ci (password, plen, local, parts [i]))
            return true;
    }
    return false;
}

//  ---------------------------------------------------------------------
//  Common-password list

typedef struct {
    char *text;                 //  owned copy of the loaded text, lines NUL-ended
    char **entries;             //  owned array, sorted and distinct; items point into text
    size_t count;               //  number of entries
} list_t;

static list_t s_list;
static pthread_rwlock_t s_list_lock = PTHREAD_RWLOCK_INITIALIZER;

static int
s_entry_cmp (const void *a, const void *b)
{
    return strcmp (*(char * const *) a, *(char * const *) b);
}

static void
s_list_clear (list_t *list)
{
    free (list->entries);
    free (list->text);
    memset (list, 0, sizeof *list);
}

//  Caller holds the lock (read or write)
static bool
s_list_has (const list_t *list, const char *password)
{
    size_t len = strlen (password);
    if (!list->entries || len > AUTH_PASSWORD_MAX_BYTES)
        return false;                       //  no entry is that long
    char key [AUTH_PASSWORD_MAX_BYTES + 1];
    for (size_t i = 0; i < len; i++)
        key [i] = s_lower (password [i]);
    key [len] = 0;
    const char *key_p = key;
    bool found = bsearch (&key_p, list->entries, list->count, sizeof (char *),
                          s_entry_cmp) != NULL;
    OPENSSL_cleanse (key, sizeof key);
    return found;
}

//  ---------------------------------------------------------------------
//  Parse the lines of text into a sorted array of distinct lower-case
//  entries and swap it in. Returns the count, or -1 (old list kept).
int
auth_password_list_load (const char *text, size_t len)
{
    assert (text || len == 0);
    list_t fresh = { NULL, NULL, 0 };
    int rc = -1;
    if (len == 0 || len > LIST_MAX_BYTES)
        goto cleanup;

    fresh.text = malloc (len + 1);
    if (!fresh.text)
        goto cleanup;
    memcpy (fresh.text, text, len);
    fresh.text [len] = 0;

    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += fresh.text [i] == '\n';
    fresh.entries = calloc (lines, sizeof (char *));
    if (!fresh.entries)
        goto cleanup;

    char *line = fresh.text;
    char *end = fresh.text + len;
    while (line < end) {
        char *eol = memchr (line, '\n', (size_t) (end - line));
        if (!eol)
            eol = end;
        char *next = eol + 1;
        if (eol > line && eol [-1] == '\r')
            eol--;
        size_t line_len = (size_t) (eol - line);
        //  A NUL inside a line would make it compare as a shorter entry
        bool usable = line_len > 0 && line_len <= AUTH_PASSWORD_MAX_BYTES
                   && !memchr (line, 0, line_len);
        if (usable) {
            *eol = 0;
            for (char *c = line; c < eol; c++)
                *c = s_lower (*c);
            fresh.entries [fresh.count++] = line;
        }
        line = next;
    }
    if (fresh.count == 0)
        goto cleanup;

    qsort (fresh.entries, fresh.count, sizeof (char *), s_entry_cmp);
    size_t kept = 1;
    for (size_t i = 1; i < fresh.count; i++)
        if (strcmp (fresh.entries [i], fresh.entries [kept - 1]) != 0)
            fresh.entries [kept++] = fresh.entries [i];
    fresh.count = kept;
    if (fresh.count > INT32_MAX)
        goto cleanup;

    rc = (int) fresh.count;
    pthread_rwlock_wrlock (&s_list_lock);
    list_t old = s_list;
    s_list = fresh;
    pthread_rwlock_unlock (&s_list_lock);
    fresh = old;                            //  the replaced list, freed below

cleanup:
    s_list_clear (&fresh);
    return rc;
}

//  ---------------------------------------------------------------------
//  True when password, lower-cased, is on the list
bool
auth_password_list_contains (const char *password)
{
    assert (password);
    pthread_rwlock_rdlock (&s_list_lock);
    bool found = s_list_has (&s_list, password);
    pthread_rwlock_unlock (&s_list_lock);
    return found;
}

//  ---------------------------------------------------------------------
//  Number of entries in the loaded list
size_t
auth_password_list_size (void)
{
    pthread_rwlock_rdlock (&s_list_lock);
    size_t count = s_list.count;
    pthread_rwlock_unlock (&s_list_lock);
    return count;
}

//  ---------------------------------------------------------------------
//  Drop the list
void
auth_password_list_free (void)
{
    pthread_rwlock_wrlock (&s_list_lock);
    s_list_clear (&s_list);
    pthread_rwlock_unlock (&s_list_lock);
}

//  ---------------------------------------------------------------------
//  Check password against the policy; email may be NULL
auth_password_verdict_t
auth_password_check (const char *password, const char *email)
{
    assert (password);
    long chars = s_utf8_count (password, AUTH_PASSWORD_MAX_CHARS);
    if (chars < 0)
        return AUTH_PASSWORD_INVALID_UTF8;
    if (chars < AUTH_PASSWORD_MIN_CHARS)
        return AUTH_PASSWORD_TOO_SHORT;
    if (chars > AUTH_PASSWORD_MAX_CHARS)
        return AUTH_PASSWORD_TOO_LONG;

    pthread_rwlock_rdlock (&s_list_lock);
    bool loaded = s_list.entries != NULL;
    bool common = s_list_has (&s_list, password);
    pthread_rwlock_unlock (&s_list_lock);
    //  Checking without the list is a start-up bug; if asserts are compiled
    //  out, refuse rather than accept passwords nobody screened
    assert (loaded);
    if (common || !loaded)
        return AUTH_PASSWORD_COMMON;

    if (email && s_contains_email (password, email))
        return AUTH_PASSWORD_CONTAINS_EMAIL;
    return AUTH_PASSWORD_OK;
}

//  ---------------------------------------------------------------------
//  A human sentence naming the rule behind verdict
const char *
auth_password_verdict_str (auth_password_verdict_t verdict)
{
    switch (verdict) {
        case AUTH_PASSWORD_OK:
            return "password meets the policy";
        case AUTH_PASSWORD_TOO_SHORT:
            return "password must be at least 12 characters";
        case AUTH_PASSWORD_TOO_LONG:
            return "password must be at most 128 characters";
        case AUTH_PASSWORD_INVALID_UTF8:
            return "password must be valid UTF-8 text";
        case AUTH_PASSWORD_COMMON:
            return "password is too common: it appears in lists of breached passwords";
        case AUTH_PASSWORD_CONTAINS_EMAIL:
            return "password must not contain your email address or its name part";
    }
    return "password is not acceptable";
}

//  ---------------------------------------------------------------------
//  PHC strings

typedef struct {
    argon2_type type;           //  from the "$argon2id$" prefix
    uint32_t version;           //  v=; 0 when absent (argon2 1.0 hashes)
    uint32_t m_kib;             //  m=, memory in KiB
    uint32_t t;                 //  t=, passes
    uint32_t p;                 //  p=, lanes
    size_t salt_chars;          //  base64 characters of the salt
    size_t hash_chars;          //  base64 characters of the hash
} phc_t;

//  Reads "<name>=<decimal>" at *p into *value; advances *p. 0 or -1.
static int
s_phc_number (const char **p, const char *name, uint32_t *value)
{
    size_t name_len = strlen (name);
    if (strncmp (*p, name, name_len) != 0 || (*p) [name_len] != '=')
        return -1;
    const char *s = *p + name_len + 1;
    uint64_t v = 0;
    size_t digits = 0;
    while (*s >= '0' && *s <= '9' && digits < 10) {
        v = v * 10 + (uint64_t) (*s - '0');
        s++;
        digits++;
    }
    if (digits == 0 || (*s >= '0' && *s <= '9') || v > UINT32_MAX)
        return -1;
    *value = (uint32_t) v;
    *p = s;
    return 0;
}

//  Counts base64 characters (standard alphabet, no padding) up to the next
//  '$' or the end; advances *p past them
static size_t
s_phc_b64 (const char **p)
{
    const char *s = *p;
    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')
       ||  (*s >= '0' && *s <= '9') || *s == '+' || *s == '/')
        s++;
    size_t count = (size_t) (s - *p);
    *p = s;
    return count;
}

//  Strict parse of $argon2{i,d,id}[$v=N]$m=N,t=N,p=N$salt$hash. 0 or -1.
static int
s_phc_parse (const char *phc, phc_t *out)
{
    memset (out, 0, sizeof *out);
    if (strnlen (phc, PHC_MAX_BYTES + 1) > PHC_MAX_BYTES)
        return -1;
    const char *p = phc;
    if (strncmp (p, "$argon2id$", 10) == 0) {
        out->type = Argon2_id;
        p += 10;
    }
    else
    if (strncmp (p, "$argon2i$", 9) == 0) {
        out->type = Argon2_i;
        p += 9;
    }
    else
    if (strncmp (p, "$argon2d$", 9) == 0) {
        out->type = Argon2_d;
        p += 9;
    }
    else
        return -1;

    if (*p == 'v') {
        if (s_phc_number (&p, "v", &out->version) || *p++ != '$')
            return -1;
    }
    if (s_phc_number (&p, "m", &out->m_kib) || *p++ != ','
    ||  s_phc_number (&p, "t", &out->t) || *p++ != ','
    ||  s_phc_number (&p, "p", &out->p) || *p++ != '$')
        return -1;
    out->salt_chars = s_phc_b64 (&p);
    if (*p++ != '$')
        return -1;
    out->hash_chars = s_phc_b64 (&p);
    if (*p != 0 || out->salt_chars == 0 || out->hash_chars == 0)
        return -1;
    return 0;
}

//  ---------------------------------------------------------------------
//  Hash password with argon2id and a fresh salt into phc. 0 or -1.
int
auth_password_hash (const char *password, char *phc, size_t size)
{
    assert (password);
    assert (phc && size > 0);
    uint8_t salt [AUTH_PASSWORD_SALT_BYTES];
    int rc = -1;
    phc [0] = 0;
    size_t len = strlen (password);
    if (len > AUTH_PASSWORD_MAX_BYTES)
        goto cleanup;                       //  the policy never lets one through
    if (size < argon2_encodedlen (AUTH_PASSWORD_ARGON2_T, AUTH_PASSWORD_ARGON2_M_KIB,
                                  AUTH_PASSWORD_ARGON2_P, sizeof salt,
                                  AUTH_PASSWORD_HASH_BYTES, Argon2_id))
        goto cleanup;
    if (RAND_bytes (salt, sizeof salt) != 1)
        goto cleanup;
    if (argon2id_hash_encoded (AUTH_PASSWORD_ARGON2_T, AUTH_PASSWORD_ARGON2_M_KIB,
                               AUTH_PASSWORD_ARGON2_P, password, len, salt, sizeof salt,
                               AUTH_PASSWORD_HASH_BYTES, phc, size) != ARGON2_OK) {
        phc [0] = 0;
        goto cleanup;
    }
    rc = 0;

cleanup:
    OPENSSL_cleanse (salt, sizeof salt);
    return rc;
}

//  ---------------------------------------------------------------------
//  Check password against a stored PHC string. 0 match, 1 mismatch,
//  -1 malformed or unusable.
int
auth_password_verify (const char *phc, const char *password)
{
    assert (phc);
    assert (password);
    phc_t info;
    if (s_phc_parse (phc, &info))
        return -1;
    //  Bounds before any work: the row may have been tampered with
    if (info.m_kib > AUTH_PASSWORD_ARGON2_M_KIB_MAX
    ||  info.t > AUTH_PASSWORD_ARGON2_T_MAX
    ||  info.p == 0 || info.p > AUTH_PASSWORD_ARGON2_P_MAX)
        return -1;
    size_t len = strlen (password);
    if (len > AUTH_PASSWORD_MAX_BYTES)
        return 1;                           //  no stored password is that long
    int rc = argon2_verify (phc, password, len, info.type);
    if (rc == ARGON2_OK)
        return 0;
    if (rc == ARGON2_VERIFY_MISMATCH)
        return 1;
    return -1;
}

//  ---------------------------------------------------------------------
//  True when phc should be replaced after a successful verify
bool
auth_password_needs_rehash (const char *phc)
{
    assert (phc);
    phc_t info;
    if (s_phc_parse (phc, &info))
        return true;
    //  Base64 without padding: 4 characters carry 3 bytes
    size_t salt_bytes = info.salt_chars * 3 / 4;
    size_t hash_bytes = info.hash_chars * 3 / 4;
    return info.type != Argon2_id
        || info.version < ARGON2_VERSION_NUMBER
        || info.m_kib < AUTH_PASSWORD_ARGON2_M_KIB
        || info.t < AUTH_PASSWORD_ARGON2_T
        || salt_bytes < AUTH_PASSWORD_SALT_BYTES
        || hash_bytes < AUTH_PASSWORD_HASH_BYTES;
}

static char s_dummy_phc [AUTH_PASSWORD_PHC_SIZE];
static pthread_once_t s_dummy_once = PTHREAD_ONCE_INIT;

//  The dummy needs the current parameters, not secrecy: a fixed salt and
//  password make it deterministic and free of RAND failures
static void
s_dummy_init (void)
{
    static const char salt [AUTH_PASSWORD_SALT_BYTES] = "auth-dummy-salt";
    static const char password [] = "no account has this password";
    if (argon2id_hash_encoded (AUTH_PASSWORD_ARGON2_T, AUTH_PASSWORD_ARGON2_M_KIB,
                               AUTH_PASSWORD_ARGON2_P, password, sizeof password - 1,
                               salt, sizeof salt, AUTH_PASSWORD_HASH_BYTES,
                               s_dummy_phc, sizeof s_dummy_phc) != ARGON2_OK)
        s_dummy_phc [0] = 0;
}

//  ---------------------------------------------------------------------
//  Spend the time of one verify against a fixed dummy hash
void
auth_password_dummy_verify (const char *password)
{
    assert (password);
    pthread_once (&s_dummy_once, s_dummy_init);
    if (s_dummy_phc [0])
        (void) auth_password_verify (s_dummy_phc, password);
}
