/*  cm_curve - certificate loading and socket set-up */
#include "cm_curve.h"
#include "cm_config.h"
#include "cm_log.h"
#include "../proto/proto_envelope.h"

zcert_t *
cm_curve_load_own (const char *keys_dir, const char *name)
{
    char path [1024];
    //  zcert_load reads <path>_secret when it exists, giving both keys
    snprintf (path, sizeof path, "%s/%s.cert", keys_dir, name);
    zcert_t *cert = zcert_load (path);
    static const uint8_t zero [32] = { 0 };
    if (cert && memcmp (zcert_secret_key (cert), zero, 32) == 0)
        zcert_destroy (&cert);              //  public half only: unusable
    return cert;
}

int
cm_curve_load_public (const char *keys_dir, const char *name, char *z85)
{
    char path [1024];
    snprintf (path, sizeof path, "%s/%s.cert", keys_dir, name);
    zcert_t *cert = zcert_load (path);
    if (!cert)
        return -1;
    snprintf (z85, 41, "%s", zcert_public_txt (cert));
    zcert_destroy (&cert);
    return 0;
}

//  Options both shapes share
static void
s_common_options (zsock_t *sock)
{
    zsock_set_maxmsgsize (sock, PROTO_MAX_FRAME + 4096);
    zsock_set_linger (sock, 0);
    //  Heartbeats notice a peer that vanished without closing TCP
    zsock_set_heartbeat_ivl (sock, 2000);
    zsock_set_heartbeat_timeout (sock, 6000);
    zsock_set_handshake_ivl (sock, 5000);
    zsock_set_sndhwm (sock, 10000);
    zsock_set_rcvhwm (sock, 10000);
}

zsock_t *
cm_curve_server (zcert_t *own, const char *domain, const char *endpoint)
{
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    if (!sock)
        return NULL;
    s_common_options (sock);
    zcert_apply (own, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, domain);
    //  Where libzmq supports it, refuse outright when no ZAP handler
    //  answers (the handler must have started before this bind anyway)
    zmq_setsockopt (zsock_resolve (sock), 93 /* ZMQ_ZAP_ENFORCE_DOMAIN */,
                    &(int) { 1 }, sizeof (int));
    zsock_set_router_mandatory (sock, 0);
    if (zsock_bind (sock, "%s", endpoint) < 0) {
        cm_error ("cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
    }
    return sock;
}

zsock_t *
cm_curve_client (zcert_t *own, const char *server_public_z85, const char *endpoints)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    if (!sock)
        return NULL;
    s_common_options (sock);
    zcert_apply (own, sock);
    zsock_set_curve_serverkey (sock, server_public_z85);
    zsock_set_immediate (sock, 1);
    zsock_set_reconnect_ivl (sock, 100);
    zsock_set_reconnect_ivl_max (sock, 2000);
    char *items [16];
    int count = cm_config_split (endpoints, items, 16);
    for (int i = 0; i < count; i++) {
        if (zsock_connect (sock, "%s", items [i]) != 0)
            cm_warn ("cannot connect to %s", items [i]);
        free (items [i]);
    }
    if (count <= 0)
        zsock_destroy (&sock);
    return sock;
}
