/*  test_cm_list - items of comma-separated lists */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "cm_list.h"

//  The items of list joined with '|', each as cm_list_next gave it
static void
s_walk (const char *list, char *out, size_t size)
{
    const char *cursor = list, *item;
    size_t len, at = 0;
    out [0] = '\0';
    while (cm_list_next (&cursor, &item, &len)) {
        at += (size_t) snprintf (out + at, size - at, "%s%.*s", at? "|": "", (int) len, item);
        cr_assert_lt (at, size);
    }
}

Test (cm_list, trims_white_space_around_items)
{
    char out [128];
    s_walk (" a ,\tb\t, c\n", out, sizeof out);
    cr_assert_str_eq (out, "a|b|c");
}

Test (cm_list, gives_empty_items_so_callers_can_refuse_them)
{
    char out [128];
    s_walk ("GET,,POST,", out, sizeof out);
    cr_assert_str_eq (out, "GET||POST|");
    const char *cursor = "", *item;
    size_t len = 99;
    cr_assert (cm_list_next (&cursor, &item, &len));
    cr_assert_eq (len, 0);
    cr_assert_not (cm_list_next (&cursor, &item, &len));
}

Test (cm_list, no_list_has_no_item)
{
    const char *cursor = NULL, *item;
    size_t len;
    cr_assert_not (cm_list_next (&cursor, &item, &len));
}
