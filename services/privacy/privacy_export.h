/*  privacy_export - the user's export, one part at a time

    The export is one JSON document, {user, preferences, sessions, missions,
    evidence, audit_events, exported_at}, gathered over the CURVE links
    with the user's identity: auth.me and auth.sessions, missions.list
    pages, evidence.list_user pages and each stored file's content in
    evidence.content chunks (base64-encoded as it passes, the odd bytes
    carried in the cursor), audit.query pages of the user's events, and the
    preferences from our own table. A part is at most PRIVACY_EXPORT_PART
    bytes; its cursor says where the next begins (privacy_cursor). Nothing
    is kept between parts: memory per request is one part, one content
    chunk and one page of metadata, whatever the user owns.

    A part never splits an element other than a file's content, so every
    part ends at a position a cursor can name. When the data changes under
    an export so that its position no longer exists (the file being
    written was deleted), the part fails with CM_CONFLICT and the client
    starts again.
*/
#ifndef PRIVACY_EXPORT_H_INCLUDED
#define PRIVACY_EXPORT_H_INCLUDED

#include "privacy_handlers.h"
#include "privacy_cursor.h"

#define PRIVACY_EXPORT_PART     (1024 * 1024)   //  the wire bound of privacy.export data

//  ----------------------------------------------------------------------
//  Make the part of ctx->uid's export that begins at cursor (NULL: the
//  first) into *data_p (malloc'd, *len_p bytes, caller frees) and the
//  cursor of the next part into next (PRIVACY_CURSOR_SIZE bytes; "" after
//  the last part). Returns CM_OK, or the status of what failed with a
//  message in info (nothing in *data_p then).
cm_err_t
    privacy_export_part (privacy_worker_t *worker, const cm_ctx_t *ctx, const char *cursor,
                         uint8_t **data_p, size_t *len_p, char *next, cm_reply_info_t *info);

#endif
