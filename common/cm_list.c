/*  cm_list - comma-separated lists */
#include <ctype.h>
#include <string.h>
#include "cm_list.h"

bool
cm_list_next (const char **cursor, const char **item, size_t *len)
{
    const char *p = *cursor;
    if (!p)
        return false;
    const char *end = strchr (p, ',');
    size_t n = end? (size_t) (end - p): strlen (p);
    *cursor = end? end + 1: NULL;
    while (n && isspace ((unsigned char) *p)) {
        p++;
        n--;
    }
    while (n && isspace ((unsigned char) p [n - 1]))
        n--;
    *item = p;
    *len = n;
    return true;
}
