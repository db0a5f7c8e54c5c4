/*  auth_email - email normalisation */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include "auth_email.h"

static bool
s_atext (char c)
{
    return isalnum ((unsigned char) c) || strchr ("!#$%&'*+-/=?^_`{|}~", c);
}

//  Dot-atom: atext runs separated by single dots, no dot at either end
static bool
s_dot_atom (const char *s, size_t len)
{
    if (len == 0 || s [0] == '.' || s [len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s [i] == '.') {
            if (s [i + 1] == '.')
                return false;
        }
        else
        if (!s_atext (s [i]))
            return false;
    }
    return true;
}

//  Host name: labels of letters, digits and inner hyphens, at least two
static bool
s_domain (const char *s, size_t len)
{
    if (len < 3 || len > 253)
        return false;
    size_t labels = 0, label_len = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s [i] == '.') {
            if (label_len == 0 || label_len > 63 || s [i - 1] == '-')
                return false;
            labels++;
            label_len = 0;
            continue;
        }
        if (!(isalnum ((unsigned char) s [i]) || s [i] == '-'))
            return false;
        if (label_len == 0 && s [i] == '-')
            return false;
        label_len++;
    }
    return labels >= 2;
}

int
auth_email_normalize (const char *input, char *out, size_t size)
{
    out [0] = 0;
    size_t start = 0, end = strlen (input);
    while (start < end && isspace ((unsigned char) input [start]))
        start++;
    while (end > start && isspace ((unsigned char) input [end - 1]))
        end--;
    size_t len = end - start;
    if (len < 3 || len > 254 || len + 1 > size)
        return -1;
    const char *s = input + start;
    const char *at = memchr (s, '@', len);
    if (!at || memchr (at + 1, '@', len - (size_t) (at - s) - 1))
        return -1;
    size_t local_len = (size_t) (at - s);
    size_t domain_len = len - local_len - 1;
    if (local_len > 64 || !s_dot_atom (s, local_len) || !s_domain (at + 1, domain_len))
        return -1;
    memcpy (out, s, local_len + 1);
    for (size_t i = 0; i < domain_len; i++)
        out [local_len + 1 + i] = (char) tolower ((unsigned char) at [1 + i]);
    out [len] = 0;
    return 0;
}
