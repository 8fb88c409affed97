/*
 * The PostgreSQL store: one connection per worker, opened after fork,
 * prepared statements (or unnamed ones with db_prepared_statements off, for a
 * transaction-pooling PgBouncer), reconnect with re-prepare after a restart.
 * Knows SQL, nothing about HTTP.
 */
#ifndef SESSIOND_STORE_H
#define SESSIOND_STORE_H

#include <libpq-fe.h>
#include <time.h>

#include "config.h"

enum store_err {
	STORE_OK = 0,
	STORE_NOT_FOUND,      /* no such row (or not the caller's) */
	STORE_CONFLICT,       /* version mismatch (If-Match) */
	STORE_TOO_LARGE,      /* the write would exceed a size limit (session_data) */
	STORE_UNAVAILABLE,    /* cannot reach PostgreSQL right now: 503 */
	STORE_ERROR           /* anything else: 500, logged */
};

struct store {
	PGconn *conn;
	const struct cfg *cfg;
	struct timespec next_attempt;   /* no reconnect attempt before this */
	unsigned long reconnects;
	unsigned long errors;
	int ever_connected;
	int unnamed;          /* this connection fell back to unnamed statements (a pooler lost its prepared ones) */
};

/* Prepares s for use with c (kept by reference); connects lazily. */
void store_init(struct store *s, const struct cfg *c);

/* Closes the connection. */
void store_close(struct store *s);

/*
 * Makes sure a connection with prepared statements exists, reconnecting at
 * most every 250 ms while PostgreSQL is down. STORE_OK or STORE_UNAVAILABLE.
 */
enum store_err store_ensure(struct store *s);

/*
 * Runs statement name (from statements[]) with text parameters
 * (lengths/formats may be NULL; a format of 1 marks a binary parameter):
 * prepared, or unnamed when db_prepared_statements is off or a pooler lost this
 * connection's prepared statements (SQLSTATE 26000/42P05: the statement is sent
 * again unnamed, once, and the connection stays unnamed). On success returns the
 * result (caller PQclear's it) and sets *err = STORE_OK; on failure returns
 * NULL and sets *err, closing the connection when it is broken.
 */
PGresult *store_exec(struct store *s, const char *name, int nparams, const char *const *values,
		     const int *lengths, const int *formats, enum store_err *err);

/*
 * Like store_exec for a write, then statement `then` (no parameters) as a
 * transaction of its own that starts only after the write committed, in the
 * same round trip (libpq pipeline mode). Returns the write's result; the
 * second statement's is discarded (best effort). A write is never retried.
 */
PGresult *store_exec_then(struct store *s, const char *name, int nparams, const char *const *values,
			  const int *lengths, const int *formats, const char *then, enum store_err *err);

/* Liveness: SELECT 1 through the prepared path. */
enum store_err store_ping(struct store *s);

/* Room for a long as decimal text. */
#define STORE_NUM_LEN 24

/* Writes v into buf as a statement's text parameter and returns buf. */
const char *store_num(char buf[STORE_NUM_LEN], long v);

/* Opens a plain connection for tools (migrations, cleanup): NULL with a message in err. */
PGconn *store_connect_raw(const struct cfg *c, char *err, size_t errlen);

#endif
