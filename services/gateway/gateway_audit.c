/*  gateway_audit - bounded queue, spool file and shipper for edge audit events */
#include <pthread.h>
#include <stdatomic.h>
#include "gateway_audit.h"
#include "gateway_spool.h"
#include "../../common/cm_client.h"
#include "../../common/cm_log.h"
#include "../../common/cm_rand.h"

#define RETRY_MIN_MS    200
#define RETRY_MAX_MS    5000
#define IDLE_MS         200             //  the longest an event waits in memory
#define STOP_DRAIN_MS   3000            //  last delivery attempts at a stop

typedef gateway_spool_event_t event_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static event_t *s_ring;                 //  GATEWAY_AUDIT_QUEUE slots, guarded by s_lock
static size_t s_head, s_count;          //  oldest slot and how many are used
static atomic_uint_fast64_t s_dropped;
static atomic_uint_fast64_t s_spooled;  //  bytes waiting in the spool

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

uint64_t
gateway_audit_spooled_bytes (void)
{
    return atomic_load (&s_spooled);
}

static char *
s_dup (const char *s)
{
    return *s? strdup (s): NULL;
}

//  Send count events; true once audit acknowledged them
static bool
s_send (cm_client_t *audit, const event_t *events, int count)
{
    proto_audit_append_req_t req = { 0 };
    req.events = (proto_audit_event_t *) zmalloc (sizeof (proto_audit_event_t) * (size_t) count);
    req.events_count = (uint32_t) count;
    for (int i = 0; i < count; i++) {
        const event_t *e = &events [i];
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
    cm_ctx_t ctx = { .rid = "gateway-audit" };
    proto_audit_append_rep_t rep = { 0 };
    bool ok = cm_client_call (audit, &ctx, PROTO_MSG_audit_append, &req, &rep, NULL) == CM_OK;
    proto_clear (&proto_audit_append_rep_desc, &rep);
    proto_clear (&proto_audit_append_req_desc, &req);
    return ok;
}

//  Copy up to max of the oldest queued events into batch; how many
static int
s_take (event_t *batch, int max)
{
    pthread_mutex_lock (&s_lock);
    int count = (int) (s_count < (size_t) max? s_count: (size_t) max);
    for (int i = 0; i < count; i++)
        batch [i] = s_ring [(s_head + (size_t) i) % GATEWAY_AUDIT_QUEUE];
    pthread_mutex_unlock (&s_lock);
    return count;
}

//  Remove the count oldest queued events (only the shipper removes;
//  producers only append behind them)
static void
s_remove (int count)
{
    pthread_mutex_lock (&s_lock);
    size_t done = (size_t) count < s_count? (size_t) count: s_count;
    s_head = (s_head + done) % GATEWAY_AUDIT_QUEUE;
    s_count -= done;
    pthread_mutex_unlock (&s_lock);
}

typedef struct {
    const cm_config_t *cfg;
    zcert_t *cert;
    gateway_spool_t *spool;             //  owned by the shipper once started
} args_t;

typedef struct {
    cm_client_t *audit;
    gateway_spool_t *spool;
    event_t *batch;                     //  room for `size` events
    int size;                           //  AUDIT_BATCH
} shipper_t;

//  Move every queued event to the spool; what does not fit is dropped
static void
s_spill (shipper_t *self)
{
    int count;
    while ((count = s_take (self->batch, self->size)) > 0) {
        int written = gateway_spool_append (self->spool, self->batch, (size_t) count);
        if (written < count) {
            uint64_t lost = (uint64_t) (count - (written < 0? 0: written));
            atomic_fetch_add (&s_dropped, lost);
            cm_error ("audit spool full or failing: %llu events dropped",
                      (unsigned long long) lost);
        }
        s_remove (count);
    }
    atomic_store (&s_spooled, (uint64_t) gateway_spool_pending (self->spool));
}

//  One delivery attempt, from the spool while it holds anything, else from
//  the queue. Returns events delivered, 0 when nothing waits, -1 when audit
//  did not take them (the queue is then in the spool).
static int
s_deliver (shipper_t *self)
{
    if (gateway_spool_pending (self->spool) > 0) {
        //  Order: what waits on disk goes first, so memory follows it there
        s_spill (self);
        int count = gateway_spool_peek (self->spool, self->batch, (size_t) self->size);
        if (count < 0)
            return -1;
        if (count > 0 && !s_send (self->audit, self->batch, count))
            return -1;
        if (gateway_spool_consume (self->spool))
            return -1;
        int64_t pending = gateway_spool_pending (self->spool);
        atomic_store (&s_spooled, (uint64_t) pending);
        //  Nothing readable but bytes left (lines that did not parse were
        //  passed): try again after a pause, never in a busy loop
        if (count == 0 && pending > 0)
            return -1;
        return count;
    }
    int count = s_take (self->batch, self->size);
    if (count == 0)
        return 0;
    if (s_send (self->audit, self->batch, count)) {
        s_remove (count);
        return count;
    }
    cm_debug ("audit not reachable: %d events go to the spool", count);
    s_spill (self);
    return -1;
}

static void
s_shipper (zsock_t *pipe, void *arg)
{
    args_t *args = (args_t *) arg;
    shipper_t self = { 0 };
    self.spool = args->spool;
    self.size = (int) args->cfg->audit_batch;
    self.batch = (event_t *) calloc ((size_t) self.size, sizeof (event_t));
    self.audit = cm_client_new (args->cert, args->cfg->keys_dir, CM_SVC_AUDIT,
                                args->cfg->endpoints [CM_SVC_AUDIT]);
    free (args);
    zsock_signal (pipe, 0);
    if (!self.audit || !self.batch) {
        cm_error ("the audit shipper cannot start: events stay in the spool");
        goto cleanup;
    }
    cm_client_set_timeout (self.audit, 2000);
    int backoff = 0;
    int64_t retry_at = 0;
    while (true) {
        int64_t now = zclock_mono ();
        int delivered = 0;
        if (now >= retry_at) {
            delivered = s_deliver (&self);
            if (delivered > 0) {
                backoff = 0;
                zmq_pollitem_t item = { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
                if (zmq_poll (&item, 1, 0) > 0)
                    break;              //  $TERM
                continue;               //  more may wait
            }
            if (delivered < 0) {
                backoff = backoff? (backoff < RETRY_MAX_MS? backoff * 2: RETRY_MAX_MS): RETRY_MIN_MS;
                retry_at = zclock_mono () + backoff;
            }
        }
        else
        if (gateway_spool_pending (self.spool) > 0)
            //  Audit is away: nothing lingers in memory while we wait
            s_spill (&self);
        zmq_pollitem_t item = { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, IDLE_MS) > 0)
            break;                      //  $TERM
    }
    //  Stopping: a last try to deliver, then whatever is left waits on disk
    int64_t until = zclock_mono () + STOP_DRAIN_MS;
    while (zclock_mono () < until && s_deliver (&self) > 0)
        ;
    s_spill (&self);
    if (gateway_spool_pending (self.spool) > 0)
        cm_info ("stopping with %lld bytes of audit events in %s", (long long) gateway_spool_pending (self.spool),
                 gateway_spool_path (self.spool));
cleanup:
    cm_client_destroy (&self.audit);
    gateway_spool_destroy (&self.spool);
    free (self.batch);
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
    gateway_spool_t *spool = gateway_spool_open (cfg->gateway_audit_spool_dir, cfg->gateway_audit_spool_max_bytes);
    if (!spool)
        return NULL;
    atomic_store (&s_spooled, (uint64_t) gateway_spool_pending (spool));
    args_t *args = (args_t *) zmalloc (sizeof (args_t));
    args->cfg = cfg;
    args->cert = cert;
    args->spool = spool;
    zactor_t *actor = zactor_new (s_shipper, args);
    if (!actor) {
        gateway_spool_destroy (&spool);
        free (args);
    }
    return actor;
}
