/*  auth_email - email address normalisation and syntax check

    Trim surrounding white space and lower-case the domain; the local part
    keeps its case (uniqueness is case-insensitive in the database). Only
    plain dot-atom addresses are accepted: no quoted local parts, comments
    or IP-literal domains, which real sign-ups never need and parsers get
    wrong.
*/
#ifndef AUTH_EMAIL_H_INCLUDED
#define AUTH_EMAIL_H_INCLUDED

#include <stddef.h>

//  ----------------------------------------------------------------------
//  Normalise input into out (size >= 255). Returns 0, or -1 when it is not
//  an address we accept (out is then "").
int
    auth_email_normalize (const char *input, char *out, size_t size);

#endif
