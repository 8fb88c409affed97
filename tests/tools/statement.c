/*
 * statement: prints the SQL text of one of sessiond's prepared statements
 * (app/statements.c), so that make bench can run a route's statement under
 * pgbench exactly as sessiond sends it.
 */
#include <stdio.h>
#include <string.h>

#include "statements.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: statement NAME\n");
		return 2;
	}
	for (size_t i = 0; i < statement_count; i++)
		if (strcmp(statements[i].name, argv[1]) == 0) {
			printf("%s\n", statements[i].sql);
			return 0;
		}
	fprintf(stderr, "statement: no statement named %s\n", argv[1]);
	return 1;
}
