/*  test_scaling - several replicas behind one gateway; one dies and comes back

    Beside the stack's own processes, scripts/stack.sh starts a second auth
    and a second and third missions replica on ports of their own, and an
    extra gateway lists them all in AUTH_ENDPOINTS / MISSIONS_ENDPOINTS.
    Threads drive reads (GET /api/v1/missions) and writes (POST with an
    Idempotency-Key, retried with the same key until they succeed, as a
    client would) through that gateway while one missions replica is
    killed (SIGKILL) and started again.

    What a replica does is read from the outside, as its CPU time
    (/proc/<pid>/stat): every sign-in at auth is an argon2id hash, and a
    missions replica that serves reads spends far more than its idle rate
    (heartbeats, the audit shipper's wake-ups), which is measured first. A
    read that went to the dead replica would wait half its budget before
    its second try, and a write would fail: the timings and statuses after
    the kill show the gateway stopped sending there.
*/
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <curl/curl.h>
#include <pthread.h>
#include <unistd.h>
#include "api.h"

static pid_t s_gateway;             //  the extra gateway, 0 when not running

//  Whatever happened, the extra processes go
static void
s_cleanup (void)
{
    if (s_gateway > 0)
        stack_gateway_stop (s_gateway);
    s_gateway = 0;
    stack_run ("stop-replica missions 3");
    stack_run ("stop-replica missions 2");
    stack_run ("stop-replica auth 2");
}

TestSuite (scaling, .fini = s_cleanup, .timeout = 90);

#define READERS         3
#define WRITERS         2
#define RECORDS_MAX     100000      //  requests one thread may record
#define KEYS_MAX        4096        //  writes one writer may make
#define BUDGET_MS       6000        //  the extra gateway's BACKEND_TIMEOUT_MS: room for a
                                    //  loaded machine; a second try comes after half of it
#define SLOW_MS         2500        //  a read this slow waited for a second try
#define GRACE_MS        1000        //  from the death of a replica until nothing goes there
//  Extra ports beside the stack's own. Other stacks on the machine sit at
//  offsets of 500 (TEST_PORT_OFFSET), so these deltas keep clear of every
//  stack's ports (their value modulo 500) and of test_edge's gateways
#define GATEWAY_DELTA   40
#define AUTH_2_DELTA    50
#define MISSIONS_2_DELTA 50
#define MISSIONS_3_DELTA 60
#define SERVED_CPU_MS   50          //  CPU beyond its idle rate of a replica that served reads
                                    //  for 2 s (~1000 reads in all take ~150 ms on each of 3)

static int s_port;                  //  the extra gateway's HTTP port
static char s_access [API_TOKEN_MAX];   //  the test user's token
static int64_t s_t0;                //  zclock_mono at the start of the load

//  Sign-ins (password grants), in two threads (auth has two slow-lane
//  workers per replica): each is an argon2id hash at whichever auth
//  replica gets it
#define SIGN_INS        16

typedef struct {
    const char *form;               //  the password grant, borrowed
    int count;                      //  sign-ins to make
    long status;                    //  the last one's status
    char body [sizeof ((stack_http_t *) 0)->body];  //  the last one's body
} sign_in_t;

static void *
s_sign_in (void *arg)
{
    sign_in_t *self = (sign_in_t *) arg;
    stack_http_t *res = (stack_http_t *) malloc (sizeof *res);
    for (int i = 0; i < self->count; i++) {
        stack_http_at (s_port, "POST", "/api/v1/auth/token",
                       "Content-Type: application/x-www-form-urlencoded", self->form, res);
        self->status = res->status;
        snprintf (self->body, sizeof self->body, "%s", res->body);
        if (res->status != 200)
            break;
    }
    free (res);
    return NULL;
}

typedef struct {
    int64_t start;                  //  ms since s_t0
    int32_t took;                   //  ms
    int32_t status;                 //  HTTP status, 0 when nothing answered
} record_t;

typedef struct {
    int index;
    bool writer;
    volatile bool *stop;
    record_t *records;              //  RECORDS_MAX, owned by the test
    size_t count;
    int keys;                       //  writer: keys used
    int keys_done;                  //  writer: keys that succeeded in the end
} worker_t;


//  --------------------------------------------------------------------------
//  Processes seen from the outside

//  CPU time of pid in ms (user + system); -1 when it is gone
static int64_t
s_cpu_ms (pid_t pid)
{
    char path [64], text [2048];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    size_t len = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text [len] = 0;
    //  Fields after the command name (which may hold spaces): state is 3rd
    const char *rest = strrchr (text, ')');
    unsigned long long utime = 0, stime = 0;
    if (!rest || sscanf (rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                         &utime, &stime) != 2)
        return -1;
    return (int64_t) (utime + stime) * 1000 / sysconf (_SC_CLK_TCK);
}

//  Waits until the backend on port answers a ping over CURVE as the gateway
static bool
s_wait_ping (cm_svc_t svc, int port, int timeout_ms)
{
    char path [1024], endpoint [64];
    snprintf (path, sizeof path, "%s/gateway.cert", stack_env ("KEYS_DIR"));
    zcert_t *cert = zcert_load (path);
    cr_assert_not_null (cert);
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    cm_client_t *client = cm_client_new (cert, stack_env ("KEYS_DIR"), svc, endpoint);
    cr_assert_not_null (client);
    int64_t until = zclock_mono () + timeout_ms;
    cm_err_t status;
    do
        status = stack_ping (client, 500, NULL, NULL, 0);
    while (status != CM_OK && zclock_mono () < until);
    cm_client_destroy (&client);
    zcert_destroy (&cert);
    return status == CM_OK;
}

static void
s_replica (const char *command, const char *svc, int index, int port)
{
    char args [128];
    if (port)
        snprintf (args, sizeof args, "%s %s %d %d", command, svc, index, port);
    else
        snprintf (args, sizeof args, "%s %s %d", command, svc, index);
    cr_assert_eq (stack_run (args), 0, "stack.sh %s failed (see $RUN_DIR/stack-cmd.log)", args);
}


//  --------------------------------------------------------------------------
//  Load

static int64_t
s_now (void)
{
    return zclock_mono () - s_t0;
}

static void
s_record (worker_t *self, int64_t start, long status)
{
    if (self->count < RECORDS_MAX)
        self->records [self->count++] = (record_t) { start, (int32_t) (s_now () - start),
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
            snprintf (header, sizeof header, "Authorization: Bearer %s", s_access);
            int64_t start = s_now ();
            stack_http_at (s_port, "GET", "/api/v1/missions?limit=5", header, NULL, res);
            s_record (self, start, res->status);
            continue;
        }
        if (self->keys == KEYS_MAX)
            break;
        //  One key, retried with the same body until it succeeds
        snprintf (key, sizeof key, "scale-%d-%d-%d", (int) getpid (), self->index, self->keys++);
        snprintf (header, sizeof header, "Authorization: Bearer %s\nIdempotency-Key: %s", s_access, key);
        snprintf (body, sizeof body, "{\"title\":\"%s\",\"duration_minutes\":30}", key);
        for (int attempt = 0; attempt < 40; attempt++) {
            int64_t start = s_now ();
            stack_http_at (s_port, "POST", "/api/v1/missions", header, body, res);
            s_record (self, start, res->status);
            if (res->status == 200 || res->status == 201) {
                self->keys_done++;
                break;
            }
            zclock_sleep (50);
        }
        zclock_sleep (10);
    }
    free (res);
    return NULL;
}

typedef struct {
    worker_t workers [READERS + WRITERS];
    pthread_t threads [READERS + WRITERS];
    int count;
    volatile bool stop;
} load_t;

static void
s_load_start (load_t *load, int readers, int writers)
{
    load->stop = false;
    load->count = readers + writers;
    for (int i = 0; i < load->count; i++) {
        worker_t *worker = &load->workers [i];
        if (!worker->records)
            worker->records = (record_t *) malloc (sizeof (record_t) * RECORDS_MAX);
        worker->index = i;
        worker->writer = i >= readers;
        worker->stop = &load->stop;
        cr_assert_eq (pthread_create (&load->threads [i], NULL, s_worker, worker), 0);
    }
}

static void
s_load_stop (load_t *load)
{
    load->stop = true;
    for (int i = 0; i < load->count; i++)
        pthread_join (load->threads [i], NULL);
}

//  Runs readers only (none when load is NULL) for ms; the CPU each
//  missions replica spends meanwhile into cpu_ms. Returns the reads made.
static size_t
s_reads_measured (load_t *load, const pid_t *pids, int count, int ms, int64_t *cpu_ms)
{
    size_t reads = 0;
    for (int i = 0; load && i < READERS; i++)
        reads -= load->workers [i].count;
    for (int i = 0; i < count; i++)
        cpu_ms [i] = s_cpu_ms (pids [i]);
    if (load)
        s_load_start (load, READERS, 0);
    zclock_sleep (ms);
    for (int i = 0; i < count; i++)
        cpu_ms [i] = s_cpu_ms (pids [i]) - cpu_ms [i];
    if (load)
        s_load_stop (load);
    for (int i = 0; load && i < READERS; i++)
        reads += load->workers [i].count;
    return reads;
}


//  --------------------------------------------------------------------------

Test (scaling, replicas_share_the_load_and_one_dies_and_returns)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
    int64_t test_start = zclock_mono ();
    stack_http_t *res = (stack_http_t *) malloc (sizeof *res);
    int auth_2 = stack_port ("AUTH_PORT", AUTH_2_DELTA);
    int missions_2 = stack_port ("MISSIONS_PORT", MISSIONS_2_DELTA);
    int missions_3 = stack_port ("MISSIONS_PORT", MISSIONS_3_DELTA);

    //  The extra replicas, then a gateway that knows all of them
    s_replica ("start-replica", "auth", 2, auth_2);
    s_replica ("start-replica", "missions", 2, missions_2);
    s_replica ("start-replica", "missions", 3, missions_3);
    //  Every replica is up before the gateway connects: a DEALER deals its
    //  first request to the peer it connected to first, so a replica that
    //  comes late would see few of the sign-ins below
    cr_assert (s_wait_ping (CM_SVC_AUTH, auth_2, 20000), "auth-2 does not answer");
    cr_assert (s_wait_ping (CM_SVC_MISSIONS, missions_2, 20000), "missions-2 does not answer");
    cr_assert (s_wait_ping (CM_SVC_MISSIONS, missions_3, 20000), "missions-3 does not answer");
    char overrides [512];
    snprintf (overrides, sizeof overrides,
              "AUTH_ENDPOINTS=tcp://127.0.0.1:%s,tcp://127.0.0.1:%d\n"
              "MISSIONS_ENDPOINTS=tcp://127.0.0.1:%s,tcp://127.0.0.1:%d,tcp://127.0.0.1:%d\n"
              "GATEWAY_THREADS=16\nBACKEND_TIMEOUT_MS=%d\n",
              stack_env ("AUTH_PORT"), auth_2, stack_env ("MISSIONS_PORT"), missions_2, missions_3, BUDGET_MS);
    s_port = stack_port ("GATEWAY_HTTP_PORT", GATEWAY_DELTA);
    int exit_code;
    s_gateway = stack_gateway_start (overrides, s_port, stack_port ("GATEWAY_HTTPS_PORT", GATEWAY_DELTA),
                                     stack_port ("GATEWAY_METRICS_PORT", GATEWAY_DELTA), &exit_code);
    cr_assert_gt (s_gateway, 0, "the extra gateway did not start on port %d (exit %d; -1: the port "
                  "is taken)", s_port, exit_code);
    int64_t ready_until = zclock_mono () + 10000;
    do
        stack_http_at (s_port, "GET", "/readyz", NULL, NULL, res);
    while (res->status != 200 && zclock_mono () < ready_until && (zclock_sleep (100), true));
    cr_assert_eq (res->status, 200, "the extra gateway is not ready: %s", res->body);
    cr_log_info ("replicas and gateway up after %lld ms", (long long) (zclock_mono () - test_start));

    //  Auth: sign-ins through the gateway reach both replicas
    pid_t auths [2] = { stack_pid_of ("auth"), stack_pid_of ("auth-2") };
    cr_assert (auths [0] > 0 && auths [1] > 0);
    int64_t cpu [2] = { s_cpu_ms (auths [0]), s_cpu_ms (auths [1]) };
    char email [128], body [512], form [512];
    api_email (email, sizeof email, "scaling");
    snprintf (body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\",\"name\":\"Scale\"}",
              email, API_PASSWORD);
    stack_http_at (s_port, "POST", "/api/v1/auth/register", NULL, body, res);
    cr_assert_eq (res->status, 201, "%s", res->body);
    json_t *user = api_json (res);
    char user_id [37];
    snprintf (user_id, sizeof user_id, "%s", api_str (user, "id"));
    json_decref (user);
    char *escaped = curl_easy_escape (NULL, email, 0), *password = curl_easy_escape (NULL, API_PASSWORD, 0);
    snprintf (form, sizeof form, "grant_type=password&username=%s&password=%s", escaped, password);
    curl_free (escaped);
    curl_free (password);
    pthread_t threads [SIGN_INS / 8];
    sign_in_t sign_ins [SIGN_INS / 8];
    for (int i = 0; i < SIGN_INS / 8; i++) {
        sign_ins [i] = (sign_in_t) { form, 8, 0, { 0 } };
        cr_assert_eq (pthread_create (&threads [i], NULL, s_sign_in, &sign_ins [i]), 0);
    }
    for (int i = 0; i < SIGN_INS / 8; i++) {
        pthread_join (threads [i], NULL);
        cr_assert_eq (sign_ins [i].status, 200, "a sign-in answered %ld", sign_ins [i].status);
    }
    json_t *tokens = json_loads (sign_ins [0].body, 0, NULL);
    cr_assert_not_null (tokens);
    snprintf (s_access, sizeof s_access, "%s", api_str (tokens, "access_token"));
    json_decref (tokens);
    //  Each replica did a fair part of the hashing (an even split is
    //  likeliest; one of 17 hashes plus idle time stays under a tenth)
    int64_t used [2], total = 0;
    for (int i = 0; i < 2; i++) {
        used [i] = s_cpu_ms (auths [i]) - cpu [i];
        total += used [i];
        cr_log_info ("auth replica %d: %lld ms of CPU for %d password hashes in all", i + 1,
                     (long long) used [i], SIGN_INS + 1);
    }
    for (int i = 0; i < 2; i++)
        cr_assert_geq (used [i] * 10, total, "auth replica %d got (nearly) no sign-in: %lld of %lld ms",
                       i + 1, (long long) used [i], (long long) total);

    cr_log_info ("signed in after %lld ms", (long long) (zclock_mono () - test_start));
    //  One read first: a fresh gateway fetches auth's public keys on its
    //  first token, and refuses (503) tokens that arrive meanwhile
    char *header = (char *) malloc (API_TOKEN_MAX + 64);
    snprintf (header, API_TOKEN_MAX + 64, "Authorization: Bearer %s", s_access);
    stack_http_at (s_port, "GET", "/api/v1/missions?limit=5", header, NULL, res);
    cr_assert_eq (res->status, 200, "%s", res->body);
    free (header);

    //  Missions: reads reach all three replicas
    pid_t pids [3] = { stack_pid_of ("missions"), stack_pid_of ("missions-2"), stack_pid_of ("missions-3") };
    cr_assert (pids [0] > 0 && pids [1] > 0 && pids [2] > 0);
    int64_t idle [3], busy [3];
    load_t load = { 0 };
    s_t0 = zclock_mono ();
    s_reads_measured (NULL, pids, 3, 1000, idle);
    size_t reads = s_reads_measured (&load, pids, 3, 2000, busy);
    for (int i = 0; i < 3; i++) {
        cr_log_info ("missions replica %d: %lld ms of CPU idle (1 s), %lld ms under %zu reads in all (2 s)",
                     i + 1, (long long) idle [i], (long long) busy [i], reads);
        cr_assert_geq (busy [i] - 2 * idle [i], SERVED_CPU_MS,
                       "missions replica %d served no reads: %lld ms of CPU (idle %lld ms/s)", i + 1,
                       (long long) busy [i], (long long) idle [i]);
    }

    //  Reads and writes; missions-3 is killed, then started again
    s_load_start (&load, READERS, WRITERS);
    zclock_sleep (2000);
    //  kill-replica returns once the process is gone
    s_replica ("kill-replica", "missions", 3, 0);
    int64_t killed_at = s_now ();
    zclock_sleep (3000);
    int64_t restarted_at = s_now ();
    s_replica ("start-replica", "missions", 3, missions_3);
    cr_assert (s_wait_ping (CM_SVC_MISSIONS, missions_3, 20000), "missions-3 does not come back");
    int64_t back_at = s_now ();
    //  Clients try a lost peer again at growing intervals, 2 s at most
    zclock_sleep (2500);
    s_load_stop (&load);
    cr_log_info ("load from %lld ms on", (long long) (s_t0 - test_start));
    cr_log_info ("killed at %lld ms, restarted at %lld ms, answering at %lld ms",
                 (long long) killed_at, (long long) restarted_at, (long long) back_at);

    //  Every read succeeded. Once the replica was dead (and after it was
    //  back) no read waited for a second try and no write failed: nothing
    //  went to the dead replica any more
    size_t writes = 0, slow_reads_before = 0;
    reads = 0;
    int keys = 0, keys_done = 0;
    for (int i = 0; i < load.count; i++) {
        worker_t *worker = &load.workers [i];
        keys += worker->keys;
        keys_done += worker->keys_done;
        for (size_t r = 0; r < worker->count; r++) {
            record_t *rec = &worker->records [r];
            bool after_kill = rec->start >= killed_at + GRACE_MS;
            if (!worker->writer) {
                reads++;
                cr_expect_eq (rec->status, 200, "a read at %lld ms answered %d",
                              (long long) rec->start, rec->status);
                slow_reads_before += rec->took >= SLOW_MS && rec->start < killed_at + GRACE_MS;
                cr_expect (!after_kill || rec->took < SLOW_MS,
                           "a read at %lld ms, %lld ms after the kill, took %d ms",
                           (long long) rec->start, (long long) (rec->start - killed_at), rec->took);
            }
            else {
                writes++;
                cr_expect (rec->start < killed_at + GRACE_MS || rec->status == 200 || rec->status == 201,
                           "a write at %lld ms, %lld ms after the kill, answered %d",
                           (long long) rec->start, (long long) (rec->start - killed_at), rec->status);
            }
        }
    }
    cr_log_info ("%zu reads (%zu waited for a second try around the kill), %zu write attempts "
                 "for %d keys", reads, slow_reads_before, writes, keys);
    cr_assert_gt (reads, 100);
    cr_assert_gt (keys, 20);
    cr_assert_eq (keys_done, keys, "some writes never succeeded");

    //  No write was made twice: one mission per idempotency key (its title)
    char sql [512];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM (SELECT title FROM missions.missions "
              "WHERE user_id = '%s' GROUP BY title HAVING count(*) > 1) AS twice", user_id);
    cr_assert_eq (stack_db_long (sql), 0, "a write was duplicated");
    snprintf (sql, sizeof sql, "SELECT count(*) FROM missions.missions WHERE user_id = '%s'", user_id);
    cr_assert_eq (stack_db_long (sql), keys);

    //  The restarted replica serves reads again. The writes' audit events
    //  are shipped first, so that no replica moves bytes for them meanwhile
    int64_t until = zclock_mono () + 10000;
    while (stack_db_long ("SELECT count(*) FROM missions.audit_outbox") > 0 && zclock_mono () < until)
        zclock_sleep (100);
    pids [2] = stack_pid_of ("missions-3");
    cr_assert_gt (pids [2], 0);
    reads = s_reads_measured (&load, pids, 3, 2000, busy);
    for (int i = 0; i < 3; i++) {
        cr_log_info ("missions replica %d: %lld ms of CPU under %zu reads in all (2 s) after the restart",
                     i + 1, (long long) busy [i], reads);
        //  The restarted process's idle rate is not known: the largest
        //  of the others' stands in for it
        int64_t idle_max = idle [0] > idle [1]? idle [0]: idle [1];
        idle_max = idle_max > idle [2]? idle_max: idle [2];
        cr_assert_geq (busy [i] - 2 * idle_max, SERVED_CPU_MS,
                       "missions replica %d served no reads: %lld ms of CPU", i + 1, (long long) busy [i]);
    }
    for (int i = 0; i < READERS; i++)
        for (size_t r = 0; r < load.workers [i].count; r++)
            cr_expect_eq (load.workers [i].records [r].status, 200, "a read answered %d",
                          load.workers [i].records [r].status);

    cr_log_info ("all checked after %lld ms", (long long) (zclock_mono () - test_start));
    int code = stack_gateway_stop (s_gateway);
    s_gateway = 0;
    cr_assert_eq (code, 0, "the extra gateway did not stop cleanly");
    for (int i = 0; i < READERS + WRITERS; i++)
        free (load.workers [i].records);
    free (res);
}
