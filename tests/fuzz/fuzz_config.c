/*
 * libFuzzer driver for the configuration parser: the input is written as a
 * config file and loaded with cfg_load (key = value lines, comments, quotes,
 * numbers with bounds, enums, cross-key checks). Built and run by tests/fuzz/run.
 */
#include <stdint.h>
#include <stdlib.h>

#include "config.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg c;
	char err[512];

	unsetenv("SESSIOND_CONFIG");
	fuzz_input_file(path, "config", data, size);
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
