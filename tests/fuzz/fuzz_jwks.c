/*
 * libFuzzer driver for the JWKS loader: the input is written as the JWKS file
 * and loaded with jwtv_new, then refreshed; the same bytes go through
 * jwk_set_check (the fetcher's check), which must agree. Built and run by tests/fuzz/run.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwtv.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwtv_options o = fuzz_jwtv_options("RS256,RS384");
	struct jwtv *v;
	char err[256];

	o.jwks_file = fuzz_input_file(path, "jwks", data, size);
	v = jwtv_new(&o, err, sizeof(err));
	{
		/* The fetcher's check of a fetched document must agree with the loader. */
		struct jwks_info info;
		int ok = jwk_set_check((const char *)data, size, &info, err, sizeof(err)) == 0;

		if (ok != (v != NULL) || (ok && info.nkeys != jwtv_key_count(v)) ||
		    memchr(info.kids, '\0', sizeof(info.kids)) == NULL ||
		    memchr(info.skipped, '\0', sizeof(info.skipped)) == NULL)
			abort();
	}
	if (v) {
		struct jwtv_identity id;

		if (jwtv_key_count(v) == 0)
			abort(); /* a verifier always has a usable key */
		(void)jwtv_refresh(v, err, sizeof(err));
		/* Nothing verifies against fuzzed keys without a real signature. */
		if (jwtv_verify(v, "e30.e30.AAAA", 12, 0, &id) == JWTV_OK)
			abort();
		jwtv_identity_free(&id);
		jwtv_free(v);
	}
	return 0;
}
