/* Ordered, tracked, idempotent schema migrations. */
#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "locks.h"

static int is_migration(const struct dirent *d)
{
	const char *n = d->d_name;
	size_t len = strlen(n);

	return len > 8 && isdigit((unsigned char)n[0]) && isdigit((unsigned char)n[1]) &&
	       isdigit((unsigned char)n[2]) && n[3] == '_' && strcmp(n + len - 4, ".sql") == 0;
}

static int ok(PGresult *res, ExecStatusType want, char *err, size_t errlen, const char *what)
{
	if (PQresultStatus(res) == want) {
		PQclear(res);
		return 1;
	}
	snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(res));
	err[strcspn(err, "\n")] = '\0';
	PQclear(res);
	return 0;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else if (buf) {
			buf[n] = '\0';
		}
	}
	fclose(f);
	return buf;
}

/*
 * A migration whose first line is ONLINE_MARK builds indexes on live tables:
 * it runs outside any transaction, one statement at a time (statements end
 * with ';' at the end of a line; no function bodies), so that CREATE INDEX
 * CONCURRENTLY can run at all and no statement holds a lock longer than its
 * own. Every statement must be safe to run again (IF [NOT] EXISTS): a failed
 * run is retried whole, and is recorded only after every statement succeeded.
 */
#define ONLINE_MARK "-- sessiond:online"

/* Skips blanks; then, when the next word is w (any case), past it. 1 when it was. */
static int take_word(const char **p, const char *w)
{
	size_t n = strlen(w);

	while (isspace((unsigned char)**p))
		(*p)++;
	if (strncasecmp(*p, w, n) != 0 || !isspace((unsigned char)(*p)[n]))
		return 0;
	*p += n;
	return 1;
}

/*
 * Before CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS name: an index of that name
 * left INVALID by a failed build (pg_index.indisvalid) would make IF NOT
 * EXISTS skip the build, so it is dropped first. 0, or -1 with err set.
 */
static int drop_invalid_index(PGconn *conn, const char *stmt, const char *file, char *err, size_t errlen)
{
	const char *p = stmt, *params[1];
	char name[64], sql[128];
	size_t n;
	PGresult *res;
	int invalid;

	while (isspace((unsigned char)*p) || (p[0] == '-' && p[1] == '-')) {
		if (*p == '-')
			p += strcspn(p, "\n");
		else
			p++;
	}
	if (!take_word(&p, "CREATE"))
		return 0;
	take_word(&p, "UNIQUE");
	if (!take_word(&p, "INDEX") || !take_word(&p, "CONCURRENTLY") ||
	    !take_word(&p, "IF") || !take_word(&p, "NOT") || !take_word(&p, "EXISTS"))
		return 0;
	while (isspace((unsigned char)*p))
		p++;
	n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
	if (n == 0 || n >= sizeof(name)) {
		snprintf(err, errlen, "%s: an online index needs a plain lower-case name", file);
		return -1;
	}
	memcpy(name, p, n);
	name[n] = '\0';
	params[0] = name;
	res = PQexecParams(conn, "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
				 "WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace "
				 "AND NOT i.indisvalid", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return ok(res, PGRES_TUPLES_OK, err, errlen, file) ? 0 : -1;
	invalid = PQntuples(res) > 0;
	PQclear(res);
	if (!invalid)
		return 0;
	/* The name is [a-z0-9_]+, checked above: safe to splice. */
	snprintf(sql, sizeof(sql), "DROP INDEX CONCURRENTLY IF EXISTS %s", name);
	return ok(PQexec(conn, sql), PGRES_COMMAND_OK, err, errlen, file) ? 0 : -1;
}

/* Runs an online migration's statements one by one, in autocommit. 0, or -1 with err set. */
static int run_online(PGconn *conn, char *sql, const char *file, char *err, size_t errlen)
{
	int rc = 0;

	/* An index build on a large table may take longer than sessiond's statement_timeout. */
	if (!ok(PQexec(conn, "SET statement_timeout = 0"), PGRES_COMMAND_OK, err, errlen, file))
		return -1;
	for (char *stmt = sql; rc == 0 && *stmt;) {
		char *end = strstr(stmt, ";\n");

		if (end)
			end[1] = '\0';
		if (drop_invalid_index(conn, stmt, file, err, errlen) != 0) {
			rc = -1;
		} else {
			PGresult *res = PQexec(conn, stmt);

			/* A piece holding only comments is an empty query: nothing to run. */
			if (PQresultStatus(res) == PGRES_EMPTY_QUERY)
				PQclear(res);
			else if (!ok(res, PGRES_COMMAND_OK, err, errlen, file))
				rc = -1;
		}
		stmt = end ? end + 2 : stmt + strlen(stmt);
	}
	PQclear(PQexec(conn, "RESET statement_timeout"));
	return rc;
}

static int apply_one(PGconn *conn, const char *dir, const char *name, FILE *out, char *err, size_t errlen)
{
	char path[4096], version[4];
	const char *params[2];
	PGresult *res;
	char *sql;
	int applied;

	memcpy(version, name, 3);
	version[3] = '\0';
	params[0] = version;
	params[1] = name;
	res = PQexecParams(conn, "SELECT 1 FROM schema_migrations WHERE version = $1::int", 1, NULL, params,
			   NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return ok(res, PGRES_TUPLES_OK, err, errlen, name) ? 0 : -1;
	applied = PQntuples(res) > 0;
	PQclear(res);
	if (applied)
		return 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	sql = read_file(path);
	if (sql == NULL) {
		snprintf(err, errlen, "%s: cannot read", path);
		return -1;
	}
	if (strncmp(sql, ONLINE_MARK, strlen(ONLINE_MARK)) == 0) {
		/* Recorded only once every statement succeeded; a failed run is retried whole. */
		if (run_online(conn, sql, name, err, errlen) != 0 ||
		    !ok(PQexecParams(conn, "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)", 2,
				     NULL, params, NULL, NULL, 0),
			PGRES_COMMAND_OK, err, errlen, name)) {
			free(sql);
			return -1;
		}
		free(sql);
		fprintf(out, "migration applied: %s (online)\n", name);
		return 1;
	}
	if (!ok(PQexec(conn, "BEGIN"), PGRES_COMMAND_OK, err, errlen, name)) {
		free(sql);
		return -1;
	}
	/* The migration file is trusted operator input, run as a script. */
	if (!ok(PQexec(conn, sql), PGRES_COMMAND_OK, err, errlen, name) ||
	    !ok(PQexecParams(conn, "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)", 2,
			     NULL, params, NULL, NULL, 0),
		PGRES_COMMAND_OK, err, errlen, name) ||
	    !ok(PQexec(conn, "COMMIT"), PGRES_COMMAND_OK, err, errlen, name)) {
		PQclear(PQexec(conn, "ROLLBACK"));
		free(sql);
		return -1;
	}
	free(sql);
	fprintf(out, "migration applied: %s\n", name);
	return 1;
}

int migrate_apply(PGconn *conn, const char *dir, FILE *out, char *err, size_t errlen)
{
	struct dirent **list = NULL;
	int n, count = 0, rc = 0;

	n = scandir(dir, &list, is_migration, alphasort);
	if (n < 0) {
		snprintf(err, errlen, "%s: cannot list migrations", dir);
		return -1;
	}
	if (!ok(PQexec(conn, "SELECT pg_advisory_lock(" LOCK_KEY_MIGRATE ")"), PGRES_TUPLES_OK, err, errlen,
		"advisory lock") ||
	    !ok(PQexec(conn, "SET client_min_messages = warning"), PGRES_COMMAND_OK, err, errlen, "set") ||
	    !ok(PQexec(conn, "CREATE TABLE IF NOT EXISTS schema_migrations ("
			     " version int PRIMARY KEY, name text NOT NULL,"
			     " applied_at timestamptz NOT NULL DEFAULT now())"),
		PGRES_COMMAND_OK, err, errlen, "schema_migrations")) {
		rc = -1;
	}
	for (int i = 0; i < n; i++) {
		if (rc == 0) {
			int r = apply_one(conn, dir, list[i]->d_name, out, err, errlen);

			if (r < 0)
				rc = -1;
			else
				count += r;
		}
		free(list[i]);
	}
	free(list);
	PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" LOCK_KEY_MIGRATE ")"));
	return rc < 0 ? -1 : count;
}
