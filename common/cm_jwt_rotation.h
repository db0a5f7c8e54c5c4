/*  cm_jwt_rotation - which JWT key signs, which are on their way in or out

    KEYS_DIR/jwt/rotation is a small text file beside the <kid>.pem keys,
    one line per key the rotation command has touched:

        <kid> next <unix>       published at <unix>, not signing yet
        <kid> signing <unix>    signing since <unix>
        <kid> retired <unix>    stopped signing at <unix>, still published

    Every <kid>.pem is published in the JWKS whatever its line says, so a
    verifier knows a key before the first token it signs and after the last.
    Without the file the newest key by mtime signs (a fresh stack).
*/
#ifndef CM_JWT_ROTATION_H_INCLUDED
#define CM_JWT_ROTATION_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "cm_jwt.h"

#define CM_JWT_ROTATION_FILE "rotation"

typedef enum {
    CM_JWT_KEY_NEXT,
    CM_JWT_KEY_SIGNING,
    CM_JWT_KEY_RETIRED
} cm_jwt_key_state_t;

typedef struct {
    char kid [CM_JWT_KID_MAX];
    cm_jwt_key_state_t state;
    int64_t since;                  //  Unix seconds
} cm_jwt_rotation_entry_t;

typedef struct {
    cm_jwt_rotation_entry_t entries [CM_JWT_KEYS_MAX];
    size_t count;
} cm_jwt_rotation_t;

//  ----------------------------------------------------------------------
//  Read dir/rotation into state. It may be a link that stays beneath dir
//  (cm_jwt_dir_open). Returns 0, 1 when there is no such file (state
//  empty), or -1 when it cannot be read, is not a regular file, leads out
//  of dir, or is malformed: a bad line, a duplicate kid, more than one
//  signing key, too many lines.
int
    cm_jwt_rotation_read (const char *dir, cm_jwt_rotation_t *state);

//  ----------------------------------------------------------------------
//  Replace dir/rotation with state atomically (temporary file, fsync,
//  rename). Returns 0 or -1.
int
    cm_jwt_rotation_write (const char *dir, const cm_jwt_rotation_t *state);

//  ----------------------------------------------------------------------
//  The entry for kid, or NULL.
cm_jwt_rotation_entry_t *
    cm_jwt_rotation_find (cm_jwt_rotation_t *state, const char *kid);

//  ----------------------------------------------------------------------
//  The kid of the signing entry, or NULL when none signs.
const char *
    cm_jwt_rotation_signer (const cm_jwt_rotation_t *state);

#endif
