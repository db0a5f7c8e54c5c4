/*  cm_rand - random identifiers from OpenSSL's CSPRNG */
#ifndef CM_RAND_H_INCLUDED
#define CM_RAND_H_INCLUDED

#include <stddef.h>

//  A version 4 UUID, lower-case, into out [37]. Returns 0, or -1 when the
//  random generator failed (out is then "")
int
    cm_rand_uuid (char *out);

//  bytes random bytes as lower-case hex into out [2 * bytes + 1]; 0 or -1
int
    cm_rand_hex (char *out, size_t bytes);

#endif
