/* Unit tests for app/clientaddr.c: REMOTE_ADDR, trusted proxies and X-Forwarded-For read from the right. */
#include "clientaddr.h"
#include "check.h"

static const char *res(const char *ra, const char *xff, const char *trusted)
{
	static char buf[CLIENTADDR_MAX];

	return clientaddr_resolve(ra, xff, trusted, buf, sizeof(buf));
}

int main(void)
{
	char chain[4096];
	size_t n = 0;

	CHECK_STR(res("192.0.2.7", NULL, ""), "192.0.2.7");
	CHECK_STR(res("2001:db8::1", NULL, ""), "2001:db8::1");
	CHECK_MSG(res(NULL, NULL, "") == NULL, "no REMOTE_ADDR: unknown");
	CHECK_MSG(res("unix:", NULL, "") == NULL, "a non-IP REMOTE_ADDR: unknown");
	CHECK_MSG(res("999.1.1.1", NULL, "") == NULL, "an invalid IPv4 is unknown");

	/* X-Forwarded-For is ignored unless the peer is a trusted proxy. */
	CHECK_STR(res("192.0.2.7", "203.0.113.9", ""), "192.0.2.7");
	CHECK_STR(res("192.0.2.7", "203.0.113.9", "10.0.0.1"), "192.0.2.7");
	CHECK_STR(res("10.0.0.1", "203.0.113.9", "10.0.0.1"), "203.0.113.9");
	CHECK_STR(res("10.0.0.1", "203.0.113.9", "127.0.0.1, 10.0.0.1"), "203.0.113.9");

	/* From the right: the first entry that is not a trusted proxy; the forged left part is never believed. */
	CHECK_STR(res("10.0.0.1", "198.51.100.1, 203.0.113.9", "10.0.0.1"), "203.0.113.9");
	CHECK_STR(res("10.0.0.1", "198.51.100.1, 203.0.113.9, 10.0.0.2", "10.0.0.1,10.0.0.2"), "203.0.113.9");
	CHECK_STR(res("10.0.0.1", " 203.0.113.9 ", "10.0.0.1"), "203.0.113.9");

	/* Garbage stops the walk: the peer (our proxy) is the answer. */
	CHECK_STR(res("10.0.0.1", "203.0.113.9, not-an-ip", "10.0.0.1"), "10.0.0.1");
	CHECK_STR(res("10.0.0.1", "", "10.0.0.1"), "10.0.0.1");
	CHECK_STR(res("10.0.0.1", "10.0.0.1", "10.0.0.1"), "10.0.0.1");

	/* A long forged chain cannot push the real client out of the right-most 16. */
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(chain + n, sizeof(chain) - n, "198.51.100.%d, ", i % 250);
	snprintf(chain + n, sizeof(chain) - n, "203.0.113.77");
	CHECK_STR(res("10.0.0.1", chain, "10.0.0.1"), "203.0.113.77");
	return check_done();
}
