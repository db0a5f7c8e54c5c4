/*  auth_links - what travels by mail: magic links, password resets,
    email verification, and the password change that notifies by mail

    Requests that send mail always answer 202, whether or not the address
    has an account or its hourly mail budget is spent, so they reveal
    nothing. Tokens are single-use, stored as hashes, and expire (magic
    link 15 min, reset 30 min, verification 24 h). A reset or change of
    password ends the account's other sessions at once.
*/
#ifndef AUTH_LINKS_H_INCLUDED
#define AUTH_LINKS_H_INCLUDED

#include "auth_handlers.h"

cm_handler_fn auth_links_magic_send;
cm_handler_fn auth_links_magic_verify;
cm_handler_fn auth_links_password_forgot;
cm_handler_fn auth_links_password_reset;
cm_handler_fn auth_links_password_change;
cm_handler_fn auth_links_email_verify;
cm_handler_fn auth_links_email_resend;

//  Mail a verification link to a new user (called after registration)
void
    auth_links_send_verification (auth_worker_t *self, const auth_user_row_t *user);

#endif
