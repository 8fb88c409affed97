/*
 * libFuzzer driver for the router: router_match_pattern's percent-decoding
 * of a {param} segment and router_match over the real route table. Byte 0
 * picks the method; the rest is the path (NUL-terminated, as the request
 * layer hands it over). Invariants: a decoded argument fits its buffer, is
 * NUL-terminated and holds no NUL; a {uuid} argument is a lower-case UUID;
 * a small buffer is never overrun; a match is of the asked method, and an
 * argument comes only with a pattern route. Built and run by tests/fuzz/run.
 */
#include "router.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_arg(const char *pattern, const char *arg, size_t cap)
{
	size_t n = strnlen(arg, cap);

	if (n >= cap)
		abort();
	if (strstr(pattern, "{uuid}") != NULL) {
		if (n != 36)
			abort();
		for (size_t i = 0; i < n; i++)
			if (arg[i] != '-' && !(isdigit((unsigned char)arg[i]) || (arg[i] >= 'a' && arg[i] <= 'f')))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS" };
	static const char *const patterns[] = { "/api/sessions/{uuid}/", "/api/sessions/internal/users/{}/",
						"/api/sessions/current/", "/s/{}" };
	struct route_match m;
	const struct route *rt;
	const char *method;
	char arg[ROUTER_ARG_MAX], *small, *path;

	if (size < 1)
		return 0;
	method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	path = malloc(size);
	small = malloc(4);	/* exactly 4 bytes: ASan sees any write past them */
	if (path == NULL || small == NULL)
		abort();
	memcpy(path, data + 1, size - 1);
	path[size - 1] = '\0';
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		if (router_match_pattern(patterns[i], path, arg, sizeof(arg)))
			check_arg(patterns[i], arg, sizeof(arg));
		if (router_match_pattern(patterns[i], path, small, 4))
			check_arg(patterns[i], small, 4);
	}
	rt = router_match(method, path, &m);
	if (rt != NULL) {
		if (rt != m.route || strcmp(rt->method, method) != 0)
			abort();
		if (strchr(rt->pattern, '{') != NULL ? m.arg != m.argbuf : m.arg != NULL)
			abort();
		if (m.arg != NULL)
			check_arg(rt->pattern, m.arg, sizeof(m.argbuf));
	} else if (memchr(m.allow, '\0', sizeof(m.allow)) == NULL) {
		abort();
	}
	free(small);
	free(path);
	return 0;
}
