/*  cm_svc - service names and the default link policy */
#include <string.h>
#include "cm_svc.h"

static const struct {
    const char *name;
    int port;
    const char *peers;              //  who may connect (ZAP allowlist)
    const char *identity;           //  who of those may act for a user
} s_services [CM_SVC_COUNT] = {
    //  The gateway verifies tokens; privacy acts for a user during export
    //  and deletion; missions deletes a mission's evidence for its owner
    [CM_SVC_GATEWAY]  = { "gateway",  0,    "", "" },
    [CM_SVC_AUTH]     = { "auth",     7101, "gateway,privacy", "gateway,privacy" },
    [CM_SVC_MISSIONS] = { "missions", 7102, "gateway,privacy", "gateway,privacy" },
    [CM_SVC_EVIDENCE] = { "evidence", 7103, "gateway,privacy,missions", "gateway,privacy,missions" },
    [CM_SVC_PRIVACY]  = { "privacy",  7104, "gateway", "gateway" },
    [CM_SVC_AUDIT]    = { "audit",    7105, "gateway,auth,missions,evidence,privacy", "gateway" },
};

const char *
cm_svc_name (cm_svc_t svc)
{
    return (int) svc >= 0 && svc < CM_SVC_COUNT? s_services [svc].name: "unknown";
}

int
cm_svc_lookup (const char *name)
{
    for (int i = 0; name && i < CM_SVC_COUNT; i++)
        if (strcmp (s_services [i].name, name) == 0)
            return i;
    return -1;
}

int
cm_svc_default_port (cm_svc_t svc)
{
    return s_services [svc].port;
}

const char *
cm_svc_default_peers (cm_svc_t svc)
{
    return s_services [svc].peers;
}

const char *
cm_svc_default_identity_peers (cm_svc_t svc)
{
    return s_services [svc].identity;
}
