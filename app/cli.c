/* The options every program takes, and bounded numbers on a command line. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *opts, const char *prog,
	       void (*usage)(FILE *), const char **config)
{
	int opt;

	while ((opt = getopt_long(argc, argv, shortopts, opts, NULL)) == 'c')
		*config = optarg;
	if (opt == 'V')
		printf("%s %s\n", prog, SESSIOND_VERSION);
	else if (opt == 'h')
		usage(stdout);
	else
		return opt;
	return CLI_EXIT;
}

int cli_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
