/*  auth_breach - breached-password range lookup (k-anonymity, HIBP style)

    At sign-up and password change the password's SHA-1 is computed here and
    only its first five hex characters leave the process: GET <url><PREFIX>
    answers every known suffix under that prefix as "SUFFIX:COUNT" lines,
    padded with count-0 decoys (Add-Padding), and the match is made locally.

    The service is advisory: when it is disabled, slow, down or answers
    anything odd the result is AUTH_BREACH_UNKNOWN and sign-up goes on. The
    object is read-only once created, so worker threads may share one and
    call auth_breach_check at the same time; each call uses its own CURL
    handle.
*/
#ifndef AUTH_BREACH_H_INCLUDED
#define AUTH_BREACH_H_INCLUDED

#define AUTH_BREACH_URL_MAX         1024                //  bytes in the configured URL
#define AUTH_BREACH_BODY_MAX        (2 * 1024 * 1024)   //  bytes in one range response
#define AUTH_BREACH_CONNECT_MS      2000
#define AUTH_BREACH_TIMEOUT_MS      3000                //  whole request, connect included

typedef struct auth_breach_s auth_breach_t;

//  Values are stable: never renumber
typedef enum {
    AUTH_BREACH_NOT_FOUND = 0,          //  the range answered, the password is not in it
    AUTH_BREACH_FOUND = 1,              //  listed with a count above zero
    AUTH_BREACH_UNKNOWN = 2             //  lookups disabled, or the service failed
} auth_breach_result_t;

//  ----------------------------------------------------------------------
//  url NULL/"" = lookups disabled (every check answers UNKNOWN). Otherwise
//  https:// (http:// only to 127.0.0.1, localhost or ::1), no credentials,
//  query or fragment. ca_file NULL = system CAs. NULL, logged, when refused.
auth_breach_t *
    auth_breach_new (const char *url, const char *ca_file);

//  ----------------------------------------------------------------------
//  Free; idempotent, nulls *self_p
void
    auth_breach_destroy (auth_breach_t **self_p);

//  ----------------------------------------------------------------------
//  Look the password up; UNKNOWN when disabled or the service failed (never
//  blocks sign-up). Takes at most AUTH_BREACH_TIMEOUT_MS. Thread-safe.
auth_breach_result_t
    auth_breach_check (auth_breach_t *self, const char *password);

#endif
