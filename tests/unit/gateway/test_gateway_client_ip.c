/*  test_gateway_client_ip - TRUSTED_PROXIES parsing and the client address behind them */
#include <criterion/criterion.h>
#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../../services/gateway/gateway_client_ip.h"

//  The proxies most tests sit behind: a private IPv4 range, one host, an IPv6 range
#define PROXIES "10.0.0.0/8, 192.0.2.1, 2001:db8:aaaa::/48"

static gateway_client_ip_t *
s_new (const char *list)
{
    char error [256];
    gateway_client_ip_t *self = gateway_client_ip_new (list, error, sizeof error);
    cr_assert_not_null (self, "refused '%s': %s", list, error);
    cr_assert_str_empty (error);
    return self;
}

static void
s_refused (const char *list, const char *named, const char *why)
{
    char error [256];
    gateway_client_ip_t *self = gateway_client_ip_new (list, error, sizeof error);
    cr_assert_null (self, "accepted '%s'", list);
    char quoted [128];
    snprintf (quoted, sizeof quoted, "'%s'", named);
    cr_assert (strstr (error, "TRUSTED_PROXIES") && strstr (error, quoted),
               "'%s': the error does not name %s: %s", list, quoted, error);
    cr_assert (strstr (error, why), "'%s': expected '%s' in: %s", list, why, error);
}

//  The client for peer and X-Forwarded-For behind proxies
static void
s_expect (const char *proxies, const char *peer, const char *xff, const char *client)
{
    gateway_client_ip_t *self = s_new (proxies);
    char out [GATEWAY_CLIENT_IP_SIZE];
    int rc = gateway_client_ip_resolve (self, peer, xff, out, sizeof out);
    cr_assert_eq (rc, 0, "peer %s xff '%.80s': failed", peer, xff? xff: "(none)");
    cr_assert_str_eq (out, client, "peer %s xff '%.80s'", peer, xff? xff: "(none)");
    gateway_client_ip_destroy (&self);
    cr_assert_null (self);
}

//  ----------------------------------------------------------------------
//  Parsing

Test (client_ip, parses_ranges_and_bare_addresses)
{
    gateway_client_ip_t *self = s_new (" 10.0.0.0/8 ,192.0.2.1,\t2001:db8::/32 , ::1 ,, "
                                       "::ffff:172.16.0.0/108, 0.0.0.0/32");
    cr_assert_eq (gateway_client_ip_count (self), 6);
    cr_assert (gateway_client_ip_trusted (self, "10.255.1.2"));
    cr_assert (gateway_client_ip_trusted (self, "192.0.2.1"));
    cr_assert_not (gateway_client_ip_trusted (self, "192.0.2.2"), "a bare address is a /32");
    cr_assert (gateway_client_ip_trusted (self, "2001:db8:ffff::1"));
    cr_assert (gateway_client_ip_trusted (self, "::1"));
    cr_assert_not (gateway_client_ip_trusted (self, "::2"), "a bare IPv6 address is a /128");
    //  ::ffff:172.16.0.0/108 is 172.16.0.0/12, whichever way the client is written
    cr_assert (gateway_client_ip_trusted (self, "172.31.255.255"));
    cr_assert (gateway_client_ip_trusted (self, "::ffff:172.20.0.1"));
    cr_assert_not (gateway_client_ip_trusted (self, "172.32.0.1"));
    cr_assert_not (gateway_client_ip_trusted (self, "11.0.0.1"));
    cr_assert_not (gateway_client_ip_trusted (self, NULL));
    cr_assert_not (gateway_client_ip_trusted (self, "not an address"));
    gateway_client_ip_destroy (&self);
    gateway_client_ip_destroy (&self);             //  idempotent
}

Test (client_ip, empty_list_trusts_no_one)
{
    gateway_client_ip_t *self = s_new ("");
    cr_assert_eq (gateway_client_ip_count (self), 0);
    cr_assert_not (gateway_client_ip_trusted (self, "127.0.0.1"));
    gateway_client_ip_destroy (&self);
    self = s_new (NULL);
    cr_assert_eq (gateway_client_ip_count (self), 0);
    gateway_client_ip_destroy (&self);
    s_expect (" , ", "127.0.0.1", "198.51.100.7", "127.0.0.1");
}

Test (client_ip, refuses_garbage_naming_the_item)
{
    s_refused ("10.0.0.0/8, proxy.internal", "proxy.internal", "not an IPv4 or IPv6 address");
    s_refused ("10.0.0.0/33", "10.0.0.0/33", "longer than /32");
    s_refused ("2001:db8::/129", "2001:db8::/129", "longer than /128");
    s_refused ("10.0.0.0/", "10.0.0.0/", "malformed prefix");
    s_refused ("10.0.0.0/08", "10.0.0.0/08", "malformed prefix");
    s_refused ("10.0.0.0/8x", "10.0.0.0/8x", "malformed prefix");
    s_refused ("10.0.0.0/-8", "10.0.0.0/-8", "malformed prefix");
    s_refused ("10.0.0.0/1000", "10.0.0.0/1000", "malformed prefix");
    s_refused ("10.0.0.1/8", "10.0.0.1/8", "host bits");
    s_refused ("2001:db8::1/32", "2001:db8::1/32", "host bits");
    s_refused ("1.2.3", "1.2.3", "not an IPv4");
    s_refused ("01.2.3.4", "01.2.3.4", "not an IPv4");
    s_refused ("1.2.3.4.5", "1.2.3.4.5", "not an IPv4");
    s_refused ("256.1.1.1", "256.1.1.1", "not an IPv4");
    s_refused ("fe80::1%eth0", "fe80::1%eth0", "not an IPv4");
    s_refused ("[::1]", "[::1]", "not an IPv4");
    s_refused ("10.0.0.0 /8", "10.0.0.0 /8", "not an IPv4");
    s_refused ("10.0.0.0/8 10.1.0.0/16", "10.0.0.0/8 10.1.0.0/16", "malformed prefix");
    s_refused ("::ffff:0:0/80", "::ffff:0:0/80", "IPv4-mapped");
    s_refused ("*", "*", "not an IPv4");
    //  A very long item is quoted cut short, never overflowing the message
    char longer [300];
    memset (longer, '9', sizeof longer - 1);
    longer [sizeof longer - 1] = '\0';
    char error [128];
    cr_assert_null (gateway_client_ip_new (longer, error, sizeof error));
    cr_assert (strstr (error, "'9999") && strstr (error, "...'"), "%s", error);
    cr_assert_null (gateway_client_ip_new ("junk", NULL, 0), "no error buffer is fine");
}

Test (client_ip, at_most_64_ranges)
{
    char list [2048] = "";
    size_t len = 0;
    for (int i = 0; i < GATEWAY_CLIENT_IP_MAX_PROXIES; i++)
        len += (size_t) snprintf (list + len, sizeof list - len, "%s10.0.%d.0/24", i? ",": "", i);
    gateway_client_ip_t *self = s_new (list);
    cr_assert_eq (gateway_client_ip_count (self), GATEWAY_CLIENT_IP_MAX_PROXIES);
    gateway_client_ip_destroy (&self);
    snprintf (list + len, sizeof list - len, ",10.1.0.0/16");
    s_refused (list, "10.1.0.0/16", "too many");
}

Test (client_ip, zero_prefixes_stay_within_their_family)
{
    gateway_client_ip_t *self = s_new ("0.0.0.0/0");
    cr_assert (gateway_client_ip_trusted (self, "203.0.113.1"));
    cr_assert (gateway_client_ip_trusted (self, "::ffff:203.0.113.1"));
    cr_assert_not (gateway_client_ip_trusted (self, "2001:db8::1"));
    gateway_client_ip_destroy (&self);
    self = s_new ("::/0");
    cr_assert (gateway_client_ip_trusted (self, "2001:db8::1"));
    cr_assert_not (gateway_client_ip_trusted (self, "203.0.113.1"), "::/0 is not every address");
    cr_assert_not (gateway_client_ip_trusted (self, "::ffff:203.0.113.1"));
    gateway_client_ip_destroy (&self);
    self = s_new ("10.128.0.0/9, 2001:db8:8000::/33");
    cr_assert (gateway_client_ip_trusted (self, "10.128.0.0"));
    cr_assert (gateway_client_ip_trusted (self, "10.255.255.255"));
    cr_assert_not (gateway_client_ip_trusted (self, "10.127.255.255"));
    cr_assert (gateway_client_ip_trusted (self, "2001:db8:8000::"));
    cr_assert_not (gateway_client_ip_trusted (self, "2001:db8:7fff:ffff::"));
    gateway_client_ip_destroy (&self);
}

//  ----------------------------------------------------------------------
//  Spoofing

Test (client_ip, untrusted_peer_ignores_the_header)
{
    s_expect (PROXIES, "203.0.113.9", "198.51.100.7", "203.0.113.9");
    s_expect (PROXIES, "203.0.113.9", "10.0.0.1", "203.0.113.9");
    s_expect (PROXIES, "203.0.113.9", "garbage", "203.0.113.9");
    s_expect (PROXIES, "203.0.113.9", NULL, "203.0.113.9");
    s_expect ("", "10.0.0.1", "198.51.100.7", "10.0.0.1");
    s_expect (PROXIES, "2001:db8:bbbb::1", "198.51.100.7", "2001:db8:bbbb::1");
}

Test (client_ip, trusted_peer_without_header_is_the_client)
{
    s_expect (PROXIES, "10.1.2.3", NULL, "10.1.2.3");
    s_expect (PROXIES, "10.1.2.3", "", "10.1.2.3");
    s_expect (PROXIES, "10.1.2.3", "   ", "10.1.2.3");
}

Test (client_ip, spoofed_left_entries_are_skipped)
{
    //  The client claims to be 1.1.1.1; our proxy appends the real address
    s_expect (PROXIES, "10.0.0.5", "1.1.1.1, 198.51.100.7", "198.51.100.7");
    //  Claiming to be a trusted proxy does not help either
    s_expect (PROXIES, "10.0.0.5", "10.9.9.9, 198.51.100.7", "198.51.100.7");
    s_expect (PROXIES, "10.0.0.5", "1.1.1.1,198.51.100.7", "198.51.100.7");
}

//  ----------------------------------------------------------------------
//  Chains

Test (client_ip, chain_of_trusted_hops)
{
    s_expect (PROXIES, "10.0.0.5", "198.51.100.7, 192.0.2.1, 10.3.3.3", "198.51.100.7");
    s_expect (PROXIES, "10.0.0.5", "203.0.113.50, 198.51.100.7, 192.0.2.1", "198.51.100.7");
    //  Every hop trusted: the leftmost is as far as anyone can tell
    s_expect (PROXIES, "10.0.0.5", "10.1.1.1, 10.2.2.2", "10.1.1.1");
}

Test (client_ip, malformed_entry_stops_at_the_last_good_hop)
{
    s_expect (PROXIES, "10.0.0.5", "198.51.100.7, unknown, 10.2.2.2", "10.2.2.2");
    s_expect (PROXIES, "10.0.0.5", "198.51.100.7, 10.2.2.2, _hidden", "10.0.0.5");
    s_expect (PROXIES, "10.0.0.5", "unknown", "10.0.0.5");
    s_expect (PROXIES, "10.0.0.5", "198.51.100.7,", "10.0.0.5");
    s_expect (PROXIES, "10.0.0.5", "198.51.100.7,,10.2.2.2", "10.2.2.2");
    s_expect (PROXIES, "10.0.0.5", "198.51.100.7 10.2.2.2", "10.0.0.5");
    s_expect (PROXIES, "10.0.0.5", "1.2.3", "10.0.0.5");
    s_expect (PROXIES, "10.0.0.5", "001.2.3.4", "10.0.0.5");
    s_expect (PROXIES, "10.0.0.5", "1.2.3.4\r\nX-Evil: 1", "10.0.0.5");
    s_expect (PROXIES, "10.0.0.5", "fe80::1%eth0", "10.0.0.5");
    s_expect (PROXIES, "10.0.0.5", "198.51.100.7\xc2\xa0", "10.0.0.5");
}

Test (client_ip, entries_with_ports_and_brackets)
{
    s_expect (PROXIES, "10.0.0.5", "198.51.100.7:5555", "198.51.100.7");
    s_expect (PROXIES, "10.0.0.5", "[2001:db8::9]:443", "2001:db8::9");
    s_expect (PROXIES, "10.0.0.5", "[2001:db8::9]", "2001:db8::9");
    s_expect (PROXIES, "10.0.0.5", "198.51.100.7, 10.2.2.2:80", "198.51.100.7");
    //  Not addresses: the walk stops at the peer
    s_expect (PROXIES, "10.0.0.5", "[198.51.100.7]", "10.0.0.5");
    s_expect (PROXIES, "10.0.0.5", "198.51.100.7:99999", "10.0.0.5");
    s_expect (PROXIES, "10.0.0.5", "198.51.100.7:", "10.0.0.5");
    s_expect (PROXIES, "10.0.0.5", "198.51.100.7:80x", "10.0.0.5");
    s_expect (PROXIES, "10.0.0.5", "[2001:db8::9]x", "10.0.0.5");
    s_expect (PROXIES, "10.0.0.5", "[2001:db8::9", "10.0.0.5");
    s_expect (PROXIES, "10.0.0.5", "2001:db8::9]:80", "10.0.0.5");
}

//  ----------------------------------------------------------------------
//  IPv6 and IPv4-mapped peers

Test (client_ip, ipv6_is_normalized)
{
    s_expect (PROXIES, "2001:db8:aaaa::1", "2001:DB8:0:0:0:0:0:7", "2001:db8::7");
    s_expect (PROXIES, "2001:db8:aaaa::1", "198.51.100.7, 2001:db8:aaaa:1::2", "198.51.100.7");
    s_expect (PROXIES, "10.0.0.5", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1");
    s_expect (PROXIES, "2001:DB8:BBBB:0::1", NULL, "2001:db8:bbbb::1");
}

Test (client_ip, mapped_peer_matches_ipv4_ranges)
{
    s_expect (PROXIES, "::ffff:10.1.2.3", "198.51.100.7", "198.51.100.7");
    s_expect (PROXIES, "::FFFF:192.0.2.1", "198.51.100.7", "198.51.100.7");
    //  An untrusted mapped peer comes out in dotted form
    s_expect (PROXIES, "::ffff:203.0.113.9", "198.51.100.7", "203.0.113.9");
    //  Mapped entries in the header too
    s_expect (PROXIES, "10.0.0.5", "::ffff:198.51.100.7", "198.51.100.7");
    s_expect (PROXIES, "10.0.0.5", "198.51.100.7, ::ffff:10.9.9.9", "198.51.100.7");
    //  ::10.1.2.3 (IPv4-compatible, deprecated) is an IPv6 address, not 10.1.2.3
    s_expect (PROXIES, "::10.1.2.3", "198.51.100.7", "::10.1.2.3");
}

Test (client_ip, normalize)
{
    char out [GATEWAY_CLIENT_IP_SIZE];
    cr_assert_eq (gateway_client_ip_normalize ("::FFFF:1.2.3.4", out, sizeof out), 0);
    cr_assert_str_eq (out, "1.2.3.4");
    cr_assert_eq (gateway_client_ip_normalize ("2001:DB8::0:1", out, sizeof out), 0);
    cr_assert_str_eq (out, "2001:db8::1");
    cr_assert_eq (gateway_client_ip_normalize ("127.0.0.1", out, sizeof out), 0);
    cr_assert_str_eq (out, "127.0.0.1");
    const char *bad [] = { "", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4:80", "[::1]", "fe80::1%lo",
                           "localhost", "1.2.3.4.", "::ffff:1.2.3.4.5", NULL };
    for (int i = 0; bad [i]; i++) {
        strcpy (out, "x");
        cr_assert_eq (gateway_client_ip_normalize (bad [i], out, sizeof out), -1, "'%s'", bad [i]);
        cr_assert_str_empty (out);
    }
    cr_assert_eq (gateway_client_ip_normalize (NULL, out, sizeof out), -1);
    cr_assert_eq (gateway_client_ip_normalize ("127.0.0.1", out, 9), -1, "out too small");
    cr_assert_str_empty (out);
}

Test (client_ip, bad_peer_or_small_output_fail)
{
    gateway_client_ip_t *self = s_new (PROXIES);
    char out [GATEWAY_CLIENT_IP_SIZE];
    strcpy (out, "x");
    cr_assert_eq (gateway_client_ip_resolve (self, "", "198.51.100.7", out, sizeof out), -1);
    cr_assert_str_empty (out);
    cr_assert_eq (gateway_client_ip_resolve (self, NULL, NULL, out, sizeof out), -1);
    cr_assert_eq (gateway_client_ip_resolve (self, "10.0.0.5:80", NULL, out, sizeof out), -1);
    cr_assert_eq (gateway_client_ip_resolve (self, "10.0.0.5", "198.51.100.7", out, 8), -1);
    cr_assert_str_empty (out);
    cr_assert_eq (gateway_client_ip_resolve (self, "10.0.0.5", "198.51.100.7", out, 13), 0);
    cr_assert_str_eq (out, "198.51.100.7");
    gateway_client_ip_destroy (&self);
}

//  ----------------------------------------------------------------------
//  Limits

Test (client_ip, hop_limit)
{
    //  20 trusted hops after the client: the walk gives up after 16, on a proxy
    char xff [1024] = "198.51.100.7";
    size_t len = strlen (xff);
    for (int i = 20; i >= 1; i--)
        len += (size_t) snprintf (xff + len, sizeof xff - len, ", 10.0.0.%d", i);
    char expected [32];
    snprintf (expected, sizeof expected, "10.0.0.%d", GATEWAY_CLIENT_IP_MAX_HOPS);
    s_expect (PROXIES, "10.0.0.250", xff, expected);
    //  Within the limit the client is found
    snprintf (xff, sizeof xff, "198.51.100.7");
    len = strlen (xff);
    for (int i = GATEWAY_CLIENT_IP_MAX_HOPS - 1; i >= 1; i--)
        len += (size_t) snprintf (xff + len, sizeof xff - len, ", 10.0.0.%d", i);
    s_expect (PROXIES, "10.0.0.250", xff, "198.51.100.7");
}

Test (client_ip, long_header_is_read_from_the_right)
{
    size_t size = 64 * 1024;
    char *xff = (char *) malloc (size);
    cr_assert_not_null (xff);
    //  64 KiB of junk on the left cannot hide the entry our proxy appended
    memset (xff, 'a', size);
    snprintf (xff + size - 64, 64, ", 198.51.100.7, 10.0.0.9");
    s_expect (PROXIES, "10.0.0.5", xff, "198.51.100.7");
    //  One entry longer than the limit is not an address
    memset (xff, '1', size);
    xff [size - 1] = '\0';
    s_expect (PROXIES, "10.0.0.5", xff, "10.0.0.5");
    free (xff);
}

Test (client_ip, cut_fragment_is_not_an_address)
{
    //  "210.0.0.1,10.0.0.2" padded with blanks to one byte over the limit:
    //  the kept right end starts with "10.0.0.1", a fragment of the client's
    //  entry that happens to look like a trusted proxy. It is never used.
    gateway_client_ip_t *self = s_new ("10.0.0.0/8");
    char xff [GATEWAY_CLIENT_IP_XFF_MAX + 2];
    const char *head = "210.0.0.1,10.0.0.2";
    size_t head_len = strlen (head);
    memcpy (xff, head, head_len);
    memset (xff + head_len, ' ', sizeof xff - 1 - head_len);
    xff [sizeof xff - 1] = '\0';
    cr_assert_eq (strlen (xff), GATEWAY_CLIENT_IP_XFF_MAX + 1);
    char out [GATEWAY_CLIENT_IP_SIZE];
    cr_assert_eq (gateway_client_ip_resolve (self, "10.0.0.5", xff, out, sizeof out), 0);
    cr_assert_str_eq (out, "10.0.0.2", "took the fragment");
    //  The same header within the limit: the whole entry is seen
    xff [GATEWAY_CLIENT_IP_XFF_MAX] = '\0';
    cr_assert_eq (gateway_client_ip_resolve (self, "10.0.0.5", xff, out, sizeof out), 0);
    cr_assert_str_eq (out, "210.0.0.1");
    gateway_client_ip_destroy (&self);
}

//  ----------------------------------------------------------------------
//  Header arrays (CivetWeb's request_info)

static void
s_expect_headers (const struct mg_header *headers, int count, const char *peer,
                  const char *client)
{
    gateway_client_ip_t *self = s_new (PROXIES);
    char out [GATEWAY_CLIENT_IP_SIZE];
    cr_assert_eq (gateway_client_ip_from_headers (self, peer, headers, count, out, sizeof out), 0);
    cr_assert_str_eq (out, client);
    gateway_client_ip_destroy (&self);
}

Test (client_ip, every_header_line_counts)
{
    //  The client's own line comes first; a proxy that adds a second line
    //  must not be defeated by reading only the first
    struct mg_header two [] = {
        { "Host", "api.example.com" },
        { "X-Forwarded-For", "1.1.1.1" },
        { "Accept", "*/*" },
        { "x-forwarded-for", "198.51.100.7" },
    };
    s_expect_headers (two, 4, "10.0.0.5", "198.51.100.7");
    s_expect_headers (two, 4, "203.0.113.9", "203.0.113.9");
    struct mg_header chain [] = {
        { "X-FORWARDED-FOR", "1.1.1.1, 198.51.100.7" },
        { "X-Forwarded-For", "192.0.2.1" },
    };
    s_expect_headers (chain, 2, "10.0.0.5", "198.51.100.7");
    struct mg_header none [] = { { "Host", "api.example.com" }, { "X-Real-IP", "1.1.1.1" } };
    s_expect_headers (none, 2, "10.0.0.5", "10.0.0.5");
    s_expect_headers (NULL, 0, "10.0.0.5", "10.0.0.5");
    struct mg_header empty [] = { { "X-Forwarded-For", "" }, { "X-Forwarded-For", "198.51.100.7" } };
    s_expect_headers (empty, 2, "10.0.0.5", "198.51.100.7");
    struct mg_header trailing [] = { { "X-Forwarded-For", "198.51.100.7" }, { "X-Forwarded-For", "" } };
    s_expect_headers (trailing, 2, "10.0.0.5", "10.0.0.5");
}

Test (client_ip, long_header_lines_keep_the_right_end)
{
    size_t size = 16 * 1024;
    char *junk = (char *) malloc (size);
    cr_assert_not_null (junk);
    memset (junk, 'z', size - 1);
    junk [size - 1] = '\0';
    struct mg_header lines [] = {
        { "X-Forwarded-For", junk },
        { "X-Forwarded-For", "198.51.100.7" },
        { "X-Forwarded-For", "10.2.2.2" },
    };
    s_expect_headers (lines, 3, "10.0.0.5", "198.51.100.7");
    //  The junk line last: one entry over the limit, not an address
    struct mg_header last [] = {
        { "X-Forwarded-For", "198.51.100.7" },
        { "X-Forwarded-For", junk },
    };
    s_expect_headers (last, 2, "10.0.0.5", "10.0.0.5");
    //  Lines that together just fit are joined whole
    size_t half = GATEWAY_CLIENT_IP_XFF_MAX / 2;
    char *left = (char *) malloc (half + 1);
    cr_assert_not_null (left);
    memset (left, ' ', half);
    left [half] = '\0';
    memcpy (left, "198.51.100.7", 12);
    char right [GATEWAY_CLIENT_IP_XFF_MAX];
    snprintf (right, sizeof right, "%*s", (int) (GATEWAY_CLIENT_IP_XFF_MAX - half - 1), "10.2.2.2");
    struct mg_header fit [] = { { "X-Forwarded-For", left }, { "X-Forwarded-For", right } };
    cr_assert_eq (strlen (left) + 1 + strlen (right), GATEWAY_CLIENT_IP_XFF_MAX);
    s_expect_headers (fit, 2, "10.0.0.5", "198.51.100.7");
    free (left);
    free (junk);
}
