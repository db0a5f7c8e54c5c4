/*  cm_config - every setting of every service, as one table of rows

    Each row names its environment variable, type, default, bounds, which
    services read it and whether it is secret. Loading validates every row
    and reports every problem (naming the variable) before the service
    refuses to start. Code reads cfg->field, never getenv.
*/
#ifndef CM_CONFIG_H_INCLUDED
#define CM_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "cm_svc.h"

//  Sign-in providers, found by scanning the environment for OIDC_<NAME>_ISSUER
#define CM_OIDC_PROVIDERS_MAX   8           //  more is a configuration error
#define CM_OIDC_NAME_MAX        32          //  characters of <NAME>

typedef struct {
    char name [CM_OIDC_NAME_MAX + 1];       //  lower-case, as in the API's paths
    char *issuer;                           //  OIDC_<NAME>_ISSUER (https://)
    char *client_id;                        //  OIDC_<NAME>_CLIENT_ID
    char *client_secret_file;               //  OIDC_<NAME>_CLIENT_SECRET_FILE ("" = public client)
    char *client_secret;                    //  read from that file; secret; NULL when none
    char *scopes;                           //  OIDC_<NAME>_SCOPES (default by kind)
    char *kind;                             //  OIDC_<NAME>_KIND: "oidc" or "github"
    char *api_url;                          //  OIDC_<NAME>_API_URL (github kind: user API base)
} cm_oidc_provider_t;

typedef struct {
    cm_svc_t service;                       //  which service loaded this
    int log_level;                          //  LOG_LEVEL
    char *keys_dir;                         //  KEYS_DIR
    char *bind;                             //  <SVC>_BIND, backends only
    char *endpoints [CM_SVC_COUNT];         //  <SVC>_ENDPOINTS, per backend
    char *allowed_peers;                    //  ALLOWED_PEERS (ZAP allowlist)
    char *identity_peers;                   //  IDENTITY_PEERS
    int64_t workers;                        //  SERVICE_WORKERS
    int64_t slow_workers;                   //  SERVICE_SLOW_WORKERS
    int64_t request_timeout_ms;             //  REQUEST_TIMEOUT_MS
    int64_t drain_timeout_ms;               //  DRAIN_TIMEOUT_MS
    int64_t max_queue;                      //  SERVICE_MAX_QUEUE
    char *database_url;                     //  DATABASE_URL
    char *database_password;                //  read from DATABASE_PASSWORD_FILE; secret
    char *database_password_file;           //  DATABASE_PASSWORD_FILE
    int64_t database_timeout_ms;            //  DATABASE_CONNECT_TIMEOUT_MS
    int64_t database_prepared;              //  DATABASE_PREPARED_STATEMENTS, 0 or 1
    char *redis_url;                        //  REDIS_URL
    char *redis_password_file;              //  REDIS_PASSWORD_FILE
    char *redis_password;                   //  read from REDIS_PASSWORD_FILE; secret
    char *gateway_bind_address;             //  GATEWAY_BIND_ADDRESS
    int64_t gateway_http_port;              //  GATEWAY_HTTP_PORT
    int64_t gateway_https_port;             //  GATEWAY_HTTPS_PORT
    int64_t gateway_metrics_port;           //  GATEWAY_METRICS_PORT
    int64_t gateway_threads;                //  GATEWAY_THREADS
    int64_t backend_timeout_ms;             //  BACKEND_TIMEOUT_MS
    int64_t ready_timeout_ms;               //  READY_TIMEOUT_MS
    int64_t audit_batch;                    //  AUDIT_BATCH
    char *jwt_issuer;                       //  JWT_ISSUER
    char *jwt_audience;                     //  JWT_AUDIENCE
    int64_t access_token_ttl_s;             //  ACCESS_TOKEN_TTL
    char *admin_emails;                     //  ADMIN_EMAILS
    int64_t session_idle_timeout_s;         //  SESSION_IDLE_TIMEOUT
    int64_t session_absolute_timeout_s;     //  SESSION_ABSOLUTE_TIMEOUT
    int64_t reauth_max_age_s;               //  REAUTH_MAX_AGE
    char *auth_data_key_file;               //  AUTH_DATA_KEY_FILE
    char *totp_issuer;                      //  TOTP_ISSUER
    char *smtp_url;                         //  SMTP_URL
    char *smtp_user;                        //  SMTP_USER
    char *smtp_password_file;               //  SMTP_PASSWORD_FILE
    char *mail_from;                        //  MAIL_FROM
    char *mail_outbox_dir;                  //  MAIL_OUTBOX_DIR
    char *app_base_url;                     //  APP_BASE_URL
    int64_t mail_per_hour;                  //  RATE_LIMIT_MAIL_PER_HOUR_ACCOUNT
    int64_t login_failures_per_ip;          //  RATE_LIMIT_LOGIN_FAILURES_PER_IP
    char *breached_range_url;               //  BREACHED_PASSWORD_RANGE_URL
    char *public_base_url;                  //  PUBLIC_BASE_URL
    int64_t evidence_max_bytes;             //  EVIDENCE_MAX_BYTES
    char *evidence_dir;                     //  EVIDENCE_DIR
    char *evidence_master_key_file;         //  EVIDENCE_MASTER_KEY_FILE
    char *upload_url_key_file;              //  UPLOAD_URL_KEY_FILE
    int64_t upload_url_ttl_s;               //  UPLOAD_URL_TTL
    char *gateway_env;                      //  GATEWAY_ENV
    char *tls_cert_file;                    //  TLS_CERT_FILE
    char *tls_key_file;                     //  TLS_KEY_FILE
    char *trusted_proxies;                  //  TRUSTED_PROXIES
    char *cors_allowed_origins;             //  CORS_ALLOWED_ORIGINS
    int64_t rl_default_per_min;             //  RATE_LIMIT_DEFAULT_PER_MIN
    int64_t rl_mission_create_per_hour;     //  RATE_LIMIT_MISSION_CREATE_PER_HOUR
    int64_t rl_token_per_min_ip;            //  RATE_LIMIT_TOKEN_PER_MIN_IP
    int64_t rl_token_per_min_account;       //  RATE_LIMIT_TOKEN_PER_MIN_ACCOUNT
    int64_t rl_register_per_hour_ip;        //  RATE_LIMIT_REGISTER_PER_HOUR_IP
    char *audit_master_key_file;            //  AUDIT_MASTER_KEY_FILE
    char *audit_checkpoint_key_file;        //  AUDIT_CHECKPOINT_KEY_FILE
    char *audit_checkpoint_dir;             //  AUDIT_CHECKPOINT_DIR
    int64_t audit_checkpoint_interval_s;    //  AUDIT_CHECKPOINT_INTERVAL_S
    int64_t alert_window_s;                 //  ALERT_WINDOW_S
    int64_t alert_denied_per_ip;            //  ALERT_DENIED_PER_IP
    int64_t alert_denied_per_account;       //  ALERT_DENIED_PER_ACCOUNT
    int64_t alert_login_failures_per_ip;    //  ALERT_LOGIN_FAILURES_PER_IP
    int64_t alert_login_failures_per_account;   //  ALERT_LOGIN_FAILURES_PER_ACCOUNT
    char *alert_webhook_url;                //  ALERT_WEBHOOK_URL
    int64_t alert_webhook_timeout_ms;       //  ALERT_WEBHOOK_TIMEOUT_MS
    char *gateway_audit_spool_dir;          //  GATEWAY_AUDIT_SPOOL_DIR
    int64_t gateway_audit_spool_max_bytes;  //  GATEWAY_AUDIT_SPOOL_MAX_BYTES
    int64_t client_resolve_interval_ms;     //  CLIENT_RESOLVE_INTERVAL_MS
    char *oauth_allowed_redirects;          //  OAUTH_ALLOWED_REDIRECTS
    char *oidc_ca_file;                     //  OIDC_CA_FILE
    cm_oidc_provider_t oidc [CM_OIDC_PROVIDERS_MAX];    //  auth only; owned strings
    int oidc_count;                         //  entries of oidc in use
} cm_config_t;

//  Where a value comes from: getenv in services, a table in tests
typedef const char *(cm_config_get_fn) (const char *name, void *arg);

//  ----------------------------------------------------------------------
//  Load and validate the rows that apply to svc. Every problem is written
//  to errors (one line each, naming the variable). Returns 0, or -1 with
//  cfg holding whatever was read (free it with cm_config_clear). For auth,
//  the sign-in providers too: their names come from the process
//  environment (OIDC_<NAME>_ISSUER), their settings through get.
int
    cm_config_load (cm_config_t *cfg, cm_svc_t svc, cm_config_get_fn *get, void *arg,
                    FILE *errors);

//  Free the strings of a loaded config and zero it
void
    cm_config_clear (cm_config_t *cfg);

//  Print the rows that apply to svc (variable, default, meaning), for --help
void
    cm_config_print_help (cm_svc_t svc, FILE *out);

//  ----------------------------------------------------------------------
//  Split a comma-separated list into at most max trimmed items written to
//  items (each a fresh string). Returns the count, -1 when over max.
int
    cm_config_split (const char *list, char **items, int max);

#endif
