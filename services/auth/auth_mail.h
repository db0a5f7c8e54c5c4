/*  auth_mail - the auth service's outgoing mail

    One plain-text message at a time, composed here (RFC 5322, UTF-8 body,
    8bit) and either handed to an SMTP relay through libcurl or, with no
    relay configured, written as an .eml file into an outbox directory that
    the local stack and the tests read links from.

    Addresses and subject are checked before anything is built: a line
    break in any of them is refused, so no caller can add a header. The
    object is read-only once created, so worker threads may share one and
    call auth_mail_send at the same time; each call uses its own CURL handle.
*/
#ifndef AUTH_MAIL_H_INCLUDED
#define AUTH_MAIL_H_INCLUDED

#define AUTH_MAIL_ADDR_MAX     254      //  bytes in a to/from address
#define AUTH_MAIL_SUBJECT_MAX  200      //  bytes in a subject, before encoding
#define AUTH_MAIL_BODY_MAX     65536    //  bytes in a body, before CRLF normalisation
#define AUTH_MAIL_LINE_MAX     998      //  bytes in a body line without its CRLF (RFC 5322)

typedef struct auth_mail_s auth_mail_t;

//  ----------------------------------------------------------------------
//  smtp_url NULL/"" = no SMTP: messages are written to outbox_dir instead.
//  Reads the first line of smtp_password_file now; creates outbox_dir (0700)
//  in outbox mode. Returns NULL, logged, on any bad setting.
auth_mail_t *
    auth_mail_new (const char *smtp_url, const char *smtp_user, const char *smtp_password_file,
                   const char *from, const char *outbox_dir);

//  ----------------------------------------------------------------------
//  Wipe the SMTP password and free; idempotent, nulls *self_p
void
    auth_mail_destroy (auth_mail_t **self_p);

//  ----------------------------------------------------------------------
//  Send one plain-text message; 0 delivered/written, -1 refused or failed
//  (logged, no secrets). Thread-safe.
int
    auth_mail_send (auth_mail_t *self, const char *to, const char *subject, const char *body);

#endif
