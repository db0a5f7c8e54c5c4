/*  test_gateway_spool - the gateway's audit spool: append, read back,
    deliver, bound, crash leftovers, one process per slot, take-over */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../../../services/gateway/gateway_spool.h"
#include "tmpdir.h"

static char s_dir [64];

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/test-spool-XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
}

static void
s_teardown (void)
{
    cr_assert_eq (tmpdir_remove (s_dir), 0);
}

TestSuite (gateway_spool, .init = s_setup, .fini = s_teardown);

static gateway_spool_event_t
s_event (int n)
{
    gateway_spool_event_t e;
    memset (&e, 0, sizeof e);
    snprintf (e.id, sizeof e.id, "00000000-0000-4000-8000-%012d", n);
    e.at_ms = 1714564800000 + n;
    snprintf (e.type, sizeof e.type, "authz.denied");
    snprintf (e.outcome, sizeof e.outcome, "denied");
    snprintf (e.request_id, sizeof e.request_id, "rid-%d", n);
    snprintf (e.ip, sizeof e.ip, "127.0.0.1");
    if (n % 2)
        snprintf (e.detail, sizeof e.detail, "{\"status\":401,\"route\":\"/a\\\"b\\n\"}");
    return e;
}

static void
s_append (gateway_spool_t *spool, int from, int count)
{
    gateway_spool_event_t events [64];
    for (int i = 0; i < count; i++)
        events [i] = s_event (from + i);
    cr_assert_eq (gateway_spool_append (spool, events, (size_t) count), count);
}

Test (gateway_spool, events_come_back_in_order_and_go_once_delivered)
{
    gateway_spool_t *spool = gateway_spool_open (s_dir, 1 << 20);
    cr_assert_not_null (spool);
    cr_assert_eq (gateway_spool_pending (spool), 0);
    s_append (spool, 1, 5);
    cr_assert_gt (gateway_spool_pending (spool), 0);
    gateway_spool_event_t out [3];
    cr_assert_eq (gateway_spool_peek (spool, out, 3), 3);
    gateway_spool_event_t want = s_event (1);
    cr_assert_eq (memcmp (&out [0], &want, sizeof want), 0, "a field did not survive");
    want = s_event (3);
    cr_assert_eq (memcmp (&out [2], &want, sizeof want), 0);
    //  Not delivered: the same again
    cr_assert_eq (gateway_spool_peek (spool, out, 3), 3);
    cr_assert_str_eq (out [0].request_id, "rid-1");
    cr_assert_eq (gateway_spool_consume (spool), 0);
    cr_assert_eq (gateway_spool_peek (spool, out, 3), 2);
    cr_assert_str_eq (out [0].request_id, "rid-4");
    cr_assert_eq (gateway_spool_consume (spool), 0);
    cr_assert_eq (gateway_spool_pending (spool), 0);
    struct stat st;
    cr_assert_eq (stat (gateway_spool_path (spool), &st), 0);
    cr_assert_eq (st.st_size, 0, "emptied once all was delivered");
    cr_assert_eq (st.st_mode & 0777, 0600);
    cr_assert_eq (gateway_spool_peek (spool, out, 3), 0);
    gateway_spool_destroy (&spool);
    cr_assert_null (spool);
}

Test (gateway_spool, what_waits_survives_a_restart)
{
    gateway_spool_t *spool = gateway_spool_open (s_dir, 1 << 20);
    s_append (spool, 1, 4);
    gateway_spool_event_t out [8];
    cr_assert_eq (gateway_spool_peek (spool, out, 1), 1);
    cr_assert_eq (gateway_spool_consume (spool), 0);
    gateway_spool_destroy (&spool);
    //  Delivery is at least once: what was not emptied comes again
    spool = gateway_spool_open (s_dir, 1 << 20);
    cr_assert_eq (gateway_spool_peek (spool, out, 8), 4);
    cr_assert_str_eq (out [3].request_id, "rid-4");
    gateway_spool_destroy (&spool);
}

Test (gateway_spool, the_file_never_passes_its_bound)
{
    gateway_spool_t *spool = gateway_spool_open (s_dir, 1000);
    gateway_spool_event_t events [20];
    for (int i = 0; i < 20; i++)
        events [i] = s_event (i + 1);
    int written = gateway_spool_append (spool, events, 20);
    cr_assert_gt (written, 0);
    cr_assert_lt (written, 20);
    cr_assert_leq (gateway_spool_pending (spool), 1000);
    cr_assert_eq (gateway_spool_append (spool, events, 20), 0, "full");
    gateway_spool_destroy (&spool);
}

Test (gateway_spool, a_line_cut_short_by_a_crash_is_dropped)
{
    gateway_spool_t *spool = gateway_spool_open (s_dir, 1 << 20);
    s_append (spool, 1, 2);
    char path [1100];
    snprintf (path, sizeof path, "%s", gateway_spool_path (spool));
    gateway_spool_destroy (&spool);
    FILE *file = fopen (path, "a");
    fputs ("{\"id\":\"00000000-0000-4000-8000-0000000", file);
    fclose (file);
    spool = gateway_spool_open (s_dir, 1 << 20);
    s_append (spool, 3, 1);
    gateway_spool_event_t out [8];
    cr_assert_eq (gateway_spool_peek (spool, out, 8), 3, "the torn line never joins the next one");
    cr_assert_str_eq (out [2].request_id, "rid-3");
    gateway_spool_destroy (&spool);
}

Test (gateway_spool, lines_that_are_not_events_are_passed_over)
{
    gateway_spool_t *spool = gateway_spool_open (s_dir, 1 << 20);
    char path [1100];
    snprintf (path, sizeof path, "%s", gateway_spool_path (spool));
    FILE *file = fopen (path, "a");
    fputs ("not json\n{\"id\":\"short\",\"at_ms\":1,\"type\":\"t\",\"outcome\":\"o\"}\n", file);
    fclose (file);
    gateway_spool_destroy (&spool);
    spool = gateway_spool_open (s_dir, 1 << 20);
    s_append (spool, 7, 1);
    gateway_spool_event_t out [8];
    cr_assert_eq (gateway_spool_peek (spool, out, 8), 1);
    cr_assert_str_eq (out [0].request_id, "rid-7");
    cr_assert_eq (gateway_spool_consume (spool), 0);
    cr_assert_eq (gateway_spool_pending (spool), 0);
    gateway_spool_destroy (&spool);
}

Test (gateway_spool, two_gateways_never_share_a_slot_and_the_next_takes_over)
{
    gateway_spool_t *first = gateway_spool_open (s_dir, 1 << 20);
    gateway_spool_t *second = gateway_spool_open (s_dir, 1 << 20);
    cr_assert_not_null (first);
    cr_assert_not_null (second);
    cr_assert_str_neq (gateway_spool_path (first), gateway_spool_path (second));
    s_append (first, 1, 2);
    s_append (second, 10, 3);
    //  The second stops with its events on disk; the first runs on and
    //  holds its slot, so only a newcomer can take the second's over
    gateway_spool_destroy (&second);
    gateway_spool_t *third = gateway_spool_open (s_dir, 1 << 20);
    cr_assert_not_null (third);
    gateway_spool_event_t out [8];
    cr_assert_eq (gateway_spool_peek (third, out, 8), 3);
    cr_assert_str_eq (out [0].request_id, "rid-10");
    cr_assert_eq (gateway_spool_peek (first, out, 8), 2, "a held slot is left alone");
    gateway_spool_destroy (&first);
    gateway_spool_destroy (&third);
}

Test (gateway_spool, an_unusable_directory_is_refused)
{
    char path [128];
    snprintf (path, sizeof path, "%s/file", s_dir);
    FILE *file = fopen (path, "w");
    fclose (file);
    cr_assert_null (gateway_spool_open (path, 1 << 20));
}
