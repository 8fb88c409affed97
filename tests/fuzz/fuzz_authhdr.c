/*
 * libFuzzer driver for app/authhdr.c. The input is split at '\n' into up to
 * three NUL-terminated parts: a header value, a scheme/cookie name, and an
 * allowed-origins list. Results must point inside the header.
 *
 * clang -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -Iinclude tests/fuzz/fuzz_authhdr.c app/authhdr.c -o /tmp/fuzz_authhdr
 * /tmp/fuzz_authhdr -max_total_time=20 tests/fuzz/corpus/authhdr
 */
#include "authhdr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_within(const char *hdr, const char *p, size_t n)
{
	size_t hl = strlen(hdr);

	if (p < hdr || p > hdr + hl || n > (size_t)(hdr + hl - p))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *part[3] = {"", "", ""};
	const char *p = NULL;
	size_t n = 0, i;
	int k = 0;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	part[0] = buf;
	for (i = 0; i < size && k < 2; i++) {
		if (buf[i] == '\n') {
			buf[i] = '\0';
			part[++k] = buf + i + 1;
		}
	}

	if (authhdr_param(part[0], part[1], &p, &n)) {
		check_within(part[0], p, n);
		if (n == 0)
			abort();
		for (i = 0; i < n; i++)
			if (p[i] == ' ' || p[i] == '\t' || p[i] == '\0')
				abort();
	}
	authhdr_param(part[0], "Session", &p, &n);
	authhdr_param(NULL, part[1], &p, &n);

	if (authhdr_cookie_get(part[0], part[1], &p, &n))
		check_within(part[0], p, n);
	if (authhdr_cookie_get(part[0], "__Host-session_token", &p, &n))
		check_within(part[0], p, n);
	authhdr_cookie_get(NULL, part[1], &p, &n);
	{
		/* Every same-name cookie, in order: each inside the header, the cursor always moving forward. */
		const char *cur = part[0], *prev = part[0];
		int k = 0;

		while (authhdr_cookie_next(&cur, part[1], &p, &n)) {
			check_within(part[0], p, n);
			if (cur <= prev || ++k > 100000)
				abort();
			prev = cur;
		}
	}
	authhdr_is_scheme(part[0], part[1]);

	authhdr_origin_allowed(part[0], 0, part[2]);
	authhdr_origin_allowed(part[0], 1, part[2]);
	/* A value always matches a list made of itself, unless it is "null" or empty. */
	if (part[0][0] != '\0' && strpbrk(part[0], ", \t") == NULL && strcasecmp(part[0], "null") != 0 &&
	    !authhdr_origin_allowed(part[0], 0, part[0]))
		abort();
	authhdr_origin_allowed(NULL, 1, part[2]);

	free(buf);
	return 0;
}
