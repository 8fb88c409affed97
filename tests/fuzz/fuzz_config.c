/*
 * libFuzzer driver for the configuration parser: the input is written as a
 * config file and loaded with cfg_load (key = value lines, comments, quotes,
 * numbers with bounds, enums, cross-key checks). Built and run by tests/fuzz/run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg c;
	char err[512];
	FILE *f;

	if (path[0] == '\0') {
		int fd;

		snprintf(path, sizeof(path), "/tmp/fuzz_config.XXXXXX");
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		close(fd);
		unsetenv("SESSIOND_CONFIG");
	}
	f = fopen(path, "wb");
	if (f == NULL)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	err[0] = '\0';
	if (cfg_load(&c, path, err, sizeof(err)) != 0) {
		/* Every failure explains itself, naming the file. */
		if (err[0] == '\0')
			abort();
	} else {
		/* A loaded config is within the table's bounds. */
		for (size_t i = 0; i < cfg_nkeys; i++) {
			const struct cfg_key *k = &cfg_keys[i];
			const char *field = (const char *)&c + k->offset;

			if ((k->type == CFG_INT || k->type == CFG_OCT) &&
			    (*(const long *)field < k->min || *(const long *)field > k->max))
				abort();
		}
	}
	cfg_free(&c);
	return 0;
}
