/*  cm_list - comma-separated lists: settings (peers, endpoints, origins,
    proxies) and HTTP header values
*/
#ifndef CM_LIST_H_INCLUDED
#define CM_LIST_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

//  The next item of the list at *cursor (NULL: none left), white space
//  around it trimmed; empty items are given too ("a,,b" has three), so a
//  caller can refuse them or skip them. Moves *cursor past the item.
//  false when no item is left.
bool
    cm_list_next (const char **cursor, const char **item, size_t *len);

#endif
