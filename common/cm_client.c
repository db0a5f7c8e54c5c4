/*  cm_client - request/reply over a DEALER with deadline and retry

    Host names among the endpoints are resolved by a process-wide table of
    names (s_names): one entry per host:port that any client uses, holding
    the last answer as a sorted list of tcp:// endpoints and a version that
    changes with it. A client looks at the table at most once a second, on
    its own calls, and starts a resolution on a short-lived thread when the
    answer is older than its interval; it then connects and disconnects so
    that its socket matches the answers. Entries live as long as the
    process (a process names a handful of services).
*/
#include <arpa/inet.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include "cm_client.h"
#include "cm_config.h"
#include "cm_curve.h"
#include "cm_log.h"
#include "../proto/proto_envelope.h"

#define ENDPOINTS_MAX   16          //  as many as a *_ENDPOINTS setting may list
#define CHECK_MS        1000        //  a client looks at the answers at most this often
#define FIRST_ANSWER_MS 1000        //  a new client waits this long for a name's first answer
#define RETRY_FAILED_MS 1000        //  a name that has never answered is asked again this soon
#define CONNECT_WAIT_MS 1000        //  with no replica connected, wait at most this long for
                                    //  one (and half the budget), e.g. while handshakes finish;
                                    //  a client that never had an answer waits half the budget:
                                    //  its first handshakes may be slow on a busy host
#define BUFFER_KEEP     (64 * 1024) //  a request buffer larger than this is not kept

//  A host:port that clients resolve, shared by all of them
typedef struct s_name_s {
    char *host;                     //  host name, owned, never changes
    char *port;                     //  decimal port, owned, never changes
    char **addrs;                   //  last answer: "tcp://a:port", sorted, owned
    size_t addr_count;              //  entries of addrs
    uint64_t version;               //  changes with the answer; 0 = never answered
    bool tried;                     //  a lookup finished (answered or failed)
    bool failing;                   //  the last lookup failed
    bool resolving;                 //  a resolver thread works on it
    int64_t asked_at;               //  when the last lookup started (zclock_mono)
    int64_t first_until;            //  new clients wait for the first answer until then
    struct s_name_s *next;          //  the next entry of s_names
} s_name_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_answered;           //  signalled after every lookup; CLOCK_MONOTONIC
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static s_name_t *s_names;                   //  guarded by s_lock
static cm_client_resolver_fn *s_resolver;   //  guarded by s_lock; NULL: getaddrinfo

//  One endpoint of the configured list
typedef struct {
    char *spec;                     //  as configured, owned
    s_name_t *name;                 //  the name it resolves, or NULL: literal
    uint64_t seen;                  //  version of name's answer in addrs
    char **addrs;                   //  what it stands for now, owned
    size_t addr_count;              //  entries of addrs
} endpoint_t;

struct cm_client_s {
    zsock_t *sock;                  //  DEALER to every replica, owned
    cm_svc_t target;                //  the service called
    int64_t timeout_ms;             //  budget when the context has none
    int64_t next_cid;               //  correlation ids, increasing
    endpoint_t endpoints [ENDPOINTS_MAX];   //  the configured list
    size_t endpoint_count;          //  entries of endpoints in use
    char **connected;               //  endpoints the socket is connected to, sorted, owned
    size_t connected_count;         //  entries of connected
    bool ipv6;                      //  the socket may connect to IPv6 addresses
    int64_t resolve_ms;             //  names resolved again this often
    int64_t next_check;             //  when to look at the answers next (zclock_mono)
    bool answered;                  //  some replica has answered a call
    msgpack_sbuffer out;            //  the request being encoded, kept between calls
    msgpack_unpacked in;            //  the reply being decoded; its zone is reused
};


//  --------------------------------------------------------------------------
//  String lists: sorted arrays of owned strings

static int
s_compare (const void *a, const void *b)
{
    return strcmp (*(char * const *) a, *(char * const *) b);
}

static bool
s_list_has (char **list, size_t count, const char *item)
{
    return count && bsearch (&item, list, count, sizeof (char *), s_compare) != NULL;
}

static void
s_list_free (char ***list_p, size_t *count_p)
{
    for (size_t i = 0; i < *count_p; i++)
        free ((*list_p) [i]);
    free (*list_p);
    *list_p = NULL;
    *count_p = 0;
}

//  Sorts list and drops duplicates (freeing them)
static void
s_list_settle (char **list, size_t *count_p)
{
    if (*count_p == 0)
        return;
    qsort (list, *count_p, sizeof (char *), s_compare);
    size_t kept = 1;
    for (size_t i = 1; i < *count_p; i++)
        if (strcmp (list [i], list [kept - 1]) != 0)
            list [kept++] = list [i];
        else
            free (list [i]);
    *count_p = kept;
}

static char **
s_list_copy (char **list, size_t count)
{
    char **copy = (char **) zmalloc (sizeof (char *) * (count? count: 1));
    for (size_t i = 0; i < count; i++)
        copy [i] = strdup (list [i]);
    return copy;
}


//  --------------------------------------------------------------------------
//  Resolution

static void
s_init_once (void)
{
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_cond_init (&s_answered, &attr);
    pthread_condattr_destroy (&attr);
}

//  The default resolver: every A and AAAA address of host
static int
s_getaddrinfo (const char *host, char **addrs, int max)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *found = NULL;
    int rc = getaddrinfo (host, NULL, &hints, &found);
    if (rc == EAI_NONAME
#ifdef EAI_NODATA
    ||  rc == EAI_NODATA
#endif
    )
        return 0;                   //  the name exists no more, or has no address now
    if (rc != 0)
        return -1;
    int count = 0;
    for (struct addrinfo *ai = found; ai && count < max; ai = ai->ai_next) {
        char text [NI_MAXHOST];
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
        &&  getnameinfo (ai->ai_addr, ai->ai_addrlen, text, sizeof text, NULL, 0,
                         NI_NUMERICHOST) == 0)
            addrs [count++] = strdup (text);
    }
    freeaddrinfo (found);
    return count;
}

//  Looks name up and stores the answer; runs detached
static void *
s_resolve_thread (void *arg)
{
    s_name_t *name = (s_name_t *) arg;
    pthread_mutex_lock (&s_lock);
    cm_client_resolver_fn *resolver = s_resolver? s_resolver: s_getaddrinfo;
    pthread_mutex_unlock (&s_lock);

    char *found [CM_CLIENT_ADDRESSES_MAX];
    int count = resolver (name->host, found, CM_CLIENT_ADDRESSES_MAX);
    if (count > CM_CLIENT_ADDRESSES_MAX)
        count = -1;                 //  a resolver that broke its contract
    char **addrs = (char **) zmalloc (sizeof (char *) * (count > 0? (size_t) count: 1));
    size_t addr_count = 0;
    for (int i = 0; i < count; i++) {
        //  IPv6 addresses go in brackets; libzmq takes the zone as well
        addrs [addr_count++] = zsys_sprintf (strchr (found [i], ':')? "tcp://[%s]:%s": "tcp://%s:%s",
                                             found [i], name->port);
        free (found [i]);
    }
    s_list_settle (addrs, &addr_count);

    char text [512] = "";
    size_t len = 0;
    for (size_t i = 0; i < addr_count && len < sizeof text; i++)
        len += (size_t) snprintf (text + len, sizeof text - len, "%s%s", i? ", ": "", addrs [i]);

    pthread_mutex_lock (&s_lock);
    bool changed = count >= 0
                && (addr_count != name->addr_count || name->version == 0);
    for (size_t i = 0; count >= 0 && !changed && i < addr_count; i++)
        changed = strcmp (addrs [i], name->addrs [i]) != 0;
    bool started_failing = count < 0 && !name->failing;
    size_t kept = name->addr_count;
    size_t answered = addr_count;
    if (changed) {
        s_list_free (&name->addrs, &name->addr_count);
        name->addrs = addrs;
        name->addr_count = addr_count;
        name->version++;
        addrs = NULL;
        addr_count = 0;
    }
    name->failing = count < 0;
    name->tried = true;
    name->resolving = false;
    pthread_cond_broadcast (&s_answered);
    pthread_mutex_unlock (&s_lock);

    if (started_failing)
        cm_warn ("cannot resolve %s; keeping its %zu address(es)", name->host, kept);
    if (changed)
        cm_info ("%s resolves to %zu address(es): %s", name->host, answered, text);
    s_list_free (&addrs, &addr_count);
    return NULL;
}

//  Starts a lookup of name when it is due; call with s_lock held
static void
s_name_ask (s_name_t *name, int64_t interval_ms, int64_t now)
{
    int64_t age = now - name->asked_at;
    bool due = name->asked_at == 0
            || age >= interval_ms
            || (name->version == 0 && age >= RETRY_FAILED_MS);
    if (name->resolving || !due)
        return;
    name->asked_at = now;
    //  No signal for this thread: they belong to whoever waits for them
    sigset_t all, old;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init (&attr);
    pthread_attr_setdetachstate (&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    name->resolving = pthread_create (&thread, &attr, s_resolve_thread, name) == 0;
    pthread_attr_destroy (&attr);
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    if (!name->resolving)
        cm_error ("cannot start a thread to resolve %s", name->host);
}

//  The shared entry for host:port, made when new; call with s_lock held
static s_name_t *
s_name_require (const char *host, const char *port)
{
    s_name_t *name = s_names;
    while (name && !(streq (name->host, host) && streq (name->port, port)))
        name = name->next;
    if (!name) {
        name = (s_name_t *) zmalloc (sizeof (s_name_t));
        name->host = strdup (host);
        name->port = strdup (port);
        name->next = s_names;
        s_names = name;
    }
    return name;
}

//  When spec is tcp://<host name>:<port>, its host and port (fresh
//  strings); else false: an address, a wildcard or another transport
static bool
s_parse_name (const char *spec, char **host_p, char **port_p)
{
    if (strncmp (spec, "tcp://", 6) != 0)
        return false;
    const char *host = spec + 6;
    const char *colon = strrchr (host, ':');
    //  [IPv6], "source;destination" and "*" are left to libzmq
    if (*host == '[' || strchr (host, ';') || !colon || colon == host
    ||  !colon [1] || strspn (colon + 1, "0123456789") != strlen (colon + 1))
        return false;
    char *name = strndup (host, (size_t) (colon - host));
    struct in_addr ipv4;
    if (streq (name, "*") || inet_pton (AF_INET, name, &ipv4) == 1) {
        free (name);
        return false;
    }
    *host_p = name;
    *port_p = strdup (colon + 1);
    return true;
}


//  --------------------------------------------------------------------------
//  Keeping the socket's connections in line with the answers

//  Takes the latest answers into the endpoints; true when any changed.
//  Asks for fresh answers where they are due.
static bool
s_take_answers (cm_client_t *self, int64_t now)
{
    bool changed = false;
    pthread_mutex_lock (&s_lock);
    for (size_t i = 0; i < self->endpoint_count; i++) {
        endpoint_t *ep = &self->endpoints [i];
        if (!ep->name)
            continue;
        s_name_ask (ep->name, self->resolve_ms, now);
        if (ep->name->version != ep->seen) {
            s_list_free (&ep->addrs, &ep->addr_count);
            ep->addrs = s_list_copy (ep->name->addrs, ep->name->addr_count);
            ep->addr_count = ep->name->addr_count;
            ep->seen = ep->name->version;
            changed = true;
        }
    }
    pthread_mutex_unlock (&s_lock);
    return changed;
}

//  Every endpoint the socket should be connected to, sorted
static char **
s_wanted (cm_client_t *self, size_t *count_p)
{
    size_t total = 0;
    for (size_t i = 0; i < self->endpoint_count; i++)
        total += self->endpoints [i].addr_count;
    char **wanted = (char **) zmalloc (sizeof (char *) * (total? total: 1));
    *count_p = 0;
    for (size_t i = 0; i < self->endpoint_count; i++)
        for (size_t j = 0; j < self->endpoints [i].addr_count; j++)
            wanted [(*count_p)++] = strdup (self->endpoints [i].addrs [j]);
    s_list_settle (wanted, count_p);
    return wanted;
}

static void
s_connect (cm_client_t *self, const char *endpoint)
{
    if (strncmp (endpoint, "tcp://[", 7) == 0 && !self->ipv6) {
        zsock_set_ipv6 (self->sock, 1);
        self->ipv6 = true;
    }
    if (zsock_connect (self->sock, "%s", endpoint) != 0)
        cm_warn ("cannot connect to %s", endpoint);
}

//  Connects what is wanted and not connected, disconnects the reverse
static void
s_apply (cm_client_t *self)
{
    size_t wanted_count;
    char **wanted = s_wanted (self, &wanted_count);
    for (size_t i = 0; i < wanted_count; i++)
        if (!s_list_has (self->connected, self->connected_count, wanted [i])) {
            cm_debug ("%s: connecting %s", cm_svc_name (self->target), wanted [i]);
            s_connect (self, wanted [i]);
        }
    for (size_t i = 0; i < self->connected_count; i++)
        if (!s_list_has (wanted, wanted_count, self->connected [i])) {
            cm_debug ("%s: disconnecting %s", cm_svc_name (self->target), self->connected [i]);
            zsock_disconnect (self->sock, "%s", self->connected [i]);
        }
    s_list_free (&self->connected, &self->connected_count);
    self->connected = wanted;
    self->connected_count = wanted_count;
}

//  On a call: look at the answers when due; never waits for a lookup
static void
s_refresh (cm_client_t *self)
{
    int64_t now = zclock_mono ();
    if (now < self->next_check)
        return;
    self->next_check = now + (self->resolve_ms < CHECK_MS? self->resolve_ms: CHECK_MS);
    if (s_take_answers (self, now))
        s_apply (self);
}

//  A new client waits a little for the first answer of each name
static void
s_first_answers (cm_client_t *self)
{
    int64_t now = zclock_mono ();
    pthread_mutex_lock (&s_lock);
    for (size_t i = 0; i < self->endpoint_count; i++) {
        s_name_t *name = self->endpoints [i].name;
        if (!name)
            continue;
        if (name->first_until == 0)
            name->first_until = now + FIRST_ANSWER_MS;
        s_name_ask (name, self->resolve_ms, now);
        while (!name->tried && name->resolving && zclock_mono () < name->first_until) {
            struct timespec until;
            clock_gettime (CLOCK_MONOTONIC, &until);
            int64_t wait_ms = name->first_until - zclock_mono ();
            until.tv_sec += wait_ms / 1000;
            until.tv_nsec += (wait_ms % 1000) * 1000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait (&s_answered, &s_lock, &until);
        }
    }
    pthread_mutex_unlock (&s_lock);
}


//  --------------------------------------------------------------------------
//  A client of target; NULL on error

cm_client_t *
cm_client_new (zcert_t *own, const char *keys_dir, cm_svc_t target, const char *endpoints)
{
    char server_key [41];
    if (cm_curve_load_public (keys_dir, cm_svc_name (target), server_key)) {
        cm_error ("cannot load the public certificate of %s from %s", cm_svc_name (target), keys_dir);
        return NULL;
    }
    char *items [ENDPOINTS_MAX];
    int count = cm_config_split (endpoints, items, ENDPOINTS_MAX);
    if (count <= 0) {
        cm_error ("%s: no usable endpoint list '%s'", cm_svc_name (target), endpoints);
        return NULL;
    }
    pthread_once (&s_once, s_init_once);
    cm_client_t *self = (cm_client_t *) zmalloc (sizeof (cm_client_t));
    self->target = target;
    self->timeout_ms = 3000;
    self->next_cid = 1;
    self->resolve_ms = CM_CLIENT_RESOLVE_MS;
    msgpack_sbuffer_init (&self->out);
    msgpack_unpacked_init (&self->in);
    self->in.zone = msgpack_zone_new (MSGPACK_ZONE_CHUNK_SIZE);
    for (int i = 0; i < count; i++) {
        endpoint_t *ep = &self->endpoints [self->endpoint_count++];
        ep->spec = items [i];
        char *host, *port;
        if (s_parse_name (ep->spec, &host, &port)) {
            pthread_mutex_lock (&s_lock);
            ep->name = s_name_require (host, port);
            pthread_mutex_unlock (&s_lock);
            free (host);
            free (port);
        }
        else {
            ep->addrs = (char **) zmalloc (sizeof (char *));
            ep->addrs [0] = strdup (ep->spec);
            ep->addr_count = 1;
        }
    }
    s_first_answers (self);
    s_take_answers (self, zclock_mono ());
    //  A name with no answer yet is connected by name, as libzmq would
    //  (it resolves the name itself on each attempt) until one comes
    for (size_t i = 0; i < self->endpoint_count; i++) {
        endpoint_t *ep = &self->endpoints [i];
        if (ep->name && ep->seen == 0) {
            ep->addrs = (char **) zmalloc (sizeof (char *));
            ep->addrs [0] = strdup (ep->spec);
            ep->addr_count = 1;
        }
    }
    self->connected = s_wanted (self, &self->connected_count);
    //  Connected in an order of its own: a DEALER deals its first request
    //  to the replica connected first, and a gateway has a client per
    //  thread, so the same order everywhere would send every thread's
    //  first request to one replica
    size_t count_connected = self->connected_count;
    size_t *order = (size_t *) zmalloc (sizeof (size_t) * (count_connected + 1));
    unsigned seed = (unsigned) zclock_usecs () ^ (unsigned) (uintptr_t) self;
    for (size_t i = 0; i < count_connected; i++) {
        size_t j = (size_t) rand_r (&seed) % (i + 1);
        order [i] = order [j];
        order [j] = i;
    }
    //  The socket is made connected to one endpoint, the rest follow. When
    //  every name answered "no address" that one is a name, disconnected
    //  at once; an IPv6 address is connected again once IPv6 is on.
    const char *first = count_connected? self->connected [order [0]]: self->endpoints [0].spec;
    self->sock = cm_curve_client (own, server_key, first);
    if (!self->sock) {
        free (order);
        cm_client_destroy (&self);
        return NULL;
    }
    bool again = !count_connected || strncmp (first, "tcp://[", 7) == 0;
    if (again)
        zsock_disconnect (self->sock, "%s", first);
    for (size_t i = again? 0: 1; i < count_connected; i++)
        s_connect (self, self->connected [order [i]]);
    free (order);
    self->next_check = zclock_mono () + (self->resolve_ms < CHECK_MS? self->resolve_ms: CHECK_MS);
    return self;
}

void
cm_client_destroy (cm_client_t **self_p)
{
    assert (self_p);
    cm_client_t *self = *self_p;
    if (self) {
        zsock_destroy (&self->sock);
        msgpack_sbuffer_destroy (&self->out);
        msgpack_unpacked_destroy (&self->in);
        for (size_t i = 0; i < self->endpoint_count; i++) {
            free (self->endpoints [i].spec);
            s_list_free (&self->endpoints [i].addrs, &self->endpoints [i].addr_count);
        }
        s_list_free (&self->connected, &self->connected_count);
        free (self);
        *self_p = NULL;
    }
}

void
cm_client_set_timeout (cm_client_t *self, int64_t timeout_ms)
{
    self->timeout_ms = timeout_ms;
}

void
cm_client_set_resolve_interval (cm_client_t *self, int64_t interval_ms)
{
    assert (self);
    self->resolve_ms = interval_ms <= 0? CM_CLIENT_RESOLVE_MS: interval_ms < 10? 10: interval_ms;
    //  A shorter interval applies from the next call
    int64_t check = zclock_mono () + (self->resolve_ms < CHECK_MS? self->resolve_ms: CHECK_MS);
    if (check < self->next_check)
        self->next_check = check;
}

zsock_t *
cm_client_sock (cm_client_t *self)
{
    return self->sock;
}

void
cm_client_endpoints (cm_client_t *self, char *buf, size_t size)
{
    assert (self);
    assert (size > 0);
    size_t len = 0;
    buf [0] = 0;
    for (size_t i = 0; i < self->connected_count && len < size; i++)
        len += (size_t) snprintf (buf + len, size - len, "%s%s", i? ",": "", self->connected [i]);
}

void
cm_client_set_resolver (cm_client_resolver_fn *resolver)
{
    pthread_mutex_lock (&s_lock);
    s_resolver = resolver;
    pthread_mutex_unlock (&s_lock);
}

static void
s_info (cm_reply_info_t *info, const char *code, const char *message)
{
    if (info) {
        snprintf (info->code, sizeof info->code, "%s", code? code: "");
        snprintf (info->message, sizeof info->message, "%s", message? message: "");
        info->retry_after_s = 0;
    }
}

//  Sends one attempt; 0, or -1 when no replica can take it right now
static int
s_send (cm_client_t *self, const cm_ctx_t *ctx, int msg_id, int64_t cid,
        int64_t ttl_ms, const void *req)
{
    const proto_msg_t *msg = &proto_msgs [msg_id];
    proto_envelope_t env = { 0 };
    cm_ctx_refs_t refs;
    cm_ctx_to_envelope (ctx, &refs, ttl_ms, &env);
    env.ttl_ms = ttl_ms;
    env.v = PROTO_VERSION;
    env.has_v = true;
    env.type = (char *) msg->name;
    env.cid = cid;
    env.has_cid = true;

    msgpack_sbuffer_clear (&self->out);
    proto_error_t err;
    int rc = proto_envelope_encode (&env, msg->req, req, &self->out, &err);
    if (rc)
        cm_error ("cannot encode %s: %s", msg->name, err.message);
    else
        //  DONTWAIT with IMMEDIATE: no connected replica means fail now
        rc = zmq_send (zsock_resolve (self->sock), self->out.data, self->out.size, ZMQ_DONTWAIT) < 0? -1: 0;
    //  The buffer is kept for the next call, unless a large body grew it
    if (self->out.alloc > BUFFER_KEEP) {
        msgpack_sbuffer_destroy (&self->out);
        msgpack_sbuffer_init (&self->out);
    }
    return rc;
}

//  Waits until `until` for a reply to one of cids; decodes it. *which is
//  the cid answered
static cm_err_t
s_wait (cm_client_t *self, int msg_id, const int64_t *cids, int cid_count,
        int64_t until, void *rep, cm_reply_info_t *info, bool *answered, int64_t *which)
{
    const proto_msg_t *msg = &proto_msgs [msg_id];
    *answered = false;
    while (true) {
        int64_t left = until - zclock_mono ();
        if (left <= 0)
            return CM_UNAVAILABLE;
        //  A receive that waits itself: no poll round before it
        zsock_set_rcvtimeo (self->sock, left < INT_MAX? (int) left: INT_MAX);
        zframe_t *frame = zframe_recv (self->sock);
        if (!frame) {
            if (zmq_errno () != EAGAIN && zmq_errno () != EINTR)
                return CM_UNAVAILABLE;
            continue;
        }

        proto_envelope_t env;
        proto_error_t err;
        cm_err_t status = proto_envelope_decode (zframe_data (frame), zframe_size (frame),
                                                 &self->in, &env, &err);
        if (status != CM_OK)
            cm_debug ("%s: undecodable reply from %s dropped: %s", msg->name,
                     cm_svc_name (self->target), err.message);
        bool ours = false;
        for (int i = 0; status == CM_OK && i < cid_count; i++)
            ours = ours || env.cid == cids [i];
        if (ours) {
            *answered = true;
            *which = env.cid;
            if (!env.code || !env.has_status) {
                status = CM_BAD_GATEWAY;
                s_info (info, cm_err_code (status), "reply without status");
            }
            else {
                status = cm_err_from_code (env.code);
                s_info (info, env.code, env.message);
                if (info)
                    info->retry_after_s = env.has_retry_after_s? env.retry_after_s: 0;
                if (env.status >= 200 && env.status < 300 && rep) {
                    //  Success without the body the reply type promises
                    //  is a broken peer, never an empty success
                    if (!env.body || proto_decode (msg->rep, env.body, rep, &err)) {
                        cm_error ("%s: malformed reply from %s: %s", msg->name,
                                  cm_svc_name (self->target), env.body? err.message: "no body");
                        status = CM_BAD_GATEWAY;
                        s_info (info, cm_err_code (status), "malformed reply");
                    }
                }
            }
        }
        proto_clear (&proto_envelope_desc, &env);
        zframe_destroy (&frame);
        if (ours)
            return status;
        //  Anything else is a late reply to an earlier call: drop it
    }
}

cm_err_t
cm_client_call (cm_client_t *self, const cm_ctx_t *ctx, int msg_id,
                const void *req, void *rep, cm_reply_info_t *info)
{
    assert (self);
    assert (msg_id >= 0 && msg_id < PROTO_MSG_COUNT);
    int64_t budget = cm_ctx_remaining (ctx, self->timeout_ms);
    int64_t start = zclock_mono ();
    int64_t until = start + budget;
    bool retry = proto_msgs [msg_id].idempotent;
    int64_t cids [2];               //  attempts out and unanswered: a reply to any counts
    int pending = 0;
    int silent = 0;                 //  attempts that got no answer in their time
    //  A replica that answers "draining" ran nothing, so the request goes
    //  out again at once, whatever its type: the DEALER deals it to the
    //  next replica. Every connected replica may refuse once, plus one
    //  more, then the refusal is the answer (the replicas may all be going)
    int refused = 0;
    int refused_max = (int) self->connected_count + 1;
    s_info (info, "", "");

    s_refresh (self);
    bool waited = false;
    while (silent < (retry? 2: 1)) {
        int64_t left = until - zclock_mono ();
        if (left <= 0)
            break;
        int64_t cid = self->next_cid++;
        if (s_send (self, ctx, msg_id, cid, left, req)) {
            //  Nobody connected: nothing went out, so any message may wait
            //  a little for a replica to finish connecting, then give up
            if (!waited) {
                waited = true;
                int64_t cap = self->answered? CONNECT_WAIT_MS: left;
                int64_t wait_ms = left / 2 < cap? left / 2: cap;
                zmq_pollitem_t item = { zsock_resolve (self->sock), 0, ZMQ_POLLOUT, 0 };
                zmq_poll (&item, 1, (long) wait_ms);
                continue;
            }
            break;
        }
        assert (pending < 2);
        cids [pending++] = cid;
        //  An idempotent message's first attempt gets half of what is left
        int64_t attempt_until = (retry && silent == 0)? zclock_mono () + left / 2: until;
        bool answered;
        int64_t which = 0;
        cm_err_t status = s_wait (self, msg_id, cids, pending, attempt_until, rep, info,
                                  &answered, &which);
        if (!answered) {
            silent++;
            continue;
        }
        self->answered = true;
        if (status != CM_DRAINING || refused >= refused_max)
            return status;
        refused++;
        for (int i = 0; i < pending; i++)
            if (cids [i] == which) {
                cids [i] = cids [--pending];
                break;
            }
        cm_debug ("%s: %s refused by a draining replica, sent again", proto_msgs [msg_id].name,
                  cm_svc_name (self->target));
    }
    char message [64];
    snprintf (message, sizeof message, "%s did not answer in time", cm_svc_name (self->target));
    s_info (info, cm_err_code (CM_UNAVAILABLE), message);
    return CM_UNAVAILABLE;
}
