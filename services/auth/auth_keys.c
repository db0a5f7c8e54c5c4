/*  auth_keys - the process-wide JWT key set, reloaded when KEYS_DIR/jwt changes */
#include <czmq.h>
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include "auth_keys.h"
#include "../../common/cm_jwt_rotation.h"
#include "../../common/cm_log.h"

static pthread_rwlock_t s_lock = PTHREAD_RWLOCK_INITIALIZER;
static cm_jwt_keys_t *s_keys;               //  guarded by s_lock
static pthread_mutex_t s_reload_lock = PTHREAD_MUTEX_INITIALIZER;
static char s_dir [1024];                   //  set once by init
static uint64_t s_fingerprint;              //  guarded by s_reload_lock
static int64_t s_checked_at;                //  guarded by s_reload_lock

//  FNV-1a over len bytes, continuing from hash
static uint64_t
s_fnv (uint64_t hash, const void *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        hash = (hash ^ ((const uint8_t *) data) [i]) * 1099511628211ULL;
    return hash;
}

//  A digest of what is in dir that matters: names, sizes, mtimes and inodes
//  of the key files and the rotation file (through their links: stat
//  follows them), and on a Kubernetes Secret volume where ..data points,
//  which the kubelet swaps atomically on every update. Order-independent.
static uint64_t
s_fingerprint_of (const char *dir)
{
    DIR *handle = opendir (dir);
    if (!handle)
        return 0;
    uint64_t sum = 0;
    struct dirent *entry;
    while ((entry = readdir (handle)) != NULL) {
        size_t len = strlen (entry->d_name);
        bool pem = len > 4 && streq (entry->d_name + len - 4, ".pem");
        bool data = streq (entry->d_name, "..data");
        if (!pem && !data && !streq (entry->d_name, CM_JWT_ROTATION_FILE))
            continue;
        uint64_t hash = s_fnv (14695981039346656037ULL, entry->d_name, len);
        if (data) {
            char target [PATH_MAX];
            ssize_t n = readlinkat (dirfd (handle), entry->d_name, target, sizeof target);
            if (n < 0)
                continue;
            hash = s_fnv (hash, target, (size_t) n);
        }
        else {
            struct stat st;
            if (fstatat (dirfd (handle), entry->d_name, &st, 0) != 0)
                continue;
            const uint64_t values [] = { (uint64_t) st.st_size, (uint64_t) st.st_mtim.tv_sec,
                                         (uint64_t) st.st_mtim.tv_nsec, (uint64_t) st.st_ino };
            hash = s_fnv (hash, values, sizeof values);
        }
        sum += hash;
    }
    closedir (handle);
    return sum;
}

static cm_jwt_keys_t *
s_load (const char *dir)
{
    cm_jwt_keys_t *keys = cm_jwt_keys_new ();
    if (keys && cm_jwt_keys_load_dir (keys, dir) != 0)
        cm_jwt_keys_destroy (&keys);
    return keys;
}

//  Look at the directory when it is due; swap in a new set when it changed
static void
s_reload_if_due (void)
{
    if (pthread_mutex_trylock (&s_reload_lock) != 0)
        return;                             //  another thread is looking
    int64_t now = zclock_mono ();
    if (now - s_checked_at >= AUTH_KEYS_RELOAD_MS) {
        s_checked_at = now;
        uint64_t fingerprint = s_fingerprint_of (s_dir);
        if (fingerprint != s_fingerprint) {
            cm_jwt_keys_t *fresh = s_load (s_dir);
            if (fresh) {
                pthread_rwlock_wrlock (&s_lock);
                cm_jwt_keys_t *old = s_keys;
                s_keys = fresh;
                pthread_rwlock_unlock (&s_lock);
                cm_jwt_keys_destroy (&old);
                s_fingerprint = fingerprint;
                cm_info ("JWT keys reloaded from %s: %zu published", s_dir,
                         cm_jwt_keys_count (fresh));
            }
            else
                cm_error ("JWT keys in %s no longer load; still using the previous set", s_dir);
        }
    }
    pthread_mutex_unlock (&s_reload_lock);
}

int
auth_keys_init (const char *dir)
{
    snprintf (s_dir, sizeof s_dir, "%s", dir);
    s_fingerprint = s_fingerprint_of (dir);
    s_checked_at = zclock_mono ();
    s_keys = s_load (dir);
    return s_keys? 0: -1;
}

int
auth_keys_sign (const char *iss, const char *aud, const cm_jwt_claims_t *claims,
                char *out, size_t size)
{
    s_reload_if_due ();
    pthread_rwlock_rdlock (&s_lock);
    int rc = s_keys? cm_jwt_sign (s_keys, iss, aud, claims, out, size): -1;
    pthread_rwlock_unlock (&s_lock);
    return rc;
}

int
auth_keys_jwks (proto_auth_jwks_rep_t *rep)
{
    s_reload_if_due ();
    pthread_rwlock_rdlock (&s_lock);
    size_t count = s_keys? cm_jwt_keys_count (s_keys): 0;
    int rc = count? 0: -1;
    rep->keys = (proto_auth_jwk_t *) zmalloc (sizeof (proto_auth_jwk_t) * (count? count: 1));
    for (size_t i = 0; rc == 0 && i < count; i++) {
        char kid [CM_JWT_KID_MAX], x [CM_JWT_COORD_B64], y [CM_JWT_COORD_B64];
        if (cm_jwt_keys_jwk (s_keys, i, kid, sizeof kid, x, sizeof x, y, sizeof y)) {
            rc = -1;
            break;
        }
        proto_auth_jwk_t *jwk = &rep->keys [rep->keys_count++];
        jwk->kid = strdup (kid);
        jwk->kty = strdup ("EC");
        jwk->alg = strdup ("ES256");
        jwk->crv = strdup ("P-256");
        jwk->x = strdup (x);
        jwk->y = strdup (y);
    }
    pthread_rwlock_unlock (&s_lock);
    return rc;
}

void
auth_keys_destroy (void)
{
    pthread_rwlock_wrlock (&s_lock);
    cm_jwt_keys_destroy (&s_keys);
    pthread_rwlock_unlock (&s_lock);
}
