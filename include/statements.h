/* The SQL of every prepared statement, by name. */
#ifndef SESSIOND_STATEMENTS_H
#define SESSIOND_STATEMENTS_H

#include <stddef.h>

struct statement {
	const char *name;
	const char *sql;
	/*
	 * 1 when running it twice has the effect of running it once (reads,
	 * cache fills, touches): the store may then resend it after the
	 * connection broke mid-flight. 0 (the default) for writes, which are
	 * resent only when they provably never reached the server.
	 */
	int retry_safe;
};

extern const struct statement statements[];
extern const size_t statement_count;

#endif
