/*  gateway_client_ip - who the client is, given TRUSTED_PROXIES and X-Forwarded-For

    A request's client is its TCP peer, unless that peer is a trusted proxy:
    then X-Forwarded-For is walked from the right (the end the proxies
    wrote), skipping trusted hops, and the first untrusted address is the
    client. A spoofed header from an untrusted peer is ignored entirely.
    Only valid IP addresses are ever returned; a malformed entry stops the
    walk at the last good hop. IPv4 addresses and IPv4-mapped IPv6
    addresses (::ffff:a.b.c.d) are one thing: they match IPv4 ranges and
    come out in dotted form. Everything here is pure: no I/O, no globals.
*/
#ifndef GATEWAY_CLIENT_IP_H_INCLUDED
#define GATEWAY_CLIENT_IP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

struct mg_header;

#define GATEWAY_CLIENT_IP_MAX_PROXIES   64      //  ranges in TRUSTED_PROXIES
#define GATEWAY_CLIENT_IP_XFF_MAX       2048    //  bytes of X-Forwarded-For looked at (the right end)
#define GATEWAY_CLIENT_IP_MAX_HOPS      16      //  entries walked from the right
#define GATEWAY_CLIENT_IP_SIZE          46      //  a normalized address and its NUL (INET6_ADDRSTRLEN)

typedef struct gateway_client_ip_s gateway_client_ip_t;

//  ----------------------------------------------------------------------
//  Parse a comma-separated list of CIDRs ("10.0.0.0/8, 2001:db8::/32");
//  a bare address is a /32 or /128, blanks around items are ignored and
//  an empty list trusts no one. Host bits set past the prefix are refused
//  as a likely typo. Returns a new set, or NULL with error naming the
//  first bad item (the gateway refuses to start).
gateway_client_ip_t *
    gateway_client_ip_new (const char *list, char *error, size_t error_size);

//  Destroy a set; idempotent, nulls *self_p
void
    gateway_client_ip_destroy (gateway_client_ip_t **self_p);

//  Number of ranges in the set
size_t
    gateway_client_ip_count (const gateway_client_ip_t *self);

//  ----------------------------------------------------------------------
//  True when address (text, IPv4 or IPv6) is valid and in a trusted range
bool
    gateway_client_ip_trusted (const gateway_client_ip_t *self, const char *address);

//  ----------------------------------------------------------------------
//  Decide the client address from peer (the TCP peer, as CivetWeb's
//  remote_addr) and xff (the X-Forwarded-For value, NULL when absent;
//  several header lines joined in order with commas). Writes the client as
//  normalized text into out (GATEWAY_CLIENT_IP_SIZE bytes suffice).
//  Returns 0, or -1 with out "" when peer is not a valid address or out
//  is too small. Entries may carry a port ("1.2.3.4:80", "[::1]:80").
int
    gateway_client_ip_resolve (const gateway_client_ip_t *self, const char *peer,
                               const char *xff, char *out, size_t size);

//  ----------------------------------------------------------------------
//  Like gateway_client_ip_resolve, taking every X-Forwarded-For line (in
//  any letter case) from a CivetWeb header array, in order. Use this and
//  not mg_get_header, which sees only the first line: a client can send
//  its own line before the one its proxy adds.
int
    gateway_client_ip_from_headers (const gateway_client_ip_t *self, const char *peer,
                                    const struct mg_header *headers, int count,
                                    char *out, size_t size);

//  ----------------------------------------------------------------------
//  Normalize one address (IPv4, IPv6, IPv4-mapped IPv6) into out; no port,
//  no brackets. Returns 0, or -1 with out "" when it is not one.
int
    gateway_client_ip_normalize (const char *address, char *out, size_t size);

#endif
