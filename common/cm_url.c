/*  cm_url - URLs the services call out to */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "cm_url.h"

int
cm_url_split (const char *url, const char *plain, const char *secure, bool allow_query,
              bool *secure_p, bool *local_p)
{
    const char *host;
    bool tls = false;
    if (!url)
        return -1;
    if (strncasecmp (url, secure, strlen (secure)) == 0) {
        host = url + strlen (secure);
        tls = true;
    }
    else
    if (strncasecmp (url, plain, strlen (plain)) == 0)
        host = url + strlen (plain);
    else
        return -1;
    //  Backslashes are refused too: URL parsers disagree on what they mean
    for (const unsigned char *p = (const unsigned char *) url; *p; p++)
        if (*p <= 0x20 || *p >= 0x7F || *p == '\\' || *p == '#' || (*p == '?' && !allow_query))
            return -1;
    size_t authority = strcspn (host, "/?");
    if (memchr (host, '@', authority))
        return -1;
    const char *name = host;
    size_t name_len;
    const char *after;                  //  what follows the host name: ":port" or the end
    if (*host == '[') {
        const char *end = (const char *) memchr (host, ']', authority);
        if (!end)
            return -1;
        name = host + 1;
        name_len = (size_t) (end - name);
        after = end + 1;
    }
    else {
        name_len = strcspn (host, ":/?");
        after = host + name_len;
    }
    if (name_len == 0 || name_len > 253)
        return -1;
    if (after < host + authority) {
        if (*after != ':')
            return -1;
        size_t digits = (size_t) (host + authority - after - 1);
        if (digits == 0 || digits > 5 || strspn (after + 1, "0123456789") < digits)
            return -1;
    }
    char hostname [256];
    memcpy (hostname, name, name_len);
    hostname [name_len] = 0;
    *local_p = strcasecmp (hostname, "localhost") == 0
            || strcmp (hostname, "127.0.0.1") == 0
            || strcmp (hostname, "::1") == 0;
    *secure_p = tls;
    return 0;
}

int
cm_url_check_outbound (const char *url, bool allow_local_http, bool allow_query)
{
    bool tls, local;
    if (cm_url_split (url, "http://", "https://", allow_query, &tls, &local))
        return -1;
    return tls || (allow_local_http && local)? 0: -1;
}
