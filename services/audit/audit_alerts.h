/*  audit_alerts - thresholds over recent security events, and the webhook

    Four rules, each "more than N events of a type within ALERT_WINDOW_S
    seconds" for one subject:

        denied_per_ip               authz.denied from one client IP         ALERT_DENIED_PER_IP
        denied_per_account          authz.denied for one user id            ALERT_DENIED_PER_ACCOUNT
        login_failures_per_ip       auth.login.failure from one client IP   ALERT_LOGIN_FAILURES_PER_IP
        login_failures_per_account  auth.login.failure for one user id      ALERT_LOGIN_FAILURES_PER_ACCOUNT

    A threshold of 0 turns its rule off. The counting happens in the audit
    database (audit_store), by an HMAC of the subject so no IP is kept in
    the clear, so every replica sees every event. When a rule fires, the
    event "alert.<rule>" joins the chain, a warning is logged, and, when
    ALERT_WEBHOOK_URL is set, a JSON document is POSTed there by a thread of
    its own: a slow or dead webhook never holds up an append. A subject
    raises a rule's alert at most once per window.
*/
#ifndef AUDIT_ALERTS_H_INCLUDED
#define AUDIT_ALERTS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../../common/cm_config.h"

typedef enum {
    AUDIT_ALERT_DENIED_PER_IP,
    AUDIT_ALERT_DENIED_PER_ACCOUNT,
    AUDIT_ALERT_LOGIN_FAILURES_PER_IP,
    AUDIT_ALERT_LOGIN_FAILURES_PER_ACCOUNT,
    AUDIT_ALERT_RULES
} audit_alert_rule_t;

typedef struct {
    int64_t window_ms;                          //  ALERT_WINDOW_S in ms
    int64_t threshold [AUDIT_ALERT_RULES];      //  "more than"; 0: rule off
} audit_alerts_config_t;

//  One rule an event counts towards
typedef struct {
    audit_alert_rule_t rule;
    const char *value;              //  borrowed: the IP or the user id
} audit_alerts_hit_t;

//  A rule that fired, for the log and the webhook (strings owned)
typedef struct {
    audit_alert_rule_t rule;
    int64_t count;                  //  events in the window, the last included
    int64_t threshold;
    int64_t window_ms;
    int64_t at_ms;                  //  of the event that tipped it
    int64_t seq;                    //  of the alert event in the chain
    char event_id [37];             //  of the alert event
    char trigger_id [37];           //  of the event that tipped it
    char *user_id;                  //  NULL when none
    char *ip;                       //  NULL when none
} audit_alert_t;

//  ----------------------------------------------------------------------
//  The thresholds of cfg
void
    audit_alerts_config (audit_alerts_config_t *self, const cm_config_t *cfg);

//  The rule's name ("denied_per_ip")
const char *
    audit_alerts_rule_name (audit_alert_rule_t rule);

//  The rules an event of type from ip (NULL: none) for user_id (NULL:
//  none) counts towards, into hits [AUDIT_ALERT_RULES]; returns how many
int
    audit_alerts_match (const audit_alerts_config_t *self, const char *type, const char *ip,
                        const char *user_id, audit_alerts_hit_t *hits);

//  Whether an event at at_ms that makes count events of its rule and
//  subject within the window fires the rule, given when that subject last
//  raised it (0: never). More than threshold fires, once per window.
bool
    audit_alerts_fires (const audit_alerts_config_t *self, audit_alert_rule_t rule, int64_t count,
                        int64_t last_alert_ms, int64_t at_ms);

//  The subject's tag: hex HMAC-SHA256 (key, "<rule>:<value>") into tag [65]. 0 or -1.
int
    audit_alerts_tag (const uint8_t key [32], audit_alert_rule_t rule, const char *value, char *tag);

//  ----------------------------------------------------------------------
//  The detail of the alert event (JSON, malloc'd), and the webhook's body
//  (JSON, malloc'd). NULL when out of memory.
char *
    audit_alerts_detail (const audit_alert_t *alert);
char *
    audit_alerts_webhook_body (const audit_alert_t *alert);

//  Free the strings of an alert
void
    audit_alerts_clear (audit_alert_t *alert);

//  ----------------------------------------------------------------------
//  0 when url may receive alerts: https://, or http:// to this host only
//  (127.0.0.1, [::1], localhost), a query allowed (cm_url_check_outbound).
//  Else -1.
int
    audit_alerts_check_url (const char *url);

//  Start the webhook sender (one thread per process; every call takes a
//  reference, each stop drops one and the last joins the thread). url
//  must pass audit_alerts_check_url. 0 or -1.
int
    audit_alerts_webhook_start (const char *url, int64_t timeout_ms);
void
    audit_alerts_webhook_stop (void);

//  Queue body (taken, freed here) for POSTing. Never blocks: when 256
//  bodies already wait, or no sender runs, it is dropped with a warning.
void
    audit_alerts_webhook_post (char **body_p);

#endif
