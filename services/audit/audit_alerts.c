/*  audit_alerts - rules, decisions, and the webhook sender thread */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "audit_alerts.h"
#include "audit_rules.h"
#include "../../common/cm_hex.h"
#include "../../common/cm_log.h"
#include "../../common/cm_url.h"

#define WEBHOOK_QUEUE       256
#define WEBHOOK_CONNECT_MS  2000
#define USER_AGENT          "audit-alerts"

static const struct {
    const char *name;
    const char *type;               //  the event type counted
    bool per_ip;                    //  else per account (user id)
} s_rules [AUDIT_ALERT_RULES] = {
    [AUDIT_ALERT_DENIED_PER_IP]              = { "denied_per_ip", "authz.denied", true },
    [AUDIT_ALERT_DENIED_PER_ACCOUNT]         = { "denied_per_account", "authz.denied", false },
    [AUDIT_ALERT_LOGIN_FAILURES_PER_IP]      = { "login_failures_per_ip", "auth.login.failure", true },
    [AUDIT_ALERT_LOGIN_FAILURES_PER_ACCOUNT] = { "login_failures_per_account", "auth.login.failure", false },
};

void
audit_alerts_config (audit_alerts_config_t *self, const cm_config_t *cfg)
{
    assert (self && cfg);
    self->window_ms = cfg->alert_window_s * 1000;
    self->threshold [AUDIT_ALERT_DENIED_PER_IP] = cfg->alert_denied_per_ip;
    self->threshold [AUDIT_ALERT_DENIED_PER_ACCOUNT] = cfg->alert_denied_per_account;
    self->threshold [AUDIT_ALERT_LOGIN_FAILURES_PER_IP] = cfg->alert_login_failures_per_ip;
    self->threshold [AUDIT_ALERT_LOGIN_FAILURES_PER_ACCOUNT] = cfg->alert_login_failures_per_account;
}

const char *
audit_alerts_rule_name (audit_alert_rule_t rule)
{
    return rule < AUDIT_ALERT_RULES? s_rules [rule].name: "unknown";
}

int
audit_alerts_match (const audit_alerts_config_t *self, const char *type, const char *ip,
                    const char *user_id, audit_alerts_hit_t *hits)
{
    assert (self && hits);
    int count = 0;
    for (int rule = 0; type && rule < AUDIT_ALERT_RULES; rule++) {
        const char *value = s_rules [rule].per_ip? ip: user_id;
        if (self->threshold [rule] > 0 && value && *value && strcmp (type, s_rules [rule].type) == 0)
            hits [count++] = (audit_alerts_hit_t) { (audit_alert_rule_t) rule, value };
    }
    return count;
}

bool
audit_alerts_fires (const audit_alerts_config_t *self, audit_alert_rule_t rule, int64_t count,
                    int64_t last_alert_ms, int64_t at_ms)
{
    assert (self && rule < AUDIT_ALERT_RULES);
    int64_t threshold = self->threshold [rule];
    if (threshold <= 0 || count <= threshold)
        return false;
    //  Once per window and subject: a flood is one alert, not thousands
    return last_alert_ms <= 0 || at_ms - last_alert_ms >= self->window_ms;
}

int
audit_alerts_tag (const uint8_t key [32], audit_alert_rule_t rule, const char *value, char *tag)
{
    assert (key && tag && rule < AUDIT_ALERT_RULES);
    *tag = 0;
    char text [256];
    int len = snprintf (text, sizeof text, "%s:%s", s_rules [rule].name, value? value: "");
    if (len < 0 || (size_t) len >= sizeof text)
        return -1;
    uint8_t digest [EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (!HMAC (EVP_sha256 (), key, 32, (const uint8_t *) text, (size_t) len, digest, &digest_len)
    ||  digest_len != 32)
        return -1;
    cm_hex_encode (digest, 32, tag);
    return 0;
}

static json_t *
s_string_or_null (const char *s)
{
    return s? json_string (s): json_null ();
}

char *
audit_alerts_detail (const audit_alert_t *alert)
{
    assert (alert);
    //  The IP goes with the event, apart from the chain, not in here
    json_t *detail = json_pack ("{s:s, s:I, s:I, s:I, s:s}",
                                "rule", audit_alerts_rule_name (alert->rule),
                                "count", (json_int_t) alert->count,
                                "threshold", (json_int_t) alert->threshold,
                                "window_s", (json_int_t) (alert->window_ms / 1000),
                                "trigger_event_id", alert->trigger_id);
    char *text = detail? json_dumps (detail, JSON_COMPACT): NULL;
    json_decref (detail);
    return text;
}

char *
audit_alerts_webhook_body (const audit_alert_t *alert)
{
    assert (alert);
    char at [AUDIT_TIME_SIZE] = "";
    audit_rules_time_format (alert->at_ms, at);
    char type [80];
    snprintf (type, sizeof type, "alert.%s", audit_alerts_rule_name (alert->rule));
    json_t *body = json_pack ("{s:s, s:s, s:I, s:I, s:I, s:s, s:I, s:s, s:s, s:o, s:o}",
                              "type", type, "rule", audit_alerts_rule_name (alert->rule),
                              "count", (json_int_t) alert->count,
                              "threshold", (json_int_t) alert->threshold,
                              "window_s", (json_int_t) (alert->window_ms / 1000),
                              "at", at, "seq", (json_int_t) alert->seq,
                              "event_id", alert->event_id, "trigger_event_id", alert->trigger_id,
                              "user_id", s_string_or_null (alert->user_id),
                              "ip", s_string_or_null (alert->ip));
    char *text = body? json_dumps (body, JSON_COMPACT): NULL;
    json_decref (body);
    return text;
}

void
audit_alerts_clear (audit_alert_t *alert)
{
    if (alert) {
        free (alert->user_id);
        free (alert->ip);
        memset (alert, 0, sizeof *alert);
    }
}

int
audit_alerts_check_url (const char *url)
{
    return cm_url_check_outbound (url, true, true);
}

//  ----------------------------------------------------------------------
//  The sender: one thread, a bounded queue, a reference count

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_wake = PTHREAD_COND_INITIALIZER;
static pthread_t s_thread;
static int s_refs;                      //  starts minus stops
static bool s_running, s_stopping;
static char *s_url;                     //  owned while running
static int64_t s_timeout_ms;
static char *s_queue [WEBHOOK_QUEUE];   //  bodies waiting, oldest at s_head
static size_t s_head, s_count;

static size_t
s_discard (char *ptr, size_t size, size_t nmemb, void *arg)
{
    (void) ptr;
    (void) arg;
    return size * nmemb;
}

static void
s_post (const char *url, int64_t timeout_ms, const char *body)
{
    CURL *curl = curl_easy_init ();
    struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
    long status = 0;
    CURLcode rc = CURLE_FAILED_INIT;
    if (curl && headers
    &&  curl_easy_setopt (curl, CURLOPT_URL, url) == CURLE_OK
    &&  curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK
    &&  curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK
    &&  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK
    &&  curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT_MS,
                          (long) (timeout_ms < WEBHOOK_CONNECT_MS? timeout_ms: WEBHOOK_CONNECT_MS)) == CURLE_OK
    &&  curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long) timeout_ms) == CURLE_OK
    &&  curl_easy_setopt (curl, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK
    &&  curl_easy_setopt (curl, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK
    &&  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers) == CURLE_OK
    &&  curl_easy_setopt (curl, CURLOPT_USERAGENT, USER_AGENT) == CURLE_OK
    &&  curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body) == CURLE_OK
    &&  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_discard) == CURLE_OK) {
        rc = curl_easy_perform (curl);
        if (rc == CURLE_OK)
            curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    }
    //  The URL may hold a token: never logged
    if (rc != CURLE_OK)
        cm_warn ("alert webhook: not delivered (%s)", curl_easy_strerror (rc));
    else
    if (status < 200 || status > 299)
        cm_warn ("alert webhook: answered HTTP %ld", status);
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
}

static void *
s_sender (void *arg)
{
    (void) arg;
    pthread_mutex_lock (&s_lock);
    while (true) {
        while (!s_count && !s_stopping)
            pthread_cond_wait (&s_wake, &s_lock);
        if (s_stopping)
            break;
        char *body = s_queue [s_head];
        s_head = (s_head + 1) % WEBHOOK_QUEUE;
        s_count--;
        char *url = strdup (s_url);
        int64_t timeout_ms = s_timeout_ms;
        pthread_mutex_unlock (&s_lock);
        if (url)
            s_post (url, timeout_ms, body);
        free (url);
        free (body);
        pthread_mutex_lock (&s_lock);
    }
    //  A stop must not wait a timeout per alert: the rest are in the trail
    if (s_count)
        cm_warn ("alert webhook: stopping; %zu alerts not posted", s_count);
    while (s_count) {
        free (s_queue [s_head]);
        s_head = (s_head + 1) % WEBHOOK_QUEUE;
        s_count--;
    }
    pthread_mutex_unlock (&s_lock);
    return NULL;
}

int
audit_alerts_webhook_start (const char *url, int64_t timeout_ms)
{
    if (audit_alerts_check_url (url))
        return -1;
    pthread_mutex_lock (&s_lock);
    int rc = 0;
    if (!s_running) {
        curl_global_init (CURL_GLOBAL_DEFAULT);
        s_url = strdup (url);
        s_timeout_ms = timeout_ms;
        s_stopping = false;
        if (!s_url || pthread_create (&s_thread, NULL, s_sender, NULL)) {
            free (s_url);
            s_url = NULL;
            curl_global_cleanup ();
            rc = -1;
        }
        else
            s_running = true;
    }
    if (rc == 0)
        s_refs++;
    pthread_mutex_unlock (&s_lock);
    return rc;
}

void
audit_alerts_webhook_stop (void)
{
    pthread_mutex_lock (&s_lock);
    bool join = s_running && --s_refs == 0;
    if (join) {
        s_stopping = true;
        pthread_cond_signal (&s_wake);
    }
    pthread_mutex_unlock (&s_lock);
    if (!join)
        return;
    //  Waits for the POST in hand at most (ALERT_WEBHOOK_TIMEOUT_MS)
    pthread_join (s_thread, NULL);
    pthread_mutex_lock (&s_lock);
    s_running = false;
    free (s_url);
    s_url = NULL;
    pthread_mutex_unlock (&s_lock);
    curl_global_cleanup ();
}

void
audit_alerts_webhook_post (char **body_p)
{
    assert (body_p);
    char *body = *body_p;
    *body_p = NULL;
    if (!body)
        return;
    pthread_mutex_lock (&s_lock);
    bool running = s_running && !s_stopping;
    bool queued = running && s_count < WEBHOOK_QUEUE;
    if (queued) {
        s_queue [(s_head + s_count) % WEBHOOK_QUEUE] = body;
        s_count++;
        pthread_cond_signal (&s_wake);
    }
    pthread_mutex_unlock (&s_lock);
    if (!queued) {
        if (running)
            cm_warn ("alert webhook: %d alerts already wait; this one is only in the audit trail",
                     WEBHOOK_QUEUE);
        free (body);
    }
}
