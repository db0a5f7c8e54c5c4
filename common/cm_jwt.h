/*  cm_jwt - ES256 access tokens: key set, signing and strict verification

    Auth signs access tokens with one key of KEYS_DIR/jwt/<kid>.pem;
    the gateway verifies them with public keys only (JWK x/y). Every key is
    parsed once, when the set is loaded; after that a key set is read-only
    and may be used by any number of threads at once (verification keeps
    all of its state on the caller's stack).

    Verification fails closed: anything this deployment does not issue
    itself - another alg, an extra header, a missing claim, a real number
    where an integer belongs, a duplicate JSON key - is refused.
*/
#ifndef CM_JWT_H_INCLUDED
#define CM_JWT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define CM_JWT_TOKEN_MAX     4096       //  longest compact token, in bytes
#define CM_JWT_LIFETIME_MAX  900        //  exp - iat, seconds
#define CM_JWT_LEEWAY_MAX    300        //  clock skew a verifier may allow
#define CM_JWT_KEYS_MAX      16         //  keys in one set
#define CM_JWT_KID_MAX       64         //  kid buffer: up to 63 chars + NUL
#define CM_JWT_COORD_B64     44         //  x or y buffer: 43 chars + NUL
#define CM_JWT_ROLES_MAX     8
#define CM_JWT_ROLE_LEN      32
#define CM_JWT_AMR_MAX       4
#define CM_JWT_AMR_LEN       15
#define CM_JWT_JTI_LEN       63

//  The claims this project puts in an access token (iss and aud are the
//  deployment's, passed separately). Strings are NUL-terminated; roles,
//  amr and jti use only A-Z a-z 0-9 . _ : -
typedef struct {
    char sub [37];                      //  user id, lower-case UUID
    char sid [37];                      //  session id, lower-case UUID
    char roles [CM_JWT_ROLES_MAX][CM_JWT_ROLE_LEN + 1];
    uint32_t roles_count;               //  0..8 entries of roles in use
    char amr [CM_JWT_AMR_MAX][CM_JWT_AMR_LEN + 1];
    uint32_t amr_count;                 //  1..4 entries of amr in use
    int64_t iat, nbf, exp, auth_time;   //  seconds since the Unix epoch;
                                        //  verify leaves nbf 0 when absent
    char jti [CM_JWT_JTI_LEN + 1];      //  token id; "" = sign makes one
} cm_jwt_claims_t;

//  Why a token was refused; numbered, never renumbered
typedef enum {
    CM_JWT_OK = 0,
    CM_JWT_MALFORMED,           //  size, dots, base64url, JSON syntax, duplicate key
    CM_JWT_BAD_ALG,             //  header: alg not ES256, typ not JWT, any other member
    CM_JWT_UNKNOWN_KID,         //  kid missing, not a string, or not in the key set
    CM_JWT_BAD_SIGNATURE,       //  not 64 bytes, r or s out of range, does not verify
    CM_JWT_BAD_ISSUER,          //  iss missing or not ours
    CM_JWT_BAD_AUDIENCE,        //  aud missing or not naming us
    CM_JWT_EXPIRED,             //  now >= exp + leeway
    CM_JWT_NOT_YET_VALID,       //  now < nbf - leeway, or iat in the future
    CM_JWT_BAD_CLAIMS           //  any other claim missing, mistyped or out of bounds
} cm_jwt_result_t;

typedef struct cm_jwt_keys_s cm_jwt_keys_t;

//  ----------------------------------------------------------------------
//  Encode len bytes as base64url without padding into out (size bytes,
//  NUL included). Returns the text length, or -1 when out is too small.
int
    cm_jwt_b64url_encode (const uint8_t *in, size_t len, char *out, size_t size);

//  ----------------------------------------------------------------------
//  Decode len characters of unpadded base64url into out (size bytes) and
//  set *out_len. Returns 0, or -1 on padding, whitespace, any character
//  outside A-Z a-z 0-9 - _, non-zero leftover bits, or when out is too small.
int
    cm_jwt_b64url_decode (const char *in, size_t len, uint8_t *out, size_t size,
                          size_t *out_len);

//  ----------------------------------------------------------------------
//  An empty key set, or NULL when memory or OpenSSL's SHA-256 is missing.
cm_jwt_keys_t *
    cm_jwt_keys_new (void);

//  ----------------------------------------------------------------------
//  Free the keys (private parts are wiped by OpenSSL) and null *self_p.
void
    cm_jwt_keys_destroy (cm_jwt_keys_t **self_p);

//  ----------------------------------------------------------------------
//  Load every <kid>.pem (EC P-256 private key, kid its RFC 7638
//  thumbprint) in dir. A key file is a regular file that no one else can
//  read or write: mode 0600 or stricter, or 0640/0440 when its group is
//  one of this process's own (a Kubernetes Secret volume with fsGroup).
//  It may be reached through symlinks that stay beneath dir (a Secret
//  volume's <kid>.pem -> ..data/<kid>.pem), see cm_jwt_dir_open. The key
//  dir/rotation names as signing signs (see cm_jwt_rotation.h); without
//  that file the newest by mtime does. The others only verify. Returns 0,
//  or -1 leaving the set as it was (also when dir holds no key, the
//  rotation file is malformed, names no signer or one without a key file,
//  or the set already signs).
int
    cm_jwt_keys_load_dir (cm_jwt_keys_t *self, const char *dir);

//  ----------------------------------------------------------------------
//  Open name, a file of the key directory dir_fd, read-only, the way every
//  file there is opened: symlinks are followed only while they resolve
//  beneath dir_fd (never "..", never /proc magic links; absolute links
//  too are refused where the kernel has openat2), and without blocking on
//  a FIFO. The caller checks what it opened (fstat). Returns a descriptor,
//  or -1 with errno set (ENOENT: no such file; EXDEV: it leads outside).
int
    cm_jwt_dir_open (int dir_fd, const char *name);

//  ----------------------------------------------------------------------
//  Add a verify-only P-256 key from its JWK x and y (43 base64url chars
//  each). Returns 0, or -1 on a bad kid, bad coordinates, a point not on
//  the curve, a kid already present, or a full set.
int
    cm_jwt_keys_add_public_jwk (cm_jwt_keys_t *self, const char *kid,
                                const char *x_b64url, const char *y_b64url);

//  ----------------------------------------------------------------------
//  Number of keys in the set (signing key included).
size_t
    cm_jwt_keys_count (const cm_jwt_keys_t *self);

//  ----------------------------------------------------------------------
//  The kid of the signing key, or NULL when the set only verifies.
const char *
    cm_jwt_keys_signer (const cm_jwt_keys_t *self);

//  ----------------------------------------------------------------------
//  Copy the public JWK of key index (kty EC, crv P-256) as kid, x and y.
//  Returns 0, or -1 when index is out of range or a buffer is too small.
int
    cm_jwt_keys_jwk (const cm_jwt_keys_t *self, size_t index,
                     char *kid, size_t kid_size, char *x, size_t x_size,
                     char *y, size_t y_size);

//  ----------------------------------------------------------------------
//  Sign claims for iss and aud with the signing key into out as a compact
//  JWS. Returns 0, or -1 when there is no signing key, a claim breaks the
//  rules verify applies, or the token does not fit in size (out is "").
int
    cm_jwt_sign (const cm_jwt_keys_t *self, const char *iss, const char *aud,
                 const cm_jwt_claims_t *claims, char *out, size_t size);

//  ----------------------------------------------------------------------
//  Verify token against the set, iss, aud and now (leeway_s 0..300 seconds
//  of clock skew). Fills claims only on CM_JWT_OK; it is zeroed otherwise.
cm_jwt_result_t
    cm_jwt_verify (const cm_jwt_keys_t *self, const char *token, const char *iss,
                   const char *aud, int64_t now, int64_t leeway_s,
                   cm_jwt_claims_t *claims);

//  ----------------------------------------------------------------------
//  Apply verification's time rules to claims cm_jwt_verify returned
//  earlier: CM_JWT_EXPIRED when now >= exp + leeway_s, CM_JWT_NOT_YET_VALID
//  when now < nbf - leeway_s or iat - leeway_s > now, CM_JWT_BAD_CLAIMS
//  when auth_time - leeway_s > now, else CM_JWT_OK.
cm_jwt_result_t
    cm_jwt_claims_current (const cm_jwt_claims_t *claims, int64_t now, int64_t leeway_s);

//  ----------------------------------------------------------------------
//  A stable snake_case name for a result, for logs.
const char *
    cm_jwt_result_str (cm_jwt_result_t result);

#endif
