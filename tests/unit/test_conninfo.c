/* Unit tests for app/conninfo.c: no password survives, the rest does. */
#include "conninfo.h"
#include "check.h"

#include <string.h>

static char out[512];

static const char *scrub(const char *text, const char *conninfo)
{
	return conninfo_scrub(text, conninfo, out, sizeof(out));
}

int main(void)
{
	const char *kv = "host=db user=app password=s3cr3tPW dbname=sessiond";
	const char *uri = "postgresql://app:s3cr3tPW@db:5432/sessiond?sslmode=require";

	CHECK_STR(scrub(kv, kv), "host=db user=app password=*** dbname=sessiond");
	CHECK_STR(scrub(uri, uri), "postgresql://app:***@db:5432/sessiond?sslmode=require");
	CHECK_STR(scrub("host=db password = 'two words' dbname=x", NULL), "host=db password = *** dbname=x");
	CHECK_STR(scrub("postgres://h/db?password=s3cr3tPW&sslmode=disable", NULL),
		  "postgres://h/db?password=***&sslmode=disable");
	CHECK_STR(scrub("host=db sslpassword=keypass", NULL), "host=db sslpassword=***");
	/* libpq's own message echoing a fragment of the string. */
	CHECK_STR(scrub("invalid URI query parameter: \"s3cr3tPW\"", uri), "invalid URI query parameter: \"***\"");
	CHECK_STR(scrub("could not translate host name \"db\" to address", kv),
		  "could not translate host name \"db\" to address");
	CHECK_STR(scrub("password authentication failed for user \"app\"", kv),
		  "password authentication failed for user \"app\"");
	/* A percent-encoded password in a URI: hidden as the userinfo it is. */
	CHECK(strstr(scrub("postgresql://app:p%40ss@db/x", "postgresql://app:p%40ss@db/x"), "p%40ss") == NULL);
	CHECK(strstr(scrub("postgresql://app:p@ss@db/x", NULL), "p@ss") == NULL);
	/* An unparsable string still loses its password. */
	CHECK(strstr(scrub("host=db password=s3cr3tPW 'unterminated", "host=db password=s3cr3tPW 'unterminated"),
		      "s3cr3tPW") == NULL);
	/* Truncation keeps the output terminated. */
	{
		char small[8];

		conninfo_scrub(kv, kv, small, sizeof(small));
		CHECK(strlen(small) == 7);
	}
	CHECK_STR(scrub("dbname=sessiond", "dbname=sessiond"), "dbname=sessiond");
	return check_done();
}
