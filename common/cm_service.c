/*  cm_service - the shared main of backend services */
#include <signal.h>
#include <stdlib.h>
#include "cm_service.h"
#include "cm_audit.h"
#include "cm_curve.h"
#include "cm_log.h"
#include "cm_zap.h"

//  How long start-up waits for PostgreSQL before giving up (the
//  orchestrator restarts us; the log says why)
#define DB_WAIT_MS 30000

static const char *
s_getenv (const char *name, void *arg)
{
    (void) arg;
    return getenv (name);
}

//  True once SIGINT or SIGTERM is waiting (they are blocked, so pending)
static bool
s_stop_requested (void)
{
    sigset_t pending;
    sigpending (&pending);
    return sigismember (&pending, SIGINT) || sigismember (&pending, SIGTERM);
}

static int
s_migrate (const cm_service_t *service, const cm_config_t *cfg)
{
    PGconn *db = cm_db_connect_wait (cfg, DB_WAIT_MS, s_stop_requested);
    if (!db) {
        cm_error ("PostgreSQL not reachable within %d ms", DB_WAIT_MS);
        return -1;
    }
    const cm_migrations_t *sets [] = { &common_migrations, service->migrations };
    int rc = cm_db_migrate (db, sets, service->migrations? 2: 1);
    //  Every start is an audit event; audit itself stores its own directly
    if (rc == 0 && service->service != CM_SVC_AUDIT)
        rc = cm_audit_record (db, NULL, "service.started", "success", NULL, NULL);
    if (rc == 0 && service->on_start)
        rc = service->on_start (cfg, db);
    PQfinish (db);
    return rc;
}

void *
cm_worker_db_new (const cm_config_t *cfg, zcert_t *cert, int index)
{
    (void) cert;
    (void) index;
    cm_worker_db_t *self = (cm_worker_db_t *) zmalloc (sizeof (cm_worker_db_t));
    self->cfg = cfg;
    //  A failed connect is retried per request: a database restart must
    //  not need a service restart
    self->db = cm_db_connect (cfg);
    return self;
}

void
cm_worker_db_destroy (void **state_p)
{
    cm_worker_db_t *self = (cm_worker_db_t *) *state_p;
    if (self) {
        PQfinish (self->db);
        free (self);
        *state_p = NULL;
    }
}

typedef struct {
    const cm_service_t *service;        //  borrowed
    const cm_config_t *cfg;             //  borrowed
    zcert_t *cert;                      //  borrowed
} ticker_args_t;

//  The tick thread: its own state, a tick now and then every interval,
//  until $TERM. Signals 0 once started, then 0, or 1 when its state
//  could not be made (the service then does not start).
static void
s_ticker (zsock_t *pipe, void *arg)
{
    const ticker_args_t *args = (const ticker_args_t *) arg;
    const cm_service_t *service = args->service;
    zsock_signal (pipe, 0);
    void *state = service->worker_new? service->worker_new (args->cfg, args->cert, -1): NULL;
    if (service->worker_new && !state) {
        zsock_signal (pipe, 1);
        return;
    }
    zsock_signal (pipe, 0);
    while (true) {
        service->tick (state);
        zmq_pollitem_t item = { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) service->tick_interval_ms) != 0)
            break;                      //  $TERM (or the pipe failed)
    }
    if (state)
        service->worker_destroy (&state);
}

int
cm_service_main (const cm_service_t *service, int argc, char **argv)
{
    const char *name = cm_svc_name (service->service);
    if (argc > 1 && (streq (argv [1], "--help") || streq (argv [1], "-h"))) {
        cm_config_print_help (service->service, stdout);
        return 0;
    }
    //  Signals are taken synchronously by this thread only; every thread
    //  started from here on inherits the blocked mask
    sigset_t stop_signals;
    sigemptyset (&stop_signals);
    sigaddset (&stop_signals, SIGINT);
    sigaddset (&stop_signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &stop_signals, NULL);
    signal (SIGPIPE, SIG_IGN);

    cm_config_t cfg;
    if (cm_config_load (&cfg, service->service, s_getenv, NULL, stderr)) {
        fprintf (stderr, "%s: invalid configuration, not starting (see --help)\n", name);
        cm_config_clear (&cfg);
        return 2;
    }
    cm_log_init (name, (cm_log_level_t) cfg.log_level);
    zsys_handler_set (NULL);
    zsys_init ();

    int exit_code = 1;
    zactor_t *zap = NULL, *shipper = NULL, *server = NULL, *ticker = NULL;
    ticker_args_t ticker_args = { service, &cfg, NULL };
    cm_allowlist_t *allow = NULL;
    zcert_t *cert = cm_curve_load_own (cfg.keys_dir, name);
    if (!cert) {
        cm_error ("cannot load %s/%s.cert_secret", cfg.keys_dir, name);
        goto cleanup;
    }
    allow = cm_allowlist_new ();
    char problem [256];
    if (cm_allowlist_load (allow, cfg.keys_dir, cfg.allowed_peers, problem, sizeof problem)) {
        cm_error ("%s", problem);
        goto cleanup;
    }
    zap = cm_zap_start (&allow, name);
    if (!zap) {
        cm_error ("the ZAP handler did not start: refusing to serve");
        goto cleanup;
    }
    if (s_migrate (service, &cfg))
        goto cleanup;
    if (service->service != CM_SVC_AUDIT && !(shipper = cm_audit_shipper_new (&cfg, cert)))
        goto cleanup;

    cm_server_spec_t spec = {
        .service = service->service, .cfg = &cfg, .cert = cert,
        .routes = service->routes, .route_count = service->route_count,
        .worker_new = service->worker_new, .worker_destroy = service->worker_destroy
    };
    server = cm_server_new (&spec);
    if (!server)
        goto cleanup;
    if (service->tick) {
        ticker_args.cert = cert;
        ticker = zactor_new (s_ticker, &ticker_args);
        if (!ticker || zsock_wait (ticker) != 0) {
            cm_error ("the periodic task did not start");
            goto cleanup;
        }
    }
    cm_log_fields (CM_LOG_INFO, "ready", "endpoint", cfg.bind, "peers", cfg.allowed_peers, (const char *) NULL);

    exit_code = 0;
    struct timespec tick = { 0, 200 * 1000 * 1000 };
    while (true) {
        int signo = sigtimedwait (&stop_signals, NULL, &tick);
        if (signo == SIGINT || signo == SIGTERM) {
            cm_info ("signal %d: stopping", signo);
            break;
        }
        //  Anything from the ZAP actor means it stopped: stop serving now
        zmq_pollitem_t item = { zsock_resolve (zap), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 0) > 0) {
            cm_error ("the ZAP handler stopped: refusing to serve unauthenticated peers");
            exit_code = 1;
            break;
        }
    }

cleanup:
    zactor_destroy (&ticker);           //  after the tick in hand
    zactor_destroy (&server);           //  drains in-flight requests
    zactor_destroy (&shipper);
    zactor_destroy (&zap);
    cm_allowlist_destroy (&allow);
    zcert_destroy (&cert);
    cm_config_clear (&cfg);
    zsys_shutdown ();
    return exit_code;
}
