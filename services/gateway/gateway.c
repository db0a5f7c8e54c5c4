/*  gateway - the only public process: HTTP in, verified requests out over CURVE */
#include <signal.h>
#include <czmq.h>
#include "gateway_audit.h"
#include "gateway_http.h"
#include "../../common/cm_curve.h"
#include "../../common/cm_log.h"

//  ZeroMQ sockets beyond the HTTP threads' clients: the audit shipper, the
//  metrics server, czmq's own
#define SOCKETS_SPARE   256

static const char *
s_getenv (const char *name, void *arg)
{
    (void) arg;
    return getenv (name);
}

int
main (int argc, char **argv)
{
    if (argc > 1 && (streq (argv [1], "--help") || streq (argv [1], "-h"))) {
        cm_config_print_help (CM_SVC_GATEWAY, stdout);
        return 0;
    }
    //  Signals are taken here only; CivetWeb and ZeroMQ threads inherit the mask
    sigset_t stop_signals;
    sigemptyset (&stop_signals);
    sigaddset (&stop_signals, SIGINT);
    sigaddset (&stop_signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &stop_signals, NULL);
    signal (SIGPIPE, SIG_IGN);

    cm_config_t cfg;
    if (cm_config_load (&cfg, CM_SVC_GATEWAY, s_getenv, NULL, stderr)) {
        fprintf (stderr, "gateway: invalid configuration, not starting (see --help)\n");
        cm_config_clear (&cfg);
        return 2;
    }
    cm_log_init ("gateway", (cm_log_level_t) cfg.log_level);
    zsys_handler_set (NULL);
    //  Every HTTP thread may hold a client of each backend: ZeroMQ's default
    //  ceiling (1024 sockets) is below what GATEWAY_THREADS allows, and a
    //  socket refused past it aborts in czmq rather than failing a request
    zsys_set_max_sockets ((size_t) cfg.gateway_threads * (CM_SVC_COUNT - 1) + SOCKETS_SPARE);
    zsys_init ();

    int exit_code = 1;
    gateway_http_t *http = NULL;
    zactor_t *audit = NULL;
    zcert_t *cert = cm_curve_load_own (cfg.keys_dir, "gateway");
    if (!cert) {
        cm_error ("cannot load %s/gateway.cert_secret", cfg.keys_dir);
        goto cleanup;
    }
    audit = gateway_audit_start (&cfg, cert);
    if (!audit)
        goto cleanup;
    http = gateway_http_new (&cfg, cert);
    if (!http)
        goto cleanup;
    char port [16];
    snprintf (port, sizeof port, "%lld", (long long) cfg.gateway_http_port);
    cm_log_fields (CM_LOG_INFO, "ready", "address", cfg.gateway_bind_address, "port", port, (const char *) NULL);

    int signo = sigwaitinfo (&stop_signals, NULL);
    cm_info ("signal %d: stopping", signo);
    exit_code = 0;

cleanup:
    gateway_http_destroy (&http);       //  finishes in-flight requests
    zactor_destroy (&audit);
    zcert_destroy (&cert);
    cm_config_clear (&cfg);
    zsys_shutdown ();
    return exit_code;
}
