/*
 * What the command lines of sessiond, cleanup_sessions and sessionctl share:
 * the --config, --version and --help options, and bounded numbers.
 */
#ifndef SESSIOND_CLI_H
#define SESSIOND_CLI_H

#include <getopt.h>
#include <stdio.h>

/* The shared long options, last in each program's table (the terminator included). */
#define CLI_OPTIONS                                                                     \
	{ "config", required_argument, NULL, 'c' }, { "version", no_argument, NULL, 'V' }, \
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }

/* cli_getopt's answer after --version or --help: the program exits with status 0. */
#define CLI_EXIT (-2)

/*
 * getopt_long(argc, argv, shortopts, opts) that takes the shared options
 * itself: --config stores its value in *config; --version prints "prog
 * VERSION" and --help usage(stdout), then CLI_EXIT is returned. Otherwise
 * returns what getopt_long does (the next option, -1 at the end).
 */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *opts, const char *prog,
	       void (*usage)(FILE *), const char **config);

/* Parses s as a decimal integer in min..max into *out: 0, or -1 (out unchanged). */
int cli_long(const char *s, long min, long max, long *out);

#endif
