/*
 * libFuzzer driver for clientaddr_resolve: the client address and guard
 * bucket from REMOTE_ADDR, X-Forwarded-For and the trusted_proxies list. The
 * input's first byte is the IPv6 prefix length; the rest is split at '\n'
 * into those three. Invariants: 0 gives an IPv4 or IPv6 address as canonical
 * text, NUL-terminated within CLIENTADDR_MAX, and a bucket key with zero
 * padding, an IPv6 network masked to its prefix; -1 leaves an empty text and
 * CA_UNKNOWN; with no trusted proxy the header is never believed (the same
 * answer as with no header at all). Built and run by tests/fuzz/run.
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

static void check(int rc, const struct clientaddr *c)
{
	const struct clientaddr_key *k = &c->key;

	if (memchr(c->text, '\0', sizeof(c->text)) == NULL || k->pad[0] || k->pad[1])
		abort();
	if (rc != 0) {
		if (rc != -1 || c->text[0] != '\0' || k->kind != CA_UNKNOWN)
			abort();
		return;
	}
	if (!is_ip(c->text) || k->kind == CA_UNKNOWN || k->kind > CA_PROXY)
		abort();
	if (k->kind == CA_V6) {
		if (k->bits < 1 || k->bits > 128)
			abort();
		for (int i = 0; i < 16; i++) {
			int keep = k->bits - i * 8;
			uint8_t mask = keep <= 0 ? 0 : keep >= 8 ? 0xff : (uint8_t)(0xff << (8 - keep));

			if (k->addr[i] & (uint8_t)~mask)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in, *part[3] = { "", "", "" };
	struct clientaddr got, plain;
	int k = 0, prefix, rc;

	if (size == 0)
		return 0;
	prefix = (int8_t)data[0];	/* out-of-range values included: they must fall back to 128 */
	data++;
	size--;
	in = malloc(size + 1);
	if (in == NULL)
		abort();
	memcpy(in, data, size);
	in[size] = '\0';
	part[0] = in;
	for (size_t i = 0; i < size && k < 2; i++)
		if (in[i] == '\n') {
			in[i] = '\0';
			part[++k] = in + i + 1;
		}
	rc = clientaddr_resolve(part[0], part[1], part[2], prefix, &got);
	check(rc, &got);
	/* Without trusted proxies the header is ignored: the same answer as with no header at all. */
	rc = clientaddr_resolve(part[0], part[1], "", prefix, &got);
	check(rc, &got);
	if (rc != clientaddr_resolve(part[0], NULL, "", prefix, &plain) || memcmp(&got, &plain, sizeof(got)) != 0)
		abort();
	if (rc == 0 && got.key.kind == CA_PROXY)
		abort();
	free(in);
	return 0;
}
