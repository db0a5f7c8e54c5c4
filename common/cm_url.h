/*  cm_url - URLs the services call out to (webhooks, identity providers,
    the breach API, the SMTP relay): checked once, when configured or
    discovered, so that nothing reaches libcurl that parsers could read two ways
*/
#ifndef CM_URL_H_INCLUDED
#define CM_URL_H_INCLUDED

#include <stdbool.h>

//  0 when url is plain:// or secure:// (e.g. "smtp://", "smtps://") with a
//  host (a name or an [IPv6] literal) and at most a numeric port, no user
//  info, no fragment, no spaces, backslashes or non-ASCII, and no query
//  unless allow_query; then *secure_p says which scheme it has and *local_p
//  whether the host is this machine (localhost, 127.0.0.1, ::1). -1 otherwise.
int
    cm_url_split (const char *url, const char *plain, const char *secure, bool allow_query,
                  bool *secure_p, bool *local_p);

//  0 when url is https:// (or http:// to localhost, 127.0.0.1 or ::1 when
//  allow_local_http) with a host and at most a numeric port, no user info,
//  no fragment, no spaces or backslashes, and no query unless allow_query.
//  -1 otherwise.
int
    cm_url_check_outbound (const char *url, bool allow_local_http, bool allow_query);

#endif
