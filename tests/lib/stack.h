/*  stack - what integration tests need from the running test stack

    tests/run.sh starts one stack per build under $RUN_DIR with test ports
    and exports its settings; these helpers read them and talk to it: HTTP
    to the gateway, ZeroMQ to backends, SQL as the superuser,
    scripts/stack.sh to stop and start services, and extra gateways of the
    same build with settings of their own.
*/
#ifndef TEST_STACK_H_INCLUDED
#define TEST_STACK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <libpq-fe.h>
#include "cm_client.h"

typedef struct {
    long status;                    //  HTTP status, 0 when no answer
    char body [16384];              //  first bytes of the body, NUL-terminated
    char headers [8192];            //  raw response headers
} stack_http_t;

//  An environment setting of the test stack (never NULL; aborts when unset)
const char *
    stack_env (const char *name);

//  GET/POST... path on the gateway; extra_header (NULL or newline-separated
//  headers) may set Content-Type, else a body is sent as JSON
void
    stack_http (const char *method, const char *path, const char *extra_header,
                const char *body, stack_http_t *out);

//  Like stack_http with a body of body_len bytes (any bytes) and target a
//  path or a full URL (https:// URLs trust the stack's $RUN_DIR/tls pair).
//  When data_p is not NULL the whole response body is returned there
//  (malloc'd, NUL-terminated, caller frees) with its length.
void
    stack_http_bytes (const char *method, const char *target, const char *extra_header,
                      const void *body, size_t body_len, stack_http_t *out,
                      char **data_p, size_t *len_p);

//  Like stack_http, to http://127.0.0.1:port (an extra gateway)
void
    stack_http_at (int port, const char *method, const char *path, const char *extra_header,
                   const char *body, stack_http_t *out);

//  The value of a response header (case-insensitive), copied into value
bool
    stack_http_header (const stack_http_t *res, const char *name, char *value, size_t size);

//  Run `scripts/stack.sh ARGS`; returns its exit status
int
    stack_run (const char *args);

//  A client of target presenting KEYS_DIR/<as>.cert_secret, or a fresh
//  unknown key when as is NULL. *cert_p receives the cert to destroy.
cm_client_t *
    stack_client (const char *as, cm_svc_t target, zcert_t **cert_p);

//  Ping target with deadline; fills code when not NULL
cm_err_t
    stack_ping (cm_client_t *client, int timeout_ms, const char *uid, char *code, size_t size);

//  A superuser connection to the stack's PostgreSQL
PGconn *
    stack_db (void);

//  One integer from a query run as superuser (-1 on error)
long
    stack_db_long (const char *sql);

//  The stack's port setting name (GATEWAY_HTTP_PORT...) moved by delta:
//  extra processes take ports beside the stack's, so TEST_PORT_OFFSET
//  moves them too
//  The pid of a stack process (a service, or a replica id such as
//  "missions-3") from $RUN_DIR/pids/<id>.pid; -1 when there is none
int
    stack_pid_of (const char *id);

int
    stack_port (const char *name, int delta);

//  Start an extra gateway of the stack's build against the stack's backends
//  and Redis: the environment scripts/stack.sh gives the stack's gateway,
//  then overrides ("NAME=value" lines; "NAME=" empties a setting), on its
//  own ports, logging to $RUN_DIR/logs/gateway-<http_port>.log. Waits until
//  /healthz answers 200 on http_port. Returns its pid, or -1 when it exited
//  first (its exit status into *exit_code unless NULL, 128 + signal when
//  killed), did not answer within 20 s (it is then killed), or something
//  already answered on http_port (*exit_code -1). It gets SIGTERM if the
//  calling process dies first.
pid_t
    stack_gateway_start (const char *overrides, int http_port, int https_port, int metrics_port,
                         int *exit_code);

//  SIGTERM to a gateway from stack_gateway_start, then wait for it (SIGKILL
//  after 20 s). Returns its exit status, 128 + signal when killed by one.
int
    stack_gateway_stop (pid_t pid);

//  Poll until GET path answers want, for up to timeout_ms; returns the last status
long
    stack_wait_status (const char *path, long want, int timeout_ms);

#endif
