/*  auth_admin - account administration: lock, unlock, end every session

    Only callers with the admin role who signed in within REAUTH_MAX_AGE;
    the gateway checks the role too, this is the second lock. Locking ends
    every session of the account at once, at the gateway too; unlocking
    also lifts the failed-sign-in lock of its email.
*/
#ifndef AUTH_ADMIN_H_INCLUDED
#define AUTH_ADMIN_H_INCLUDED

#include "auth_handlers.h"

cm_handler_fn auth_admin_lock;
cm_handler_fn auth_admin_revoke;

#endif
