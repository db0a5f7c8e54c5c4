/*  auth_mfa - TOTP enrolment, confirmation, removal and the sign-in check

    Enrolment hands out a secret and ten recovery codes once; MFA is on
    only after a first valid code. At sign-in a 6-digit code is accepted
    once per time step (a replay within the step is refused), and a
    recovery code once ever. Turning MFA off needs a recent sign-in and a
    valid code.
*/
#ifndef AUTH_MFA_H_INCLUDED
#define AUTH_MFA_H_INCLUDED

#include "auth_handlers.h"

cm_handler_fn auth_mfa_enroll;
cm_handler_fn auth_mfa_verify;
cm_handler_fn auth_mfa_disable;

//  ----------------------------------------------------------------------
//  Check otp (TOTP code or recovery code) for user_id at sign-in.
//  Returns CM_OK, CM_MFA_REQUIRED (missing or wrong) or CM_UNAVAILABLE.
cm_err_t
    auth_mfa_check (auth_worker_t *self, const char *user_id, const char *otp);

#endif
