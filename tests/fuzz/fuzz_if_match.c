/*
 * libFuzzer driver for route_if_match, the If-Match parser of PATCH
 * /current/. The input is the header value. Invariants: 0 or -1; on 0 the
 * version is NULL (for * or no header) or a run of 1..18 digits inside the
 * caller's buffer without leading zeros (a lone "0" stays); a buffer
 * shorter than the value is never overrun. Built and run by tests/fuzz/run.
 */
#include "routes.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *h, size_t cap)
{
	char *buf = malloc(cap);	/* exactly cap bytes: ASan sees any write past them */
	const char *v = (const char *)buf;
	int rc;
	size_t n;

	if (buf == NULL)
		abort();
	rc = route_if_match(h, buf, cap, &v);
	if (rc != 0 && rc != -1)
		abort();
	if (rc == 0 && v != NULL) {
		if (v < buf || v >= buf + cap)
			abort();
		n = strnlen(v, (size_t)(buf + cap - v));
		if (n == 0 || n > 18 || v + n >= buf + cap || (v[0] == '0' && n > 1))
			abort();
		for (size_t i = 0; i < n; i++)
			if (!isdigit((unsigned char)v[i]))
				abort();
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *h = malloc(size + 1);

	if (h == NULL)
		abort();
	memcpy(h, data, size);
	h[size] = '\0';
	check(h, 24);	/* the handler's size */
	check(h, 3);
	check(h, 1);
	free(h);
	return 0;
}
