/*  auth_keys - the process-wide JWT key set, reloaded when KEYS_DIR/jwt changes

    The rotation command (keygen --rotate-jwt) adds, promotes and removes
    keys while auth runs. Auth looks at the directory at most every few
    seconds, on the request path, and swaps in a new set when a key file
    or the rotation file changed. A directory that no longer loads (a bad
    file, a signer without a key) keeps the last good set and logs an
    error each time it is looked at: sign-ins go on, operators are told.
*/
#ifndef AUTH_KEYS_H_INCLUDED
#define AUTH_KEYS_H_INCLUDED

#include "../../common/cm_jwt.h"
#include "../../proto/proto_msgs.h"

//  How often the directory is looked at, at most
#define AUTH_KEYS_RELOAD_MS 2000

//  ----------------------------------------------------------------------
//  Load the keys of dir. Returns 0, or -1 when they do not load.
int
    auth_keys_init (const char *dir);

//  ----------------------------------------------------------------------
//  Sign claims with the current signing key (see cm_jwt_sign).
int
    auth_keys_sign (const char *iss, const char *aud, const cm_jwt_claims_t *claims,
                    char *out, size_t size);

//  ----------------------------------------------------------------------
//  Fill rep->keys with every published key. Returns 0 or -1.
int
    auth_keys_jwks (proto_auth_jwks_rep_t *rep);

//  ----------------------------------------------------------------------
//  Free the key set at shutdown.
void
    auth_keys_destroy (void);

#endif
