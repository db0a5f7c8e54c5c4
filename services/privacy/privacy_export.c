/*  privacy_export - export parts: sections, pages, streamed content */
#include <stdarg.h>
#include <time.h>
#include <jansson.h>
#include "privacy_export.h"
#include "privacy_base64.h"
#include "privacy_store.h"
#include "../../common/cm_log.h"

//  Items asked for per page of missions and of audit events
#define PAGE_LIMIT      100
//  Room every array item leaves behind it: the ']' that may close its array
#define CLOSE_RESERVE   1

#define CHANGED "the data changed during the export: start it again"

//  What a section step did
#define STEP_ON         0       //  progress made; go on
#define STEP_FULL       1       //  the part cannot take what comes next
#define STEP_FAILED     -1      //  self->err and the message are set

typedef struct {
    privacy_worker_t *worker;       //  borrowed
    const cm_ctx_t *ctx;            //  borrowed: the user's request
    privacy_cursor_t at;            //  where the bytes written so far end
    char *data;                     //  owned: the part, PRIVACY_EXPORT_PART bytes
    size_t len;                     //  bytes of it written
    cm_reply_info_t *info;          //  borrowed: the message on failure
    cm_err_t err;                   //  the status on failure
} export_t;

static int
s_fail (export_t *self, cm_err_t err, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->info->message, sizeof self->info->message, format, args);
    va_end (args);
    self->err = err;
    return STEP_FAILED;
}

static bool
s_fits (const export_t *self, size_t n)
{
    return n <= PRIVACY_EXPORT_PART - self->len;
}

static void
s_put (export_t *self, const char *text, size_t n)
{
    assert (s_fits (self, n));
    memcpy (self->data + self->len, text, n);
    self->len += n;
}

//  The next section, from its beginning
static void
s_next_section (export_t *self)
{
    privacy_section_t next = (privacy_section_t) (self->at.section + 1);
    privacy_cursor_init (&self->at);
    self->at.section = next;
}

//  A whole member (prefix and value) at once, then the next section
static int
s_member (export_t *self, const char *prefix, const char *json)
{
    size_t prefix_len = strlen (prefix), json_len = strlen (json);
    if (!s_fits (self, prefix_len + json_len))
        return STEP_FULL;
    s_put (self, prefix, prefix_len);
    s_put (self, json, json_len);
    s_next_section (self);
    return STEP_ON;
}

//  An array item, with a comma unless it is the first
static bool
s_item (export_t *self, const char *head, const char *tail)
{
    bool comma = self->at.opened == PRIVACY_CURSOR_ITEMS;
    size_t head_len = strlen (head), tail_len = tail? strlen (tail): 0;
    if (!s_fits (self, comma + head_len + tail_len + CLOSE_RESERVE))
        return false;
    if (comma)
        s_put (self, ",", 1);
    s_put (self, head, head_len);
    if (tail_len)
        s_put (self, tail, tail_len);
    self->at.opened = PRIVACY_CURSOR_ITEMS;
    return true;
}

//  A paged section's key and '[' (once)
static int
s_open (export_t *self, const char *prefix)
{
    if (self->at.opened != PRIVACY_CURSOR_CLOSED)
        return STEP_ON;
    if (!s_fits (self, strlen (prefix) + CLOSE_RESERVE))
        return STEP_FULL;
    s_put (self, prefix, strlen (prefix));
    self->at.opened = PRIVACY_CURSOR_OPENED;
    return STEP_ON;
}

//  The ']' that ends a paged section (items left room for it)
static int
s_close (export_t *self)
{
    s_put (self, "]", 1);
    s_next_section (self);
    return STEP_ON;
}

static void
s_set_page (export_t *self, const char *page)
{
    snprintf (self->at.page, sizeof self->at.page, "%s", page);
    self->at.item [0] = 0;
}

//  A source's answer; on failure the part fails with what it means for
//  the client: a source down is 503, an item gone is a changed export
static int
s_call (export_t *self, cm_svc_t svc, int msg_id, const void *req, void *rep)
{
    cm_reply_info_t info;
    cm_err_t status = privacy_worker_call (self->worker, svc, self->ctx, msg_id, req, rep, &info);
    if (status == CM_OK)
        return 0;
    cm_log_fields (CM_LOG_WARN, "export: a source failed", "type", proto_msgs [msg_id].name,
                   "code", cm_err_code (status), "message", info.message, (const char *) NULL);
    if (status == CM_NOT_FOUND)
        return s_fail (self, CM_CONFLICT, CHANGED);
    cm_err_t err = status == CM_UNAVAILABLE || status == CM_BUSY || status == CM_TIMEOUT
                || status == CM_DRAINING
                 ? CM_UNAVAILABLE: CM_BAD_GATEWAY;
    return s_fail (self, err, "the export cannot be complete: %s did not answer properly",
                   cm_svc_name (svc));
}

//  Compact JSON text of value (stolen); NULL when it cannot be rendered
static char *
s_dump (json_t *value)
{
    char *text = value? json_dumps (value, JSON_COMPACT): NULL;
    json_decref (value);
    return text;
}

static json_t *
s_text (const char *s)
{
    return s? json_string (s): json_null ();
}

//  ---------------------------------------------------------------------
//  The members written whole

static int
s_user (export_t *self)
{
    proto_auth_me_req_t req = { 0 };
    proto_auth_me_rep_t rep = { 0 };
    if (s_call (self, CM_SVC_AUTH, PROTO_MSG_auth_me, &req, &rep))
        return STEP_FAILED;
    const proto_auth_user_t *user = rep.user;
    json_t *roles = json_array ();
    for (uint32_t i = 0; i < user->roles_count; i++)
        json_array_append_new (roles, json_string (user->roles [i]));
    char *json = s_dump (json_pack ("{s:s, s:s, s:o, s:o, s:s, s:b, s:b}", "id", user->id,
                                    "email", user->email, "name", s_text (user->name), "roles", roles,
                                    "created_at", user->created_at, "mfa_enabled", user->mfa_enabled,
                                    "email_verified", user->email_verified));
    proto_clear (&proto_auth_me_rep_desc, &rep);
    int rc = json? s_member (self, "{\"user\":", json): s_fail (self, CM_INTERNAL, "cannot render the account");
    free (json);
    return rc;
}

static int
s_preferences (export_t *self)
{
    PGconn *db = privacy_worker_db (self->worker);
    privacy_prefs_t prefs;
    if (!db || privacy_store_prefs_get (db, self->ctx->uid, &prefs))
        return s_fail (self, CM_UNAVAILABLE, "preference store unavailable");
    char json [128];
    snprintf (json, sizeof json, "{\"tab_monitoring_enabled\":%s,\"emotion_tracking_enabled\":%s}",
              prefs.tab_monitoring_enabled? "true": "false", prefs.emotion_tracking_enabled? "true": "false");
    return s_member (self, ",\"preferences\":", json);
}

static int
s_sessions (export_t *self)
{
    proto_auth_sessions_req_t req = { 0 };
    proto_auth_sessions_rep_t rep = { 0 };
    if (s_call (self, CM_SVC_AUTH, PROTO_MSG_auth_sessions, &req, &rep))
        return STEP_FAILED;
    json_t *items = json_array ();
    for (uint32_t i = 0; i < rep.items_count; i++) {
        const proto_auth_session_t *s = &rep.items [i];
        json_array_append_new (items, json_pack ("{s:s, s:s, s:s, s:o, s:b}", "id", s->id,
                                                 "created_at", s->created_at, "last_seen_at", s->last_seen_at,
                                                 "user_agent", s_text (s->user_agent), "current", s->current));
    }
    char *json = s_dump (items);
    proto_clear (&proto_auth_sessions_rep_desc, &rep);
    int rc = json? s_member (self, ",\"sessions\":", json): s_fail (self, CM_INTERNAL, "cannot render the sessions");
    free (json);
    return rc;
}

static int
s_tail (export_t *self)
{
    struct timespec now;
    struct tm tm;
    clock_gettime (CLOCK_REALTIME, &now);
    gmtime_r (&now.tv_sec, &tm);
    char stamp [32], text [96];
    strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (text, sizeof text, ",\"exported_at\":\"%s.%03ldZ\"}", stamp, now.tv_nsec / 1000000);
    if (!s_fits (self, strlen (text)))
        return STEP_FULL;
    s_put (self, text, strlen (text));
    s_next_section (self);
    return STEP_ON;
}

//  ---------------------------------------------------------------------
//  Missions and audit events: pages asked with a limit. When a page does
//  not fit whole, the same page is asked again with the count that did,
//  and its next cursor is exactly after the last item written.

//  A section of pages: how to ask for one and read what came back
typedef union {
    proto_missions_list_rep_t missions;
    proto_audit_query_rep_t audit;
} s_page_t;

typedef struct {
    const char *opening;            //  the member's name and '['
    const char *item;               //  what an item is, for messages
    const proto_desc_t *desc;       //  the reply's description
    int (*ask) (export_t *self, int64_t limit, s_page_t *page);
    uint32_t (*count) (const s_page_t *page);
    const char *(*next_cursor) (const s_page_t *page);
    const char *(*id) (const s_page_t *page, uint32_t i);
    json_t *(*json) (const s_page_t *page, uint32_t i);
} s_paged_t;

//  After written items of the page in hand (first holds their ids): the
//  page cursor that follows exactly them
static int
s_paged_after (export_t *self, const s_paged_t *paged, const s_page_t *first, uint32_t written)
{
    s_page_t page = { 0 };
    if (paged->ask (self, written, &page))
        return STEP_FAILED;
    int rc = paged->count (&page) == written? STEP_FULL: s_fail (self, CM_CONFLICT, CHANGED);
    for (uint32_t i = 0; rc == STEP_FULL && i < written; i++)
        if (!streq (paged->id (&page, i), paged->id (first, i)))
            rc = s_fail (self, CM_CONFLICT, CHANGED);
    if (rc == STEP_FULL) {
        if (paged->next_cursor (&page))
            s_set_page (self, paged->next_cursor (&page));
        else
            s_close (self);             //  everything after went meanwhile
    }
    proto_clear (paged->desc, &page);
    return rc;
}

static int
s_paged (export_t *self, const s_paged_t *paged)
{
    int rc = s_open (self, paged->opening);
    if (rc != STEP_ON)
        return rc;
    s_page_t page = { 0 };
    if (paged->ask (self, PAGE_LIMIT, &page))
        return STEP_FAILED;
    uint32_t written = 0;
    for (; rc == STEP_ON && written < paged->count (&page); written++) {
        char *json = s_dump (paged->json (&page, written));
        if (!json)
            rc = s_fail (self, CM_INTERNAL, "cannot render %s", paged->item);
        else
        if (!s_item (self, json, NULL))
            rc = STEP_FULL;
        free (json);
        if (rc != STEP_ON)
            break;
    }
    if (rc == STEP_FULL && written > 0)
        rc = s_paged_after (self, paged, &page, written);
    else
    if (rc == STEP_ON && paged->next_cursor (&page))
        s_set_page (self, paged->next_cursor (&page));
    else
    if (rc == STEP_ON)
        rc = s_close (self);
    proto_clear (paged->desc, &page);
    return rc;
}

static int
s_missions_ask (export_t *self, int64_t limit, s_page_t *page)
{
    proto_missions_list_req_t req = {
        .limit = limit, .has_limit = true, .cursor = self->at.page [0]? self->at.page: NULL
    };
    return s_call (self, CM_SVC_MISSIONS, PROTO_MSG_missions_list, &req, &page->missions);
}

static uint32_t
s_missions_count (const s_page_t *page)
{
    return page->missions.items_count;
}

static const char *
s_missions_next (const s_page_t *page)
{
    return page->missions.next_cursor;
}

static const char *
s_mission_id (const s_page_t *page, uint32_t i)
{
    return page->missions.items [i].id;
}

static json_t *
s_mission_json (const s_page_t *page, uint32_t i)
{
    const proto_mission_t *m = &page->missions.items [i];
    return json_pack ("{s:s, s:s, s:o, s:I, s:s, s:s, s:s}", "id", m->id, "title", m->title,
                      "description", s_text (m->description),
                      "duration_minutes", (json_int_t) m->duration_minutes, "status", m->status,
                      "created_at", m->created_at, "updated_at", m->updated_at);
}

static const s_paged_t s_missions = {
    ",\"missions\":[", "a mission", &proto_missions_list_rep_desc,
    s_missions_ask, s_missions_count, s_missions_next, s_mission_id, s_mission_json
};

static int
s_audit_ask (export_t *self, int64_t limit, s_page_t *page)
{
    proto_audit_query_req_t req = {
        .user_id = (char *) self->ctx->uid, .limit = limit, .has_limit = true,
        .cursor = self->at.page [0]? self->at.page: NULL
    };
    return s_call (self, CM_SVC_AUDIT, PROTO_MSG_audit_query, &req, &page->audit);
}

static uint32_t
s_audit_count (const s_page_t *page)
{
    return page->audit.items_count;
}

static const char *
s_audit_next (const s_page_t *page)
{
    return page->audit.next_cursor;
}

static const char *
s_audit_id (const s_page_t *page, uint32_t i)
{
    return page->audit.items [i].id;
}

static json_t *
s_audit_json (const s_page_t *page, uint32_t i)
{
    const proto_audit_record_t *e = &page->audit.items [i];
    return json_pack ("{s:s, s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:s, s:s}",
                      "id", e->id, "seq", (json_int_t) e->seq, "at", e->at, "type", e->type,
                      "service", e->service, "user_id", s_text (e->user_id),
                      "request_id", s_text (e->request_id), "ip", s_text (e->ip),
                      "outcome", e->outcome, "detail", s_text (e->detail),
                      "hash", e->hash, "prev_hash", e->prev_hash);
}

static const s_paged_t s_audit = {
    ",\"audit_events\":[", "an audit event", &proto_audit_query_rep_desc,
    s_audit_ask, s_audit_count, s_audit_next, s_audit_id, s_audit_json
};

//  ---------------------------------------------------------------------
//  Evidence: pages of items, each item's content streamed through base64
//  in chunks, as many as the part takes

//  The item's members and the start of content_base64; caller frees
static char *
s_evidence_head (const proto_evidence_t *e)
{
    bool stored = streq (e->status, "stored");
    char *json = s_dump (json_pack ("{s:s, s:s, s:s, s:s, s:I, s:o, s:s, s:s}", "id", e->id,
                                    "mission_id", e->mission_id, "filename", e->filename,
                                    "content_type", e->content_type, "size_bytes", (json_int_t) e->size_bytes,
                                    "sha256", s_text (stored? e->sha256: NULL),
                                    "status", stored? "stored": "pending", "created_at", e->created_at));
    if (!json)
        return NULL;
    //  Reopen the object for the content member
    size_t len = strlen (json);
    assert (len > 2 && json [len - 1] == '}');
    json [len - 1] = 0;
    char *head = zsys_sprintf ("%s,\"content_base64\":", json);
    free (json);
    return head;
}

//  Stream the content of an item whose head is written, from the cursor's
//  offset and carry, while the part has room
static int
s_evidence_content (export_t *self, const proto_evidence_t *e)
{
    privacy_base64_t b64;
    memcpy (b64.carry, self->at.carry, sizeof b64.carry);
    b64.carry_len = self->at.carry_len;
    int rc = STEP_ON;
    while (rc == STEP_ON && self->at.streaming) {
        int64_t left = e->size_bytes - self->at.offset;
        size_t chunk = left < PRIVACY_CURSOR_CHUNK? (size_t) (left > 0? left: 0): PRIVACY_CURSOR_CHUNK;
        bool last = (int64_t) chunk == left || left <= 0;
        //  The chunk's text, and for the last one its padding and the item's end
        size_t need = privacy_base64_update_size (&b64, chunk) + (last? 4 + 2: 0) + CLOSE_RESERVE;
        if (!s_fits (self, need))
            return STEP_FULL;
        proto_evidence_content_rep_t rep = { 0 };
        if (chunk > 0) {
            proto_evidence_content_req_t req = { .id = e->id, .offset = self->at.offset, .has_offset = true };
            if (s_call (self, CM_SVC_EVIDENCE, PROTO_MSG_evidence_content, &req, &rep))
                return STEP_FAILED;
            //  The chunk asked for, of the file listed, or the file changed
            if (rep.data_len != chunk || !rep.evidence || rep.evidence->size_bytes != e->size_bytes
            ||  rep.last != last)
                rc = s_fail (self, CM_CONFLICT, CHANGED);
            else
                self->len += privacy_base64_update (&b64, rep.data, rep.data_len, self->data + self->len);
        }
        proto_clear (&proto_evidence_content_rep_desc, &rep);
        if (rc != STEP_ON)
            break;
        self->at.offset += (int64_t) chunk;
        if (last) {
            self->len += privacy_base64_final (&b64, self->data + self->len);
            s_put (self, "\"}", 2);
            self->at.streaming = false;
            self->at.offset = 0;
        }
        memcpy (self->at.carry, b64.carry, sizeof b64.carry);
        self->at.carry_len = (uint8_t) b64.carry_len;
    }
    return rc;
}

static int
s_evidence_item (export_t *self, const proto_evidence_t *e)
{
    //  Should the part end inside this item, the next begins here
    snprintf (self->at.item, sizeof self->at.item, "%s", e->id);
    if (!self->at.streaming) {
        bool stored = streq (e->status, "stored");
        char *head = s_evidence_head (e);
        if (!head)
            return s_fail (self, CM_INTERNAL, "cannot render an evidence item");
        bool written = s_item (self, head, stored? "\"": "null}");
        free (head);
        if (!written)
            return STEP_FULL;
        if (!stored)
            return STEP_ON;
        self->at.streaming = true;
        self->at.offset = 0;
        self->at.carry_len = 0;
    }
    return s_evidence_content (self, e);
}

static int
s_evidence (export_t *self)
{
    int rc = s_open (self, ",\"evidence\":[");
    if (rc != STEP_ON)
        return rc;
    proto_evidence_list_user_req_t req = { .cursor = self->at.page [0]? self->at.page: NULL };
    proto_evidence_list_user_rep_t rep = { 0 };
    if (s_call (self, CM_SVC_EVIDENCE, PROTO_MSG_evidence_list_user, &req, &rep))
        return STEP_FAILED;
    uint32_t i = 0;
    if (self->at.item [0]) {
        while (i < rep.items_count && !streq (rep.items [i].id, self->at.item))
            i++;
        if (i == rep.items_count)
            rc = s_fail (self, CM_CONFLICT, CHANGED);
    }
    for (; rc == STEP_ON && i < rep.items_count; i++)
        rc = s_evidence_item (self, &rep.items [i]);
    if (rc == STEP_ON) {
        if (rep.next_cursor)
            s_set_page (self, rep.next_cursor);
        else
            rc = s_close (self);
    }
    proto_clear (&proto_evidence_list_user_rep_desc, &rep);
    return rc;
}

//  ---------------------------------------------------------------------

cm_err_t
privacy_export_part (privacy_worker_t *worker, const cm_ctx_t *ctx, const char *cursor,
                     uint8_t **data_p, size_t *len_p, char *next, cm_reply_info_t *info)
{
    *data_p = NULL;
    *len_p = 0;
    next [0] = 0;
    export_t self = { .worker = worker, .ctx = ctx, .info = info, .err = CM_OK };
    if (cursor) {
        if (privacy_cursor_decode (cursor, &self.at)) {
            snprintf (info->message, sizeof info->message, "cursor: not a cursor of this export");
            return CM_INVALID_REQUEST;
        }
    }
    else
        privacy_cursor_init (&self.at);
    self.data = (char *) malloc (PRIVACY_EXPORT_PART);
    if (!self.data) {
        snprintf (info->message, sizeof info->message, "out of memory");
        return CM_INTERNAL;
    }
    int rc = STEP_ON;
    while (rc == STEP_ON && self.at.section != PRIVACY_SECTION_DONE) {
        switch (self.at.section) {
            case PRIVACY_SECTION_USER:        rc = s_user (&self); break;
            case PRIVACY_SECTION_PREFERENCES: rc = s_preferences (&self); break;
            case PRIVACY_SECTION_SESSIONS:    rc = s_sessions (&self); break;
            case PRIVACY_SECTION_MISSIONS:    rc = s_paged (&self, &s_missions); break;
            case PRIVACY_SECTION_EVIDENCE:    rc = s_evidence (&self); break;
            case PRIVACY_SECTION_AUDIT:       rc = s_paged (&self, &s_audit); break;
            case PRIVACY_SECTION_TAIL:        rc = s_tail (&self); break;
            case PRIVACY_SECTION_DONE:        break;
        }
    }
    //  Every element is far smaller than a part: an empty full part would
    //  send the gateway round in circles
    if (rc == STEP_FULL && self.len == 0)
        rc = s_fail (&self, CM_INTERNAL, "an element of the export does not fit in a part");
    if (rc != STEP_FAILED && self.at.section != PRIVACY_SECTION_DONE
    &&  privacy_cursor_encode (&self.at, next, PRIVACY_CURSOR_SIZE))
        rc = s_fail (&self, CM_INTERNAL, "cannot encode the export's position");
    if (rc == STEP_FAILED) {
        free (self.data);
        next [0] = 0;
        return self.err;
    }
    *data_p = (uint8_t *) self.data;
    *len_p = self.len;
    return CM_OK;
}
