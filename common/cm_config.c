/*  cm_config - the configuration table

    Rows are data: adding a setting is adding a row. Defaults that depend on
    the service (ports, allowlists) are filled in by s_default.
*/
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cm_config.h"
#include "cm_list.h"
#include "cm_log.h"

extern char **environ;

typedef enum {
    T_INT,          //  decimal integer within min..max
    T_STR,          //  non-empty text
    T_LEVEL,        //  log level name
    T_ENDPOINT,     //  one tcp://host:port or ipc://path
    T_ENDPOINTS,    //  comma-separated endpoints
    T_PEERS,        //  comma-separated service names
    T_PGURL,        //  postgresql:// URL without a password
    T_REDISURL,     //  redis:// URL without a password
    T_SECRET_FILE   //  a readable file; its content is the secret
} row_type_t;

#define ALL       0x3F
#define BACKENDS  0x3E
#define DBS       0x3E          //  every backend has its own schema
#define GW        0x01
#define SVC(s)    (1u << (s))

typedef struct {
    const char *env;            //  variable name; "%S" is the upper-case service
    row_type_t type;
    const char *dflt;           //  NULL = required, "" = optional and empty
    int64_t min, max;
    unsigned applies;           //  bit per cm_svc_t
    size_t offset;
    size_t secret_offset;       //  T_SECRET_FILE: where the content goes
    const char *help;
} row_t;

#define OFF(f) offsetof (cm_config_t, f)
static const row_t s_rows [] = {
    { "LOG_LEVEL", T_LEVEL, "info", 0, 0, ALL, OFF (log_level), 0,
      "debug, info, warn or error" },
    { "KEYS_DIR", T_STR, ".run/keys", 0, 0, ALL, OFF (keys_dir), 0,
      "directory of CURVE certificates (<service>.cert, <service>.cert_secret)" },
    { "%S_BIND", T_ENDPOINT, "@bind", 0, 0, BACKENDS, OFF (bind), 0,
      "ZeroMQ endpoint this service binds (loopback by default)" },
    { "AUTH_ENDPOINTS", T_ENDPOINTS, "@endpoints", 0, 0, GW | SVC (CM_SVC_PRIVACY),
      OFF (endpoints [CM_SVC_AUTH]), 0, "auth replicas, comma-separated" },
    { "MISSIONS_ENDPOINTS", T_ENDPOINTS, "@endpoints", 0, 0, GW | SVC (CM_SVC_PRIVACY),
      OFF (endpoints [CM_SVC_MISSIONS]), 0, "missions replicas, comma-separated" },
    { "EVIDENCE_ENDPOINTS", T_ENDPOINTS, "@endpoints", 0, 0,
      GW | SVC (CM_SVC_PRIVACY) | SVC (CM_SVC_MISSIONS),
      OFF (endpoints [CM_SVC_EVIDENCE]), 0, "evidence replicas, comma-separated" },
    { "PRIVACY_ENDPOINTS", T_ENDPOINTS, "@endpoints", 0, 0, GW,
      OFF (endpoints [CM_SVC_PRIVACY]), 0, "privacy replicas, comma-separated" },
    { "AUDIT_ENDPOINTS", T_ENDPOINTS, "@endpoints", 0, 0, ALL & ~SVC (CM_SVC_AUDIT),
      OFF (endpoints [CM_SVC_AUDIT]), 0, "audit replicas, comma-separated" },
    { "ALLOWED_PEERS", T_PEERS, "@peers", 0, 0, BACKENDS, OFF (allowed_peers), 0,
      "services whose CURVE keys may connect (narrows the built-in policy)" },
    { "IDENTITY_PEERS", T_PEERS, "@identity", 0, 0, BACKENDS, OFF (identity_peers), 0,
      "services that may assert a user identity in an envelope" },
    { "SERVICE_WORKERS", T_INT, "4", 1, 64, BACKENDS, OFF (workers), 0,
      "worker threads, each with its own database connection" },
    { "SERVICE_SLOW_WORKERS", T_INT, "2", 1, 64, BACKENDS, OFF (slow_workers), 0,
      "worker threads for slow routes (password hashing), apart from the others" },
    { "SERVICE_MAX_QUEUE", T_INT, "1024", 1, 65536, BACKENDS, OFF (max_queue), 0,
      "requests waiting for a worker before new ones get 'busy'" },
    { "REQUEST_TIMEOUT_MS", T_INT, "5000", 100, 600000, BACKENDS, OFF (request_timeout_ms), 0,
      "budget of a request that did not say its own" },
    { "DRAIN_TIMEOUT_MS", T_INT, "10000", 0, 600000, BACKENDS, OFF (drain_timeout_ms), 0,
      "on SIGTERM, how long in-flight requests may finish" },
    { "DATABASE_URL", T_PGURL, NULL, 0, 0, DBS, OFF (database_url), 0,
      "PostgreSQL URL of this service's own role, without the password" },
    { "DATABASE_PASSWORD_FILE", T_SECRET_FILE, "", 0, 0, DBS, OFF (database_password_file),
      OFF (database_password), "file holding that role's password" },
    { "DATABASE_CONNECT_TIMEOUT_MS", T_INT, "3000", 100, 60000, DBS, OFF (database_timeout_ms), 0,
      "PostgreSQL connect timeout" },
    { "DATABASE_PREPARED_STATEMENTS", T_INT, "1", 0, 1, DBS, OFF (database_prepared), 0,
      "1: queries prepared once per connection; 0 behind a pooler in transaction mode" },
    { "REDIS_URL", T_REDISURL, "redis://127.0.0.1:6379/0", 0, 0, GW | SVC (CM_SVC_AUTH),
      OFF (redis_url), 0, "Redis for rate limits and revoked sessions" },
    { "REDIS_PASSWORD_FILE", T_SECRET_FILE, "", 0, 0, GW | SVC (CM_SVC_AUTH), OFF (redis_password_file),
      OFF (redis_password),
      "file holding the Redis password (optional)" },
    { "GATEWAY_BIND_ADDRESS", T_STR, "127.0.0.1", 0, 0, GW, OFF (gateway_bind_address), 0,
      "address the public HTTP(S) ports bind" },
    { "GATEWAY_HTTP_PORT", T_INT, "8080", 1, 65535, GW, OFF (gateway_http_port), 0,
      "public HTTP port" },
    { "GATEWAY_HTTPS_PORT", T_INT, "8443", 1, 65535, GW, OFF (gateway_https_port), 0,
      "public HTTPS port (when TLS files are set)" },
    { "GATEWAY_METRICS_PORT", T_INT, "9100", 1, 65535, GW, OFF (gateway_metrics_port), 0,
      "internal port for /metrics, bound to loopback by default" },
    { "GATEWAY_THREADS", T_INT, "512", 4, 1024, GW, OFF (gateway_threads), 0,
      "HTTP worker threads: CivetWeb holds one per open connection, idle and slow ones too" },
    { "BACKEND_TIMEOUT_MS", T_INT, "3000", 50, 60000, GW, OFF (backend_timeout_ms), 0,
      "deadline of one call from the gateway to a backend" },
    { "READY_TIMEOUT_MS", T_INT, "500", 50, 10000, GW, OFF (ready_timeout_ms), 0,
      "how long /readyz waits for each backend's pong" },
    { "AUDIT_BATCH", T_INT, "100", 1, 256, ALL & ~SVC (CM_SVC_AUDIT), OFF (audit_batch), 0,
      "audit events shipped per message" },
    { "JWT_ISSUER", T_STR, "http://127.0.0.1:8080", 0, 0, SVC (CM_SVC_AUTH), OFF (jwt_issuer), 0,
      "iss of access tokens (the gateway learns it from auth)" },
    { "JWT_AUDIENCE", T_STR, "api", 0, 0, SVC (CM_SVC_AUTH), OFF (jwt_audience), 0,
      "aud of access tokens" },
    { "ACCESS_TOKEN_TTL", T_INT, "900", 60, 900, SVC (CM_SVC_AUTH), OFF (access_token_ttl_s), 0,
      "access token lifetime in seconds (at most 15 min)" },
    { "ADMIN_EMAILS", T_STR, "", 0, 0, SVC (CM_SVC_AUTH), OFF (admin_emails), 0,
      "comma-separated emails that get the admin role at sign-up" },
    { "SESSION_IDLE_TIMEOUT", T_INT, "1800", 60, 2592000, SVC (CM_SVC_AUTH), OFF (session_idle_timeout_s), 0,
      "seconds a session may go unused before it ends" },
    { "SESSION_ABSOLUTE_TIMEOUT", T_INT, "43200", 300, 7776000, SVC (CM_SVC_AUTH),
      OFF (session_absolute_timeout_s), 0, "seconds after sign-in a session ends, whatever the refreshes" },
    { "REAUTH_MAX_AGE", T_INT, "600", 30, 86400, SVC (CM_SVC_AUTH) | SVC (CM_SVC_PRIVACY),
      OFF (reauth_max_age_s), 0, "seconds since sign-in within which destructive actions are allowed" },
    { "AUTH_DATA_KEY_FILE", T_STR, "", 0, 0, SVC (CM_SVC_AUTH), OFF (auth_data_key_file), 0,
      "key sealing TOTP secrets at rest (default: KEYS_DIR/secrets/auth_data.key)" },
    { "TOTP_ISSUER", T_STR, "Missions", 0, 0, SVC (CM_SVC_AUTH), OFF (totp_issuer), 0,
      "issuer name authenticator apps show" },
    { "SMTP_URL", T_STR, "", 0, 0, SVC (CM_SVC_AUTH), OFF (smtp_url), 0,
      "smtp:// (STARTTLS required off-host) or smtps:// relay; empty writes mail to MAIL_OUTBOX_DIR" },
    { "SMTP_USER", T_STR, "", 0, 0, SVC (CM_SVC_AUTH), OFF (smtp_user), 0, "SMTP user name" },
    { "SMTP_PASSWORD_FILE", T_STR, "", 0, 0, SVC (CM_SVC_AUTH), OFF (smtp_password_file), 0,
      "file holding the SMTP password" },
    { "MAIL_FROM", T_STR, "no-reply@localhost.localdomain", 0, 0, SVC (CM_SVC_AUTH), OFF (mail_from), 0,
      "sender address of account mail" },
    { "MAIL_OUTBOX_DIR", T_STR, ".run/outbox", 0, 0, SVC (CM_SVC_AUTH), OFF (mail_outbox_dir), 0,
      "where mail goes as .eml files when no SMTP_URL is set" },
    { "APP_BASE_URL", T_STR, "http://127.0.0.1:8080", 0, 0, SVC (CM_SVC_AUTH), OFF (app_base_url), 0,
      "base of the links in account mail (the client app that posts the token back)" },
    { "RATE_LIMIT_MAIL_PER_HOUR_ACCOUNT", T_INT, "5", 1, 1000, SVC (CM_SVC_AUTH), OFF (mail_per_hour), 0,
      "magic-link, reset and verification mails per hour per email" },
    { "RATE_LIMIT_LOGIN_FAILURES_PER_IP", T_INT, "50", 5, 100000, SVC (CM_SVC_AUTH),
      OFF (login_failures_per_ip), 0, "failed sign-ins from one client IP per 15 min before it is paused" },
    { "BREACHED_PASSWORD_RANGE_URL", T_STR, "", 0, 0, SVC (CM_SVC_AUTH), OFF (breached_range_url), 0,
      "k-anonymity range API (e.g. https://api.pwnedpasswords.com/range/); empty: offline list only" },
    { "PUBLIC_BASE_URL", T_STR, "", 0, 0, GW, OFF (public_base_url), 0,
      "scheme://host[:port] clients reach the gateway at, for upload URLs (default http://127.0.0.1:GATEWAY_HTTP_PORT)" },
    { "EVIDENCE_MAX_BYTES", T_INT, "10485760", 1, 1073741824, GW | SVC (CM_SVC_EVIDENCE),
      OFF (evidence_max_bytes), 0, "largest evidence file, in bytes" },
    { "EVIDENCE_DIR", T_STR, ".run/evidence", 0, 0, SVC (CM_SVC_EVIDENCE), OFF (evidence_dir), 0,
      "where encrypted evidence files live (shared by every evidence replica)" },
    { "EVIDENCE_MASTER_KEY_FILE", T_STR, "", 0, 0, SVC (CM_SVC_EVIDENCE), OFF (evidence_master_key_file), 0,
      "key wrapping the per-user data keys (default: KEYS_DIR/secrets/evidence_master.key)" },
    { "UPLOAD_URL_KEY_FILE", T_STR, "", 0, 0, SVC (CM_SVC_EVIDENCE), OFF (upload_url_key_file), 0,
      "HMAC key of signed upload URLs (default: KEYS_DIR/secrets/upload_url.key)" },
    { "UPLOAD_URL_TTL", T_INT, "900", 60, 3600, SVC (CM_SVC_EVIDENCE), OFF (upload_url_ttl_s), 0,
      "seconds an upload URL stays valid" },
    { "GATEWAY_ENV", T_STR, "development", 0, 0, GW, OFF (gateway_env), 0,
      "development or production (production refuses to serve plain HTTP unless behind TRUSTED_PROXIES)" },
    { "TLS_CERT_FILE", T_STR, "", 0, 0, GW, OFF (tls_cert_file), 0,
      "PEM certificate chain for HTTPS on GATEWAY_HTTPS_PORT (with TLS_KEY_FILE)" },
    { "TLS_KEY_FILE", T_STR, "", 0, 0, GW, OFF (tls_key_file), 0,
      "PEM private key of TLS_CERT_FILE" },
    { "TRUSTED_PROXIES", T_STR, "", 0, 0, GW, OFF (trusted_proxies), 0,
      "comma-separated CIDRs of proxies whose X-Forwarded-For is believed" },
    { "CORS_ALLOWED_ORIGINS", T_STR, "", 0, 0, GW, OFF (cors_allowed_origins), 0,
      "comma-separated exact origins (scheme://host[:port]) allowed cross-origin; empty: none" },
    { "RATE_LIMIT_DEFAULT_PER_MIN", T_INT, "100", 1, 1000000, GW, OFF (rl_default_per_min), 0,
      "requests per minute per user (or client IP when anonymous)" },
    { "RATE_LIMIT_MISSION_CREATE_PER_HOUR", T_INT, "50", 1, 1000000, GW, OFF (rl_mission_create_per_hour), 0,
      "missions a user may create per hour" },
    { "RATE_LIMIT_TOKEN_PER_MIN_IP", T_INT, "10", 1, 1000000, GW, OFF (rl_token_per_min_ip), 0,
      "token endpoint requests per minute per client IP" },
    { "RATE_LIMIT_TOKEN_PER_MIN_ACCOUNT", T_INT, "10", 1, 1000000, GW, OFF (rl_token_per_min_account), 0,
      "token endpoint requests per minute per account (username)" },
    { "RATE_LIMIT_REGISTER_PER_HOUR_IP", T_INT, "20", 1, 1000000, GW, OFF (rl_register_per_hour_ip), 0,
      "sign-ups per hour per client IP" },
    { "AUDIT_MASTER_KEY_FILE", T_STR, "", 0, 0, SVC (CM_SVC_AUDIT), OFF (audit_master_key_file), 0,
      "key wrapping the per-user keys of personal data in events (default: KEYS_DIR/secrets/audit_master.key)" },
    { "AUDIT_CHECKPOINT_KEY_FILE", T_STR, "", 0, 0, SVC (CM_SVC_AUDIT), OFF (audit_checkpoint_key_file), 0,
      "Ed25519 seed signing chain checkpoints (default: KEYS_DIR/secrets/audit_checkpoint.key)" },
    { "AUDIT_CHECKPOINT_DIR", T_STR, ".run/audit-checkpoints", 0, 0, SVC (CM_SVC_AUDIT),
      OFF (audit_checkpoint_dir), 0, "where signed checkpoints of the chain are appended (outside the database)" },
    { "AUDIT_CHECKPOINT_INTERVAL_S", T_INT, "60", 1, 86400, SVC (CM_SVC_AUDIT),
      OFF (audit_checkpoint_interval_s), 0, "seconds between signed checkpoints (one more on a clean stop)" },
    { "ALERT_WINDOW_S", T_INT, "60", 1, 86400, SVC (CM_SVC_AUDIT), OFF (alert_window_s), 0,
      "window of the ALERT_* thresholds, in seconds" },
    { "ALERT_DENIED_PER_IP", T_INT, "50", 0, 1000000, SVC (CM_SVC_AUDIT), OFF (alert_denied_per_ip), 0,
      "alert when more authz.denied than this come from one IP within the window (0: off)" },
    { "ALERT_DENIED_PER_ACCOUNT", T_INT, "20", 0, 1000000, SVC (CM_SVC_AUDIT), OFF (alert_denied_per_account), 0,
      "alert when more authz.denied than this hit one account within the window (0: off)" },
    { "ALERT_LOGIN_FAILURES_PER_IP", T_INT, "20", 0, 1000000, SVC (CM_SVC_AUDIT),
      OFF (alert_login_failures_per_ip), 0,
      "alert when more auth.login.failure than this come from one IP within the window (0: off)" },
    { "ALERT_LOGIN_FAILURES_PER_ACCOUNT", T_INT, "5", 0, 1000000, SVC (CM_SVC_AUDIT),
      OFF (alert_login_failures_per_account), 0,
      "alert when more auth.login.failure than this hit one account within the window (0: off)" },
    { "ALERT_WEBHOOK_URL", T_STR, "", 0, 0, SVC (CM_SVC_AUDIT), OFF (alert_webhook_url), 0,
      "https:// URL (http:// to this host only) that alerts are POSTed to as JSON; empty: none" },
    { "ALERT_WEBHOOK_TIMEOUT_MS", T_INT, "5000", 100, 60000, SVC (CM_SVC_AUDIT), OFF (alert_webhook_timeout_ms), 0,
      "deadline of one alert POST" },
    { "GATEWAY_AUDIT_SPOOL_DIR", T_STR, ".run/gateway-spool", 0, 0, GW, OFF (gateway_audit_spool_dir), 0,
      "where audit events wait, on disk, while the audit service cannot take them" },
    { "GATEWAY_AUDIT_SPOOL_MAX_BYTES", T_INT, "67108864", 65536, 68719476736, GW,
      OFF (gateway_audit_spool_max_bytes), 0, "largest audit spool file; events beyond it are dropped and counted" },
    { "CLIENT_RESOLVE_INTERVAL_MS", T_INT, "5000", 100, 3600000, ALL & ~SVC (CM_SVC_AUDIT),
      OFF (client_resolve_interval_ms), 0,
      "how often host names in *_ENDPOINTS are resolved again (every address is a replica)" },
    { "OAUTH_ALLOWED_REDIRECTS", T_STR, "", 0, 0, SVC (CM_SVC_AUTH), OFF (oauth_allowed_redirects), 0,
      "comma-separated exact URLs a provider sign-in may return the browser to; empty: none" },
    { "OIDC_CA_FILE", T_STR, "", 0, 0, SVC (CM_SVC_AUTH), OFF (oidc_ca_file), 0,
      "PEM file of extra CA certificates trusted for sign-in providers (beside the system's)" },
};
#define ROW_COUNT (sizeof s_rows / sizeof s_rows [0])

//  Resolves "%S" in a row name for this service
static void
s_row_name (const row_t *row, cm_svc_t svc, char *name, size_t size)
{
    const char *mark = strstr (row->env, "%S");
    if (!mark) {
        snprintf (name, size, "%s", row->env);
        return;
    }
    char upper [32];
    const char *svc_name = cm_svc_name (svc);
    size_t i;
    for (i = 0; svc_name [i] && i + 1 < sizeof upper; i++)
        upper [i] = (char) toupper ((unsigned char) svc_name [i]);
    upper [i] = 0;
    snprintf (name, size, "%.*s%s%s", (int) (mark - row->env), row->env, upper, mark + 2);
}

//  Service-dependent defaults, written "@what" in the table
static void
s_default (const row_t *row, cm_svc_t svc, char *value, size_t size)
{
    if (strcmp (row->dflt, "@bind") == 0)
        snprintf (value, size, "tcp://127.0.0.1:%d", cm_svc_default_port (svc));
    else
    if (strcmp (row->dflt, "@endpoints") == 0) {
        //  The target service is the one whose endpoints slot the row fills
        int target = (int) ((row->offset - OFF (endpoints)) / sizeof (char *));
        snprintf (value, size, "tcp://127.0.0.1:%d", cm_svc_default_port ((cm_svc_t) target));
    }
    else
    if (strcmp (row->dflt, "@peers") == 0)
        snprintf (value, size, "%s", cm_svc_default_peers (svc));
    else
    if (strcmp (row->dflt, "@identity") == 0)
        snprintf (value, size, "%s", cm_svc_default_identity_peers (svc));
    else
        snprintf (value, size, "%s", row->dflt);
}

int
cm_config_split (const char *list, char **items, int max)
{
    int count = 0;
    const char *cursor = list, *start;
    size_t len;
    while (cm_list_next (&cursor, &start, &len)) {
        if (len) {
            if (count == max) {
                for (int i = 0; i < count; i++)
                    free (items [i]);
                return -1;
            }
            items [count++] = strndup (start, len);
        }
    }
    return count;
}

static bool
s_valid_endpoint (const char *ep)
{
    if (strncmp (ep, "ipc://", 6) == 0)
        return strlen (ep) > 6 && strlen (ep) < 100;
    if (strncmp (ep, "tcp://", 6) != 0)
        return false;
    const char *colon = strrchr (ep + 6, ':');
    if (!colon || colon == ep + 6)
        return false;
    for (const char *c = ep + 6; c < colon; c++)
        if (!(isalnum ((unsigned char) *c) || strchr (".-_*[]:", *c)))
            return false;
    char *end;
    long port = strtol (colon + 1, &end, 10);
    return *end == 0 && port >= 1 && port <= 65535;
}

static char *
s_read_secret (const char *path, char *problem, size_t size)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (problem, size, "cannot read %s: %s", path, strerror (errno));
        return NULL;
    }
    char buffer [1024];
    size_t n = fread (buffer, 1, sizeof buffer - 1, file);
    bool more = fgetc (file) != EOF;
    fclose (file);
    while (n && (buffer [n - 1] == '\n' || buffer [n - 1] == '\r'))
        n--;
    buffer [n] = 0;
    if (more || n == 0 || strlen (buffer) != n) {
        snprintf (problem, size, "%s must hold one line of 1..1000 bytes", path);
        return NULL;
    }
    return strdup (buffer);
}

//  Validates one value; returns NULL or a problem description in problem
static const char *
s_check (const row_t *row, const char *value, cm_config_t *cfg, char *problem, size_t size)
{
    void *slot = (char *) cfg + row->offset;
    switch (row->type) {
        case T_INT: {
            errno = 0;
            char *end;
            long long n = strtoll (value, &end, 10);
            if (errno || end == value || *end) {
                snprintf (problem, size, "'%s' is not a whole number", value);
                return problem;
            }
            if (n < row->min || n > row->max) {
                snprintf (problem, size, "%lld is outside %lld..%lld", n,
                          (long long) row->min, (long long) row->max);
                return problem;
            }
            *(int64_t *) slot = n;
            return NULL;
        }
        case T_LEVEL: {
            int level = cm_log_level_parse (value);
            if (level < 0) {
                snprintf (problem, size, "'%s' is not one of debug, info, warn, error", value);
                return problem;
            }
            *(int *) slot = level;
            return NULL;
        }
        case T_ENDPOINT:
            if (!s_valid_endpoint (value)) {
                snprintf (problem, size, "'%s' is not tcp://host:port or ipc://path", value);
                return problem;
            }
            break;
        case T_ENDPOINTS: {
            char *items [16];
            int count = cm_config_split (value, items, 16);
            bool ok = count > 0;
            for (int i = 0; i < count; i++) {
                ok = ok && s_valid_endpoint (items [i]);
                free (items [i]);
            }
            if (!ok) {
                snprintf (problem, size, "'%s' is not a list of 1..16 tcp://host:port endpoints", value);
                return problem;
            }
            break;
        }
        case T_PEERS: {
            char *items [CM_SVC_COUNT + 1];
            int count = cm_config_split (value, items, CM_SVC_COUNT);
            bool ok = count >= 0;
            for (int i = 0; i < count; i++) {
                ok = ok && cm_svc_lookup (items [i]) >= 0;
                free (items [i]);
            }
            if (!ok) {
                snprintf (problem, size, "'%s' names an unknown service", value);
                return problem;
            }
            break;
        }
        case T_PGURL:
        case T_REDISURL: {
            const char *scheme = row->type == T_PGURL? "postgresql://": "redis://";
            if (strncmp (value, scheme, strlen (scheme)) != 0) {
                snprintf (problem, size, "must start with %s", scheme);
                return problem;
            }
            //  A password in a URL ends up in process listings and logs
            const char *authority = value + strlen (scheme);
            const char *at = strchr (authority, '@');
            const char *slash = strchr (authority, '/');
            if (at && (!slash || at < slash) && memchr (authority, ':', (size_t) (at - authority))) {
                snprintf (problem, size, "must not contain a password (use the _PASSWORD_FILE variable)");
                return problem;
            }
            break;
        }
        case T_SECRET_FILE:
            if (*value) {
                char *secret = s_read_secret (value, problem, size);
                if (!secret)
                    return problem;
                *(char **) ((char *) cfg + row->secret_offset) = secret;
            }
            break;
        case T_STR:
            break;
    }
    *(char **) slot = strdup (value);
    return NULL;
}

//  An absolute https:// URL without user info, query, fragment or spaces
static bool
s_https_url (const char *url)
{
    if (strncmp (url, "https://", 8) != 0 || strlen (url) > 1024 || !url [8] || url [8] == '/')
        return false;
    for (const unsigned char *p = (const unsigned char *) url; *p; p++)
        if (*p <= 0x20 || *p >= 0x7F || *p == '\\' || *p == '?' || *p == '#')
            return false;
    size_t authority = strcspn (url + 8, "/");
    return !memchr (url + 8, '@', authority);
}

//  One provider setting: NAME's suffix through get, "" when unset
static const char *
s_provider_get (cm_config_get_fn *get, void *arg, const char *upper, const char *suffix,
                char *name, size_t size)
{
    snprintf (name, size, "OIDC_%.32s_%.24s", upper, suffix);
    const char *value = get (name, arg);
    return value? value: "";
}

//  The names of OIDC_<NAME>_ISSUER variables in the environment, upper-case.
//  Returns how many, or -1 when there are more than max.
static int
s_provider_names (char names [][CM_OIDC_NAME_MAX + 1], int max)
{
    int count = 0;
    for (char **entry = environ; entry && *entry; entry++) {
        const char *var = *entry;
        const char *eq = strchr (var, '=');
        if (!eq || strncmp (var, "OIDC_", 5) != 0)
            continue;
        size_t len = (size_t) (eq - var);
        if (len < 5 + 1 + 7 || memcmp (eq - 7, "_ISSUER", 7) != 0)
            continue;
        size_t name_len = len - 5 - 7;
        bool ok = name_len <= CM_OIDC_NAME_MAX;
        for (size_t i = 0; ok && i < name_len; i++)
            ok = isupper ((unsigned char) var [5 + i]) || isdigit ((unsigned char) var [5 + i])
              || var [5 + i] == '_';
        if (!ok)
            continue;               //  reported by the caller as an unusable name
        if (count == max)
            return -1;
        memcpy (names [count], var + 5, name_len);
        names [count++][name_len] = 0;
    }
    return count;
}

//  The sign-in providers: every OIDC_<NAME>_ISSUER in the environment, with
//  its other settings read through get. Returns the number of problems.
static int
s_load_providers (cm_config_t *cfg, cm_config_get_fn *get, void *arg, FILE *errors)
{
    char names [CM_OIDC_PROVIDERS_MAX][CM_OIDC_NAME_MAX + 1];
    int count = s_provider_names (names, CM_OIDC_PROVIDERS_MAX);
    if (count < 0) {
        fprintf (errors, "config: more than %d OIDC_<NAME>_ISSUER providers\n", CM_OIDC_PROVIDERS_MAX);
        return 1;
    }
    int problems = 0;
    for (int i = 0; i < count; i++) {
        cm_oidc_provider_t *p = &cfg->oidc [cfg->oidc_count++];
        char name [96], problem [512];
        for (size_t c = 0; names [i][c]; c++)
            p->name [c] = (char) tolower ((unsigned char) names [i][c]);
        const char *issuer = s_provider_get (get, arg, names [i], "ISSUER", name, sizeof name);
        if (!s_https_url (issuer)) {
            fprintf (errors, "config: %s must be an https:// URL without query, fragment or user info\n", name);
            problems++;
        }
        p->issuer = strdup (issuer);
        const char *client_id = s_provider_get (get, arg, names [i], "CLIENT_ID", name, sizeof name);
        if (!*client_id || strlen (client_id) > 512) {
            fprintf (errors, "config: %s is required (1..512 bytes) beside OIDC_%s_ISSUER\n", name, names [i]);
            problems++;
        }
        p->client_id = strdup (client_id);
        const char *secret_file = s_provider_get (get, arg, names [i], "CLIENT_SECRET_FILE", name, sizeof name);
        p->client_secret_file = strdup (secret_file);
        if (*secret_file && !(p->client_secret = s_read_secret (secret_file, problem, sizeof problem))) {
            fprintf (errors, "config: %s: %s\n", name, problem);
            problems++;
        }
        const char *kind = s_provider_get (get, arg, names [i], "KIND", name, sizeof name);
        if (!*kind)
            kind = strcmp (issuer, "https://github.com") == 0? "github": "oidc";
        if (strcmp (kind, "oidc") != 0 && strcmp (kind, "github") != 0) {
            fprintf (errors, "config: %s must be oidc or github\n", name);
            problems++;
        }
        p->kind = strdup (kind);
        const char *scopes = s_provider_get (get, arg, names [i], "SCOPES", name, sizeof name);
        if (!*scopes)
            scopes = strcmp (kind, "github") == 0? "read:user user:email": "openid email profile";
        bool scopes_ok = strlen (scopes) <= 512;
        for (const char *c = scopes; scopes_ok && *c; c++)
            scopes_ok = *c == ' ' || (*c > 0x20 && *c < 0x7F && *c != '"' && *c != '\\');
        if (!scopes_ok) {
            fprintf (errors, "config: %s must be space-separated scope names\n", name);
            problems++;
        }
        p->scopes = strdup (scopes);
        const char *api_url = s_provider_get (get, arg, names [i], "API_URL", name, sizeof name);
        if (!*api_url)
            api_url = "https://api.github.com";
        if (!s_https_url (api_url)) {
            fprintf (errors, "config: %s must be an https:// URL\n", name);
            problems++;
        }
        p->api_url = strdup (api_url);
    }
    return problems;
}

int
cm_config_load (cm_config_t *cfg, cm_svc_t svc, cm_config_get_fn *get, void *arg, FILE *errors)
{
    memset (cfg, 0, sizeof *cfg);
    cfg->service = svc;
    int problems = 0;
    for (size_t i = 0; i < ROW_COUNT; i++) {
        const row_t *row = &s_rows [i];
        if (!(row->applies & SVC (svc)))
            continue;
        char name [64], fallback [256], problem [512];
        s_row_name (row, svc, name, sizeof name);
        const char *value = get (name, arg);
        if (!value || !*value) {
            if (!row->dflt) {
                fprintf (errors, "config: %s is required (%s)\n", name, row->help);
                problems++;
                continue;
            }
            s_default (row, svc, fallback, sizeof fallback);
            value = fallback;
        }
        else
        if (strlen (value) > 4096) {
            fprintf (errors, "config: %s is longer than 4096 bytes\n", name);
            problems++;
            continue;
        }
        if (!*value && row->type != T_STR && row->type != T_SECRET_FILE && row->type != T_PEERS)
            continue;
        if (s_check (row, value, cfg, problem, sizeof problem)) {
            //  Secret rows name the file, never its content
            fprintf (errors, "config: %s: %s\n", name, problem);
            problems++;
        }
    }
    if (svc == CM_SVC_AUTH)
        problems += s_load_providers (cfg, get, arg, errors);
    return problems? -1: 0;
}

void
cm_config_clear (cm_config_t *cfg)
{
    for (size_t i = 0; i < ROW_COUNT; i++) {
        const row_t *row = &s_rows [i];
        if (row->type == T_INT || row->type == T_LEVEL)
            continue;
        char **slot = (char **) ((char *) cfg + row->offset);
        free (*slot);
        *slot = NULL;
        if (row->type == T_SECRET_FILE) {
            char **secret = (char **) ((char *) cfg + row->secret_offset);
            if (*secret) {
                //  Do not leave the password in freed heap memory
                memset (*secret, 0, strlen (*secret));
                free (*secret);
                *secret = NULL;
            }
        }
    }
    for (int i = 0; i < cfg->oidc_count; i++) {
        cm_oidc_provider_t *p = &cfg->oidc [i];
        if (p->client_secret) {
            memset (p->client_secret, 0, strlen (p->client_secret));
            free (p->client_secret);
        }
        free (p->issuer);
        free (p->client_id);
        free (p->client_secret_file);
        free (p->kind);
        free (p->scopes);
        free (p->api_url);
    }
    memset (cfg, 0, sizeof *cfg);
}

void
cm_config_print_help (cm_svc_t svc, FILE *out)
{
    fprintf (out, "%s reads these environment variables:\n", cm_svc_name (svc));
    for (size_t i = 0; i < ROW_COUNT; i++) {
        const row_t *row = &s_rows [i];
        if (!(row->applies & SVC (svc)))
            continue;
        char name [64], fallback [256];
        s_row_name (row, svc, name, sizeof name);
        if (row->dflt)
            s_default (row, svc, fallback, sizeof fallback);
        fprintf (out, "  %-28s %s (default: %s)\n", name, row->help,
                 row->dflt? (*fallback? fallback: "empty"): "required");
    }
    if (svc == CM_SVC_AUTH)
        fprintf (out, "  OIDC_<NAME>_ISSUER           a sign-in provider (up to %d): https issuer; beside it\n"
                      "                               OIDC_<NAME>_CLIENT_ID (required), OIDC_<NAME>_CLIENT_SECRET_FILE,\n"
                      "                               OIDC_<NAME>_SCOPES, OIDC_<NAME>_KIND (oidc or github),\n"
                      "                               OIDC_<NAME>_API_URL (github: default https://api.github.com)\n",
                 CM_OIDC_PROVIDERS_MAX);
}
