/*  cm_redis - hiredis with timeouts, password and reconnect */
#include <czmq.h>
#include "cm_redis.h"
#include "cm_log.h"

#define CONNECT_TIMEOUT_MS 500
#define COMMAND_TIMEOUT_MS 200
#define RECONNECT_GAP_MS   500

struct cm_redis_s {
    char host [256];                //  from REDIS_URL
    int port;
    int db;
    char *password;                 //  from REDIS_PASSWORD_FILE, owned; NULL = none
    redisContext *ctx;              //  NULL while disconnected
    int64_t last_attempt;           //  zclock_mono of the last connect
};

//  redis://host[:port][/db], no user info (config refuses passwords in URLs)
static int
s_parse_url (cm_redis_t *self, const char *url)
{
    const char *p = url + strlen ("redis://");
    size_t host_len = strcspn (p, ":/");
    if (host_len == 0 || host_len >= sizeof self->host)
        return -1;
    memcpy (self->host, p, host_len);
    self->host [host_len] = 0;
    p += host_len;
    self->port = 6379;
    if (*p == ':') {
        char *end;
        long port = strtol (p + 1, &end, 10);
        if (port < 1 || port > 65535)
            return -1;
        self->port = (int) port;
        p = end;
    }
    if (*p == '/' && p [1]) {
        char *end;
        long db = strtol (p + 1, &end, 10);
        if (db < 0 || db > 15 || *end)
            return -1;
        self->db = (int) db;
    }
    return 0;
}

cm_redis_t *
cm_redis_new (const cm_config_t *cfg)
{
    cm_redis_t *self = (cm_redis_t *) zmalloc (sizeof (cm_redis_t));
    if (!cfg->redis_url || s_parse_url (self, cfg->redis_url)) {
        cm_error ("REDIS_URL cannot be parsed");
        free (self);
        return NULL;
    }
    //  The config read and checked the file at start-up
    if (cfg->redis_password)
        self->password = strdup (cfg->redis_password);
    return self;
}

void
cm_redis_destroy (cm_redis_t **self_p)
{
    cm_redis_t *self = *self_p;
    if (self) {
        if (self->ctx)
            redisFree (self->ctx);
        if (self->password) {
            explicit_bzero (self->password, strlen (self->password));
            free (self->password);
        }
        free (self);
        *self_p = NULL;
    }
}

static bool
s_ok (redisReply *reply)
{
    return reply && reply->type != REDIS_REPLY_ERROR;
}

static int
s_connect (cm_redis_t *self)
{
    int64_t now = zclock_mono ();
    if (self->last_attempt && now - self->last_attempt < RECONNECT_GAP_MS)
        return -1;
    self->last_attempt = now;
    struct timeval connect_timeout = { 0, CONNECT_TIMEOUT_MS * 1000 };
    struct timeval command_timeout = { 0, COMMAND_TIMEOUT_MS * 1000 };
    self->ctx = redisConnectWithTimeout (self->host, self->port, connect_timeout);
    if (!self->ctx || self->ctx->err) {
        cm_warn ("redis %s:%d unreachable: %s", self->host, self->port,
                 self->ctx? self->ctx->errstr: "out of memory");
        goto failed;
    }
    redisSetTimeout (self->ctx, command_timeout);
    if (self->password) {
        redisReply *reply = redisCommand (self->ctx, "AUTH %s", self->password);
        bool ok = s_ok (reply);
        freeReplyObject (reply);
        if (!ok) {
            cm_warn ("redis refused the password");
            goto failed;
        }
    }
    if (self->db) {
        redisReply *reply = redisCommand (self->ctx, "SELECT %d", self->db);
        bool ok = s_ok (reply);
        freeReplyObject (reply);
        if (!ok)
            goto failed;
    }
    return 0;

failed:
    if (self->ctx)
        redisFree (self->ctx);
    self->ctx = NULL;
    return -1;
}

//  The server had closed the link before the command reached it (a Redis
//  restart leaves every pooled connection so): the command was not run
static bool
s_link_was_closed (const redisContext *ctx)
{
    return ctx->err == REDIS_ERR_EOF
        || (ctx->err == REDIS_ERR_IO && (errno == EPIPE || errno == ECONNRESET));
}

redisReply *
cm_redis_command (cm_redis_t *self, int argc, const char **argv)
{
    bool reused = self->ctx != NULL;
    if (!self->ctx && s_connect (self))
        return NULL;
    redisReply *reply = (redisReply *) redisCommandArgv (self->ctx, argc, argv, NULL);
    if (!reply && reused && s_link_was_closed (self->ctx)) {
        //  Once more on a fresh connection, so a restarted Redis costs no request
        redisFree (self->ctx);
        self->ctx = NULL;
        self->last_attempt = 0;
        if (s_connect (self))
            return NULL;
        reply = (redisReply *) redisCommandArgv (self->ctx, argc, argv, NULL);
    }
    if (!s_ok (reply)) {
        if (reply)
            cm_warn ("redis: %s", reply->str);
        else {
            //  A timeout or a broken link leaves the connection unusable
            redisFree (self->ctx);
            self->ctx = NULL;
            self->last_attempt = 0;
        }
        freeReplyObject (reply);
        return NULL;
    }
    return reply;
}
