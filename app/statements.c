/*
 * Every SQL statement sessiond runs, prepared once per connection. All take
 * their values as parameters.
 */
#include "statements.h"

const struct statement statements[] = {
	{ "ping", "SELECT 1" },
};

const size_t statement_count = sizeof(statements) / sizeof(statements[0]);
