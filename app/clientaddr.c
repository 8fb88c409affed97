/* The client address of a request, believed from X-Forwarded-For only through trusted proxies; its guard bucket. */
#include "clientaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* How many X-Forwarded-For entries, counted from the right, are considered: a long forged chain cannot push the real client out. */
#define XFF_KEEP 16

/* An address in binary form: IPv4 (also IPv4-mapped IPv6) in the first 4 bytes with v4 set. */
struct bin {
	int v4;
	uint8_t a[16];
};

/* Parses s[0..n) as one IP address (no port, no brackets); returns 1 when it is one. */
static int parse(const char *s, size_t n, struct bin *b)
{
	char buf[CLIENTADDR_MAX];
	struct in6_addr a6;

	memset(b, 0, sizeof(*b));
	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, b->a) == 1) {
		b->v4 = 1;
		return 1;
	}
	if (inet_pton(AF_INET6, buf, &a6) != 1)
		return 0;
	if (IN6_IS_ADDR_V4MAPPED(&a6)) {
		b->v4 = 1;
		memcpy(b->a, a6.s6_addr + 12, 4);
	} else {
		memcpy(b->a, a6.s6_addr, 16);
	}
	return 1;
}

static int same(const struct bin *x, const struct bin *y)
{
	return x->v4 == y->v4 && memcmp(x->a, y->a, x->v4 ? 4 : 16) == 0;
}

/* 1 when b is one of the comma/space separated addresses of list. */
static int listed(const char *list, const struct bin *b)
{
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ", ");
		struct bin e;

		if (parse(p, len, &e) && same(&e, b))
			return 1;
		p += len;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return 0;
}

/* Sets out to b: canonical text, and the bucket of kind (CA_PROXY, or by family). */
static void set(struct clientaddr *out, const struct bin *b, int v6_prefix, int proxy)
{
	struct clientaddr_key *k = &out->key;

	inet_ntop(b->v4 ? AF_INET : AF_INET6, b->a, out->text, sizeof(out->text));
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, b->a, b->v4 ? 4 : 16);
	if (proxy) {
		k->kind = CA_PROXY;
		k->bits = b->v4 ? 32 : 128;
	} else if (b->v4) {
		k->kind = CA_V4;
	} else {
		int bits = v6_prefix < 1 || v6_prefix > 128 ? 128 : v6_prefix;

		k->kind = CA_V6;
		k->bits = (uint8_t)bits;
		for (int i = 0; i < 16; i++) {
			int keep = bits - i * 8;

			if (keep <= 0)
				k->addr[i] = 0;
			else if (keep < 8)
				k->addr[i] &= (uint8_t)(0xff << (8 - keep));
		}
	}
}

int clientaddr_resolve(const char *remote_addr, const char *forwarded_for, const char *trusted_proxies,
		       int v6_prefix, struct clientaddr *out)
{
	const char *parts[XFF_KEEP];
	size_t lens[XFF_KEEP], np, total = 0;
	struct bin peer, cand;

	memset(out, 0, sizeof(*out));
	if (remote_addr == NULL || !parse(remote_addr, strlen(remote_addr), &peer))
		return -1;
	if (forwarded_for == NULL || trusted_proxies == NULL || !listed(trusted_proxies, &peer)) {
		set(out, &peer, v6_prefix, 0);
		return 0;
	}
	for (const char *p = forwarded_for; *p;) {
		size_t len = strcspn(p, ",");

		parts[total % XFF_KEEP] = p;
		lens[total % XFF_KEEP] = len;
		total++;
		p += len;
		if (*p == ',')
			p++;
	}
	/* From the right: the first address that is not one of our proxies. */
	np = total < XFF_KEEP ? total : XFF_KEEP;
	while (np > 0) {
		size_t k = (total - 1) % XFF_KEEP;
		const char *start = parts[k];
		size_t len = lens[k];

		np--;
		total--;
		while (len && (*start == ' ' || *start == '\t')) {
			start++;
			len--;
		}
		while (len && (start[len - 1] == ' ' || start[len - 1] == '\t'))
			len--;
		if (!parse(start, len, &cand))
			break;
		if (!listed(trusted_proxies, &cand)) {
			set(out, &cand, v6_prefix, 0);
			return 0;
		}
		/* Only trusted hosts so far: the left-most of them is the caller when nothing else follows. */
		if (np == 0 && total == 0) {
			set(out, &cand, v6_prefix, 0);
			return 0;
		}
	}
	/*
	 * Empty, malformed, or only trusted entries beyond what is kept: the
	 * proxy forwarded no client we can name. Such requests share a bucket of
	 * the proxy's own, so they never block the clients it does name.
	 */
	set(out, &peer, v6_prefix, 1);
	return 0;
}
