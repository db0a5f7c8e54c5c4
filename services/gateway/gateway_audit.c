/*  gateway_audit - bounded queue and shipper for edge audit events */
#include <pthread.h>
#include <stdatomic.h>
#include "gateway_audit.h"
#include "../../common/cm_client.h"
#include "../../common/cm_log.h"
#include "../../common/cm_rand.h"

typedef struct {
    char id [37];
    int64_t at_ms;
    char type [65];
    char outcome [17];
    char user_id [37];
    char request_id [65];
    char ip [65];
    char detail [512];
} event_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static event_t *s_ring;                 //  GATEWAY_AUDIT_QUEUE slots, guarded by s_lock
static size_t s_head, s_count;          //  oldest slot and how many are used
static atomic_uint_fast64_t s_dropped;

void
gateway_audit_event (const cm_ctx_t *ctx, const char *type, const char *outcome, const char *detail)
{
    event_t event;
    memset (&event, 0, sizeof event);
    if (cm_rand_uuid (event.id))
        return;
    event.at_ms = zclock_time ();
    snprintf (event.type, sizeof event.type, "%s", type);
    snprintf (event.outcome, sizeof event.outcome, "%s", outcome);
    snprintf (event.user_id, sizeof event.user_id, "%s", ctx->uid);
    snprintf (event.request_id, sizeof event.request_id, "%s", ctx->rid);
    snprintf (event.ip, sizeof event.ip, "%s", ctx->ip);
    snprintf (event.detail, sizeof event.detail, "%s", detail? detail: "");

    //  A full queue refuses the new event: the oldest may be in flight
    pthread_mutex_lock (&s_lock);
    if (s_ring && s_count < GATEWAY_AUDIT_QUEUE) {
        s_ring [(s_head + s_count) % GATEWAY_AUDIT_QUEUE] = event;
        s_count++;
    }
    else
        atomic_fetch_add (&s_dropped, 1);
    pthread_mutex_unlock (&s_lock);
}

uint64_t
gateway_audit_dropped (void)
{
    return atomic_load (&s_dropped);
}

static char *
s_dup (const char *s)
{
    return *s? strdup (s): NULL;
}

//  Sends up to batch queued events; removes them only once acknowledged.
//  Returns how many were shipped, or -1 when audit did not take them.
static int
s_ship (cm_client_t *audit, int batch)
{
    pthread_mutex_lock (&s_lock);
    int count = (int) (s_count < (size_t) batch? s_count: (size_t) batch);
    proto_audit_append_req_t req = { 0 };
    req.events = (proto_audit_event_t *) zmalloc (sizeof (proto_audit_event_t) * (size_t) (count? count: 1));
    req.events_count = (uint32_t) count;
    for (int i = 0; i < count; i++) {
        const event_t *e = &s_ring [(s_head + (size_t) i) % GATEWAY_AUDIT_QUEUE];
        proto_audit_event_t *out = &req.events [i];
        out->id = strdup (e->id);
        out->at_ms = e->at_ms;
        out->has_at_ms = true;
        out->type = strdup (e->type);
        out->service = strdup ("gateway");
        out->outcome = strdup (e->outcome);
        out->user_id = s_dup (e->user_id);
        out->request_id = s_dup (e->request_id);
        out->ip = s_dup (e->ip);
        out->detail = s_dup (e->detail);
    }
    pthread_mutex_unlock (&s_lock);
    int shipped = 0;
    if (count) {
        cm_ctx_t ctx = { .rid = "gateway-audit" };
        proto_audit_append_rep_t rep = { 0 };
        if (cm_client_call (audit, &ctx, PROTO_MSG_audit_append, &req, &rep, NULL) == CM_OK) {
            //  Only the shipper removes; producers only append behind these
            pthread_mutex_lock (&s_lock);
            size_t done = (size_t) count < s_count? (size_t) count: s_count;
            s_head = (s_head + done) % GATEWAY_AUDIT_QUEUE;
            s_count -= done;
            pthread_mutex_unlock (&s_lock);
            shipped = count;
        }
        else
            shipped = -1;
        proto_clear (&proto_audit_append_rep_desc, &rep);
    }
    proto_clear (&proto_audit_append_req_desc, &req);
    return shipped;
}

typedef struct {
    const cm_config_t *cfg;
    zcert_t *cert;
} args_t;

static void
s_shipper (zsock_t *pipe, void *arg)
{
    args_t *args = (args_t *) arg;
    cm_client_t *audit = cm_client_new (args->cert, args->cfg->keys_dir, CM_SVC_AUDIT,
                                        args->cfg->endpoints [CM_SVC_AUDIT]);
    int batch = (int) args->cfg->audit_batch;
    free (args);
    zsock_signal (pipe, 0);
    if (!audit)
        return;
    cm_client_set_timeout (audit, 2000);
    int backoff = 0;
    while (true) {
        int shipped = s_ship (audit, batch);
        if (shipped > 0) {
            backoff = 0;
            continue;
        }
        if (shipped < 0)
            backoff = backoff? (backoff < 5000? backoff * 2: 5000): 200;
        zmq_pollitem_t item = { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, shipped < 0? backoff: 200) > 0)
            break;                      //  $TERM: what is queued is lost with the process
    }
    cm_client_destroy (&audit);
}

zactor_t *
gateway_audit_start (const cm_config_t *cfg, zcert_t *cert)
{
    pthread_mutex_lock (&s_lock);
    if (!s_ring)
        s_ring = (event_t *) calloc (GATEWAY_AUDIT_QUEUE, sizeof (event_t));
    pthread_mutex_unlock (&s_lock);
    if (!s_ring)
        return NULL;
    args_t *args = (args_t *) zmalloc (sizeof (args_t));
    args->cfg = cfg;
    args->cert = cert;
    return zactor_new (s_shipper, args);
}
