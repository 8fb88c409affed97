/* Ordered, tracked, idempotent schema migrations. */
#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

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
