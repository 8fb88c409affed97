/* The client's address: REMOTE_ADDR, or X-Forwarded-For when a trusted proxy sent it. */
#ifndef SESSIOND_CLIENTADDR_H
#define SESSIOND_CLIENTADDR_H

#include <stddef.h>

#include <netinet/in.h>

/* Room for any address clientaddr_resolve writes (INET6_ADDRSTRLEN and its NUL). */
#define CLIENTADDR_MAX INET6_ADDRSTRLEN

/*
 * Resolves the client address of a request into buf (n >= CLIENTADDR_MAX).
 * remote_addr is the peer (REMOTE_ADDR); when it is listed in trusted_proxies
 * (comma/space separated), forwarded_for (X-Forwarded-For) is read from the
 * right: the first address not itself a trusted proxy, among the right-most
 * 16 entries. Returns buf, or NULL when remote_addr is not an IP address.
 */
const char *clientaddr_resolve(const char *remote_addr, const char *forwarded_for, const char *trusted_proxies,
			       char *buf, size_t n);

#endif
