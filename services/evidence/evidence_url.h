/*  evidence_url - the signature of an upload URL

    An upload URL is the only credential of the PUT that follows it, so its
    signature binds everything the upload may do: the user, the evidence id,
    the content type, the size and the expiry (unix seconds). It is
    base64url (HMAC-SHA256 (key, "v1\n" user "\n" id "\n" type "\n" size
    "\n" expires)), 43 characters, and is checked by recomputing it and
    comparing in constant time.
*/
#ifndef EVIDENCE_URL_H_INCLUDED
#define EVIDENCE_URL_H_INCLUDED

#include <stdint.h>

#define EVIDENCE_URL_SIG_LEN    43
#define EVIDENCE_URL_SIG_SIZE   44          //  with the NUL

#define EVIDENCE_URL_VALID      0
#define EVIDENCE_URL_BAD        1           //  not this deployment's signature of these fields
#define EVIDENCE_URL_EXPIRED    2

//  ----------------------------------------------------------------------
//  Sign the fields into sig. Returns 0, or -1 (sig is then "").
int
    evidence_url_sign (const uint8_t key [32], const char *user_id, const char *evidence_id,
                       const char *content_type, int64_t size_bytes, int64_t expires,
                       char sig [EVIDENCE_URL_SIG_SIZE]);

//  ----------------------------------------------------------------------
//  Check a presented signature against the fields, then the expiry against
//  now (unix seconds; the URL works up to and including second expires).
//  Returns EVIDENCE_URL_VALID, _BAD or _EXPIRED.
int
    evidence_url_verify (const uint8_t key [32], const char *user_id, const char *evidence_id,
                         const char *content_type, int64_t size_bytes, int64_t expires,
                         const char *sig, int64_t now);

#endif
