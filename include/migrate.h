/* Schema migrations: sql/NNN_name.sql applied in order, once, tracked in schema_migrations. */
#ifndef SESSIOND_MIGRATE_H
#define SESSIOND_MIGRATE_H

#include <stddef.h>
#include <stdio.h>

#include <libpq-fe.h>

/*
 * Applies every migration in dir not yet recorded, each in its own
 * transaction (or, marked "-- sessiond:online" on its first line, statement by
 * statement outside one, for CREATE INDEX CONCURRENTLY), under an advisory
 * lock so concurrent runs serialize. Writes one
 * line per migration applied to out. Returns the number applied, or -1 with a
 * message in err.
 */
int migrate_apply(PGconn *conn, const char *dir, FILE *out, char *err, size_t errlen);

#endif
