/*
 * libFuzzer driver for jwks_max_age, the Cache-Control parser of the JWKS
 * answer (its header value arrives from the issuer, not NUL-terminated).
 * Invariants: never reads past len (the input is copied to exactly len
 * bytes); -1, or a value in 0..999999999 found only when the value names
 * max-age. Built and run by tests/fuzz/run.
 */
#include "jwks_fetch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = malloc(size ? size : 1);
	long n;
	int named = 0;

	if (v == NULL)
		abort();
	memcpy(v, data, size);
	n = jwks_max_age(v, size);
	for (size_t i = 0; i + 8 <= size && !named; i++)
		named = strncasecmp(v + i, "max-age=", 8) == 0;
	if (n < -1 || n > 999999999 || (n >= 0 && !named))
		abort();
	free(v);
	return 0;
}
