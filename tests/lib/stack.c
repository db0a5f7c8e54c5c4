/*  stack - integration test helpers */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <strings.h>
#include "stack.h"

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
    char url [4096];
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
