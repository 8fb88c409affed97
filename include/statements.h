/* The SQL of every prepared statement, by name. */
#ifndef SESSIOND_STATEMENTS_H
#define SESSIOND_STATEMENTS_H

#include <stddef.h>

struct statement {
	const char *name;
	const char *sql;
};

extern const struct statement statements[];
extern const size_t statement_count;

#endif
