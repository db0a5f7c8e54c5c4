/*  stack - integration test helpers */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <strings.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "stack.h"

extern char **environ;

const char *
stack_env (const char *name)
{
    const char *value = getenv (name);
    cr_assert (value && *value, "%s is not set: run integration tests through tests/run.sh", name);
    return value;
}

typedef struct {
    char *data;
    size_t size, used;
    bool grow;                      //  realloc as needed (whole bodies)
} sink_t;

static size_t
s_sink (char *ptr, size_t size, size_t nmemb, void *arg)
{
    sink_t *sink = (sink_t *) arg;
    size_t len = size * nmemb;
    if (sink->grow && sink->used + len + 1 > sink->size) {
        size_t want = (sink->used + len + 1) * 2;
        char *bigger = realloc (sink->data, want);
        if (!bigger)
            return 0;
        sink->data = bigger;
        sink->size = want;
    }
    size_t room = sink->size - 1 - sink->used;
    size_t take = len < room? len: room;
    memcpy (sink->data + sink->used, ptr, take);
    sink->used += take;
    sink->data [sink->used] = 0;
    return len;
}

void
stack_http_bytes (const char *method, const char *target, const char *extra_header,
                  const void *body, size_t body_len, stack_http_t *out, char **data_p, size_t *len_p)
{
    memset (out, 0, sizeof *out);
    char url [32768];
    if (strncmp (target, "http", 4) == 0)
        snprintf (url, sizeof url, "%s", target);
    else
        snprintf (url, sizeof url, "http://127.0.0.1:%s%s", stack_env ("GATEWAY_HTTP_PORT"), target);
    CURL *curl = curl_easy_init ();
    sink_t body_sink = { out->body, sizeof out->body, 0, false };
    if (data_p)
        body_sink = (sink_t) { malloc (1), 1, 0, true };
    sink_t head_sink = { out->headers, sizeof out->headers, 0, false };
    //  extra_header may hold several headers separated by newlines
    struct curl_slist *headers = NULL;
    bool typed = false;
    char *copy = extra_header? strdup (extra_header): NULL;
    for (char *save = NULL, *line = copy? strtok_r (copy, "\n", &save): NULL; line;
         line = strtok_r (NULL, "\n", &save)) {
        headers = curl_slist_append (headers, line);
        typed = typed || strncasecmp (line, "Content-Type:", 13) == 0;
    }
    free (copy);
    if (body && !typed)
        headers = curl_slist_append (headers, "Content-Type: application/json");
    curl_easy_setopt (curl, CURLOPT_URL, url);
    char ca [1024];
    if (strncmp (url, "https:", 6) == 0) {
        snprintf (ca, sizeof ca, "%s/tls/server.crt", stack_env ("RUN_DIR"));
        curl_easy_setopt (curl, CURLOPT_CAINFO, ca);
    }
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    if (streq (method, "HEAD"))
        curl_easy_setopt (curl, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_sink);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &body_sink);
    curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, s_sink);
    curl_easy_setopt (curl, CURLOPT_HEADERDATA, &head_sink);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 30000L);
    if (curl_easy_perform (curl) == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
    if (data_p) {
        //  The start of the body also lands in out->body, for messages
        snprintf (out->body, sizeof out->body, "%.*s", (int) (body_sink.used < sizeof out->body - 1
                  ? body_sink.used: sizeof out->body - 1), body_sink.data);
        *data_p = body_sink.data;
        *len_p = body_sink.used;
    }
}

void
stack_http (const char *method, const char *path, const char *extra_header,
            const char *body, stack_http_t *out)
{
    stack_http_bytes (method, path, extra_header, body, body? strlen (body): 0, out, NULL, NULL);
}

void
stack_http_at (int port, const char *method, const char *path, const char *extra_header,
               const char *body, stack_http_t *out)
{
    char url [32768];
    snprintf (url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    stack_http_bytes (method, url, extra_header, body, body? strlen (body): 0, out, NULL, NULL);
}

bool
stack_http_header (const stack_http_t *res, const char *name, char *value, size_t size)
{
    size_t name_len = strlen (name);
    const char *line = res->headers;
    while (line && *line) {
        if (strncasecmp (line, name, name_len) == 0 && line [name_len] == ':') {
            const char *start = line + name_len + 1;
            while (*start == ' ')
                start++;
            size_t len = strcspn (start, "\r\n");
            snprintf (value, size, "%.*s", (int) len, start);
            return true;
        }
        line = strchr (line, '\n');
        if (line)
            line++;
    }
    return false;
}

int
stack_run (const char *args)
{
    char command [512];
    snprintf (command, sizeof command, "bash %s/scripts/stack.sh %s >>%s/stack-cmd.log 2>&1",
              stack_env ("REPO_ROOT"), args, stack_env ("RUN_DIR"));
    int rc = system (command);
    return WIFEXITED (rc)? WEXITSTATUS (rc): -1;
}

cm_client_t *
stack_client (const char *as, cm_svc_t target, zcert_t **cert_p)
{
    zsys_handler_set (NULL);
    char path [1024];
    snprintf (path, sizeof path, "%s/%s.cert", stack_env ("KEYS_DIR"), as? as: "");
    *cert_p = as? zcert_load (path): zcert_new ();
    cr_assert_not_null (*cert_p, "cannot load %s", path);
    char endpoint [64];
    char port_var [32];
    snprintf (port_var, sizeof port_var, "%s_PORT", cm_svc_name (target));
    for (char *c = port_var; *c; c++)
        *c = (char) toupper ((unsigned char) *c);
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%s", stack_env (port_var));
    cm_client_t *client = cm_client_new (*cert_p, stack_env ("KEYS_DIR"), target, endpoint);
    cr_assert_not_null (client);
    return client;
}

cm_err_t
stack_ping (cm_client_t *client, int timeout_ms, const char *uid, char *code, size_t size)
{
    cm_ctx_t ctx = { .deadline = zclock_mono () + timeout_ms };
    snprintf (ctx.rid, sizeof ctx.rid, "integration-test");
    if (uid)
        snprintf (ctx.uid, sizeof ctx.uid, "%s", uid);
    proto_ping_req_t req = { 0 };
    proto_ping_rep_t rep = { 0 };
    cm_reply_info_t info;
    cm_err_t status = cm_client_call (client, &ctx, PROTO_MSG_ping, &req, &rep, &info);
    if (code)
        snprintf (code, size, "%s", info.code);
    proto_clear (&proto_ping_rep_desc, &rep);
    return status;
}

PGconn *
stack_db (void)
{
    char conninfo [512];
    snprintf (conninfo, sizeof conninfo, "host=%s/pgsock port=%s user=postgres dbname=app",
              stack_env ("RUN_DIR"), stack_env ("PG_PORT"));
    PGconn *db = PQconnectdb (conninfo);
    cr_assert_eq (PQstatus (db), CONNECTION_OK, "superuser connection: %s", PQerrorMessage (db));
    return db;
}

long
stack_db_long (const char *sql)
{
    PGconn *db = stack_db ();
    PGresult *result = PQexec (db, sql);
    long value = -1;
    if (PQresultStatus (result) == PGRES_TUPLES_OK && PQntuples (result) == 1)
        value = atol (PQgetvalue (result, 0, 0));
    else
        cr_log_warn ("query failed: %s", PQresultErrorMessage (result));
    PQclear (result);
    PQfinish (db);
    return value;
}

long
stack_wait_status (const char *path, long want, int timeout_ms)
{
    int64_t until = zclock_mono () + timeout_ms;
    stack_http_t *res = malloc (sizeof *res);
    long status = 0;
    do {
        stack_http ("GET", path, NULL, NULL, res);
        status = res->status;
        if (status == want)
            break;
        zclock_sleep (100);
    } while (zclock_mono () < until);
    free (res);
    return status;
}

int
stack_pid_of (const char *id)
{
    char path [1024];
    snprintf (path, sizeof path, "%s/pids/%s.pid", stack_env ("RUN_DIR"), id);
    FILE *file = fopen (path, "r");
    long pid = -1;
    if (file) {
        if (fscanf (file, "%ld", &pid) != 1)
            pid = -1;
        fclose (file);
    }
    return (int) pid;
}

int
stack_port (const char *name, int delta)
{
    return atoi (stack_env (name)) + delta;
}

//  An environment under construction: "NAME=value" strings, NULL-terminated
typedef struct {
    char **vars;                    //  owned, each owned
    size_t count, size;             //  used, allocated (NULL included)
} env_t;

//  Sets the variable of one "NAME=value" line of len bytes, replacing an
//  earlier value of NAME; ignores anything that is not such a line
static void
s_env_set (env_t *env, const char *line, size_t len)
{
    while (len && (line [len - 1] == '\r' || line [len - 1] == '\n'))
        len--;
    const char *equals = (const char *) memchr (line, '=', len);
    if (!equals || equals == line)
        return;
    size_t prefix = (size_t) (equals - line) + 1;   //  "NAME="
    char *var = strndup (line, len);
    cr_assert_not_null (var);
    for (size_t i = 0; i < env->count; i++)
        if (strncmp (env->vars [i], var, prefix) == 0) {
            free (env->vars [i]);
            env->vars [i] = var;
            return;
        }
    if (env->count + 2 > env->size) {
        env->size = env->size? env->size * 2: 64;
        env->vars = (char **) realloc (env->vars, env->size * sizeof (char *));
        cr_assert_not_null (env->vars);
    }
    env->vars [env->count++] = var;
    env->vars [env->count] = NULL;
}

//  Sets every "NAME=value" line of text
static void
s_env_lines (env_t *env, const char *text)
{
    for (const char *line = text; line && *line; ) {
        const char *end = strchr (line, '\n');
        size_t len = end? (size_t) (end - line): strlen (line);
        s_env_set (env, line, len);
        line = end? end + 1: NULL;
    }
}

static void
s_env_destroy (env_t *env)
{
    for (size_t i = 0; i < env->count; i++)
        free (env->vars [i]);
    free (env->vars);
    memset (env, 0, sizeof *env);
}

//  Status of GET url, 0 when nothing answered within timeout_ms
static long
s_status (const char *url, long timeout_ms)
{
    CURL *curl = curl_easy_init ();
    long status = 0;
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (curl_easy_perform (curl) == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup (curl);
    return status;
}

//  Exit status as a shell reports it
static int
s_exit_code (int status)
{
    return WIFEXITED (status)? WEXITSTATUS (status): WIFSIGNALED (status)? 128 + WTERMSIG (status): -1;
}

//  Whether pid has ended; its exit status into *code (-1 when someone
//  else reaped it)
static bool
s_ended (pid_t pid, int *code)
{
    int status;
    pid_t done = waitpid (pid, &status, WNOHANG);
    if (done == pid) {
        *code = s_exit_code (status);
        return true;
    }
    //  Not our child any more (the test runner may reap every child)
    if (done < 0 && errno == ECHILD && kill (pid, 0) != 0) {
        *code = -1;
        return true;
    }
    return false;
}

pid_t
stack_gateway_start (const char *overrides, int http_port, int https_port, int metrics_port,
                     int *exit_code)
{
    if (exit_code)
        *exit_code = 0;
    env_t env = { NULL, 0, 0 };
    for (char **var = environ; *var; var++)
        s_env_set (&env, *var, strlen (*var));
    //  What the stack's own gateway is started with
    char command [1024];
    snprintf (command, sizeof command, "bash %s/scripts/stack.sh env gateway 2>/dev/null",
              stack_env ("REPO_ROOT"));
    FILE *pipe = popen (command, "r");
    cr_assert_not_null (pipe);
    char *text = (char *) calloc (1, 65536);
    size_t used = fread (text, 1, 65535, pipe);
    text [used] = 0;
    cr_assert_eq (pclose (pipe), 0, "scripts/stack.sh env gateway failed");
    s_env_lines (&env, text);
    free (text);
    if (overrides)
        s_env_lines (&env, overrides);
    char ports [160];
    snprintf (ports, sizeof ports, "GATEWAY_HTTP_PORT=%d\nGATEWAY_HTTPS_PORT=%d\nGATEWAY_METRICS_PORT=%d\n",
              http_port, https_port, metrics_port);
    s_env_lines (&env, ports);

    char binary [1024], log [1024], health [128];
    snprintf (binary, sizeof binary, "%s/gateway", stack_env ("BIN_DIR"));
    snprintf (log, sizeof log, "%s/logs/gateway-%d.log", stack_env ("RUN_DIR"), http_port);
    snprintf (health, sizeof health, "http://127.0.0.1:%d/healthz", http_port);
    char *argv [] = { binary, NULL };
    if (s_status (health, 1000) != 0) {
        //  Whatever answers there is not ours: never test a stranger
        fprintf (stderr, "stack_gateway_start: port %d is already in use\n", http_port);
        s_env_destroy (&env);
        if (exit_code)
            *exit_code = -1;
        return -1;
    }
    pid_t parent = getpid ();
    pid_t pid = fork ();
    cr_assert_geq (pid, 0, "fork: %s", strerror (errno));
    if (pid == 0) {
        //  Only async-signal-safe calls from here to execve
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        if (getppid () != parent)
            _exit (127);
        int in = open ("/dev/null", O_RDONLY);
        int out = open (log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (in < 0 || out < 0 || dup2 (in, 0) < 0 || dup2 (out, 1) < 0 || dup2 (out, 2) < 0)
            _exit (127);
        //  Nothing of the test process (its sockets, the runner's pipes) leaks in
        close_range (3, ~0U, 0);
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        execve (binary, argv, env.vars);
        _exit (127);
    }
    s_env_destroy (&env);

    int64_t until = zclock_mono () + 20000;
    int code;
    while (zclock_mono () < until) {
        if (s_ended (pid, &code)) {
            if (exit_code)
                *exit_code = code;
            return -1;
        }
        if (s_status (health, 1000) == 200)
            return pid;
        zclock_sleep (50);
    }
    code = stack_gateway_stop (pid);
    if (exit_code)
        *exit_code = code;
    return -1;
}

int
stack_gateway_stop (pid_t pid)
{
    if (pid <= 0)
        return -1;
    int code;
    kill (pid, SIGTERM);
    int64_t until = zclock_mono () + 20000;
    while (zclock_mono () < until) {
        if (s_ended (pid, &code))
            return code;
        zclock_sleep (20);
    }
    kill (pid, SIGKILL);
    while (!s_ended (pid, &code))
        zclock_sleep (20);
    return code;
}
