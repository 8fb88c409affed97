/* The client address of a request, believed from X-Forwarded-For only through trusted proxies. */
#include "clientaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* How many X-Forwarded-For entries, counted from the right, are considered: a long forged chain cannot push the real client out. */
#define XFF_KEEP 16

static int valid_ip(const char *s, size_t n, char *buf, size_t cap)
{
	unsigned char tmp[sizeof(struct in6_addr)];

	if (n == 0 || n >= cap)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, tmp) == 1 || inet_pton(AF_INET6, buf, tmp) == 1;
}

/* 1 when addr is listed in the comma/space separated list. */
static int listed(const char *list, const char *addr)
{
	size_t n = strlen(addr);

	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ", ");

		if (len == n && strncmp(p, addr, n) == 0)
			return 1;
		p += len;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return 0;
}

const char *clientaddr_resolve(const char *remote_addr, const char *forwarded_for, const char *trusted_proxies,
			       char *buf, size_t n)
{
	const char *parts[XFF_KEEP];
	size_t lens[XFF_KEEP], np, total = 0;
	char cand[CLIENTADDR_MAX];

	if (remote_addr == NULL || !valid_ip(remote_addr, strlen(remote_addr), buf, n))
		return NULL;
	if (forwarded_for == NULL || trusted_proxies == NULL || trusted_proxies[0] == '\0' ||
	    !listed(trusted_proxies, buf))
		return buf;
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
		if (!valid_ip(start, len, cand, sizeof(cand)))
			break;
		if (!listed(trusted_proxies, cand)) {
			snprintf(buf, n, "%s", cand);
			return buf;
		}
	}
	return buf;
}
