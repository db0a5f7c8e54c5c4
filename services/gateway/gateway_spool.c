/*  gateway_spool - an fsync'd, bounded, flock'd file of JSON lines */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "gateway_spool.h"
#include "../../common/cm_fs.h"
#include "../../common/cm_log.h"

#define READ_CHUNK  65536               //  bytes a peek reads at a time
#define ADOPT_BATCH 256                 //  events taken over per append

struct gateway_spool_s {
    int fd;                             //  owned, flock'd for the process's life
    char path [1024];
    int64_t max_bytes;
    int64_t size;                       //  bytes in the file
    int64_t read_off;                   //  where undelivered lines start
    int64_t peek_end;                   //  where the last peek stopped
};

//  One event as a JSON line into a malloc'd string (LF included)
static char *
s_encode (const gateway_spool_event_t *e, size_t *len)
{
    json_t *object = json_pack ("{s:s, s:I, s:s, s:s}", "id", e->id, "at_ms", (json_int_t) e->at_ms,
                                "type", e->type, "outcome", e->outcome);
    const char *names [] = { "user_id", "request_id", "ip", "detail" };
    const char *values [] = { e->user_id, e->request_id, e->ip, e->detail };
    for (size_t i = 0; object && i < 4; i++)
        if (*values [i] && json_object_set_new (object, names [i], json_string (values [i]))) {
            json_decref (object);
            object = NULL;
        }
    char *text = object? json_dumps (object, JSON_COMPACT): NULL;
    json_decref (object);
    if (!text)
        return NULL;
    size_t n = strlen (text);
    char *line = (char *) realloc (text, n + 2);
    if (!line) {
        free (text);
        return NULL;
    }
    line [n] = '\n';
    line [n + 1] = 0;
    *len = n + 1;
    return line;
}

//  A string member into out (size bytes); absent gives "" unless required
static int
s_member (json_t *object, const char *name, char *out, size_t size, bool required)
{
    json_t *value = json_object_get (object, name);
    *out = 0;
    if (!value)
        return required? -1: 0;
    const char *text = json_string_value (value);
    if (!text || strlen (text) >= size)
        return -1;
    memcpy (out, text, strlen (text) + 1);
    return 0;
}

static int
s_decode (const char *line, size_t len, gateway_spool_event_t *e)
{
    memset (e, 0, sizeof *e);
    json_error_t error;
    json_t *object = json_loadb (line, len, JSON_REJECT_DUPLICATES, &error);
    json_t *at = json_object_get (object, "at_ms");
    int rc = json_is_object (object) && json_is_integer (at)
          && s_member (object, "id", e->id, sizeof e->id, true) == 0 && strlen (e->id) == 36
          && s_member (object, "type", e->type, sizeof e->type, true) == 0 && *e->type
          && s_member (object, "outcome", e->outcome, sizeof e->outcome, true) == 0 && *e->outcome
          && s_member (object, "user_id", e->user_id, sizeof e->user_id, false) == 0
          && s_member (object, "request_id", e->request_id, sizeof e->request_id, false) == 0
          && s_member (object, "ip", e->ip, sizeof e->ip, false) == 0
          && s_member (object, "detail", e->detail, sizeof e->detail, false) == 0? 0: -1;
    if (rc == 0)
        e->at_ms = (int64_t) json_integer_value (at);
    json_decref (object);
    return rc;
}

//  Cut a last line without its LF (an append a crash cut short)
static int
s_drop_torn_tail (int fd, int64_t *size)
{
    struct stat st;
    if (fstat (fd, &st))
        return -1;
    int64_t end = st.st_size;
    char c = '\n';
    while (end > 0) {
        if (pread (fd, &c, 1, end - 1) != 1)
            return -1;
        if (c == '\n')
            break;
        end--;
    }
    if (end != st.st_size) {
        cm_warn ("audit spool: an event cut short by a crash is dropped (%lld bytes)",
                 (long long) (st.st_size - end));
        if (ftruncate (fd, end) || fsync (fd))
            return -1;
    }
    *size = end;
    return 0;
}

//  Read up to max well-formed events from the complete lines of [from, to)
//  of fd, handing each to take; returns the offset after the last line
//  read, or -1 on an I/O error
typedef void (s_take_fn) (void *arg, const gateway_spool_event_t *e);

static int64_t
s_scan (int fd, int64_t from, int64_t to, size_t max, s_take_fn *take, void *arg, size_t *taken)
{
    char *chunk = (char *) malloc (READ_CHUNK);
    if (!chunk)
        return -1;
    *taken = 0;
    int64_t at = from;
    while (at < to && *taken < max) {
        size_t want = (size_t) (to - at < READ_CHUNK? to - at: READ_CHUNK);
        ssize_t got = pread (fd, chunk, want, at);
        if (got <= 0) {
            at = -1;
            break;
        }
        size_t start = 0;
        while (*taken < max) {
            char *lf = (char *) memchr (chunk + start, '\n', (size_t) got - start);
            if (!lf)
                break;                  //  the rest of this line is in the next chunk
            size_t len = (size_t) (lf - (chunk + start));
            gateway_spool_event_t e;
            if (len > 0 && s_decode (chunk + start, len, &e) == 0) {
                take (arg, &e);
                (*taken)++;
            }
            else
            if (len > 0)
                cm_warn ("audit spool: a line that is not an event is passed over");
            start += len + 1;
        }
        if (start == 0) {
            if ((size_t) got < READ_CHUNK)
                break;                  //  no complete line left
            //  No LF in a whole chunk: no event is that long; pass it
            cm_warn ("audit spool: an overlong line is passed over");
            start = (size_t) got;
        }
        at += (int64_t) start;
    }
    free (chunk);
    return at;
}

typedef struct {
    gateway_spool_event_t *events;
    size_t count;
} s_batch_t;

static void
s_collect (void *arg, const gateway_spool_event_t *e)
{
    s_batch_t *batch = (s_batch_t *) arg;
    batch->events [batch->count++] = *e;
}

//  Move the lines of an unheld slot into self, then empty it
static void
s_adopt (gateway_spool_t *self, const char *path)
{
    int fd = open (path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return;
    int64_t size = 0;
    if (flock (fd, LOCK_EX | LOCK_NB) == 0 && s_drop_torn_tail (fd, &size) == 0 && size > 0) {
        gateway_spool_event_t *events = (gateway_spool_event_t *) calloc (ADOPT_BATCH, sizeof *events);
        int64_t at = 0;
        size_t moved = 0;
        bool ok = events != NULL;
        while (ok && at < size) {
            s_batch_t batch = { events, 0 };
            size_t taken = 0;
            int64_t next = s_scan (fd, at, size, ADOPT_BATCH, s_collect, &batch, &taken);
            int written = next < 0? -1: gateway_spool_append (self, events, batch.count);
            ok = next > at && written == (int) batch.count;
            moved += batch.count;
            at = next;
        }
        free (events);
        if (ok && ftruncate (fd, 0) == 0 && fsync (fd) == 0)
            cm_info ("audit spool: took over %zu events of %s", moved, path);
        else
            cm_warn ("audit spool: could not take over all of %s; it stays for the next start", path);
    }
    close (fd);                         //  and with it the lock
}

gateway_spool_t *
gateway_spool_open (const char *dir, int64_t max_bytes)
{
    if (cm_fs_ensure_dir (dir)) {
        cm_error ("GATEWAY_AUDIT_SPOOL_DIR %s cannot be made: %s", dir, strerror (errno));
        return NULL;
    }
    gateway_spool_t *self = (gateway_spool_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = -1;
    self->max_bytes = max_bytes;
    int slot = -1;
    for (int n = 0; n < GATEWAY_SPOOL_SLOTS && slot < 0; n++) {
        snprintf (self->path, sizeof self->path, "%s/audit-spool.%d", dir, n);
        int fd = open (self->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            cm_error ("cannot open %s: %s", self->path, strerror (errno));
            break;
        }
        if (flock (fd, LOCK_EX | LOCK_NB) == 0) {
            self->fd = fd;
            slot = n;
        }
        else
            close (fd);
    }
    if (slot < 0 || s_drop_torn_tail (self->fd, &self->size)) {
        if (slot < 0)
            cm_error ("no free audit spool slot in %s", dir);
        gateway_spool_destroy (&self);
        return NULL;
    }
    for (int n = 0; n < GATEWAY_SPOOL_SLOTS; n++) {
        char other [1024];
        snprintf (other, sizeof other, "%s/audit-spool.%d", dir, n);
        if (n != slot)
            s_adopt (self, other);
    }
    if (self->size > 0)
        cm_info ("audit spool %s: %lld bytes of events wait for the audit service", self->path,
                 (long long) self->size);
    return self;
}

void
gateway_spool_destroy (gateway_spool_t **self_p)
{
    assert (self_p);
    gateway_spool_t *self = *self_p;
    if (self) {
        if (self->fd >= 0)
            close (self->fd);
        free (self);
        *self_p = NULL;
    }
}

int
gateway_spool_append (gateway_spool_t *self, const gateway_spool_event_t *events, size_t count)
{
    assert (self);
    if (count == 0)
        return 0;
    //  Encode what fits first, then one write and one fsync for the lot
    size_t used = 0, size = 0;
    char *buffer = NULL;
    size_t fitting = 0;
    for (; fitting < count; fitting++) {
        size_t len = 0;
        char *line = s_encode (&events [fitting], &len);
        if (!line) {
            free (buffer);
            return -1;
        }
        if (self->size + (int64_t) (used + len) > self->max_bytes) {
            free (line);
            break;
        }
        if (used + len > size) {
            size_t want = (used + len) * 2;
            char *bigger = (char *) realloc (buffer, want);
            if (!bigger) {
                free (line);
                free (buffer);
                return -1;
            }
            buffer = bigger;
            size = want;
        }
        memcpy (buffer + used, line, len);
        used += len;
        free (line);
    }
    int rc = (int) fitting;
    size_t done = 0;
    while (done < used) {
        ssize_t n = write (self->fd, buffer + done, used - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = -1;
            break;
        }
        done += (size_t) n;
    }
    if (rc >= 0 && used && fsync (self->fd))
        rc = -1;
    if (rc < 0) {
        cm_error ("cannot write the audit spool %s: %s", self->path, strerror (errno));
        //  Whatever part did land ends in a torn line: cut it
        s_drop_torn_tail (self->fd, &self->size);
    }
    else
        self->size += (int64_t) used;
    free (buffer);
    return rc;
}

int
gateway_spool_peek (gateway_spool_t *self, gateway_spool_event_t *events, size_t max)
{
    assert (self);
    s_batch_t batch = { events, 0 };
    size_t taken = 0;
    int64_t next = s_scan (self->fd, self->read_off, self->size, max, s_collect, &batch, &taken);
    if (next < 0) {
        cm_error ("cannot read the audit spool %s: %s", self->path, strerror (errno));
        return -1;
    }
    self->peek_end = next;
    //  Only lines that did not parse: pass them at once
    if (taken == 0 && next > self->read_off && gateway_spool_consume (self))
        return -1;
    return (int) taken;
}

int
gateway_spool_consume (gateway_spool_t *self)
{
    assert (self);
    if (self->peek_end > self->read_off)
        self->read_off = self->peek_end;
    if (self->read_off < self->size)
        return 0;
    //  All delivered: start the file over
    if (ftruncate (self->fd, 0) || fsync (self->fd)) {
        cm_error ("cannot empty the audit spool %s: %s", self->path, strerror (errno));
        return -1;
    }
    self->size = self->read_off = self->peek_end = 0;
    return 0;
}

int64_t
gateway_spool_pending (const gateway_spool_t *self)
{
    assert (self);
    return self->size - self->read_off;
}

const char *
gateway_spool_path (const gateway_spool_t *self)
{
    assert (self);
    return self->path;
}
