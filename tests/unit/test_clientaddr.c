/* Unit tests for app/clientaddr.c: REMOTE_ADDR, trusted proxies, X-Forwarded-For read from the right, guard buckets. */
#include <string.h>

#include "clientaddr.h"
#include "check.h"

static struct clientaddr last;

/* The resolved client's canonical text, "proxy:<text>" for a proxy's own bucket, NULL when unknown. */
static const char *res6(const char *ra, const char *xff, const char *trusted, int prefix)
{
	static char buf[CLIENTADDR_MAX + 8];

	if (clientaddr_resolve(ra, xff, trusted, prefix, &last) != 0)
		return NULL;
	snprintf(buf, sizeof(buf), "%s%s", last.key.kind == CA_PROXY ? "proxy:" : "", last.text);
	return buf;
}

static const char *res(const char *ra, const char *xff, const char *trusted)
{
	return res6(ra, xff, trusted, 64);
}

/* 1 when a and b resolve (no proxy) into the same guard bucket. */
static int same_bucket(const char *a, const char *b, int prefix)
{
	struct clientaddr x, y;

	if (clientaddr_resolve(a, NULL, "", prefix, &x) != 0 || clientaddr_resolve(b, NULL, "", prefix, &y) != 0)
		return 0;
	return memcmp(&x.key, &y.key, sizeof(x.key)) == 0;
}

int main(void)
{
	char chain[4096];
	size_t n = 0;
	struct clientaddr p1, p2;

	CHECK_STR(res("192.0.2.7", NULL, ""), "192.0.2.7");
	CHECK_STR(res("2001:db8::1", NULL, ""), "2001:db8::1");
	CHECK_MSG(res(NULL, NULL, "") == NULL, "no REMOTE_ADDR: unknown");
	CHECK_MSG(last.key.kind == CA_UNKNOWN && last.text[0] == '\0', "unknown: the CA_UNKNOWN bucket, no text");
	CHECK_MSG(res("unix:", NULL, "") == NULL, "a non-IP REMOTE_ADDR: unknown");
	CHECK_MSG(res("999.1.1.1", NULL, "") == NULL, "an invalid IPv4 is unknown");

	/* Canonical forms: one client, however its address is spelled. */
	CHECK_STR(res("2001:db8:0::1", NULL, ""), "2001:db8::1");
	CHECK_STR(res("2001:DB8::0001", NULL, ""), "2001:db8::1");
	CHECK_STR(res("::ffff:192.0.2.7", NULL, ""), "192.0.2.7");
	CHECK_MSG(last.key.kind == CA_V4, "an IPv4-mapped IPv6 address is an IPv4 client");
	CHECK_MSG(same_bucket("2001:db8::1", "2001:db8:0::1", 128), "2001:db8::1 and 2001:db8:0::1 share a bucket");
	CHECK_MSG(same_bucket("::ffff:1.2.3.4", "1.2.3.4", 64), "::ffff:1.2.3.4 and 1.2.3.4 share a bucket");
	CHECK_MSG(!same_bucket("1.2.3.4", "1.2.3.5", 64), "two IPv4 addresses are two buckets");

	/* IPv6 per network of the configured prefix. */
	CHECK_MSG(same_bucket("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", 64), "one /64: one bucket");
	CHECK_MSG(!same_bucket("2001:db8:1:2::1", "2001:db8:1:3::1", 64), "another /64: another bucket");
	CHECK_MSG(same_bucket("2001:db8:1:2::1", "2001:db8:1:3::1", 48), "prefix 48: one /48, one bucket");
	CHECK_MSG(!same_bucket("2001:db8::1", "2001:db8::2", 128), "prefix 128: per address");
	CHECK_MSG(same_bucket("2001:db8:1:2:8000::1", "2001:db8:1:2:80ff::1", 72) &&
			  !same_bucket("2001:db8:1:2:8000::1", "2001:db8:1:2:0100::1", 72),
		  "prefix 72: a partial byte is masked");
	CHECK_STR(res6("2001:db8:1:2::9", NULL, "", 64), "2001:db8:1:2::9");	/* the text keeps the address */

	/* X-Forwarded-For is ignored unless the peer is a trusted proxy. */
	CHECK_STR(res("192.0.2.7", "203.0.113.9", ""), "192.0.2.7");
	CHECK_STR(res("192.0.2.7", "203.0.113.9", "10.0.0.1"), "192.0.2.7");
	CHECK_STR(res("10.0.0.1", "203.0.113.9", "10.0.0.1"), "203.0.113.9");
	CHECK_STR(res("10.0.0.1", "203.0.113.9", "127.0.0.1, 10.0.0.1"), "203.0.113.9");
	/* Trusted proxies compare in binary form too. */
	CHECK_STR(res("::ffff:10.0.0.1", "203.0.113.9", "10.0.0.1"), "203.0.113.9");
	CHECK_STR(res("2001:db8::a", "203.0.113.9", "2001:DB8:0::A"), "203.0.113.9");
	CHECK_STR(res("10.0.0.1", "::ffff:203.0.113.9", "10.0.0.1"), "203.0.113.9");

	/* From the right: the first entry that is not a trusted proxy; the forged left part is never believed. */
	CHECK_STR(res("10.0.0.1", "198.51.100.1, 203.0.113.9", "10.0.0.1"), "203.0.113.9");
	CHECK_STR(res("10.0.0.1", "198.51.100.1, 203.0.113.9, 10.0.0.2", "10.0.0.1,10.0.0.2"), "203.0.113.9");
	CHECK_STR(res("10.0.0.1", " 203.0.113.9 ", "10.0.0.1"), "203.0.113.9");

	/* A direct caller from a trusted address, no header: itself, in its address's bucket. */
	CHECK_STR(res("10.0.0.1", NULL, "10.0.0.1"), "10.0.0.1");
	CHECK_MSG(last.key.kind == CA_V4, "a direct trusted caller is counted as its address");
	/* Only trusted hops: the left-most is the caller. */
	CHECK_STR(res("10.0.0.1", "10.0.0.1", "10.0.0.1"), "10.0.0.1");
	CHECK_MSG(last.key.kind == CA_V4, "only trusted hops: the caller's address bucket");

	/* Empty or garbage before a client is found: the proxy's own bucket, apart from its address. */
	CHECK_STR(res("10.0.0.1", "", "10.0.0.1"), "proxy:10.0.0.1");
	CHECK_STR(res("10.0.0.1", "   ", "10.0.0.1"), "proxy:10.0.0.1");
	CHECK_STR(res("10.0.0.1", "203.0.113.9, not-an-ip", "10.0.0.1"), "proxy:10.0.0.1");
	CHECK_STR(res("10.0.0.1", "203.0.113.9:443", "10.0.0.1"), "proxy:10.0.0.1");
	clientaddr_resolve("10.0.0.1", "", "10.0.0.1", 64, &p1);
	clientaddr_resolve("10.0.0.1", NULL, "10.0.0.1", 64, &p2);
	CHECK_MSG(memcmp(&p1.key, &p2.key, sizeof(p1.key)) != 0, "the proxy's own bucket is not its address's bucket");
	clientaddr_resolve("::ffff:10.0.0.1", "bogus", "10.0.0.1", 64, &p2);
	CHECK_MSG(memcmp(&p1.key, &p2.key, sizeof(p1.key)) == 0, "one proxy bucket however the proxy's address is spelled");

	/* A long forged chain cannot push the real client out of the right-most 16. */
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(chain + n, sizeof(chain) - n, "198.51.100.%d, ", i % 250);
	snprintf(chain + n, sizeof(chain) - n, "203.0.113.77");
	CHECK_STR(res("10.0.0.1", chain, "10.0.0.1"), "203.0.113.77");
	return check_done();
}
