/*  gateway_auth - bearer token verification with a cached key set and verified tokens */
#include <pthread.h>
#include <strings.h>
#include <openssl/evp.h>
#include "gateway_auth.h"
#include "gateway_token_cache.h"
#include "../../common/cm_redis.h"
#include "../../common/cm_log.h"

//  Leeway for clock differences between auth and gateway hosts
#define LEEWAY_S 30
#define REFRESH_INTERVAL_MS 1000
//  Keys auth has removed (rotated out) stop verifying within this long
#define KEYS_MAX_AGE_MS 60000

static pthread_rwlock_t s_lock = PTHREAD_RWLOCK_INITIALIZER;
//  One fetch at a time: a thread that needs keys waits for the fetch under
//  way instead of failing (right after start every thread needs them)
static pthread_mutex_t s_fetching = PTHREAD_MUTEX_INITIALIZER;
static cm_jwt_keys_t *s_keys;           //  guarded by s_lock
static char s_issuer [257];             //  guarded by s_lock
static char s_audience [257];           //  guarded by s_lock
static int64_t s_last_refresh;          //  guarded by s_lock
//  Tokens verified with s_keys: made with the first key set, invalidated
//  when a fetch brings a different one (the cache locks its own slots)
static gateway_token_cache_t *s_cache;  //  the pointer guarded by s_lock; NULL: no cache
static uint8_t s_fingerprint [32];      //  of the key set, issuer and audience; guarded by s_lock

//  SHA-256 over what a verification depends on: issuer, audience and every
//  key. The fields hold no NUL, so NUL-separated they cannot run together.
//  Returns 0, or -1 (the caller then treats the set as changed).
static int
s_jwks_fingerprint (const proto_auth_jwks_rep_t *jwks, uint8_t digest [32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new ();
    int ok = md && EVP_DigestInit_ex (md, EVP_sha256 (), NULL) == 1;
    const char *fields [3 * CM_JWT_KEYS_MAX + 2];
    size_t count = 0;
    fields [count++] = jwks->issuer;
    fields [count++] = jwks->audience;
    for (uint32_t i = 0; i < jwks->keys_count && count + 3 <= sizeof fields / sizeof fields [0]; i++) {
        fields [count++] = jwks->keys [i].kid;
        fields [count++] = jwks->keys [i].x;
        fields [count++] = jwks->keys [i].y;
    }
    for (size_t i = 0; ok && i < count; i++) {
        const char *field = fields [i]? fields [i]: "";
        ok = EVP_DigestUpdate (md, field, strlen (field) + 1) == 1;
    }
    unsigned int len = 0;
    ok = ok && EVP_DigestFinal_ex (md, digest, &len) == 1 && len == 32;
    EVP_MD_CTX_free (md);
    return ok? 0: -1;
}

//  Fetches auth's keys and replaces the set with them, at most once per
//  REFRESH_INTERVAL_MS (every_ms for a routine refresh). With wait, waits
//  for a fetch under way first; without, leaves it to that one. Called
//  with no lock held.
static int
s_refresh (gateway_req_t *req, int64_t every_ms, bool wait)
{
    if (wait)
        pthread_mutex_lock (&s_fetching);
    else
    if (pthread_mutex_trylock (&s_fetching) != 0)
        return -1;
    pthread_rwlock_wrlock (&s_lock);
    int64_t now = zclock_mono ();
    bool due = !s_last_refresh || now - s_last_refresh >= every_ms;
    if (due)
        s_last_refresh = now;
    pthread_rwlock_unlock (&s_lock);
    if (!due) {
        pthread_mutex_unlock (&s_fetching);
        return -1;
    }

    cm_ctx_t ctx = req->ctx;
    ctx.uid [0] = ctx.sid [0] = 0;
    ctx.roles_count = 0;
    ctx.deadline = zclock_mono () + req->cfg->backend_timeout_ms;
    proto_auth_jwks_req_t jwks_req = { 0 };
    proto_auth_jwks_rep_t jwks = { 0 };
    cm_err_t status = gateway_backends_call (req->backends, CM_SVC_AUTH, &ctx, PROTO_MSG_auth_jwks,
                                             &jwks_req, &jwks, NULL);
    cm_jwt_keys_t *fresh = status == CM_OK? cm_jwt_keys_new (): NULL;
    for (uint32_t i = 0; fresh && i < jwks.keys_count; i++)
        //  A key that does not parse is left out; the others still verify
        cm_jwt_keys_add_public_jwk (fresh, jwks.keys [i].kid, jwks.keys [i].x, jwks.keys [i].y);
    int rc = fresh && cm_jwt_keys_count (fresh) > 0? 0: -1;
    if (rc == 0) {
        uint8_t fingerprint [32];
        bool known = s_jwks_fingerprint (&jwks, fingerprint) == 0;
        if (!known)
            memset (fingerprint, 0, sizeof fingerprint);
        pthread_rwlock_wrlock (&s_lock);
        cm_jwt_keys_t *old = s_keys;
        s_keys = fresh;
        fresh = NULL;
        snprintf (s_issuer, sizeof s_issuer, "%s", jwks.issuer);
        snprintf (s_audience, sizeof s_audience, "%s", jwks.audience);
        if (!s_cache && !(s_cache = gateway_token_cache_new (GATEWAY_TOKEN_CACHE_SLOTS)))
            cm_warn ("no verified-token cache: every request verifies its token");
        //  A key withdrawn, added or replaced: no token verified before counts
        if (s_cache && (!known || memcmp (fingerprint, s_fingerprint, sizeof fingerprint) != 0))
            gateway_token_cache_invalidate (s_cache);
        memcpy (s_fingerprint, fingerprint, sizeof s_fingerprint);
        pthread_rwlock_unlock (&s_lock);
        cm_jwt_keys_destroy (&old);
    }
    else
        cm_warn ("cannot fetch signing keys from auth: %s", cm_err_code (status));
    cm_jwt_keys_destroy (&fresh);
    proto_clear (&proto_auth_jwks_rep_desc, &jwks);
    pthread_mutex_unlock (&s_fetching);
    return rc;
}

//  A token verified before, with the keys in use now, is taken from the
//  cache under the same time rules; any other is verified and, when it
//  passes, remembered for this key set
static cm_jwt_result_t
s_verify (const char *token, cm_jwt_claims_t *claims, bool *have_keys)
{
    int64_t now = zclock_time () / 1000;
    pthread_rwlock_rdlock (&s_lock);
    *have_keys = s_keys && cm_jwt_keys_count (s_keys) > 0;
    cm_jwt_result_t result = CM_JWT_UNKNOWN_KID;
    if (*have_keys && s_cache && gateway_token_cache_get (s_cache, token, now, LEEWAY_S, claims))
        result = CM_JWT_OK;
    else
    if (*have_keys) {
        uint64_t generation = s_cache? gateway_token_cache_generation (s_cache): 0;
        result = cm_jwt_verify (s_keys, token, s_issuer, s_audience, now, LEEWAY_S, claims);
        if (result == CM_JWT_OK && s_cache)
            gateway_token_cache_put (s_cache, token, generation, claims);
    }
    pthread_rwlock_unlock (&s_lock);
    return result;
}

int
gateway_auth_token (gateway_req_t *req, cm_jwt_claims_t *claims)
{
    const char *header = mg_get_header (req->conn, "Authorization");
    if (!header || strncasecmp (header, "Bearer ", 7) != 0 || !header [7]) {
        gateway_send_error (req, 401, "unauthorized", "a bearer access token is required");
        return 401;
    }
    const char *token = header + 7;
    while (*token == ' ')
        token++;
    bool have_keys;
    s_refresh (req, KEYS_MAX_AGE_MS, false);
    cm_jwt_result_t result = s_verify (token, claims, &have_keys);
    if (result == CM_JWT_UNKNOWN_KID) {
        //  No keys yet, or a new one: fetched now, or by the fetch waited for
        s_refresh (req, REFRESH_INTERVAL_MS, true);
        result = s_verify (token, claims, &have_keys);
    }
    if (!have_keys) {
        gateway_send_error (req, 503, "service_unavailable", "cannot verify tokens right now");
        return 503;
    }
    if (result != CM_JWT_OK) {
        cm_log_fields (CM_LOG_INFO, "token refused", "reason", cm_jwt_result_str (result), (const char *) NULL);
        gateway_send_error (req, 401, "invalid_token", "the access token is invalid or expired");
        return 401;
    }
    return 0;
}

void
gateway_auth_revoked_key (const cm_jwt_claims_t *claims, char *key, size_t size)
{
    snprintf (key, size, CM_REDIS_REVOKED_PREFIX "%s", claims->sid);
}

//  Auth's session table is the source of truth; Redis is the fast path, so
//  a Redis outage slows requests down but does not stop them
int
gateway_auth_session (gateway_req_t *req, const cm_jwt_claims_t *claims, int ended)
{
    if (ended < 0) {
        cm_ctx_t ctx = req->ctx;
        snprintf (ctx.uid, sizeof ctx.uid, "%s", claims->sub);
        snprintf (ctx.sid, sizeof ctx.sid, "%s", claims->sid);
        ctx.roles_count = 0;
        ctx.deadline = zclock_mono () + req->cfg->backend_timeout_ms;
        proto_auth_session_check_req_t check = { 0 };
        proto_auth_session_check_rep_t answer = { 0 };
        cm_err_t status = gateway_backends_call (req->backends, CM_SVC_AUTH, &ctx, PROTO_MSG_auth_session_check,
                                                 &check, &answer, NULL);
        ended = status == CM_OK? 0: status == CM_UNAUTHORIZED? 1: -1;
    }
    if (ended < 0) {
        gateway_send_error (req, 503, "service_unavailable", "cannot check the session right now");
        return 503;
    }
    if (ended) {
        gateway_send_error (req, 401, "invalid_token", "the session has ended");
        return 401;
    }
    snprintf (req->ctx.uid, sizeof req->ctx.uid, "%s", claims->sub);
    snprintf (req->ctx.sid, sizeof req->ctx.sid, "%s", claims->sid);
    for (uint32_t i = 0; i < claims->roles_count && i < CM_MAX_ROLES; i++)
        snprintf (req->ctx.roles [i], sizeof req->ctx.roles [i], "%s", claims->roles [i]);
    req->ctx.roles_count = claims->roles_count < CM_MAX_ROLES? claims->roles_count: CM_MAX_ROLES;
    req->ctx.auth_time = claims->auth_time;
    return 0;
}

int
gateway_auth_verify (gateway_req_t *req)
{
    cm_jwt_claims_t claims;
    int status = gateway_auth_token (req, &claims);
    if (status)
        return status;
    //  A valid signature is not enough: the session may have ended since
    char key [64];
    gateway_auth_revoked_key (&claims, key, sizeof key);
    const char *argv [] = { "EXISTS", key };
    redisReply *reply = cm_redis_command (req->backends->redis, 2, argv);
    int ended = reply && reply->type == REDIS_REPLY_INTEGER? reply->integer != 0: -1;
    freeReplyObject (reply);
    return gateway_auth_session (req, &claims, ended);
}

size_t
gateway_auth_jwks_json (gateway_req_t *req, char *buf, size_t size)
{
    cm_ctx_t ctx = req->ctx;
    ctx.deadline = zclock_mono () + req->cfg->backend_timeout_ms;
    proto_auth_jwks_req_t jwks_req = { 0 };
    proto_auth_jwks_rep_t jwks = { 0 };
    size_t len = 0;
    if (gateway_backends_call (req->backends, CM_SVC_AUTH, &ctx, PROTO_MSG_auth_jwks,
                               &jwks_req, &jwks, NULL) == CM_OK) {
        len = (size_t) snprintf (buf, size, "{\"keys\":[");
        for (uint32_t i = 0; i < jwks.keys_count && len < size; i++)
            //  Every value was bounded and checked by the codec (base64url, short)
            len += (size_t) snprintf (buf + len, size - len,
                "%s{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES256\",\"use\":\"sig\",\"kid\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}",
                i? ",": "", jwks.keys [i].kid, jwks.keys [i].x, jwks.keys [i].y);
        if (len < size)
            len += (size_t) snprintf (buf + len, size - len, "]}");
        if (len >= size)
            len = 0;
    }
    proto_clear (&proto_auth_jwks_rep_desc, &jwks);
    return len;
}

void
gateway_auth_cache_counts (uint64_t *hits, uint64_t *misses)
{
    pthread_rwlock_rdlock (&s_lock);
    *hits = s_cache? gateway_token_cache_hits (s_cache): 0;
    *misses = s_cache? gateway_token_cache_misses (s_cache): 0;
    pthread_rwlock_unlock (&s_lock);
}

void
gateway_auth_shutdown (void)
{
    pthread_rwlock_wrlock (&s_lock);
    cm_jwt_keys_destroy (&s_keys);
    gateway_token_cache_destroy (&s_cache);
    memset (s_fingerprint, 0, sizeof s_fingerprint);
    pthread_rwlock_unlock (&s_lock);
}
