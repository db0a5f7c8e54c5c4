/*  test_faults - faults injected while requests flow

    Runs against the stack tests/run.sh started. Threads create missions
    (each with an Idempotency-Key, tried again with the same key until it
    succeeds, as a client would) and read them through the gateway while a
    backend is SIGKILLed and started again, or PostgreSQL is stopped and
    started again: every answer must be a success or a 503 within the
    gateway's backend deadline, nothing may be written half or twice, and
    the stack must recover by itself. Then one backend is flooded beyond
    its queue, and the gateway is held by hundreds of idle and slow
    connections.

    What other files already prove is not repeated here: Redis away
    (test_edge, edge_redis), audit killed while events flow and every
    event arriving once (test_audit), /readyz naming a dead backend
    (test_foundation), a replica killed behind several (test_scaling).
    Tests that stop something start it again.
*/
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <curl/curl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include "api.h"
#include "proto_codec.h"
#include "proto_envelope.h"

#define BUDGET_MS       3000        //  the stack gateway's BACKEND_TIMEOUT_MS (the default)
#define MARGIN_MS       1500        //  HTTP, scheduling and a loaded machine on top of it
#define FAST_MS         2000        //  a refusal when nothing can answer: at most one
                                    //  connect wait (1 s) and the HTTP round trip
#define READERS         2
#define WRITERS         2
#define RECORDS_MAX     20000       //  requests one thread may record
#define KEYS_MAX        1024        //  missions one writer may create

static const char *SERVICES [] = { "gateway", "auth", "missions", "evidence", "privacy", "audit" };
#define SERVICE_COUNT   (sizeof SERVICES / sizeof SERVICES [0])

TestSuite (faults, .timeout = 150);

//  ----------------------------------------------------------------------
//  Processes seen from the outside

static void
s_pids (pid_t *pids)
{
    for (size_t i = 0; i < SERVICE_COUNT; i++) {
        pids [i] = stack_pid_of (SERVICES [i]);
        cr_assert_gt (pids [i], 0, "%s is not running", SERVICES [i]);
    }
}

//  A line of /proc/<pid>/status in kB ("VmRSS", "VmHWM"), -1 when gone
static long
s_status_kb (pid_t pid, const char *field)
{
    char path [64], line [256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    long value = -1;
    size_t len = strlen (field);
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, field, len) == 0 && line [len] == ':')
            value = atol (line + len + 1);
    if (file)
        fclose (file);
    return value;
}

static void
s_stack (const char *args)
{
    cr_assert_eq (stack_run (args), 0, "stack.sh %s failed (see $RUN_DIR/stack-cmd.log)", args);
}

//  ----------------------------------------------------------------------
//  Load: readers list missions, writers create them

typedef struct {
    int64_t start;                  //  ms since the load began
    int32_t took;                   //  ms
    int32_t status;                 //  HTTP status, 0 when nothing answered
} record_t;

typedef struct {
    int index;
    bool writer;
    const char *access;             //  borrowed bearer token
    const char *tag;                //  borrowed, begins every idempotency key
    int64_t t0;                     //  zclock_mono when the load began
    volatile bool *stop;
    record_t *records;              //  RECORDS_MAX, owned
    size_t count;
    int keys;                       //  writer: keys used
    int keys_done;                  //  writer: keys answered 201 in the end
    char (*ids) [37];               //  writer: mission id of each key done, owned
} worker_t;

typedef struct {
    worker_t workers [READERS + WRITERS];
    pthread_t threads [READERS + WRITERS];
    volatile bool stop;
    int64_t t0;
} load_t;

static int64_t
s_since (int64_t t0)
{
    return zclock_mono () - t0;
}

static void
s_record (worker_t *self, int64_t start, long status)
{
    if (self->count < RECORDS_MAX)
        self->records [self->count++] = (record_t) { start, (int32_t) (s_since (self->t0) - start),
                                                     (int32_t) status };
}

static void *
s_worker (void *arg)
{
    worker_t *self = (worker_t *) arg;
    stack_http_t *res = (stack_http_t *) malloc (sizeof *res);
    char header [API_TOKEN_MAX + 128], body [256], key [64];
    while (!*self->stop) {
        if (!self->writer) {
            snprintf (header, sizeof header, "Authorization: Bearer %s", self->access);
            int64_t start = s_since (self->t0);
            stack_http ("GET", "/api/v1/missions?limit=5", header, NULL, res);
            s_record (self, start, res->status);
            zclock_sleep (20);
            continue;
        }
        if (self->keys == KEYS_MAX)
            break;
        //  One key, tried again with the same body until it succeeds (even
        //  after the stop: every key the test used must end in one mission)
        snprintf (key, sizeof key, "%s-%d-%d", self->tag, self->index, self->keys++);
        snprintf (header, sizeof header, "Authorization: Bearer %s\nIdempotency-Key: %s", self->access, key);
        snprintf (body, sizeof body, "{\"title\":\"%s\",\"duration_minutes\":30}", key);
        int64_t give_up = zclock_mono () + 60000;
        while (zclock_mono () < give_up) {
            int64_t start = s_since (self->t0);
            stack_http ("POST", "/api/v1/missions", header, body, res);
            s_record (self, start, res->status);
            if (res->status == 201) {
                json_t *mission = json_loads (res->body, 0, NULL);
                const char *id = json_string_value (json_object_get (mission, "id"));
                snprintf (self->ids [self->keys_done++], 37, "%s", id? id: "");
                json_decref (mission);
                break;
            }
            zclock_sleep (100);
        }
        zclock_sleep (20);
    }
    free (res);
    return NULL;
}

static void
s_load_start (load_t *load, const char *access, const char *tag)
{
    load->stop = false;
    load->t0 = zclock_mono ();
    for (int i = 0; i < READERS + WRITERS; i++) {
        worker_t *worker = &load->workers [i];
        *worker = (worker_t) { .index = i, .writer = i >= READERS, .access = access, .tag = tag,
                               .t0 = load->t0, .stop = &load->stop };
        worker->records = (record_t *) malloc (sizeof (record_t) * RECORDS_MAX);
        worker->ids = (char (*) [37]) calloc (KEYS_MAX, 37);
        cr_assert_eq (pthread_create (&load->threads [i], NULL, s_worker, worker), 0);
    }
}

static void
s_load_stop (load_t *load)
{
    load->stop = true;
    for (int i = 0; i < READERS + WRITERS; i++)
        pthread_join (load->threads [i], NULL);
}

static void
s_load_destroy (load_t *load)
{
    for (int i = 0; i < READERS + WRITERS; i++) {
        free (load->workers [i].records);
        free (load->workers [i].ids);
    }
}

//  Every answer was a success or a 503, within the deadline; counts the
//  answers, and the 503s among them, of requests begun within [from, to)
static void
s_check_answers (load_t *load, int64_t from, int64_t to, size_t *count, size_t *refused)
{
    *count = *refused = 0;
    for (int i = 0; i < READERS + WRITERS; i++)
        for (size_t r = 0; r < load->workers [i].count; r++) {
            record_t *rec = &load->workers [i].records [r];
            cr_expect (rec->status == 200 || rec->status == 201 || rec->status == 503,
                       "a request at %lld ms answered %d", (long long) rec->start, rec->status);
            cr_expect_leq (rec->took, BUDGET_MS + MARGIN_MS, "a request at %lld ms took %d ms",
                           (long long) rec->start, rec->took);
            if (rec->start >= from && rec->start < to) {
                (*count)++;
                *refused += rec->status == 503;
            }
        }
}

//  The first success of a request begun at or after from, in ms since the
//  load began; -1 when none
static int64_t
s_first_success (load_t *load, int64_t from)
{
    int64_t first = -1;
    for (int i = 0; i < READERS + WRITERS; i++)
        for (size_t r = 0; r < load->workers [i].count; r++) {
            record_t *rec = &load->workers [i].records [r];
            if (rec->start >= from && (rec->status == 200 || rec->status == 201)
            &&  (first < 0 || rec->start + rec->took < first))
                first = rec->start + rec->took;
        }
    return first;
}

//  Every key the writers used (each begins with tag) ended in exactly one
//  mission, each 201 named a mission that is in the database, and no claim
//  of a key was left without its mission
static void
s_check_missions (load_t *load, const char *user_id, const char *tag)
{
    int keys = 0, done = 0;
    for (int i = READERS; i < READERS + WRITERS; i++) {
        keys += load->workers [i].keys;
        done += load->workers [i].keys_done;
    }
    cr_assert_gt (keys, 5, "the writers made too few missions to tell anything");
    cr_assert_eq (done, keys, "%d of %d keys never succeeded", keys - done, keys);
    //  One query for every id answered
    size_t size = 256 + (size_t) done * 40, used = 0;
    char *sql = (char *) malloc (size);
    used += (size_t) snprintf (sql, size, "SELECT count (*) FROM missions.missions WHERE user_id = '%s'"
                               " AND id IN (", user_id);
    const char *comma = "";
    for (int i = READERS; i < READERS + WRITERS; i++)
        for (int k = 0; k < load->workers [i].keys_done; k++, comma = ",")
            used += (size_t) snprintf (sql + used, size - used, "%s'%s'", comma, load->workers [i].ids [k]);
    snprintf (sql + used, size - used, ")");
    cr_assert_eq (stack_db_long (sql), done, "a mission answered 201 is not in the database");
    snprintf (sql, size, "SELECT count (*) FROM missions.missions WHERE user_id = '%s'"
              " AND title LIKE '%s-%%'", user_id, tag);
    cr_assert_eq (stack_db_long (sql), keys, "one mission per key");
    snprintf (sql, size, "SELECT count (*) FROM (SELECT title FROM missions.missions"
              " WHERE user_id = '%s' GROUP BY title HAVING count (*) > 1) AS twice", user_id);
    cr_assert_eq (stack_db_long (sql), 0, "a mission was created twice");
    snprintf (sql, size, "SELECT count (*) FROM missions.idempotency WHERE user_id = '%s'"
              " AND mission_id IS NULL", user_id);
    cr_assert_eq (stack_db_long (sql), 0, "a key was claimed without its mission");
    free (sql);
}

//  Polls method path (token access) until it answers want; ms it took,
//  -1 when it never did within timeout_ms. The requests made into *tries.
static int64_t
s_until (const char *method, const char *path, const char *access, const char *body, long want,
         int timeout_ms, int *tries)
{
    stack_http_t *res = (stack_http_t *) malloc (sizeof *res);
    int64_t start = zclock_mono (), took = -1;
    *tries = 0;
    do {
        (*tries)++;
        if (api_call (method, path, access, body, res) == want) {
            took = zclock_mono () - start;
            break;
        }
        zclock_sleep (100);
    } while (zclock_mono () - start < timeout_ms);
    if (took < 0)
        cr_log_warn ("%s %s: %ld %.300s", method, path, res->status, res->body);
    free (res);
    return took;
}

//  ----------------------------------------------------------------------

Test (faults, a_killed_backend_fails_fast_and_returns_without_a_restart_of_others)
{
    char access [API_TOKEN_MAX], user_id [37], tag [32];
    api_new_user ("faults-kill", access, user_id);
    snprintf (tag, sizeof tag, "kill-%d", (int) getpid ());
    pid_t before [SERVICE_COUNT], after [SERVICE_COUNT];
    s_pids (before);

    load_t *load = (load_t *) calloc (1, sizeof *load);
    s_load_start (load, access, tag);
    zclock_sleep (1500);
    s_stack ("kill-service missions");
    int64_t killed_at = s_since (load->t0);
    zclock_sleep (4000);
    int64_t restarted_at = s_since (load->t0);
    s_stack ("start-service missions");
    int64_t started_at = s_since (load->t0);
    //  Until it answers, then long enough for every client to find it again
    int tries;
    int64_t recovered = s_until ("GET", "/api/v1/missions", access, NULL, 200, 15000, &tries);
    cr_assert_geq (recovered, 0, "missions did not answer within 15 s of its start");
    zclock_sleep (4000);
    s_load_stop (load);

    //  While it was dead: 503 at once, never a wait for the deadline
    size_t count, refused;
    s_check_answers (load, killed_at + 500, restarted_at, &count, &refused);
    cr_log_info ("killed at %lld ms: %zu requests while it was dead, %zu refused", (long long) killed_at,
                 count, refused);
    cr_assert_gt (count, 5);
    cr_assert_eq (refused, count, "only 503s while missions was dead");
    for (int i = 0; i < READERS + WRITERS; i++)
        for (size_t r = 0; r < load->workers [i].count; r++) {
            record_t *rec = &load->workers [i].records [r];
            if (rec->start >= killed_at + 500 && rec->start < restarted_at)
                cr_expect_lt (rec->took, FAST_MS, "a request %lld ms after the kill took %d ms",
                              (long long) (rec->start - killed_at), rec->took);
        }
    //  Back within a few seconds of its start, nothing else restarted
    int64_t back_at = s_first_success (load, restarted_at);
    cr_log_info ("started again at %lld ms (start-service returned at %lld ms), first success at %lld ms",
                 (long long) restarted_at, (long long) started_at, (long long) back_at);
    cr_assert_geq (back_at, 0, "no success after missions came back");
    cr_assert_lt (back_at - started_at, 5000, "missions answered only %lld ms after it started",
                  (long long) (back_at - started_at));
    //  Each HTTP thread's client tries the lost peer again at growing
    //  intervals, 2 s at most: then every request succeeds
    s_check_answers (load, back_at + 2500, INT64_MAX, &count, &refused);
    cr_assert_gt (count, 5);
    cr_assert_eq (refused, 0, "%zu of %zu requests refused after missions was back", refused, count);
    s_check_missions (load, user_id, tag);
    s_pids (after);
    for (size_t i = 0; i < SERVICE_COUNT; i++)
        if (!streq (SERVICES [i], "missions"))
            cr_assert_eq (after [i], before [i], "%s was restarted", SERVICES [i]);
    s_load_destroy (load);
    free (load);
}

Test (faults, postgres_away_is_503_and_every_service_recovers_by_itself)
{
    char access [API_TOKEN_MAX], user_id [37], tag [32];
    api_new_user ("faults-pg", access, user_id);
    snprintf (tag, sizeof tag, "pg-%d", (int) getpid ());
    pid_t before [SERVICE_COUNT], after [SERVICE_COUNT];
    s_pids (before);
    //  A mission to list evidence of, made before
    stack_http_t *res = (stack_http_t *) malloc (sizeof *res);
    cr_assert_eq (api_call ("POST", "/api/v1/missions", access, "{\"title\":\"before\",\"duration_minutes\":5}",
                            res), 201, "%s", res->body);
    json_t *mission = api_json (res);
    char evidence [128];
    snprintf (evidence, sizeof evidence, "/api/v1/evidence?mission_id=%s", api_str (mission, "id"));
    json_decref (mission);

    load_t *load = (load_t *) calloc (1, sizeof *load);
    s_load_start (load, access, tag);
    zclock_sleep (1000);
    int64_t stopping_at = s_since (load->t0);
    s_stack ("stop-postgres");
    int64_t stopped_at = s_since (load->t0);
    zclock_sleep (2000);
    int64_t restarting_at = s_since (load->t0);
    s_stack ("start-postgres");
    int64_t started_at = s_since (load->t0);
    int64_t pg_back = zclock_mono ();

    //  Every backend serves again without a restart, from its first request
    //  on (an idle connection the server closed is noticed before it is
    //  used): auth (sign-up and sign-in), missions, evidence, privacy
    const char *names [4] = { "auth", "missions", "evidence", "privacy" };
    int64_t took [4];
    int tries [4];
    char other [API_TOKEN_MAX], email [128], body [512];
    api_email (email, sizeof email, "faults-pg-after");
    snprintf (body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, API_PASSWORD);
    took [0] = s_until ("POST", "/api/v1/auth/register", NULL, body, 201, 15000, &tries [0]);
    long signed_in = api_login (email, API_PASSWORD, other, NULL, res);
    took [1] = s_until ("GET", "/api/v1/missions", access, NULL, 200, 15000, &tries [1]);
    took [2] = s_until ("GET", evidence, access, NULL, 200, 15000, &tries [2]);
    took [3] = s_until ("GET", "/api/v1/users/me/preferences", access, NULL, 200, 15000, &tries [3]);
    zclock_sleep (1000);
    s_load_stop (load);
    cr_log_info ("PostgreSQL stopping at %lld ms, stopped at %lld, starting at %lld, started at %lld",
                 (long long) stopping_at, (long long) stopped_at, (long long) restarting_at,
                 (long long) started_at);
    for (int i = 0; i < 4; i++) {
        cr_log_info ("%s served %lld ms after PostgreSQL was back, at try %d", names [i], (long long) took [i],
                     tries [i]);
        cr_assert_geq (took [i], 0, "%s did not recover within 15 s", names [i]);
        cr_expect_eq (tries [i], 1, "%s failed its first request after PostgreSQL was back", names [i]);
    }
    cr_assert_eq (signed_in, 200, "sign-in after PostgreSQL came back: %s", res->body);
    //  The writers' missions reach the audit trail once each: missions'
    //  outbox and audit's store are back too
    int keys = 0;
    for (int i = READERS; i < READERS + WRITERS; i++)
        keys += load->workers [i].keys;
    char sql [512];
    snprintf (sql, sizeof sql, "SELECT count (*) FROM audit.chain WHERE type = 'mission.created'"
              " AND user_id = '%s'", user_id);
    int64_t until = zclock_mono () + 20000;
    long audited;
    while ((audited = stack_db_long (sql)) < keys + 1 && zclock_mono () < until)
        zclock_sleep (200);
    cr_log_info ("audit had every mission.created %lld ms after PostgreSQL was back",
                 (long long) (zclock_mono () - pg_back));
    cr_assert_eq (audited, keys + 1, "every mission created, once, in the audit trail");

    //  While it was away: 503s, never a 500 and never past the deadline
    size_t count, refused;
    s_check_answers (load, stopped_at + 200, restarting_at, &count, &refused);
    cr_log_info ("%zu requests while PostgreSQL was away, %zu refused", count, refused);
    cr_assert_gt (count, 5);
    cr_assert_eq (refused, count, "only 503s while PostgreSQL was away");
    s_check_answers (load, started_at + 500, INT64_MAX, &count, &refused);
    cr_assert_gt (count, 5);
    cr_assert_eq (refused, 0, "%zu of %zu requests refused after PostgreSQL was back", refused, count);
    s_check_missions (load, user_id, tag);
    s_pids (after);
    for (size_t i = 0; i < SERVICE_COUNT; i++)
        cr_assert_eq (after [i], before [i], "%s was restarted", SERVICES [i]);
    s_load_destroy (load);
    free (load);
    free (res);
}

//  ----------------------------------------------------------------------
//  A flooded backend: auth, with a short queue and one slow-lane worker

#define QUEUE_MAX       4           //  SERVICE_MAX_QUEUE of the flooded auth: a burst overruns it
                                    //  even with a fast password hash
#define BURST           60          //  sign-ins at once through the gateway
#define FLOOD           12000       //  sign-in requests sent straight to auth
#define FLOOD_PAD       8192        //  bytes of padding in each: ~100 MB in all
#define RSS_GROWTH_MAX  (48 * 1024) //  kB auth may grow by under the flood

static bool s_auth_flooded;         //  auth runs with the short queue
static char s_asan_options [1024];  //  ASAN_OPTIONS before the test changed it

static void
s_restore_auth (void)
{
    if (!s_auth_flooded)
        return;
    stack_run ("stop-service auth");
    unsetenv ("SERVICE_MAX_QUEUE");
    unsetenv ("SERVICE_SLOW_WORKERS");
    setenv ("ASAN_OPTIONS", s_asan_options, 1);
    stack_run ("start-service auth");
    stack_wait_status ("/readyz", 200, 20000);
    //  /readyz answered through one gateway thread; the others' clients try
    //  the lost peer again at growing intervals, 2 s at most
    zclock_sleep (2500);
    s_auth_flooded = false;
}

typedef struct {
    const char *form;               //  borrowed password grant
    volatile bool *go;
    long status;
    int64_t took;
    char code [64];
} sign_in_t;

static void *
s_sign_in (void *arg)
{
    sign_in_t *self = (sign_in_t *) arg;
    stack_http_t *res = (stack_http_t *) malloc (sizeof *res);
    while (!*self->go)
        zclock_sleep (1);
    int64_t start = zclock_mono ();
    stack_http ("POST", "/api/v1/auth/token", "Content-Type: application/x-www-form-urlencoded",
                self->form, res);
    self->took = zclock_mono () - start;
    self->status = res->status;
    json_t *body = json_loads (res->body, 0, NULL);
    const char *code = json_string_value (json_object_get (json_object_get (body, "error"), "code"));
    snprintf (self->code, sizeof self->code, "%s", code? code: "");
    json_decref (body);
    free (res);
    return NULL;
}

//  One auth.login frame with cid: a real sign-in, or (pad > 0) one whose
//  body is padded past what any field allows, refused as busy at the door
//  or as invalid by a worker
static void
s_flood_frame (msgpack_sbuffer *buf, int64_t cid, const char *email, size_t pad)
{
    proto_envelope_t env = { 0 };
    env.v = PROTO_VERSION;
    env.has_v = true;
    env.type = (char *) "auth.login";
    env.cid = cid;
    env.has_cid = true;
    env.rid = (char *) "faults-flood";
    //  The real sign-ins keep the worker busy and its queue full for the
    //  whole flood, however slow the build: a long budget
    env.ttl_ms = pad? 5000: 120000;
    env.has_ttl_ms = true;
    msgpack_sbuffer_clear (buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    cr_assert_eq (proto_encode_open (&proto_envelope_desc, &env, &pk, 1), 0);
    msgpack_pack_str (&pk, 4);
    msgpack_pack_str_body (&pk, "body", 4);
    msgpack_pack_map (&pk, pad? 3: 2);
    msgpack_pack_str (&pk, 5);
    msgpack_pack_str_body (&pk, "email", 5);
    msgpack_pack_str (&pk, strlen (email));
    msgpack_pack_str_body (&pk, email, strlen (email));
    msgpack_pack_str (&pk, 8);
    msgpack_pack_str_body (&pk, "password", 8);
    msgpack_pack_str (&pk, strlen (API_PASSWORD));
    msgpack_pack_str_body (&pk, API_PASSWORD, strlen (API_PASSWORD));
    if (pad) {
        static char zeros [FLOOD_PAD];
        msgpack_pack_str (&pk, 3);
        msgpack_pack_str_body (&pk, "pad", 3);
        msgpack_pack_bin (&pk, pad);
        msgpack_pack_bin_body (&pk, zeros, pad);
    }
}

//  Reads every reply waiting on sock (for up to wait_ms for the first);
//  counts them by code. Returns how many were read.
static int
s_flood_replies (zsock_t *sock, int wait_ms, int *busy)
{
    int read = 0;
    while (zsock_events (sock) & ZMQ_POLLIN || (read == 0 && wait_ms > 0
           && zmq_poll (&(zmq_pollitem_t) { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 }, 1, wait_ms) > 0)) {
        zframe_t *frame = zframe_recv (sock);
        if (!frame)
            break;
        msgpack_unpacked upk;
        msgpack_unpacked_init (&upk);
        proto_envelope_t env;
        proto_error_t err;
        if (proto_envelope_decode (zframe_data (frame), zframe_size (frame), &upk, &env, &err) == CM_OK) {
            *busy += env.code && streq (env.code, "busy");
            proto_clear (&proto_envelope_desc, &env);
        }
        msgpack_unpacked_destroy (&upk);
        zframe_destroy (&frame);
        read++;
        wait_ms = 0;
    }
    return read;
}

Test (faults, a_flooded_backend_refuses_the_excess_at_once_with_bounded_memory, .fini = s_restore_auth)
{
    stack_http_t *res = (stack_http_t *) malloc (sizeof *res);
    char email [128], form [512], access [API_TOKEN_MAX];
    api_email (email, sizeof email, "faults-flood");
    cr_assert_eq (api_register (email, API_PASSWORD, res), 201, "%s", res->body);
    char *user = curl_easy_escape (NULL, email, 0), *pass = curl_easy_escape (NULL, API_PASSWORD, 0);
    snprintf (form, sizeof form, "grant_type=password&username=%s&password=%s", user, pass);
    curl_free (user);
    curl_free (pass);

    s_stack ("stop-service auth");
    s_auth_flooded = true;
    char value [16];
    snprintf (value, sizeof value, "%d", QUEUE_MAX);
    setenv ("SERVICE_MAX_QUEUE", value, 1);
    setenv ("SERVICE_SLOW_WORKERS", "1", 1);
    //  Under AddressSanitizer freed memory waits in a quarantine (256 MB by
    //  default) before it is reused: a short one, so that the peak shows
    //  what the service holds rather than what it freed
    const char *asan = getenv ("ASAN_OPTIONS");
    snprintf (s_asan_options, sizeof s_asan_options, "%s", asan? asan: "");
    char options [1100];
    snprintf (options, sizeof options, "%s%squarantine_size_mb=8", s_asan_options, asan? ":": "");
    setenv ("ASAN_OPTIONS", options, 1);
    s_stack ("start-service auth");
    cr_assert_eq (stack_wait_status ("/readyz", 200, 20000), 200, "auth did not come back");
    pid_t auth = stack_pid_of ("auth");

    //  Through the gateway: more sign-ins at once than one worker and its
    //  queue hold. The excess is refused as busy at once; the rest are
    //  served or run out of their deadline, nothing waits longer
    pthread_t threads [BURST];
    sign_in_t sign_ins [BURST];
    volatile bool go = false;
    for (int i = 0; i < BURST; i++) {
        sign_ins [i] = (sign_in_t) { .form = form, .go = &go };
        cr_assert_eq (pthread_create (&threads [i], NULL, s_sign_in, &sign_ins [i]), 0);
    }
    go = true;
    int served = 0, busy = 0;
    int64_t busy_slowest = 0;
    for (int i = 0; i < BURST; i++) {
        pthread_join (threads [i], NULL);
        sign_in_t *s = &sign_ins [i];
        cr_expect (s->status == 200 || s->status == 503, "a sign-in answered %ld", s->status);
        cr_expect_leq (s->took, BUDGET_MS + MARGIN_MS, "a sign-in took %lld ms", (long long) s->took);
        served += s->status == 200;
        if (s->status == 503 && streq (s->code, "busy")) {
            busy++;
            busy_slowest = s->took > busy_slowest? s->took: busy_slowest;
        }
    }
    cr_log_info ("%d sign-ins at once: %d served, %d refused as busy (the slowest refusal in %lld ms)",
                 BURST, served, busy, (long long) busy_slowest);
    cr_assert_gt (served, 0);
    //  Not every thread's request arrives at once (an HTTP thread's first
    //  call connects its client first), so not all of the excess meets a
    //  full queue; a good part of it does
    cr_assert_geq (busy, 10, "the excess was queued, not refused");
    cr_assert_lt (busy_slowest, FAST_MS, "a refusal waited %lld ms", (long long) busy_slowest);

    //  Straight to auth over CURVE, as the gateway: a flood of large
    //  requests behind a few real ones that keep its one worker busy. Its
    //  memory must not follow what was sent
    zcert_t *cert;
    cm_client_t *client = stack_client ("gateway", CM_SVC_AUTH, &cert);
    zsock_t *sock = cm_client_sock (client);
    zsock_set_sndtimeo (sock, 5000);
    zcert_t *probe_cert;
    cm_client_t *probe = stack_client ("gateway", CM_SVC_AUTH, &probe_cert);
    cr_assert_eq (stack_ping (probe, 3000, NULL, NULL, 0), CM_OK);
    //  Its peak so far includes a password hash: growth beyond it is the flood's
    long rss_before = s_status_kb (auth, "VmRSS"), hwm_before = s_status_kb (auth, "VmHWM");
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    int sent = 0, replies = 0, refused = 0;
    int64_t started = zclock_mono ();
    for (int i = 0; i < FLOOD; i++) {
        s_flood_frame (&buf, 1000 + i, email, i < QUEUE_MAX + 4? 0: FLOOD_PAD);
        cr_assert_eq (zmq_send (zsock_resolve (sock), buf.data, buf.size, 0), (int) buf.size,
                      "auth took no more requests after %d", i);
        sent++;
        replies += s_flood_replies (sock, 0, &refused);
        //  The cheap lane is still served meanwhile
        if (i == FLOOD / 2) {
            int64_t asked = zclock_mono ();
            cr_assert_eq (stack_ping (probe, 3000, NULL, NULL, 0), CM_OK, "a ping during the flood");
            cr_log_info ("a ping in the middle of the flood took %lld ms", (long long) (zclock_mono () - asked));
        }
    }
    int64_t sent_in = zclock_mono () - started;
    while (replies < sent) {
        int got = s_flood_replies (sock, 30000, &refused);
        if (!got)
            break;
        replies += got;
    }
    int64_t answered_in = zclock_mono () - started;
    long rss_after = s_status_kb (auth, "VmRSS"), hwm = s_status_kb (auth, "VmHWM");
    cr_log_info ("%d requests (%.0f MB) sent in %lld ms, %d answered in %lld ms, %d refused as busy;"
                 " auth VmRSS %ld kB before, %ld kB after, VmHWM %ld kB before, %ld kB after", sent,
                 (double) sent * FLOOD_PAD / 1e6, (long long) sent_in, replies, (long long) answered_in,
                 refused, rss_before, rss_after, hwm_before, hwm);
    cr_assert_eq (replies, sent, "every request got an answer");
    //  Once the real sign-ins are done the worker drains the queue quickly
    //  (it refuses padded bodies as invalid, and takes the next request off
    //  the socket itself), so how many get in depends on how fast the build
    //  and the sender are (a sanitizer build beside another test run: 43 %
    //  refused); what it could not take was refused, not held
    cr_assert_geq (refused, sent / 4, "a good part of the flood was refused at the door");
    cr_assert_lt (hwm - hwm_before, RSS_GROWTH_MAX, "auth's peak grew by %ld kB under the flood",
                  hwm - hwm_before);
    msgpack_sbuffer_destroy (&buf);
    cm_client_destroy (&probe);
    zcert_destroy (&probe_cert);
    cm_client_destroy (&client);
    zcert_destroy (&cert);

    //  ...and serves as usual afterwards, still the same process
    cr_assert_eq (api_login (email, API_PASSWORD, access, NULL, res), 200, "%s", res->body);
    cr_assert_eq (stack_pid_of ("auth"), auth);
    free (res);
}

//  ----------------------------------------------------------------------

#define HELD            300         //  idle and slow connections held open

Test (faults, hundreds_of_idle_and_slow_connections_do_not_starve_other_clients)
{
    int port = stack_port ("GATEWAY_HTTP_PORT", 0);
    int held [HELD];
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
    const char *half = "GET /api/v1/missions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    for (int i = 0; i < HELD; i++) {
        held [i] = socket (AF_INET, SOCK_STREAM, 0);
        cr_assert_geq (held [i], 0);
        cr_assert_eq (connect (held [i], (struct sockaddr *) &addr, sizeof addr), 0, "connection %d", i);
        //  Every other one stalls half-way through its head; the rest send nothing
        if (i % 2)
            cr_assert_eq (send (held [i], half, strlen (half), 0), (ssize_t) strlen (half));
    }
    zclock_sleep (500);
    //  Others are served at once, by every backend
    stack_http_t *res = (stack_http_t *) malloc (sizeof *res);
    int64_t slowest = 0;
    for (int i = 0; i < 10; i++) {
        int64_t asked = zclock_mono ();
        stack_http ("GET", "/readyz", NULL, NULL, res);
        int64_t took = zclock_mono () - asked;
        slowest = took > slowest? took: slowest;
        cr_assert_eq (res->status, 200, "%s", res->body);
        cr_assert_lt (took, 1000, "a request waited %lld ms behind %d held connections", (long long) took, HELD);
    }
    cr_log_info ("%d connections held: the slowest of 10 other requests took %lld ms", HELD, (long long) slowest);
    for (int i = 0; i < HELD; i++)
        close (held [i]);
    free (res);
}
