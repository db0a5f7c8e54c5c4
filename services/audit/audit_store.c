/*  audit_store - append-only event storage */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include "audit_store.h"
#include "../../common/cm_db.h"

int
audit_store_append (PGconn *db, const proto_audit_event_t *events, uint32_t count)
{
    if (!cm_db_begin (db))
        return -1;
    int added = 0;
    bool ok = true;
    for (uint32_t i = 0; ok && i < count; i++) {
        const proto_audit_event_t *e = &events [i];
        char at_ms [24];
        snprintf (at_ms, sizeof at_ms, "%" PRId64, e->at_ms);
        const char *params [] = { e->id, at_ms, e->type, e->service, e->outcome,
                                  e->user_id, e->request_id, e->ip, e->detail };
        PGresult *result = NULL;
        ok = cm_db_exec (db, &result, PGRES_COMMAND_OK,
                         "INSERT INTO events (id, at, type, service, outcome, user_id, request_id, ip, detail)"
                         " VALUES ($1, to_timestamp ($2::bigint / 1000.0), $3, $4, $5, $6, $7, $8, $9)"
                         " ON CONFLICT (id) DO NOTHING", 9, params);
        if (ok) {
            added += atoi (PQcmdTuples (result));
            PQclear (result);
        }
    }
    return cm_db_end (db, ok? added: -1);
}
