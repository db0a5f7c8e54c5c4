/*  zping - ask a service for a pong over its authenticated ZeroMQ link

    zping --service NAME [--as PEER | --anonymous] [--endpoint EP]
          [--keys-dir DIR] [--timeout MS] [--user UUID]

    --as PEER      present KEYS_DIR/PEER.cert_secret (default: gateway)
    --anonymous    present a fresh key that no service knows
    --user UUID    assert a user identity in the envelope
    Exit: 0 pong, 1 an error reply (its code is printed), 2 usage,
    3 no answer in time (a refused handshake looks like this).
    Operators use it to check links by hand; probes and tests use it too.
*/
#include <czmq.h>
#include "cm_client.h"
#include "cm_log.h"

static int
s_usage (void)
{
    fprintf (stderr, "usage: zping --service NAME [--as PEER | --anonymous] [--endpoint EP]\n"
                     "             [--keys-dir DIR] [--timeout MS] [--user UUID]\n");
    return 2;
}

int
main (int argc, char **argv)
{
    const char *service = NULL, *peer = "gateway", *endpoint = NULL, *user = NULL;
    const char *keys_dir = getenv ("KEYS_DIR")? getenv ("KEYS_DIR"): ".run/keys";
    bool anonymous = false;
    long timeout = 2000;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv [i];
        const char *value = i + 1 < argc? argv [i + 1]: NULL;
        if (streq (arg, "--anonymous"))
            anonymous = true;
        else
        if (!value)
            return s_usage ();
        else {
            if (streq (arg, "--service"))        service = value;
            else if (streq (arg, "--as"))        peer = value;
            else if (streq (arg, "--endpoint"))  endpoint = value;
            else if (streq (arg, "--keys-dir"))  keys_dir = value;
            else if (streq (arg, "--user"))      user = value;
            else if (streq (arg, "--timeout"))   timeout = atol (value);
            else return s_usage ();
            i++;
        }
    }
    int target = cm_svc_lookup (service);
    if (target <= 0 || timeout <= 0 || timeout > 60000)
        return s_usage ();
    cm_log_init ("zping", CM_LOG_WARN);
    zsys_handler_set (NULL);
    zsys_init ();

    char default_endpoint [64];
    snprintf (default_endpoint, sizeof default_endpoint, "tcp://127.0.0.1:%d",
              cm_svc_default_port ((cm_svc_t) target));
    char path [1024];
    snprintf (path, sizeof path, "%s/%s.cert", keys_dir, peer);
    zcert_t *cert = anonymous? zcert_new (): zcert_load (path);
    if (!cert) {
        fprintf (stderr, "zping: cannot load %s_secret\n", path);
        return 2;
    }
    cm_client_t *client = cm_client_new (cert, keys_dir, (cm_svc_t) target,
                                         endpoint? endpoint: default_endpoint);
    int rc = 2;
    if (client) {
        cm_ctx_t ctx = { .deadline = zclock_mono () + timeout };
        cm_ctx_new_request_id (ctx.rid);
        if (user)
            snprintf (ctx.uid, sizeof ctx.uid, "%s", user);
        proto_ping_req_t req = { 0 };
        proto_ping_rep_t rep = { 0 };
        cm_reply_info_t info;
        cm_err_t status = cm_client_call (client, &ctx, PROTO_MSG_ping, &req, &rep, &info);
        if (status == CM_OK) {
            printf ("pong from %s (%s, up %lld s)\n", rep.service,
                    rep.instance? rep.instance: "?", (long long) rep.uptime_s);
            rc = 0;
        }
        else
        if (status == CM_UNAVAILABLE && !info.code [0])
            rc = 3;
        else {
            printf ("error %s: %s\n", info.code, info.message);
            rc = streq (info.code, "service_unavailable")? 3: 1;
        }
        proto_clear (&proto_ping_rep_desc, &rep);
    }
    cm_client_destroy (&client);
    zcert_destroy (&cert);
    zsys_shutdown ();
    return rc;
}
