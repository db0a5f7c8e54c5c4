/*  auth_erase - what privacy's account deletion asks of auth

    auth.revoke_all ends every session of the envelope's user at once, at
    the gateway too, and locks the account so no new sign-in starts while
    the deletion runs. auth.erase_user deletes the account and everything
    hanging off it, then mails the user a notice. Only the privacy service
    may ask (any other peer gets CM_FORBIDDEN); both are idempotent.
*/
#ifndef AUTH_ERASE_H_INCLUDED
#define AUTH_ERASE_H_INCLUDED

#include "auth_handlers.h"

cm_handler_fn auth_erase_revoke_all;
cm_handler_fn auth_erase_user;

#endif
