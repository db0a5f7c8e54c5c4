/*  audit_personal - the erasable part of an event

    Personal data never enters the hash chain. An event's ip is kept apart
    in the clear (audit.event_personal: incident response searches by it);
    the personal members of its detail are split off when it is stored, as
    a small JSON document {"fields": {...}} (or {"raw": "..."}), and sealed
    (AES-256-GCM, the event id as associated data) under a data key of the
    event's subject: its user id, or "anon:YYYY-MM" (the month of the
    event) when it has none. Data keys are random, one per subject, wrapped
    under the master key (AUDIT_MASTER_KEY_FILE) with the subject as
    associated data. Erasing a user deletes their rows there and destroys
    their data key: what was sealed is unreadable for good, backups
    included, and every hash still holds.

    Personal members are the top-level members of a JSON object detail
    named email, name, display_name, full_name, first_name, last_name,
    given_name, family_name, username, user_agent, ip, phone or address,
    or ending in _email or _ip. A detail that is not a JSON object is
    personal as a whole ("raw"): nothing unknown is ever hashed.
*/
#ifndef AUDIT_PERSONAL_H_INCLUDED
#define AUDIT_PERSONAL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../../common/cm_crypt.h"

#define AUDIT_PERSONAL_WRAPPED      (CM_CRYPT_KEY_BYTES + CM_CRYPT_OVERHEAD)    //  60
#define AUDIT_PERSONAL_SUBJECT_SIZE 48

//  ----------------------------------------------------------------------
//  True when a detail member of this name is personal data
bool
    audit_personal_is_personal (const char *member);

//  ----------------------------------------------------------------------
//  Split detail (NULL: none) into the public detail (*public_p: the
//  detail itself when nothing in it is personal, else the rest re-encoded;
//  NULL when none) and the personal document (*personal_p; NULL when
//  nothing is personal). Both malloc'd, caller frees. 0, or -1 when out of
//  memory.
int
    audit_personal_split (const char *detail, char **public_p, char **personal_p);

//  Put the personal document (NULL: none, or erased) back into the public
//  detail: the full detail into *detail_p (malloc'd, NULL when none). A
//  detail that would grow past max_detail bytes comes back public only.
//  0, or -1 when personal is not such a document.
int
    audit_personal_merge (const char *public_detail, const char *personal, size_t max_detail,
                          char **detail_p);

//  ----------------------------------------------------------------------
//  The key subject of an event into out [AUDIT_PERSONAL_SUBJECT_SIZE]:
//  user_id when there is one, else "anon:YYYY-MM" of at_ms. 0 or -1.
int
    audit_personal_subject (const char *user_id, int64_t at_ms, char *out);

//  ----------------------------------------------------------------------
//  A fresh data key for subject, wrapped under master into wrapped
//  [AUDIT_PERSONAL_WRAPPED]; the plain key into key (may be NULL). 0 or -1.
int
    audit_personal_new_key (const uint8_t *master, const char *subject, uint8_t *wrapped,
                            uint8_t *key);

//  Unwrap subject's data key; -1 when wrapped is not that subject's key
//  under this master key
int
    audit_personal_unwrap (const uint8_t *master, const char *subject, const uint8_t *wrapped,
                           size_t len, uint8_t key [CM_CRYPT_KEY_BYTES]);

//  Seal the personal document of event_id under key: malloc'd bytes into
//  *out_p, their count into *len. 0 or -1.
int
    audit_personal_seal (const uint8_t *key, const char *event_id, const char *personal,
                         uint8_t **out_p, size_t *len);

//  Open what seal made for event_id: the document, malloc'd, or NULL when
//  it does not open (another key, another event, tampered)
char *
    audit_personal_open (const uint8_t *key, const char *event_id, const uint8_t *sealed,
                         size_t len);

#endif
