/*  gateway_client_ip - who the client is, given TRUSTED_PROXIES and X-Forwarded-For

    Addresses are held as 16 bytes and a family. An IPv4-mapped IPv6
    address is turned into plain IPv4 as soon as it is parsed, so the two
    spellings of one client can never land in different ranges or rate
    limit buckets, and an IPv6 range can never match an IPv4 client by
    accident (::/0 means every IPv6 address, not every address).
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <civetweb.h>
#include "gateway_client_ip.h"
#include "../../common/cm_list.h"

#define S_ITEM_MAX      64              //  longest TRUSTED_PROXIES item ("addr/prefix")
#define S_ENTRY_MAX     64              //  longest X-Forwarded-For entry ("[addr]:port")
#define S_ECHO_MAX      40              //  characters of a bad item quoted in an error

typedef struct {
    unsigned char bytes [16];           //  network order; IPv4 in the first 4
    bool v4;                            //  IPv4, or IPv4-mapped IPv6 made IPv4
} s_addr_t;

typedef struct {
    s_addr_t net;                       //  host bits all zero
    unsigned prefix;                    //  0..32 for IPv4, 0..128 for IPv6
} s_range_t;

struct gateway_client_ip_s {
    s_range_t ranges [GATEWAY_CLIENT_IP_MAX_PROXIES];
    size_t count;                       //  ranges in use
};

static const unsigned char s_mapped_prefix [12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

//  ----------------------------------------------------------------------
//  Parse len bytes of text as one bare address (no brackets, no port, no
//  zone). *mapped says it was written as an IPv4-mapped IPv6 address.
//  Returns 0, -1 when it is not an address.

static int
s_parse_addr (const char *text, size_t len, s_addr_t *addr, bool *mapped)
{
    char buf [GATEWAY_CLIENT_IP_SIZE];
    if (len == 0 || len >= sizeof buf)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = text [i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
               || c == ':' || c == '.';
        if (!ok)
            return -1;
    }
    memcpy (buf, text, len);
    buf [len] = '\0';
    memset (addr, 0, sizeof *addr);
    if (mapped)
        *mapped = false;
    if (inet_pton (AF_INET, buf, addr->bytes) == 1) {
        addr->v4 = true;
        return 0;
    }
    unsigned char v6 [16];
    if (inet_pton (AF_INET6, buf, v6) != 1)
        return -1;
    if (memcmp (v6, s_mapped_prefix, sizeof s_mapped_prefix) == 0) {
        memcpy (addr->bytes, v6 + 12, 4);
        addr->v4 = true;
        if (mapped)
            *mapped = true;
    }
    else
        memcpy (addr->bytes, v6, 16);
    return 0;
}

//  A port after an address: 1 to 5 digits, 0..65535
static bool
s_valid_port (const char *text, size_t len)
{
    if (len == 0 || len > 5)
        return false;
    unsigned long port = 0;
    for (size_t i = 0; i < len; i++) {
        if (text [i] < '0' || text [i] > '9')
            return false;
        port = port * 10 + (unsigned long) (text [i] - '0');
    }
    return port <= 65535;
}

//  One X-Forwarded-For entry: "a.b.c.d", "a.b.c.d:port", "v6", "[v6]",
//  "[v6]:port". Returns 0, -1 when it is anything else.
static int
s_parse_entry (const char *text, size_t len, s_addr_t *addr)
{
    if (len == 0 || len > S_ENTRY_MAX)
        return -1;
    if (text [0] == '[') {
        const char *close = (const char *) memchr (text, ']', len);
        if (!close)
            return -1;
        size_t inner = (size_t) (close - text) - 1;
        size_t rest = len - inner - 2;
        if (rest > 0 && (close [1] != ':' || !s_valid_port (close + 2, rest - 1)))
            return -1;
        //  Brackets are for IPv6 only
        if (memchr (text + 1, ':', inner) == NULL)
            return -1;
        return s_parse_addr (text + 1, inner, addr, NULL);
    }
    const char *colon = (const char *) memchr (text, ':', len);
    if (colon && memchr (colon + 1, ':', len - (size_t) (colon - text) - 1) == NULL) {
        //  Exactly one colon: IPv4 with a port
        size_t host = (size_t) (colon - text);
        if (!s_valid_port (colon + 1, len - host - 1))
            return -1;
        if (s_parse_addr (text, host, addr, NULL) || !addr->v4)
            return -1;
        return 0;
    }
    return s_parse_addr (text, len, addr, NULL);
}

static bool
s_in_range (const s_range_t *range, const s_addr_t *addr)
{
    if (range->net.v4 != addr->v4)
        return false;
    unsigned full = range->prefix / 8;
    unsigned bits = range->prefix % 8;
    if (memcmp (range->net.bytes, addr->bytes, full) != 0)
        return false;
    if (bits == 0)
        return true;
    unsigned char mask = (unsigned char) (0xff << (8 - bits));
    return (range->net.bytes [full] & mask) == (addr->bytes [full] & mask);
}

static bool
s_trusted (const gateway_client_ip_t *self, const s_addr_t *addr)
{
    for (size_t i = 0; i < self->count; i++)
        if (s_in_range (&self->ranges [i], addr))
            return true;
    return false;
}

static int
s_format (const s_addr_t *addr, char *out, size_t size)
{
    char text [GATEWAY_CLIENT_IP_SIZE];
    if (!inet_ntop (addr->v4? AF_INET: AF_INET6, addr->bytes, text, sizeof text))
        return -1;
    size_t len = strlen (text);
    if (len >= size)
        return -1;
    memcpy (out, text, len + 1);
    return 0;
}

//  ----------------------------------------------------------------------
//  Parsing TRUSTED_PROXIES

static void
s_error (char *error, size_t size, const char *item, size_t len, const char *why)
{
    if (!error || !size)
        return;
    //  The item is the operator's own setting, but keep the line printable
    char echo [S_ECHO_MAX + 4];
    size_t n = 0;
    for (size_t i = 0; i < len && n < S_ECHO_MAX; i++)
        echo [n++] = item [i] >= 0x20 && item [i] < 0x7f? item [i]: '?';
    if (len > S_ECHO_MAX) {
        memcpy (echo + n, "...", 3);
        n += 3;
    }
    echo [n] = '\0';
    snprintf (error, size, "TRUSTED_PROXIES: '%s' %s", echo, why);
}

//  One item, already trimmed: "addr" or "addr/prefix". Returns the reason
//  it is refused, or NULL with range filled in.
static const char *
s_parse_range (const char *item, size_t len, s_range_t *range)
{
    if (len > S_ITEM_MAX)
        return "is too long";
    const char *slash = (const char *) memchr (item, '/', len);
    size_t addr_len = slash? (size_t) (slash - item): len;
    bool mapped = false;
    memset (range, 0, sizeof *range);
    if (s_parse_addr (item, addr_len, &range->net, &mapped))
        return "is not an IPv4 or IPv6 address or CIDR";
    unsigned max = range->net.v4? 32: 128;
    unsigned prefix = max;
    if (slash) {
        const char *digits = slash + 1;
        size_t count = len - addr_len - 1;
        if (count == 0 || count > 3 || (count > 1 && digits [0] == '0'))
            return "has a malformed prefix length";
        unsigned value = 0;
        for (size_t i = 0; i < count; i++) {
            if (digits [i] < '0' || digits [i] > '9')
                return "has a malformed prefix length";
            value = value * 10 + (unsigned) (digits [i] - '0');
        }
        if (mapped) {
            //  Written as ::ffff:a.b.c.d/n: n counts the 96 bits of the prefix
            if (value < 96 || value > 128)
                return "is an IPv4-mapped range whose prefix is not /96../128";
            value -= 96;
        }
        else
        if (value > max)
            return range->net.v4? "has a prefix longer than /32": "has a prefix longer than /128";
        prefix = value;
    }
    range->prefix = prefix;
    //  Host bits set (10.0.0.1/8) usually means a typo: refuse, do not guess
    s_addr_t net = range->net;
    for (unsigned bit = prefix; bit < (range->net.v4? 32u: 128u); bit++)
        net.bytes [bit / 8] &= (unsigned char) ~(0x80u >> (bit % 8));
    if (memcmp (net.bytes, range->net.bytes, sizeof net.bytes) != 0)
        return "has host bits set after the prefix";
    return NULL;
}

gateway_client_ip_t *
gateway_client_ip_new (const char *list, char *error, size_t error_size)
{
    if (error && error_size)
        error [0] = '\0';
    gateway_client_ip_t *self = (gateway_client_ip_t *) calloc (1, sizeof *self);
    if (!self) {
        if (error && error_size)
            snprintf (error, error_size, "TRUSTED_PROXIES: out of memory");
        return NULL;
    }
    const char *cursor = list, *item;
    size_t len;
    while (cm_list_next (&cursor, &item, &len)) {
        if (len == 0)
            continue;               //  "a, , b" or a trailing comma
        if (self->count == GATEWAY_CLIENT_IP_MAX_PROXIES) {
            s_error (error, error_size, item, len, "is one range too many (at most 64)");
            goto failed;
        }
        const char *why = s_parse_range (item, len, &self->ranges [self->count]);
        if (why) {
            s_error (error, error_size, item, len, why);
            goto failed;
        }
        self->count++;
    }
    return self;

failed:
    free (self);
    return NULL;
}

void
gateway_client_ip_destroy (gateway_client_ip_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

size_t
gateway_client_ip_count (const gateway_client_ip_t *self)
{
    assert (self);
    return self->count;
}

bool
gateway_client_ip_trusted (const gateway_client_ip_t *self, const char *address)
{
    assert (self);
    s_addr_t addr;
    if (!address || s_parse_addr (address, strlen (address), &addr, NULL))
        return false;
    return s_trusted (self, &addr);
}

int
gateway_client_ip_normalize (const char *address, char *out, size_t size)
{
    assert (out);
    if (size)
        out [0] = '\0';
    s_addr_t addr;
    if (!address || s_parse_addr (address, strlen (address), &addr, NULL))
        return -1;
    return s_format (&addr, out, size);
}

//  ----------------------------------------------------------------------
//  Walk len bytes of a comma-separated list from the right. When cut, the
//  text is the right end of a longer header and its first entry may be a
//  fragment, so it is never used. Starts from peer, a trusted proxy.

static s_addr_t
s_walk (const gateway_client_ip_t *self, s_addr_t peer, const char *text, size_t len, bool cut)
{
    s_addr_t client = peer;
    size_t end = len;
    for (int hops = 0; hops < GATEWAY_CLIENT_IP_MAX_HOPS; hops++) {
        size_t start = end;
        while (start > 0 && text [start - 1] != ',')
            start--;
        bool leftmost = start == 0;
        if (leftmost && cut)
            break;
        const char *item = text + start;
        size_t item_len = end - start;
        while (item_len && (*item == ' ' || *item == '\t')) {
            item++;
            item_len--;
        }
        while (item_len && (item [item_len - 1] == ' ' || item [item_len - 1] == '\t'))
            item_len--;
        s_addr_t hop;
        if (s_parse_entry (item, item_len, &hop))
            break;                  //  malformed: keep the last good hop
        client = hop;
        if (!s_trusted (self, &hop) || leftmost)
            break;
        end = start - 1;
    }
    return client;
}

//  Parses peer; if it is trusted, walks text. Writes the client to out.
static int
s_resolve (const gateway_client_ip_t *self, const char *peer, const char *text, size_t len,
           bool cut, char *out, size_t size)
{
    if (size)
        out [0] = '\0';
    s_addr_t addr;
    if (!peer || s_parse_addr (peer, strlen (peer), &addr, NULL))
        return -1;
    if (text && s_trusted (self, &addr))
        addr = s_walk (self, addr, text, len, cut);
    if (s_format (&addr, out, size)) {
        if (size)
            out [0] = '\0';
        return -1;
    }
    return 0;
}

int
gateway_client_ip_resolve (const gateway_client_ip_t *self, const char *peer,
                           const char *xff, char *out, size_t size)
{
    assert (self);
    assert (out);
    if (!xff)
        return s_resolve (self, peer, NULL, 0, false, out, size);
    size_t len = strlen (xff);
    bool cut = len > GATEWAY_CLIENT_IP_XFF_MAX;
    const char *text = cut? xff + len - GATEWAY_CLIENT_IP_XFF_MAX: xff;
    return s_resolve (self, peer, text, cut? GATEWAY_CLIENT_IP_XFF_MAX: len, cut, out, size);
}

static bool
s_is_xff (const struct mg_header *header)
{
    return header->name && strcasecmp (header->name, "X-Forwarded-For") == 0;
}

int
gateway_client_ip_from_headers (const gateway_client_ip_t *self, const char *peer,
                                const struct mg_header *headers, int count,
                                char *out, size_t size)
{
    assert (self);
    assert (out);
    //  The lines joined with commas, of which buf keeps the right end
    size_t total = 0;
    int lines = 0;
    for (int i = 0; i < count; i++)
        if (s_is_xff (&headers [i])) {
            total += (lines? 1: 0) + (headers [i].value? strlen (headers [i].value): 0);
            lines++;
        }
    if (lines == 0)
        return s_resolve (self, peer, NULL, 0, false, out, size);
    char buf [GATEWAY_CLIENT_IP_XFF_MAX];
    bool cut = total > sizeof buf;
    size_t skip = cut? total - sizeof buf: 0;      //  joined bytes left out
    size_t at = 0;                                  //  position in the joined text
    size_t len = 0;
    bool first = true;
    for (int i = 0; i < count; i++) {
        if (!s_is_xff (&headers [i]))
            continue;
        if (!first) {
            if (at++ >= skip)
                buf [len++] = ',';
        }
        first = false;
        const char *value = headers [i].value? headers [i].value: "";
        size_t value_len = strlen (value);
        size_t from = at >= skip? 0: skip - at < value_len? skip - at: value_len;
        memcpy (buf + len, value + from, value_len - from);
        len += value_len - from;
        at += value_len;
    }
    assert (len == total - skip);
    return s_resolve (self, peer, buf, len, cut, out, size);
}
