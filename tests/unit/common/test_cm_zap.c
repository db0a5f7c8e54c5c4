/*  test_cm_zap - the allowlist admits exactly the listed keys, in its domain */
#include <criterion/criterion.h>
#include <czmq.h>
#include "cm_zap.h"

Test (cm_zap, admits_listed_keys_only)
{
    zcert_t *gateway = zcert_new (), *privacy = zcert_new (), *stranger = zcert_new ();
    cm_allowlist_t *allow = cm_allowlist_new ();
    cr_assert_eq (cm_allowlist_add (allow, "gateway", zcert_public_txt (gateway)), 0);
    cr_assert_eq (cm_allowlist_add (allow, "privacy", zcert_public_txt (privacy)), 0);

    const char *peer = cm_allowlist_decide (allow, "missions", "missions", "CURVE",
                                            zcert_public_key (gateway), 32);
    cr_assert_str_eq (peer, "gateway");
    peer = cm_allowlist_decide (allow, "missions", "missions", "CURVE", zcert_public_key (privacy), 32);
    cr_assert_str_eq (peer, "privacy");
    cr_assert_null (cm_allowlist_decide (allow, "missions", "missions", "CURVE",
                                         zcert_public_key (stranger), 32));
    //  Right key, wrong domain or mechanism, short key: all refused
    cr_assert_null (cm_allowlist_decide (allow, "missions", "auth", "CURVE", zcert_public_key (gateway), 32));
    cr_assert_null (cm_allowlist_decide (allow, "missions", "", "CURVE", zcert_public_key (gateway), 32));
    cr_assert_null (cm_allowlist_decide (allow, "missions", "missions", "NULL", zcert_public_key (gateway), 32));
    cr_assert_null (cm_allowlist_decide (allow, "missions", "missions", "PLAIN", zcert_public_key (gateway), 32));
    cr_assert_null (cm_allowlist_decide (allow, "missions", "missions", "CURVE", zcert_public_key (gateway), 31));
    cr_assert_null (cm_allowlist_decide (allow, "missions", "missions", "CURVE", NULL, 0));

    cm_allowlist_destroy (&allow);
    cr_assert_null (allow);
    zcert_destroy (&gateway);
    zcert_destroy (&privacy);
    zcert_destroy (&stranger);
}

Test (cm_zap, refuses_bad_entries)
{
    zcert_t *cert = zcert_new ();
    cm_allowlist_t *allow = cm_allowlist_new ();
    cr_assert_eq (cm_allowlist_add (allow, "gateway", "tooshort"), -1);
    cr_assert_eq (cm_allowlist_add (allow, "", zcert_public_txt (cert)), -1);
    cr_assert_eq (cm_allowlist_add (allow, "gateway", zcert_public_txt (cert)), 0);
    cr_assert_eq (cm_allowlist_add (allow, "gateway", zcert_public_txt (cert)), -1, "duplicate name");
    cm_allowlist_destroy (&allow);
    zcert_destroy (&cert);
}

//  End to end in one process: a real CURVE ROUTER behind the handler
Test (cm_zap, handshake_with_real_sockets, .timeout = 20)
{
    zsys_handler_set (NULL);
    zcert_t *server = zcert_new (), *friend = zcert_new (), *stranger = zcert_new ();
    cm_allowlist_t *allow = cm_allowlist_new ();
    cm_allowlist_add (allow, "gateway", zcert_public_txt (friend));
    zactor_t *zap = cm_zap_start (&allow, "missions");
    cr_assert_not_null (zap);
    cr_assert_null (allow, "the handler took the allowlist");

    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zcert_apply (server, router);
    zsock_set_curve_server (router, 1);
    zsock_set_zap_domain (router, "missions");
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    cr_assert_gt (port, 0);

    zsock_t *clients [2];
    zcert_t *certs [2] = { friend, stranger };
    for (int i = 0; i < 2; i++) {
        clients [i] = zsock_new (ZMQ_DEALER);
        zcert_apply (certs [i], clients [i]);
        zsock_set_curve_serverkey (clients [i], zcert_public_txt (server));
        zsock_connect (clients [i], "tcp://127.0.0.1:%d", port);
        zstr_send (clients [i], i == 0? "friend": "stranger");
    }
    zsock_set_rcvtimeo (router, 1500);
    zmsg_t *msg = zmsg_recv (router);
    cr_assert_not_null (msg, "the allowed client got through");
    zframe_t *routing = zmsg_pop (msg);
    zframe_t *body = zmsg_pop (msg);
    cr_assert (zframe_streq (body, "friend"));
    cr_assert_str_eq (zframe_meta (body, "User-Id"), "gateway");
    zframe_destroy (&routing);
    zframe_destroy (&body);
    zmsg_destroy (&msg);
    //  The stranger's message never arrives
    msg = zmsg_recv (router);
    cr_assert_null (msg, "an unlisted key got through");

    for (int i = 0; i < 2; i++)
        zsock_destroy (&clients [i]);
    zsock_destroy (&router);
    zactor_destroy (&zap);
    zcert_destroy (&server);
    zcert_destroy (&friend);
    zcert_destroy (&stranger);
}
