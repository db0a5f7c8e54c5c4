/*  test_cm_client - replicas behind host names: every address, followed as they change

    Real CURVE sockets on loopback addresses (127.0.0.2, 127.0.0.3, ...: all
    of 127/8 is local on Linux) stand for the pods behind a headless
    Service; a stub resolver plays DNS, so each test decides what a name
    resolves to and when. One test uses the system resolver on "localhost".
*/
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <czmq.h>
#include <stdatomic.h>
#include "cm_client.h"
#include "cm_server.h"
#include "cm_zap.h"
#include "proto_envelope.h"
#include "tmpdir.h"

#define NAME    "replicas.test"

static zcert_t *s_server_cert;          //  every test server's keypair
static zcert_t *s_client_cert;          //  the client's
static char s_keys [64];                //  KEYS_DIR with missions.cert


//  --------------------------------------------------------------------------
//  A replica: a CURVE ROUTER on one endpoint answering ping with its label
//  as the instance, or a mute one that takes requests and never answers.
//  "COUNT" on its pipe answers the number of requests it has seen.

typedef struct {
    char endpoint [64];
    char label [16];
    bool mute;
} replica_args_t;

static void
s_answer (zsock_t *router, zframe_t *routing, zframe_t *frame, const char *label)
{
    msgpack_unpacked upk;
    msgpack_unpacked_init (&upk);
    proto_envelope_t req;
    proto_error_t err;
    if (proto_envelope_decode (zframe_data (frame), zframe_size (frame), &upk, &req, &err) == CM_OK) {
        proto_envelope_t env = { 0 };
        env.v = PROTO_VERSION;
        env.has_v = true;
        env.type = req.type;
        env.cid = req.cid;
        env.has_cid = true;
        env.rid = req.rid;
        env.status = 200;
        env.has_status = true;
        env.code = (char *) cm_err_code (CM_OK);
        proto_ping_rep_t rep = { 0 };
        rep.service = (char *) "missions";
        rep.instance = (char *) label;
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        if (proto_envelope_encode (&env, &proto_ping_rep_desc, &rep, &buf, &err) == 0) {
            zframe_send (&routing, router, ZFRAME_MORE | ZFRAME_REUSE);
            zmq_send (zsock_resolve (router), buf.data, buf.size, 0);
        }
        msgpack_sbuffer_destroy (&buf);
        proto_clear (&proto_envelope_desc, &req);
    }
    msgpack_unpacked_destroy (&upk);
}

static void
s_replica (zsock_t *pipe, void *arg)
{
    replica_args_t *args = (replica_args_t *) arg;
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zcert_apply (s_server_cert, router);
    zsock_set_curve_server (router, 1);
    zsock_set_ipv6 (router, 1);
    zsock_set_linger (router, 0);
    int rc = zsock_bind (router, "%s", args->endpoint);
    zsock_signal (pipe, 0);
    zsock_send (pipe, "i", rc < 0? -1: 0);
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    int64_t seen = 0;
    while (rc >= 0) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool stop = !command || streq (command, "$TERM");
            if (command && streq (command, "COUNT"))
                zsock_send (pipe, "8", (uint64_t) seen);
            free (command);
            if (stop)
                break;
        }
        else
        if (which == router) {
            zframe_t *routing = zframe_recv (router);
            zframe_t *frame = routing && zsock_rcvmore (router)? zframe_recv (router): NULL;
            if (frame) {
                seen++;
                if (!args->mute)
                    s_answer (router, routing, frame, args->label);
            }
            zframe_destroy (&frame);
            zframe_destroy (&routing);
        }
        else
            break;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
    free (args);
}

//  A replica on address:port labelled label; NULL when it cannot bind
static zactor_t *
s_replica_start (const char *address, int port, const char *label, bool mute)
{
    replica_args_t *args = (replica_args_t *) zmalloc (sizeof (replica_args_t));
    snprintf (args->endpoint, sizeof args->endpoint,
              strchr (address, ':')? "tcp://[%s]:%d": "tcp://%s:%d", address, port);
    snprintf (args->label, sizeof args->label, "%s", label);
    args->mute = mute;
    zactor_t *replica = zactor_new (s_replica, args);
    int bound = -1;
    zsock_recv (replica, "i", &bound);
    if (bound != 0)
        zactor_destroy (&replica);
    return replica;
}

static int64_t
s_replica_count (zactor_t *replica)
{
    zstr_send (replica, "COUNT");
    uint64_t count = 0;
    zsock_recv (replica, "8", &count);
    return (int64_t) count;
}

//  A port free on address (and so, almost surely, on the other loopback
//  addresses); a plain socket, closed at once, unlike a ZeroMQ unbind
static int
s_free_port_on (const char *address)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    cr_assert_geq (fd, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    cr_assert_eq (inet_pton (AF_INET, address, &sa.sin_addr), 1);
    socklen_t len = sizeof sa;
    cr_assert_eq (bind (fd, (struct sockaddr *) &sa, len), 0);
    cr_assert_eq (getsockname (fd, (struct sockaddr *) &sa, &len), 0);
    close (fd);
    return ntohs (sa.sin_port);
}

static int
s_free_port (void)
{
    return s_free_port_on ("127.0.0.2");
}


//  --------------------------------------------------------------------------
//  The stub resolver: NAME resolves to s_answer_text (comma-separated
//  addresses; "-" is a temporary failure) after s_delay_ms; any other
//  name has no address.

static pthread_mutex_t s_stub_lock = PTHREAD_MUTEX_INITIALIZER;
static char s_answer_text [256];
static int s_delay_ms;
static int s_lookups;

static void
s_stub_set (const char *answer, int delay_ms)
{
    pthread_mutex_lock (&s_stub_lock);
    snprintf (s_answer_text, sizeof s_answer_text, "%s", answer);
    s_delay_ms = delay_ms;
    pthread_mutex_unlock (&s_stub_lock);
}

static int
s_stub_lookups (void)
{
    pthread_mutex_lock (&s_stub_lock);
    int lookups = s_lookups;
    pthread_mutex_unlock (&s_stub_lock);
    return lookups;
}

static int
s_stub (const char *host, char **addrs, int max)
{
    char answer [256];
    pthread_mutex_lock (&s_stub_lock);
    snprintf (answer, sizeof answer, "%s", s_answer_text);
    int delay_ms = s_delay_ms;
    s_lookups++;
    pthread_mutex_unlock (&s_stub_lock);
    if (delay_ms)
        zclock_sleep (delay_ms);
    if (!streq (host, NAME) && !streq (host, "localhost"))
        return 0;
    if (streq (answer, "-"))
        return -1;
    int count = 0;
    char *save = NULL;
    for (char *item = strtok_r (answer, ",", &save); item && count < max;
         item = strtok_r (NULL, ",", &save))
        addrs [count++] = strdup (item);
    return count;
}


//  --------------------------------------------------------------------------
//  Fixtures and calls

static void
s_setup (void)
{
    zsys_handler_set (NULL);
    s_server_cert = zcert_new ();
    s_client_cert = zcert_new ();
    snprintf (s_keys, sizeof s_keys, "/tmp/cm_client_XXXXXX");
    cr_assert_not_null (mkdtemp (s_keys));
    char path [128];
    snprintf (path, sizeof path, "%s/missions.cert", s_keys);
    cr_assert_eq (zcert_save_public (s_server_cert, path), 0);
    cm_client_set_resolver (s_stub);
}

static void
s_teardown (void)
{
    zcert_destroy (&s_server_cert);
    zcert_destroy (&s_client_cert);
    tmpdir_remove (s_keys);
}

TestSuite (cm_client, .init = s_setup, .fini = s_teardown, .timeout = 30);

static cm_client_t *
s_client (const char *endpoints)
{
    cm_client_t *client = cm_client_new (s_client_cert, s_keys, CM_SVC_MISSIONS, endpoints);
    cr_assert_not_null (client, "no client for %s", endpoints);
    return client;
}

//  Ping with a budget; the answering replica's label into label (or "")
static cm_err_t
s_ping (cm_client_t *client, int budget_ms, char *label, size_t size)
{
    cm_ctx_t ctx = { .deadline = zclock_mono () + budget_ms };
    snprintf (ctx.rid, sizeof ctx.rid, "test");
    proto_ping_req_t req = { 0 };
    proto_ping_rep_t rep = { 0 };
    cm_err_t status = cm_client_call (client, &ctx, PROTO_MSG_ping, &req, &rep, NULL);
    snprintf (label, size, "%s", status == CM_OK && rep.instance? rep.instance: "");
    proto_clear (&proto_ping_rep_desc, &rep);
    return status;
}

//  Calls until the client's endpoints read want, for up to timeout_ms
static bool
s_until_endpoints (cm_client_t *client, const char *want, int timeout_ms)
{
    char have [1024], label [16];
    int64_t until = zclock_mono () + timeout_ms;
    while (true) {
        cm_client_endpoints (client, have, sizeof have);
        if (streq (have, want))
            return true;
        if (zclock_mono () > until) {
            cr_log_error ("endpoints: '%s', wanted '%s'", have, want);
            return false;
        }
        s_ping (client, 50, label, sizeof label);
        zclock_sleep (20);
    }
}


//  --------------------------------------------------------------------------

Test (cm_client, literal_endpoints_are_never_looked_up)
{
    int port = s_free_port ();
    zactor_t *b = s_replica_start ("127.0.0.2", port, "b", false);
    cr_assert_not_null (b);
    char endpoints [128], have [256], label [16];
    snprintf (endpoints, sizeof endpoints, "tcp://127.0.0.2:%d, tcp://127.0.0.3:%d", port, port);
    cm_client_t *client = s_client (endpoints);
    cm_client_set_resolve_interval (client, 10);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq (s_ping (client, 1000, label, sizeof label), CM_OK);
        cr_assert_str_eq (label, "b");
        zclock_sleep (20);
    }
    cm_client_endpoints (client, have, sizeof have);
    snprintf (endpoints, sizeof endpoints, "tcp://127.0.0.2:%d,tcp://127.0.0.3:%d", port, port);
    cr_assert_str_eq (have, endpoints);
    cr_assert_eq (s_stub_lookups (), 0, "a literal address was looked up");
    cm_client_destroy (&client);
    zactor_destroy (&b);
}

Test (cm_client, a_name_stands_for_every_address)
{
    int port = s_free_port ();
    zactor_t *b = s_replica_start ("127.0.0.2", port, "b", false);
    zactor_t *c = s_replica_start ("127.0.0.3", port, "c", false);
    cr_assert (b && c);
    s_stub_set ("127.0.0.3,127.0.0.2,127.0.0.3", 0);
    char endpoints [128], want [256], have [256], label [16];
    snprintf (endpoints, sizeof endpoints, "tcp://" NAME ":%d", port);
    cm_client_t *client = s_client (endpoints);
    //  Sorted, once each, right from the start
    cm_client_endpoints (client, have, sizeof have);
    snprintf (want, sizeof want, "tcp://127.0.0.2:%d,tcp://127.0.0.3:%d", port, port);
    cr_assert_str_eq (have, want);
    //  Requests go to both (round robin over connected replicas)
    int seen_b = 0, seen_c = 0;
    for (int i = 0; i < 40; i++) {
        cr_assert_eq (s_ping (client, 1000, label, sizeof label), CM_OK);
        seen_b += streq (label, "b");
        seen_c += streq (label, "c");
    }
    cr_assert (seen_b > 0 && seen_c > 0, "b %d, c %d", seen_b, seen_c);
    //  Another client of the same name shares the answer: no new lookup
    int lookups = s_stub_lookups ();
    cm_client_t *other = s_client (endpoints);
    cr_assert_eq (s_stub_lookups (), lookups);
    cm_client_destroy (&other);
    cm_client_destroy (&client);
    zactor_destroy (&b);
    zactor_destroy (&c);
}

Test (cm_client, addresses_follow_the_answer)
{
    int port = s_free_port ();
    zactor_t *b = s_replica_start ("127.0.0.2", port, "b", false);
    zactor_t *c = s_replica_start ("127.0.0.3", port, "c", false);
    zactor_t *d = s_replica_start ("127.0.0.4", port, "d", false);
    cr_assert (b && c && d);
    s_stub_set ("127.0.0.2", 0);
    char endpoints [128], want [256], label [16];
    snprintf (endpoints, sizeof endpoints, "tcp://" NAME ":%d", port);
    cm_client_t *client = s_client (endpoints);
    cm_client_set_resolve_interval (client, 50);
    cr_assert_eq (s_ping (client, 1000, label, sizeof label), CM_OK);
    cr_assert_str_eq (label, "b");

    //  b's pod goes, c and d come
    s_stub_set ("127.0.0.4,127.0.0.3", 0);
    snprintf (want, sizeof want, "tcp://127.0.0.3:%d,tcp://127.0.0.4:%d", port, port);
    cr_assert (s_until_endpoints (client, want, 3000));
    int64_t b_before = s_replica_count (b);
    int seen_c = 0, seen_d = 0;
    for (int i = 0; i < 40; i++) {
        cr_assert_eq (s_ping (client, 1000, label, sizeof label), CM_OK);
        seen_c += streq (label, "c");
        seen_d += streq (label, "d");
    }
    cr_assert_eq (seen_c + seen_d, 40);
    cr_assert (seen_c > 0 && seen_d > 0, "c %d, d %d", seen_c, seen_d);
    cr_assert_eq (s_replica_count (b), b_before, "a vanished address still got requests");

    //  b comes back
    s_stub_set ("127.0.0.2,127.0.0.3,127.0.0.4", 0);
    snprintf (want, sizeof want, "tcp://127.0.0.2:%d,tcp://127.0.0.3:%d,tcp://127.0.0.4:%d",
              port, port, port);
    cr_assert (s_until_endpoints (client, want, 3000));
    int seen_b = 0;
    for (int i = 0; i < 60 && !seen_b; i++) {
        cr_assert_eq (s_ping (client, 1000, label, sizeof label), CM_OK);
        seen_b += streq (label, "b");
    }
    cr_assert_gt (seen_b, 0, "a returning address got no request");
    cm_client_destroy (&client);
    zactor_destroy (&b);
    zactor_destroy (&c);
    zactor_destroy (&d);
}

Test (cm_client, a_failed_lookup_keeps_addresses_an_empty_answer_drops_them)
{
    int port = s_free_port ();
    zactor_t *b = s_replica_start ("127.0.0.2", port, "b", false);
    cr_assert_not_null (b);
    s_stub_set ("127.0.0.2", 0);
    char endpoints [128], want [128], have [256], label [16];
    snprintf (endpoints, sizeof endpoints, "tcp://" NAME ":%d", port);
    snprintf (want, sizeof want, "tcp://127.0.0.2:%d", port);
    cm_client_t *client = s_client (endpoints);
    cm_client_set_resolve_interval (client, 20);

    //  DNS has trouble: the client keeps what it had and works on
    s_stub_set ("-", 0);
    int lookups = s_stub_lookups ();
    int64_t until = zclock_mono () + 3000;
    while (s_stub_lookups () < lookups + 3 && zclock_mono () < until) {
        cr_assert_eq (s_ping (client, 1000, label, sizeof label), CM_OK);
        zclock_sleep (20);
    }
    cr_assert_geq (s_stub_lookups (), lookups + 3, "the name was not looked up again");
    cm_client_endpoints (client, have, sizeof have);
    cr_assert_str_eq (have, want);
    cr_assert_eq (s_ping (client, 1000, label, sizeof label), CM_OK);

    //  The name has no address any more (every pod gone): nothing is
    //  connected, and a call says so well before its deadline (it waits
    //  at most a second for a replica to connect)
    s_stub_set ("", 0);
    cr_assert (s_until_endpoints (client, "", 3000));
    int64_t start = zclock_mono ();
    cr_assert_eq (s_ping (client, 4000, label, sizeof label), CM_UNAVAILABLE);
    cr_assert_lt (zclock_mono () - start, 2500);

    //  And back
    s_stub_set ("127.0.0.2", 0);
    cr_assert (s_until_endpoints (client, want, 3000));
    cr_assert_eq (s_ping (client, 1000, label, sizeof label), CM_OK, "a fresh address is used at once");
    cm_client_destroy (&client);
    zactor_destroy (&b);
}

Test (cm_client, calls_never_wait_for_dns)
{
    int port = s_free_port ();
    zactor_t *b = s_replica_start ("127.0.0.2", port, "b", false);
    cr_assert_not_null (b);
    //  Every lookup takes 3 s. A new client waits one second at most,
    //  then starts connected by name, as before names were resolved
    s_stub_set ("127.0.0.2", 3000);
    char endpoints [128], want [128], have [256], label [16];
    snprintf (endpoints, sizeof endpoints, "tcp://localhost:%d", port);
    int64_t start = zclock_mono ();
    cm_client_t *client = s_client (endpoints);
    int64_t took = zclock_mono () - start;
    cr_assert (took >= 900 && took < 2500, "cm_client_new took %d ms", (int) took);
    cm_client_endpoints (client, have, sizeof have);
    cr_assert_str_eq (have, endpoints);
    cm_client_set_resolve_interval (client, 20);

    //  The answer arrives while calls go on; none of them waits for a
    //  lookup, though one is nearly always under way
    snprintf (want, sizeof want, "tcp://127.0.0.2:%d", port);
    int64_t slowest = 0;
    int64_t until = zclock_mono () + 6000;
    bool switched = false;
    while (zclock_mono () < until) {
        int64_t call = zclock_mono ();
        cm_err_t status = s_ping (client, 1000, label, sizeof label);
        call = zclock_mono () - call;
        cm_client_endpoints (client, have, sizeof have);
        if (streq (have, want)) {
            switched = true;
            cr_assert_eq (status, CM_OK);
            slowest = call > slowest? call: slowest;
        }
        zclock_sleep (10);
    }
    cr_assert (switched, "the slow answer was never taken: '%s'", have);
    cr_assert_lt (slowest, 1500, "a call took %d ms: it waited for a lookup", (int) slowest);
    cm_client_destroy (&client);
    zactor_destroy (&b);
}

Test (cm_client, localhost_resolves_to_every_address)
{
    cm_client_set_resolver (NULL);
    //  What this system says localhost is
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *found = NULL;
    cr_assert_eq (getaddrinfo ("localhost", NULL, &hints, &found), 0);
    bool v4 = false, v6 = false;
    for (struct addrinfo *ai = found; ai; ai = ai->ai_next) {
        v4 = v4 || ai->ai_family == AF_INET;
        v6 = v6 || ai->ai_family == AF_INET6;
    }
    freeaddrinfo (found);
    cr_assert (v4, "localhost has no IPv4 address here");

    int port = s_free_port_on ("127.0.0.1");
    zactor_t *one = s_replica_start ("127.0.0.1", port, "v4", false);
    cr_assert_not_null (one);
    zactor_t *six = v6? s_replica_start ("::1", port, "v6", false): NULL;
    if (v6 && !six)
        cr_log_warn ("localhost resolves to ::1 but [::1]:%d cannot be bound", port);

    char endpoints [128], want [256], have [256], label [16];
    snprintf (endpoints, sizeof endpoints, "tcp://localhost:%d", port);
    cm_client_t *client = s_client (endpoints);
    cm_client_endpoints (client, have, sizeof have);
    if (v6)
        snprintf (want, sizeof want, "tcp://127.0.0.1:%d,tcp://[::1]:%d", port, port);
    else
        snprintf (want, sizeof want, "tcp://127.0.0.1:%d", port);
    cr_assert_str_eq (have, want);
    int seen_v4 = 0, seen_v6 = 0;
    for (int i = 0; i < 40; i++) {
        cr_assert_eq (s_ping (client, 1000, label, sizeof label), CM_OK);
        seen_v4 += streq (label, "v4");
        seen_v6 += streq (label, "v6");
    }
    cr_assert_gt (seen_v4, 0);
    if (six)
        cr_assert_gt (seen_v6, 0, "nothing reached the IPv6 replica");
    cm_client_destroy (&client);
    zactor_destroy (&one);
    zactor_destroy (&six);
}

Test (cm_client, an_idempotent_call_goes_to_another_replica_when_one_is_silent)
{
    int port = s_free_port ();
    zactor_t *b = s_replica_start ("127.0.0.2", port, "b", true);
    zactor_t *c = s_replica_start ("127.0.0.3", port, "c", false);
    cr_assert (b && c);
    s_stub_set ("127.0.0.2,127.0.0.3", 0);
    char endpoints [128], label [16];
    snprintf (endpoints, sizeof endpoints, "tcp://" NAME ":%d", port);
    cm_client_t *client = s_client (endpoints);
    //  Both links up first: the DEALER deals in turn to the replicas it
    //  has, so a second try meets the other one only once both are there
    zclock_sleep (300);
    for (int i = 0; i < 6; i++) {
        cr_assert_eq (s_ping (client, 2000, label, sizeof label), CM_OK, "call %d", i);
        cr_assert_str_eq (label, "c");
    }
    cr_assert_gt (s_replica_count (b), 0, "the silent replica was never tried");
    cm_client_destroy (&client);
    zactor_destroy (&b);
    zactor_destroy (&c);
}

Test (cm_client, ipv6_addresses_are_connected_too)
{
    int port = s_free_port ();
    zactor_t *b = s_replica_start ("127.0.0.2", port, "b", false);
    zactor_t *six = s_replica_start ("::1", port, "v6", false);
    cr_assert_not_null (b);
    if (!six)
        cr_log_warn ("[::1]:%d cannot be bound here: only the endpoints are checked", port);
    char endpoints [128], want [256], have [256], label [16];
    snprintf (endpoints, sizeof endpoints, "tcp://" NAME ":%d", port);

    //  Only an IPv6 address: the first endpoint the socket is made with
    s_stub_set ("::1", 0);
    cm_client_t *client = s_client (endpoints);
    cm_client_endpoints (client, have, sizeof have);
    snprintf (want, sizeof want, "tcp://[::1]:%d", port);
    cr_assert_str_eq (have, want);
    if (six) {
        cr_assert_eq (s_ping (client, 1000, label, sizeof label), CM_OK);
        cr_assert_str_eq (label, "v6");
    }
    cm_client_destroy (&client);

    //  Both families: A and AAAA answers side by side
    s_stub_set ("::1,127.0.0.2", 0);
    cm_client_set_resolve_interval ((client = s_client (endpoints)), 20);
    snprintf (want, sizeof want, "tcp://127.0.0.2:%d,tcp://[::1]:%d", port, port);
    cr_assert (s_until_endpoints (client, want, 3000));
    int seen_b = 0, seen_six = 0;
    for (int i = 0; i < 40; i++) {
        cr_assert_eq (s_ping (client, 1000, label, sizeof label), CM_OK);
        seen_b += streq (label, "b");
        seen_six += streq (label, "v6");
    }
    cr_assert_gt (seen_b, 0);
    if (six)
        cr_assert_gt (seen_six, 0, "nothing reached the IPv6 replica");
    cm_client_destroy (&client);
    zactor_destroy (&b);
    zactor_destroy (&six);
}


//  --------------------------------------------------------------------------
//  Two real servers behind one endpoint list; one of them is stopped while
//  calls flow. A draining replica runs nothing new and says so: the calls
//  go on to the other, none is lost and none runs twice.

#define DRAIN_THREADS   3
#define DRAIN_CALLS     150

static atomic_int s_runs [DRAIN_THREADS * DRAIN_CALLS];    //  executions of each call
static atomic_int s_replica_runs [2];                       //  executions on each replica
static cm_config_t s_drain_cfg [2];

static void *
s_drain_worker_new (const cm_config_t *cfg, zcert_t *cert, int index)
{
    (void) cert; (void) index;
    return &s_replica_runs [cfg == &s_drain_cfg [0]? 0: 1];
}

static void
s_drain_worker_destroy (void **state_p)
{
    *state_p = NULL;
}

static cm_err_t
s_drain_handler (void *state, const cm_ctx_t *ctx, const void *req, void *rep, cm_reply_info_t *info)
{
    (void) req; (void) rep; (void) info;
    int call = -1;
    if (sscanf (ctx->rid, "call-%d", &call) == 1 && call >= 0 && call < DRAIN_THREADS * DRAIN_CALLS)
        atomic_fetch_add (&s_runs [call], 1);
    atomic_fetch_add ((atomic_int *) state, 1);
    zclock_sleep (3);               //  long enough that work is in hand at the stop
    return CM_OK;
}

//  auth.email_resend: not idempotent, an empty request
static const cm_route_t s_drain_routes [] = {
    { PROTO_MSG_auth_email_resend, s_drain_handler, false, false }
};

typedef struct {
    const char *endpoints;
    int thread;
    int failures;
    int64_t slowest;
} drain_caller_t;

static void *
s_drain_caller (void *arg)
{
    drain_caller_t *caller = (drain_caller_t *) arg;
    cm_client_t *client = cm_client_new (s_client_cert, s_keys, CM_SVC_MISSIONS, caller->endpoints);
    if (!client) {
        caller->failures = DRAIN_CALLS;
        return NULL;
    }
    for (int i = 0; i < DRAIN_CALLS; i++) {
        cm_ctx_t ctx = { .deadline = zclock_mono () + 3000 };
        snprintf (ctx.rid, sizeof ctx.rid, "call-%d", caller->thread * DRAIN_CALLS + i);
        proto_auth_email_resend_req_t req = { 0 };
        proto_auth_email_resend_rep_t rep = { 0 };
        cm_reply_info_t info;
        int64_t started = zclock_mono ();
        cm_err_t status = cm_client_call (client, &ctx, PROTO_MSG_auth_email_resend, &req, &rep, &info);
        int64_t took = zclock_mono () - started;
        caller->slowest = took > caller->slowest? took: caller->slowest;
        if (status != CM_OK) {
            cr_log_error ("call %d of thread %d: %s %s", i, caller->thread, info.code, info.message);
            caller->failures++;
        }
        proto_clear (&proto_auth_email_resend_rep_desc, &rep);
    }
    cm_client_destroy (&client);
    return NULL;
}

Test (cm_client, a_draining_replica_hands_its_new_calls_to_the_other, .timeout = 60)
{
    int port = s_free_port ();
    cm_allowlist_t *allow = cm_allowlist_new ();
    cm_allowlist_add (allow, "gateway", zcert_public_txt (s_client_cert));
    zactor_t *zap = cm_zap_start (&allow, "missions");
    cr_assert_not_null (zap);
    char binds [2][64];
    cm_server_spec_t specs [2];
    zactor_t *servers [2];
    for (int r = 0; r < 2; r++) {
        snprintf (binds [r], sizeof binds [r], "tcp://127.0.0.%d:%d", r + 2, port);
        cm_config_t *cfg = &s_drain_cfg [r];
        cfg->service = CM_SVC_MISSIONS;
        cfg->bind = binds [r];
        cfg->identity_peers = (char *) "";
        cfg->workers = 2;
        cfg->slow_workers = 1;
        cfg->max_queue = 100;
        cfg->drain_timeout_ms = 20000;
        specs [r] = (cm_server_spec_t) {
            .service = CM_SVC_MISSIONS, .cfg = cfg, .cert = s_server_cert,
            .routes = s_drain_routes, .route_count = 1,
            .worker_new = s_drain_worker_new, .worker_destroy = s_drain_worker_destroy
        };
        servers [r] = cm_server_new (&specs [r]);
        cr_assert_not_null (servers [r]);
    }
    char endpoints [160];
    snprintf (endpoints, sizeof endpoints, "%s,%s", binds [0], binds [1]);

    pthread_t threads [DRAIN_THREADS];
    drain_caller_t callers [DRAIN_THREADS];
    for (int t = 0; t < DRAIN_THREADS; t++) {
        callers [t] = (drain_caller_t) { .endpoints = endpoints, .thread = t };
        cr_assert_eq (pthread_create (&threads [t], NULL, s_drain_caller, &callers [t]), 0);
    }
    //  A third of the way in, replica 1 is told to stop, as SIGTERM does
    while (atomic_load (&s_replica_runs [0]) + atomic_load (&s_replica_runs [1])
           < DRAIN_THREADS * DRAIN_CALLS / 3)
        zclock_sleep (2);
    int before_term = atomic_load (&s_replica_runs [1]);
    zstr_send (servers [1], "$TERM");
    for (int t = 0; t < DRAIN_THREADS; t++)
        pthread_join (threads [t], NULL);
    //  With the calls done it goes quiet, and stops of itself
    int64_t started = zclock_mono ();
    zactor_destroy (&servers [1]);
    cr_assert_lt (zclock_mono () - started, 5000, "the drain ran into its timeout");

    for (int t = 0; t < DRAIN_THREADS; t++) {
        cr_expect_eq (callers [t].failures, 0, "thread %d: %d call(s) failed", t, callers [t].failures);
        cr_expect_lt (callers [t].slowest, 1000, "thread %d: a call took %lld ms: it waited for a reply "
                      "that never came", t, (long long) callers [t].slowest);
    }
    for (int i = 0; i < DRAIN_THREADS * DRAIN_CALLS; i++)
        cr_assert_eq (atomic_load (&s_runs [i]), 1, "call %d ran %d times", i, atomic_load (&s_runs [i]));
    cr_assert_gt (before_term, 0, "replica 1 served nothing before its stop");
    //  After $TERM it finished what it had in hand (one call per thread at
    //  most) and took nothing new
    cr_assert_leq (atomic_load (&s_replica_runs [1]) - before_term, DRAIN_THREADS);
    cr_assert_gt (atomic_load (&s_replica_runs [0]), DRAIN_THREADS * DRAIN_CALLS / 2);

    zactor_destroy (&servers [0]);
    zactor_destroy (&zap);
}

Test (cm_client, with_only_a_draining_replica_the_refusal_is_the_answer)
{
    int port = s_free_port ();
    cm_allowlist_t *allow = cm_allowlist_new ();
    cm_allowlist_add (allow, "gateway", zcert_public_txt (s_client_cert));
    zactor_t *zap = cm_zap_start (&allow, "missions");
    cr_assert_not_null (zap);
    char bind [64];
    snprintf (bind, sizeof bind, "tcp://127.0.0.2:%d", port);
    cm_config_t *cfg = &s_drain_cfg [0];
    *cfg = (cm_config_t) { .service = CM_SVC_MISSIONS, .bind = bind, .identity_peers = (char *) "",
                           .workers = 1, .slow_workers = 1, .max_queue = 100,
                           .drain_timeout_ms = 20000 };
    cm_server_spec_t spec = {
        .service = CM_SVC_MISSIONS, .cfg = cfg, .cert = s_server_cert,
        .routes = s_drain_routes, .route_count = 1,
        .worker_new = s_drain_worker_new, .worker_destroy = s_drain_worker_destroy
    };
    zactor_t *server = cm_server_new (&spec);
    cr_assert_not_null (server);
    cm_client_t *client = s_client (bind);
    cm_ctx_t ctx = { .deadline = zclock_mono () + 3000 };
    snprintf (ctx.rid, sizeof ctx.rid, "call-0");
    proto_auth_email_resend_req_t req = { 0 };
    proto_auth_email_resend_rep_t rep = { 0 };
    cm_reply_info_t info;
    cr_assert_eq (cm_client_call (client, &ctx, PROTO_MSG_auth_email_resend, &req, &rep, &info), CM_OK);

    //  Calls go on (a call that beat $TERM in is served); the first one
    //  refused ends at once with the refusal, after a bounded number of
    //  tries, well within its budget
    zstr_send (server, "$TERM");
    cm_err_t status = CM_OK;
    int64_t took = 0;
    for (int i = 1; i < 10 && status == CM_OK; i++) {
        ctx.deadline = zclock_mono () + 3000;
        snprintf (ctx.rid, sizeof ctx.rid, "call-%d", i);
        int64_t started = zclock_mono ();
        status = cm_client_call (client, &ctx, PROTO_MSG_auth_email_resend, &req, &rep, &info);
        took = zclock_mono () - started;
    }
    cr_assert_eq (status, CM_DRAINING, "%s %s", info.code, info.message);
    cr_assert_str_eq (info.code, "draining");
    cr_assert_eq (info.retry_after_s, 1);
    cr_assert_eq (cm_err_http (status), 503);
    cr_assert_lt (took, 500, "the refused call took %lld ms", (long long) took);
    cm_client_destroy (&client);
    zactor_destroy (&server);
    zactor_destroy (&zap);
}
