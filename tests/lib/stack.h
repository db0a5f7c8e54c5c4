/*  stack - what integration tests need from the running test stack

    tests/run.sh starts one stack per build under $RUN_DIR with test ports
    and exports its settings; these helpers read them and talk to it: HTTP
    to the gateway, ZeroMQ to backends, SQL as the superuser, and
    scripts/stack.sh to stop and start services.
*/
#ifndef TEST_STACK_H_INCLUDED
#define TEST_STACK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
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
//  path or a full URL. When data_p is not NULL the whole response body is
//  returned there (malloc'd, NUL-terminated, caller frees) with its length.
void
    stack_http_bytes (const char *method, const char *target, const char *extra_header,
                      const void *body, size_t body_len, stack_http_t *out,
                      char **data_p, size_t *len_p);

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

//  Poll until GET path answers want, for up to timeout_ms; returns the last status
long
    stack_wait_status (const char *path, long want, int timeout_ms);

#endif
