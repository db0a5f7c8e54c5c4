/*  test_auth_password - policy verdicts, the common list, argon2id hashes */
#include <argon2.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../../../services/auth/auth_password.h"

#define LIST_DEFAULT    "services/auth/data/common-passwords.txt"
#define LIST_MAX_BYTES  (16 * 1024 * 1024)

//  Reads the shipped list: COMMON_PASSWORDS_FILE, else the path relative to
//  the repository root (tests run from there; tests/run.sh also sets REPO_ROOT)
static char *
s_read_list (size_t *len)
{
    char path [4096];
    const char *env = getenv ("COMMON_PASSWORDS_FILE");
    const char *root = getenv ("REPO_ROOT");
    snprintf (path, sizeof path, "%s", env && *env? env: LIST_DEFAULT);
    FILE *file = fopen (path, "rb");
    if (!file && !(env && *env) && root && *root) {
        snprintf (path, sizeof path, "%s/%s", root, LIST_DEFAULT);
        file = fopen (path, "rb");
    }
    cr_assert_not_null (file, "cannot open %s (set COMMON_PASSWORDS_FILE)", path);
    char *text = malloc (LIST_MAX_BYTES);
    cr_assert_not_null (text);
    *len = fread (text, 1, LIST_MAX_BYTES, file);
    cr_assert (feof (file), "%s is larger than the test expects", path);
    fclose (file);
    return text;
}

static void
s_load_list (void)
{
    size_t len;
    char *text = s_read_list (&len);
    int count = auth_password_list_load (text, len);
    free (text);
    cr_assert_gt (count, 0, "the common-password list did not load");
}

static void
s_free_list (void)
{
    auth_password_list_free ();
}

TestSuite (auth_password, .init = s_load_list, .fini = s_free_list);

//  A password of n ASCII characters that no list holds: a cycle through 37
//  distinct symbols, so no run or repetition is shorter than 37
static void
s_make (char *out, size_t n)
{
    static const char cycle [] = "Tq4@vN8#pL2&xR6!cW9$kM3%hJ5^bF7*zD1(G";
    for (size_t i = 0; i < n; i++)
        out [i] = cycle [i % (sizeof cycle - 1)];
    out [n] = 0;
}

//  count copies of the UTF-8 character ch
static void
s_repeat (char *out, size_t size, const char *ch, size_t count)
{
    size_t len = strlen (ch);
    cr_assert_lt (len * count, size);
    for (size_t i = 0; i < count; i++)
        memcpy (out + i * len, ch, len);
    out [len * count] = 0;
}

static double
s_seconds (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

//  ---------------------------------------------------------------------
//  The shipped list

Test (auth_password, shipped_list_is_large_sorted_and_lower_case)
{
    cr_assert_geq (auth_password_list_size (), 10000);
    size_t len;
    char *text = s_read_list (&len);
    cr_assert_gt (len, 0);
    cr_assert_eq (text [len - 1], '\n', "the file ends with a newline");
    size_t lines = 0;
    char previous [256] = "";
    char *line = text;
    char *end = text + len;
    while (line < end) {
        char *eol = memchr (line, '\n', (size_t) (end - line));
        cr_assert_not_null (eol);
        size_t n = (size_t) (eol - line);
        cr_assert (n >= 12 && n <= 128, "line %zu has %zu bytes", lines + 1, n);
        *eol = 0;
        for (char *c = line; *c; c++)
            cr_assert (!(*c >= 'A' && *c <= 'Z') && *c != '\r', "'%s' is not lower-case", line);
        cr_assert_gt (strcmp (line, previous), 0, "'%s' after '%s': not sorted/unique",
                      line, previous);
        snprintf (previous, sizeof previous, "%s", line);
        lines++;
        line = eol + 1;
    }
    cr_assert_eq (lines, auth_password_list_size (), "every line is one entry");
    free (text);
}

Test (auth_password, load_folds_case_skips_blanks_and_dedupes)
{
    const char text [] = "Beta-Password-Long\r\nalpha-password-long\n\nALPHA-PASSWORD-LONG\n"
                         "beta-password-long";
    cr_assert_eq (auth_password_list_load (text, sizeof text - 1), 2);
    cr_assert_eq (auth_password_list_size (), 2);
    cr_assert (auth_password_list_contains ("Alpha-Password-Long"));
    cr_assert (auth_password_list_contains ("beta-password-LONG"));
    cr_assert_not (auth_password_list_contains ("password1234"), "the old list was replaced");

    //  A failed load keeps the list there was
    cr_assert_eq (auth_password_list_load ("", 0), -1);
    cr_assert_eq (auth_password_list_load ("\n\r\n\n", 4), -1);
    cr_assert_eq (auth_password_list_size (), 2);
    cr_assert (auth_password_list_contains ("alpha-password-long"));
}

//  ---------------------------------------------------------------------
//  Policy

Test (auth_password, length_is_12_to_128_characters)
{
    char password [200];
    s_make (password, 11);
    cr_assert_eq (auth_password_check (password, NULL), AUTH_PASSWORD_TOO_SHORT);
    s_make (password, 12);
    cr_assert_eq (auth_password_check (password, NULL), AUTH_PASSWORD_OK);
    s_make (password, 128);
    cr_assert_eq (auth_password_check (password, NULL), AUTH_PASSWORD_OK);
    s_make (password, 129);
    cr_assert_eq (auth_password_check (password, NULL), AUTH_PASSWORD_TOO_LONG);
    cr_assert_eq (auth_password_check ("", NULL), AUTH_PASSWORD_TOO_SHORT);

    //  Far too long is refused as such, never truncated into an accepted one
    char *huge = malloc (100001);
    cr_assert_not_null (huge);
    s_make (huge, 100000);
    cr_assert_eq (auth_password_check (huge, NULL), AUTH_PASSWORD_TOO_LONG);
    free (huge);
}

Test (auth_password, a_multibyte_character_counts_as_one)
{
    char password [1024];
    //  U+00E9 (2 bytes): 11 are 22 bytes but still too short
    s_repeat (password, sizeof password, "\xc3\xa9", 11);
    cr_assert_eq (auth_password_check (password, NULL), AUTH_PASSWORD_TOO_SHORT);
    s_repeat (password, sizeof password, "\xc3\xa9", 12);
    cr_assert_eq (auth_password_check (password, NULL), AUTH_PASSWORD_OK);
    //  U+20AC (3 bytes): 128 are 384 bytes and allowed, 129 are not
    s_repeat (password, sizeof password, "\xe2\x82\xac", 128);
    cr_assert_eq (auth_password_check (password, NULL), AUTH_PASSWORD_OK);
    s_repeat (password, sizeof password, "\xe2\x82\xac", 129);
    cr_assert_eq (auth_password_check (password, NULL), AUTH_PASSWORD_TOO_LONG);
    //  U+1F600 (4 bytes): 11 are 44 bytes, too short; 12 pass
    s_repeat (password, sizeof password, "\xf0\x9f\x98\x80", 11);
    cr_assert_eq (auth_password_check (password, NULL), AUTH_PASSWORD_TOO_SHORT);
    s_repeat (password, sizeof password, "\xf0\x9f\x98\x80", 12);
    cr_assert_eq (auth_password_check (password, NULL), AUTH_PASSWORD_OK);
    //  Mixed: 6 ASCII + 6 two-byte letters
    cr_assert_eq (auth_password_check ("gr\xc3\xbc\xc3\x9f" "e-\xc3\xa4\xc3\xb6\xc3\xbc" "x9\xc3\xa7",
                                       NULL), AUTH_PASSWORD_OK);
}

Test (auth_password, invalid_utf8_is_refused)
{
    const char *bad [] = {
        "long-enough-prefix-\xc3\x28",             //  bad continuation byte
        "long-enough-prefix-\x80",                 //  lone continuation byte
        "long-enough-prefix-\xc0\xaf",             //  overlong '/'
        "long-enough-prefix-\xe0\x80\xaf",         //  overlong, 3 bytes
        "long-enough-prefix-\xed\xa0\x80",         //  UTF-16 surrogate
        "long-enough-prefix-\xf4\x90\x80\x80",     //  past U+10FFFF
        "long-enough-prefix-\xff",                 //  never valid
        "long-enough-prefix-\xe2\x82",             //  cut short by the end
        "\xc3",                                    //  too short and invalid: invalid wins
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        cr_expect_eq (auth_password_check (bad [i], NULL), AUTH_PASSWORD_INVALID_UTF8,
                      "case %zu accepted", i);
    //  The highest code point and a 3-byte one next to a surrogate are fine
    cr_assert_eq (auth_password_check ("long-enough-prefix-\xf4\x8f\xbf\xbf\xed\x9f\xbf", NULL),
                  AUTH_PASSWORD_OK);
}

Test (auth_password, list_entries_are_refused_in_any_letter_case)
{
    const char *common [] = {
        "password1234", "PASSWORD1234", "PassWord1234", "123456789012", "qwertyuiopas",
        "QWERTYUIOPAS", "1q2w3e4r5t6y", "1Q2W3E4R5T6Y", "iloveyou1234", "ILoveYou1234",
        "qwerty123456", "1qaz2wsx3edc", "MonkeyMonkey", "Football1990",
    };
    for (size_t i = 0; i < sizeof common / sizeof common [0]; i++) {
        cr_expect (auth_password_list_contains (common [i]), "%s not on the list", common [i]);
        cr_expect_eq (auth_password_check (common [i], NULL), AUTH_PASSWORD_COMMON,
                      "%s accepted", common [i]);
    }
    char strong [20];
    s_make (strong, 16);
    cr_assert_not (auth_password_list_contains (strong));
}

Test (auth_password, the_email_or_its_name_part_is_refused)
{
    const char *email = "Alice.Smith@example.com";
    cr_assert_eq (auth_password_check ("my alice.smith secret!", email),
                  AUTH_PASSWORD_CONTAINS_EMAIL);
    cr_assert_eq (auth_password_check ("ALICE.SMITH-2024-xyz", email),
                  AUTH_PASSWORD_CONTAINS_EMAIL);
    cr_assert_eq (auth_password_check ("alice.smith@example.com", email),
                  AUTH_PASSWORD_CONTAINS_EMAIL);
    cr_assert_eq (auth_password_check ("Tq4@vN8#pL2&xR6!", email), AUTH_PASSWORD_OK);
    cr_assert_eq (auth_password_check ("alice.smith was here", NULL), AUTH_PASSWORD_OK,
                  "no email, no email rule");

    //  A local part under 4 characters is too common a string to forbid,
    //  but the whole address still is
    cr_assert_eq (auth_password_check ("bob-likes-long-walks-99", "bob@example.org"),
                  AUTH_PASSWORD_OK);
    cr_assert_eq (auth_password_check ("BOB@example.org", "bob@example.org"),
                  AUTH_PASSWORD_CONTAINS_EMAIL);
    //  Exactly 4 is enough
    cr_assert_eq (auth_password_check ("dave-likes-long-walks", "dave@example.org"),
                  AUTH_PASSWORD_CONTAINS_EMAIL);
    //  The name before a +tag counts too
    cr_assert_eq (auth_password_check ("carol-is-great-77", "carol+news@example.org"),
                  AUTH_PASSWORD_CONTAINS_EMAIL);
}

Test (auth_password, every_verdict_names_its_rule)
{
    cr_assert_not_null (strstr (auth_password_verdict_str (AUTH_PASSWORD_TOO_SHORT),
                                "at least 12 characters"));
    cr_assert_not_null (strstr (auth_password_verdict_str (AUTH_PASSWORD_TOO_LONG),
                                "at most 128 characters"));
    cr_assert_not_null (strstr (auth_password_verdict_str (AUTH_PASSWORD_INVALID_UTF8), "UTF-8"));
    cr_assert_not_null (strstr (auth_password_verdict_str (AUTH_PASSWORD_COMMON), "common"));
    cr_assert_not_null (strstr (auth_password_verdict_str (AUTH_PASSWORD_CONTAINS_EMAIL), "email"));
    cr_assert_not_null (auth_password_verdict_str ((auth_password_verdict_t) 99));
}

//  Readers check while the list is replaced under them
static void *
s_checker (void *arg)
{
    (void) arg;
    long wrong = 0;
    for (int i = 0; i < 3000; i++) {
        wrong += auth_password_check ("password1234", NULL) != AUTH_PASSWORD_COMMON;
        wrong += auth_password_check ("Tq4@vN8#pL2&xR6!", NULL) != AUTH_PASSWORD_OK;
    }
    return (void *) wrong;
}

Test (auth_password, checks_are_safe_from_several_threads, .timeout = 60)
{
    size_t len;
    char *text = s_read_list (&len);
    pthread_t threads [4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq (pthread_create (&threads [i], NULL, s_checker, NULL), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_gt (auth_password_list_load (text, len), 0);
    for (int i = 0; i < 4; i++) {
        void *wrong;
        pthread_join (threads [i], &wrong);
        cr_assert_null (wrong, "a thread saw a wrong verdict");
    }
    free (text);
}

//  ---------------------------------------------------------------------
//  Hashes

Test (auth_password, hash_then_verify, .timeout = 60)
{
    char phc [AUTH_PASSWORD_PHC_SIZE];
    const char *password = "correct horse battery staple \xc3\xa9";
    cr_assert_eq (auth_password_hash (password, phc, sizeof phc), 0);
    cr_assert_eq (strncmp (phc, "$argon2id$v=19$m=19456,t=2,p=1$", 31), 0, "%s", phc);
    //  16-byte salt and 32-byte hash: 22 and 43 base64 characters
    const char *salt = phc + 31;
    const char *hash = strchr (salt, '$');
    cr_assert_not_null (hash);
    cr_assert_eq (hash - salt, 22);
    cr_assert_eq (strlen (hash + 1), 43);

    cr_assert_eq (auth_password_verify (phc, password), 0);
    cr_assert_eq (auth_password_verify (phc, "correct horse battery staple e"), 1);
    cr_assert_eq (auth_password_verify (phc, ""), 1);

    //  A fresh salt every time
    char again [AUTH_PASSWORD_PHC_SIZE];
    cr_assert_eq (auth_password_hash (password, again, sizeof again), 0);
    cr_assert_str_neq (phc, again);
    cr_assert_eq (auth_password_verify (again, password), 0);
}

Test (auth_password, a_tampered_hash_never_matches, .timeout = 60)
{
    char phc [AUTH_PASSWORD_PHC_SIZE];
    const char *password = "Tq4@vN8#pL2&xR6!";
    cr_assert_eq (auth_password_hash (password, phc, sizeof phc), 0);
    size_t len = strlen (phc);

    //  One character of the hash changed: a mismatch
    char tampered [AUTH_PASSWORD_PHC_SIZE];
    memcpy (tampered, phc, len + 1);
    tampered [len - 5] = tampered [len - 5] == 'A'? 'B': 'A';
    cr_assert_eq (auth_password_verify (tampered, password), 1);

    //  One character of the salt changed: a mismatch
    memcpy (tampered, phc, len + 1);
    tampered [33] = tampered [33] == 'A'? 'B': 'A';
    cr_assert_eq (auth_password_verify (tampered, password), 1);

    //  Structure broken: malformed, never a match
    const char *malformed [] = {
        "",
        "$argon2id$",
        "$bcrypt$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2g",
        "$argon2id$v=19$m=19456,t=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFz!",
        "$argon2id$v=19$m=-1,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
        //  asks for 4 GiB: refused before any allocation
        "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=19456,t=2,p=0$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
        //  parse, but libargon2 refuses them: not base64, salt under 8 bytes
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdAx$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed [0]; i++)
        cr_expect_eq (auth_password_verify (malformed [i], password), -1, "case %zu", i);

    //  Truncated anywhere: never a match
    for (size_t cut = 0; cut < len; cut += 7) {
        memcpy (tampered, phc, cut);
        tampered [cut] = 0;
        cr_expect_neq (auth_password_verify (tampered, password), 0, "cut at %zu", cut);
    }
}

Test (auth_password, hash_refuses_what_it_cannot_store)
{
    char small [40] = "x";
    cr_assert_eq (auth_password_hash ("Tq4@vN8#pL2&xR6!", small, sizeof small), -1);
    cr_assert_str_empty (small);

    char huge [AUTH_PASSWORD_MAX_BYTES + 2];
    s_make (huge, sizeof huge - 1);
    char phc [AUTH_PASSWORD_PHC_SIZE] = "x";
    cr_assert_eq (auth_password_hash (huge, phc, sizeof phc), -1);
    cr_assert_str_empty (phc);
}

Test (auth_password, needs_rehash_when_weaker_than_now, .timeout = 60)
{
    char phc [AUTH_PASSWORD_PHC_SIZE];
    cr_assert_eq (auth_password_hash ("Tq4@vN8#pL2&xR6!", phc, sizeof phc), 0);
    cr_assert_not (auth_password_needs_rehash (phc));

    const char *tail = "$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
    struct { const char *head; bool rehash; } cases [] = {
        { "$argon2id$v=19$m=4096,t=2,p=1", true },      //  less memory
        { "$argon2id$v=19$m=19456,t=1,p=1", true },     //  fewer passes
        { "$argon2i$v=19$m=19456,t=2,p=1", true },      //  another variant
        { "$argon2d$v=19$m=65536,t=3,p=1", true },
        { "$argon2id$v=16$m=19456,t=2,p=1", true },     //  argon2 1.0
        { "$argon2id$m=19456,t=2,p=1", true },          //  no version: 1.0
        { "$argon2id$v=19$m=65536,t=3,p=4", false },    //  stronger
        { "$argon2id$v=19$m=19456,t=2,p=1", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char candidate [200];
        snprintf (candidate, sizeof candidate, "%s%s", cases [i].head, tail);
        cr_expect_eq (auth_password_needs_rehash (candidate), cases [i].rehash, "%s", candidate);
    }
    //  Our own hash with m lowered to 4096
    char weaker [AUTH_PASSWORD_PHC_SIZE + 8];
    const char *params = strstr (phc, "m=19456");
    cr_assert_not_null (params);
    snprintf (weaker, sizeof weaker, "%.*sm=4096%s", (int) (params - phc), phc, params + 7);
    cr_assert (auth_password_needs_rehash (weaker), "%s", weaker);
    //  A short salt or hash is weaker too; garbage always needs replacing
    cr_assert (auth_password_needs_rehash ("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"));
    cr_assert (auth_password_needs_rehash ("$2b$12$abcdefghijklmnopqrstuv"));
    cr_assert (auth_password_needs_rehash (""));
}

Test (auth_password, hashes_from_older_settings_still_verify, .timeout = 60)
{
    //  Rows written with weaker parameters or another variant must still let
    //  their owner in, so the service can rehash them after that sign-in
    const char *password = "Tq4@vN8#pL2&xR6!";
    const uint8_t salt [16] = "older-salt-1234";
    char weak [AUTH_PASSWORD_PHC_SIZE];
    cr_assert_eq (argon2id_hash_encoded (3, 4096, 1, password, strlen (password), salt,
                                         sizeof salt, 32, weak, sizeof weak), ARGON2_OK);
    cr_assert_eq (auth_password_verify (weak, password), 0);
    cr_assert_eq (auth_password_verify (weak, "Tq4@vN8#pL2&xR6?"), 1);
    cr_assert (auth_password_needs_rehash (weak));

    char other [AUTH_PASSWORD_PHC_SIZE];
    cr_assert_eq (argon2i_hash_encoded (2, 19456, 1, password, strlen (password), salt,
                                        sizeof salt, 32, other, sizeof other), ARGON2_OK);
    cr_assert_eq (strncmp (other, "$argon2i$", 9), 0);
    cr_assert_eq (auth_password_verify (other, password), 0);
    cr_assert_eq (auth_password_verify (other, "Tq4@vN8#pL2&xR6?"), 1);
    cr_assert (auth_password_needs_rehash (other));
}

Test (auth_password, dummy_verify_costs_as_much_as_a_real_one, .timeout = 60)
{
    char phc [AUTH_PASSWORD_PHC_SIZE];
    cr_assert_eq (auth_password_hash ("Tq4@vN8#pL2&xR6!", phc, sizeof phc), 0);
    auth_password_dummy_verify ("warm-up");         //  computes the dummy hash once
    double real = 1e9, dummy = 1e9;
    for (int i = 0; i < 3; i++) {
        double start = s_seconds ();
        cr_assert_eq (auth_password_verify (phc, "wrong password here"), 1);
        double mid = s_seconds ();
        auth_password_dummy_verify ("wrong password here");
        double end = s_seconds ();
        if (mid - start < real)
            real = mid - start;
        if (end - mid < dummy)
            dummy = end - mid;
    }
    //  Same parameters, so the same work; a loose bound keeps a busy machine
    //  from failing the test while still catching a dummy that does nothing
    cr_assert_gt (dummy, real / 3, "dummy %.4fs vs real %.4fs", dummy, real);
    cr_assert_lt (dummy, real * 3, "dummy %.4fs vs real %.4fs", dummy, real);
}
