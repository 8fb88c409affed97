/*
 * libFuzzer driver for clientaddr_resolve: the client address from
 * REMOTE_ADDR, X-Forwarded-For and the trusted_proxies list. The input is
 * split at '\n' into those three. Invariants: the result is NULL or the
 * caller's buffer, NUL-terminated within CLIENTADDR_MAX, and an IPv4 or IPv6
 * address; with no trusted proxy it is REMOTE_ADDR's own address (the
 * forwarded header is never believed). Built and run by tests/fuzz/run.
 */
#include "clientaddr.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_ip(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), *part[3] = { "", "", "" }, *buf, *plain;
	const char *got;
	int k = 0;

	buf = malloc(CLIENTADDR_MAX);	/* exactly the documented size */
	plain = malloc(CLIENTADDR_MAX);
	if (in == NULL || buf == NULL || plain == NULL)
		abort();
	memcpy(in, data, size);
	in[size] = '\0';
	part[0] = in;
	for (size_t i = 0; i < size && k < 2; i++)
		if (in[i] == '\n') {
			in[i] = '\0';
			part[++k] = in + i + 1;
		}
	got = clientaddr_resolve(part[0], part[1], part[2], buf, CLIENTADDR_MAX);
	if (got != NULL && (got != buf || memchr(buf, '\0', CLIENTADDR_MAX) == NULL || !is_ip(buf)))
		abort();
	/* Without trusted proxies the header is ignored: the same answer as with no header at all. */
	got = clientaddr_resolve(part[0], part[1], "", buf, CLIENTADDR_MAX);
	if ((got == NULL) != (clientaddr_resolve(part[0], NULL, "", plain, CLIENTADDR_MAX) == NULL) ||
	    (got != NULL && strcmp(buf, plain) != 0))
		abort();
	free(plain);
	free(buf);
	free(in);
	return 0;
}
