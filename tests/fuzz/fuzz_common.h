/*
 * What several libFuzzer drivers share (header-only, like tests/tools/mint.h:
 * tests/fuzz/run builds one .c per driver). Functions are static inline so a
 * driver that needs only one of them builds warning-free.
 */
#ifndef SESSIOND_FUZZ_COMMON_H
#define SESSIOND_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "jwtv.h"

/*
 * Writes data[0..size) to a file made once per process under /tmp (named
 * /tmp/fuzz_NAME.XXXXXX, the name kept in path[64]) and returns path: for the
 * loaders that read files (config, JWKS). Aborts when the file cannot be written.
 */
static inline const char *fuzz_input_file(char path[64], const char *name, const uint8_t *data, size_t size)
{
	FILE *f;

	if (path[0] == '\0') {
		int fd;

		snprintf(path, 64, "/tmp/fuzz_%s.XXXXXX", name);
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		close(fd);
	}
	f = fopen(path, "wb");
	if (f == NULL)
		abort();
	if (fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	return path;
}

/* Verifier options for the drivers' issuer and audience, with the algorithms given. */
static inline struct jwtv_options fuzz_jwtv_options(const char *algorithms)
{
	struct jwtv_options o = {
		.issuer = "https://issuer.example/",
		.audience = "https://api.example",
		.algorithms = algorithms,
		.leeway = 60,
		.claim_email = "email",
	};

	return o;
}

#endif
