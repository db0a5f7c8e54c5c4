/*  auth_password - password policy, common-password list and argon2id hashes

    The policy follows NIST SP 800-63B: length in Unicode code points (12..128,
    never truncated), no composition rules, a list of common and breached
    passwords, and nothing derived from the user's email. Hashes are argon2id
    PHC strings with OWASP's parameters. Every function is safe to call from
    several worker threads at once.
*/
#ifndef AUTH_PASSWORD_H_INCLUDED
#define AUTH_PASSWORD_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

//  Policy limits, counted in code points after UTF-8 validation
#define AUTH_PASSWORD_MIN_CHARS         12
#define AUTH_PASSWORD_MAX_CHARS         128
//  A password within the policy never takes more bytes than this
#define AUTH_PASSWORD_MAX_BYTES         (4 * AUTH_PASSWORD_MAX_CHARS)
//  The email's local part is only searched for when at least this long
#define AUTH_PASSWORD_EMAIL_MIN_CHARS   4

//  argon2id parameters for new hashes (OWASP: 19 MiB, 2 passes, 1 lane)
#define AUTH_PASSWORD_ARGON2_M_KIB      19456
#define AUTH_PASSWORD_ARGON2_T          2
#define AUTH_PASSWORD_ARGON2_P          1
#define AUTH_PASSWORD_SALT_BYTES        16
#define AUTH_PASSWORD_HASH_BYTES        32
//  A stored hash asking for more than this is refused as malformed, so a
//  tampered row cannot make one verify allocate gigabytes
#define AUTH_PASSWORD_ARGON2_M_KIB_MAX  (256 * 1024)
#define AUTH_PASSWORD_ARGON2_T_MAX      16
#define AUTH_PASSWORD_ARGON2_P_MAX      8
//  Room for any PHC string this class writes, with its terminating NUL
#define AUTH_PASSWORD_PHC_SIZE          128

//  Why a password was refused. Values are stable: never renumber.
typedef enum {
    AUTH_PASSWORD_OK = 0,
    AUTH_PASSWORD_TOO_SHORT = 1,        //  fewer than 12 code points
    AUTH_PASSWORD_TOO_LONG = 2,         //  more than 128 code points
    AUTH_PASSWORD_INVALID_UTF8 = 3,     //  not well-formed UTF-8
    AUTH_PASSWORD_COMMON = 4,           //  on the common/breached list
    AUTH_PASSWORD_CONTAINS_EMAIL = 5    //  is or contains the email's name part
} auth_password_verdict_t;

//  ----------------------------------------------------------------------
//  Check password against the policy; email may be NULL (no email rule).
//  Load the list first: checking without one is asserted against, and with
//  asserts compiled out every password is refused as common.
auth_password_verdict_t
    auth_password_check (const char *password, const char *email);

//  ----------------------------------------------------------------------
//  A human sentence naming the rule behind verdict, for the API's error
//  message. Static text; never NULL.
const char *
    auth_password_verdict_str (auth_password_verdict_t verdict);

//  ----------------------------------------------------------------------
//  Replace the common-password list with the lines of text (len bytes, one
//  password a line, CR LF accepted, blank lines skipped). The text is copied.
//  Returns the number of distinct entries, or -1 (the previous list stays).
int
    auth_password_list_load (const char *text, size_t len);

//  ----------------------------------------------------------------------
//  True when password, with ASCII letters lower-cased, is on the list
bool
    auth_password_list_contains (const char *password);

//  ----------------------------------------------------------------------
//  Number of entries in the loaded list (0 before any load)
size_t
    auth_password_list_size (void);

//  ----------------------------------------------------------------------
//  Drop the list (at shutdown, so leak checkers stay quiet). Checks after
//  this fail as if no list had been loaded.
void
    auth_password_list_free (void);

//  ----------------------------------------------------------------------
//  Hash password with argon2id and a fresh 16-byte salt into phc (size
//  bytes, AUTH_PASSWORD_PHC_SIZE is enough). Returns 0, or -1 (phc is "").
int
    auth_password_hash (const char *password, char *phc, size_t size);

//  ----------------------------------------------------------------------
//  Check password against a stored PHC string in constant time. Returns
//  0 on a match, 1 on a mismatch, -1 when phc is malformed or unusable.
int
    auth_password_verify (const char *phc, const char *password);

//  ----------------------------------------------------------------------
//  True when phc should be replaced by a new hash after a successful
//  verify: not argon2id, older version, or weaker than the current params.
bool
    auth_password_needs_rehash (const char *phc);

//  ----------------------------------------------------------------------
//  Spend the time of one verify against a fixed dummy hash, for a sign-in
//  whose email matches no account. The first call also computes that hash:
//  call it once at start-up so no request pays for it.
void
    auth_password_dummy_verify (const char *password);

#endif
