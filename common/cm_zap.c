/*  cm_zap - the ZAP handler actor (RFC 27) with a per-service allowlist */
#include <openssl/crypto.h>
#include "cm_zap.h"
#include "cm_config.h"
#include "cm_log.h"

#define MAX_PEERS 16

struct cm_allowlist_s {
    size_t count;
    char *names [MAX_PEERS];        //  peer service names, owned
    uint8_t keys [MAX_PEERS][32];   //  their CURVE public keys
};

cm_allowlist_t *
cm_allowlist_new (void)
{
    return (cm_allowlist_t *) zmalloc (sizeof (cm_allowlist_t));
}

void
cm_allowlist_destroy (cm_allowlist_t **self_p)
{
    assert (self_p);
    cm_allowlist_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->count; i++)
            free (self->names [i]);
        free (self);
        *self_p = NULL;
    }
}

int
cm_allowlist_add (cm_allowlist_t *self, const char *peer, const char *public_z85)
{
    assert (self);
    if (!peer || !*peer || !public_z85 || strlen (public_z85) != 40 || self->count == MAX_PEERS)
        return -1;
    for (size_t i = 0; i < self->count; i++)
        if (streq (self->names [i], peer))
            return -1;
    if (!zmq_z85_decode (self->keys [self->count], public_z85))
        return -1;
    self->names [self->count++] = strdup (peer);
    return 0;
}

int
cm_allowlist_load (cm_allowlist_t *self, const char *keys_dir, const char *peers,
                   char *problem, size_t size)
{
    char *names [MAX_PEERS];
    int count = cm_config_split (peers, names, MAX_PEERS);
    if (count < 0) {
        snprintf (problem, size, "too many peers in '%s'", peers);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < count; i++) {
        char path [1024];
        snprintf (path, sizeof path, "%s/%s.cert", keys_dir, names [i]);
        zcert_t *cert = rc == 0? zcert_load (path): NULL;
        if (rc == 0 && (!cert || cm_allowlist_add (self, names [i], zcert_public_txt (cert)))) {
            snprintf (problem, size, "cannot load the public certificate %s", path);
            rc = -1;
        }
        zcert_destroy (&cert);
        free (names [i]);
    }
    return rc;
}

const char *
cm_allowlist_decide (const cm_allowlist_t *self, const char *expected_domain,
                     const char *domain, const char *mechanism,
                     const uint8_t *key, size_t key_size)
{
    if (!self || !domain || !expected_domain || !streq (domain, expected_domain))
        return NULL;
    if (!mechanism || !streq (mechanism, "CURVE") || key_size != 32)
        return NULL;
    const char *match = NULL;
    //  Every entry is compared so the time does not depend on the match
    for (size_t i = 0; i < self->count; i++)
        if (CRYPTO_memcmp (self->keys [i], key, 32) == 0)
            match = self->names [i];
    return match;
}

typedef struct {
    cm_allowlist_t *allow;          //  owned
    char *domain;                   //  owned
} zap_args_t;

static void
s_reply (zsock_t *handler, const char *request_id, const char *status,
         const char *text, const char *user_id)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    zmsg_addstr (reply, request_id);
    zmsg_addstr (reply, status);
    zmsg_addstr (reply, text);
    zmsg_addstr (reply, user_id);
    zmsg_addmem (reply, NULL, 0);
    zmsg_send (&reply, handler);
}

//  Answers one ZAP request; malformed requests are denied, never fatal
static void
s_handle (zsock_t *handler, zap_args_t *args)
{
    zmsg_t *request = zmsg_recv (handler);
    if (!request)
        return;
    char *version = zmsg_popstr (request);
    char *request_id = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *identity = zmsg_popstr (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *key = zmsg_pop (request);

    if (!version || !streq (version, "1.0") || !request_id) {
        //  Not ZAP 1.0: there is nothing sensible to answer, and the
        //  connection stays unauthenticated (libzmq denies it)
        cm_warn ("zap: malformed request dropped");
    }
    else {
        const char *peer = cm_allowlist_decide (args->allow, args->domain, domain, mechanism,
                                                key? zframe_data (key): NULL,
                                                key? zframe_size (key): 0);
        if (peer)
            s_reply (handler, request_id, "200", "OK", peer);
        else {
            char z85 [41] = "";
            if (key && zframe_size (key) == 32)
                zmq_z85_encode (z85, zframe_data (key), 32);
            cm_log_fields (CM_LOG_WARN, "zap: connection refused",
                           "address", address? address: "", "mechanism", mechanism? mechanism: "",
                           "client_key", z85, (const char *) NULL);
            s_reply (handler, request_id, "400", "not allowed", "");
        }
    }
    zframe_destroy (&key);
    zstr_free (&version);
    zstr_free (&request_id);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&identity);
    zstr_free (&mechanism);
    zmsg_destroy (&request);
}

static void
s_zap_actor (zsock_t *pipe, void *arg)
{
    zap_args_t *args = (zap_args_t *) arg;
    zsock_signal (pipe, 0);             //  for zactor_new; the status follows
    zsock_t *handler = zsock_new (ZMQ_REP);
    if (!handler || zsock_bind (handler, "inproc://zeromq.zap.01") != 0) {
        zsock_destroy (&handler);
        zsock_signal (pipe, 1);
        goto cleanup;
    }
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, handler, NULL);
    bool terminated = false;
    while (!terminated) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            terminated = !command || streq (command, "$TERM");
            zstr_free (&command);
        }
        else
        if (which == handler)
            s_handle (handler, args);
        else
        if (zpoller_terminated (poller) && !zsys_interrupted) {
            //  The context is going away underneath us: admit nobody more
            zstr_send (pipe, "FATAL");
            break;
        }
    }
    zpoller_destroy (&poller);
    zsock_destroy (&handler);
cleanup:
    cm_allowlist_destroy (&args->allow);
    free (args->domain);
    free (args);
}

zactor_t *
cm_zap_start (cm_allowlist_t **allow_p, const char *domain)
{
    zap_args_t *args = (zap_args_t *) zmalloc (sizeof (zap_args_t));
    args->allow = *allow_p;
    *allow_p = NULL;
    args->domain = strdup (domain);
    //  The actor's second signal says whether it bound; on failure it has
    //  freed args itself
    zactor_t *actor = zactor_new (s_zap_actor, args);
    if (actor && zsock_wait (actor) != 0)
        zactor_destroy (&actor);
    return actor;
}
