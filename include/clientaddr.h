/* The client's address: REMOTE_ADDR, or X-Forwarded-For when a trusted proxy sent it; and its guard bucket. */
#ifndef SESSIOND_CLIENTADDR_H
#define SESSIOND_CLIENTADDR_H

#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

/* Room for any address clientaddr_resolve writes (INET6_ADDRSTRLEN and its NUL). */
#define CLIENTADDR_MAX INET6_ADDRSTRLEN

/* What a guard bucket stands for. */
enum clientaddr_kind {
	CA_UNKNOWN,   /* no usable peer address: one bucket for all such requests */
	CA_V4,        /* one IPv4 address (an IPv4-mapped IPv6 address is IPv4) */
	CA_V6,        /* one IPv6 network: the first `bits` bits of the address */
	CA_PROXY,     /* a trusted proxy's own bucket: it forwarded no valid client address */
};

/*
 * A guard bucket in canonical binary form: two requests share a bucket when
 * these bytes are equal (memcmp), whatever text spelled their addresses.
 */
struct clientaddr_key {
	uint8_t kind;         /* enum clientaddr_kind */
	uint8_t bits;         /* CA_V6: prefix length; else 0 */
	uint8_t pad[2];       /* always 0 */
	uint8_t addr[16];     /* CA_V4: 4 bytes; CA_V6: the masked network; CA_PROXY: the proxy (IPv4 as 4 bytes) */
};

struct clientaddr {
	char text[CLIENTADDR_MAX];   /* canonical text of the client (CA_PROXY: of the proxy); "" when unknown */
	struct clientaddr_key key;
};

/*
 * Resolves the client of a request into out. remote_addr is the peer
 * (REMOTE_ADDR). When it is listed in trusted_proxies (comma/space separated
 * addresses, compared in binary form) and forwarded_for (X-Forwarded-For) is
 * present, that header is read from the right: the first address that is not
 * a trusted proxy, among the right-most 16 entries, is the client. A
 * header that is present but empty or malformed (before such an address is
 * found) puts the request in the proxy's own bucket (CA_PROXY), never in the
 * proxy's address bucket. No header at all: the trusted peer itself is the
 * client (a direct caller). IPv6 clients are bucketed per network of
 * v6_prefix bits (1..128). Returns 0, or -1 when remote_addr is not an IP
 * address (out->key.kind = CA_UNKNOWN, out->text empty).
 */
int clientaddr_resolve(const char *remote_addr, const char *forwarded_for, const char *trusted_proxies,
		       int v6_prefix, struct clientaddr *out);

#endif
