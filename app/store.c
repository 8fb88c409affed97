/* libpq connection management for the workers. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conninfo.h"
#include "log.h"
#include "metrics.h"
#include "statements.h"

static long ms_until(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
}

static void schedule_retry(struct store *s, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, &s->next_attempt);
	s->next_attempt.tv_sec += ms / 1000;
	s->next_attempt.tv_nsec += (ms % 1000) * 1000000;
	if (s->next_attempt.tv_nsec >= 1000000000) {
		s->next_attempt.tv_sec++;
		s->next_attempt.tv_nsec -= 1000000000;
	}
}

void store_init(struct store *s, const struct cfg *c)
{
	memset(s, 0, sizeof(*s));
	s->cfg = c;
}

void store_close(struct store *s)
{
	if (s->conn)
		PQfinish(s->conn);
	s->conn = NULL;
}

PGconn *store_connect_raw(const struct cfg *c, char *err, size_t errlen)
{
	char timeout[24], user_timeout[24], options[64];
	const char *keys[] = { "dbname", "connect_timeout", "application_name", "options",
			       "keepalives_idle", "keepalives_interval", "tcp_user_timeout", NULL };
	const char *vals[8];
	PGconn *conn;

	snprintf(timeout, sizeof(timeout), "%ld", c->db_connect_timeout);
	snprintf(user_timeout, sizeof(user_timeout), "%ld", c->db_statement_timeout + 2000);
	snprintf(options, sizeof(options), "-c statement_timeout=%ld", c->db_statement_timeout);
	vals[0] = c->database_url;   /* expanded: a URI or key=value string */
	vals[1] = timeout;
	vals[2] = "sessiond";
	vals[3] = options;
	vals[4] = "10";
	vals[5] = "5";
	vals[6] = user_timeout;
	vals[7] = NULL;
	conn = PQconnectdbParams(keys, vals, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
		char line[512];

		/* libpq's message may echo the connection string: never its password. */
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(msg, "\n"), msg);
		conninfo_scrub(line, c->database_url, err, errlen);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

static int prepare_all(struct store *s)
{
	for (size_t i = 0; i < statement_count; i++) {
		PGresult *res = PQprepare(s->conn, statements[i].name, statements[i].sql, 0, NULL);

		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			char msg[256];

			log_error("event=store_prepare_failed statement=%s error=%s", statements[i].name,
				  log_quote(PQresultErrorMessage(res), msg, sizeof(msg)));
			PQclear(res);
			return -1;
		}
		PQclear(res);
	}
	return 0;
}

enum store_err store_ensure(struct store *s)
{
	char err[256], q[300];

	if (s->conn && PQstatus(s->conn) == CONNECTION_OK)
		return STORE_OK;
	store_close(s);
	if (ms_until(&s->next_attempt) > 0)
		return STORE_UNAVAILABLE;
	s->conn = store_connect_raw(s->cfg, err, sizeof(err));
	if (s->conn == NULL) {
		schedule_retry(s, 250);
		metrics_store_error(MS_CONNECT);
		log_warn("event=store_connect_failed error=%s", log_quote(err, q, sizeof(q)));
		return STORE_UNAVAILABLE;
	}
	if (s->cfg->db_prepared_statements && prepare_all(s) != 0) {
		store_close(s);
		schedule_retry(s, 1000);
		return STORE_UNAVAILABLE;
	}
	if (s->ever_connected) {
		s->reconnects++;
		metrics_add(MC_STORE_RECONNECTS, 1);
		log_info("event=store_reconnected");
	}
	s->ever_connected = 1;
	return STORE_OK;
}

/* The SQL text of statement name, or NULL when there is none. */
static const char *statement_sql(const char *name)
{
	for (size_t i = 0; i < statement_count; i++)
		if (strcmp(statements[i].name, name) == 0)
			return statements[i].sql;
	return NULL;
}

/* Classifies a failed result: connection-level problems are 503, the rest 500. */
static enum store_err classify(struct store *s, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char msg[256];

	if (PQstatus(s->conn) != CONNECTION_OK || state == NULL ||
	    strncmp(state, "08", 2) == 0 ||        /* connection exception */
	    strncmp(state, "57P", 3) == 0 ||       /* admin shutdown, crash shutdown, cannot connect now */
	    strcmp(state, "57014") == 0 ||         /* statement timeout */
	    strcmp(state, "53300") == 0 ||         /* too many connections */
	    strcmp(state, "25006") == 0) {         /* read-only transaction: standby after failover */
		log_warn("event=store_unavailable sqlstate=%s error=%s", state ? state : "none",
			 log_quote(res ? PQresultErrorMessage(res) : PQerrorMessage(s->conn), msg, sizeof(msg)));
		store_close(s);
		schedule_retry(s, 0);
		metrics_store_error(MS_UNAVAILABLE);
		return STORE_UNAVAILABLE;
	}
	s->errors++;
	metrics_store_error(MS_QUERY);
	log_error("event=store_error sqlstate=%s error=%s", state,
		  log_quote(PQresultErrorMessage(res), msg, sizeof(msg)));
	return STORE_ERROR;
}

/* The failure came from the connection (dropped, reset), not from the statement. */
static int connection_lost(PGconn *conn, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return PQstatus(conn) == CONNECTION_BAD || state == NULL || strncmp(state, "08", 2) == 0 ||
	       strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0;
}

PGresult *store_exec(struct store *s, const char *name, int nparams, const char *const *values,
		     const int *lengths, const int *formats, enum store_err *err)
{
	PGresult *res;
	ExecStatusType st;
	/*
	 * With db_prepared_statements off the statement's text runs as an unnamed
	 * statement (Parse/Bind/Execute in one round trip, planned each time),
	 * which a transaction-pooling PgBouncer may send to any server connection.
	 */
	const char *sql = s->cfg->db_prepared_statements ? NULL : statement_sql(name);

	if (!s->cfg->db_prepared_statements && sql == NULL) {
		log_error("event=store_unknown_statement statement=%s", name);
		*err = STORE_ERROR;
		return NULL;
	}
	for (int attempt = 0;; attempt++) {
		int was_open = s->conn != NULL;   /* an older connection, possibly dropped meanwhile */

		*err = store_ensure(s);
		if (*err != STORE_OK)
			return NULL;
		res = sql ? PQexecParams(s->conn, sql, nparams, NULL, values, lengths, formats, 0)
			  : PQexecPrepared(s->conn, name, nparams, values, lengths, formats, 0);
		st = PQresultStatus(res);
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
			return res;
		/*
		 * A connection the server dropped while we were idle (restart,
		 * failover) fails on first use: reconnect and retry once. Every
		 * statement is safe to repeat (reads, or writes that are idempotent
		 * or harmless twice).
		 */
		if (attempt == 0 && was_open && connection_lost(s->conn, res)) {
			PQclear(res);
			store_close(s);
			s->next_attempt.tv_sec = 0;
			s->next_attempt.tv_nsec = 0;
			continue;
		}
		*err = classify(s, res);
		PQclear(res);
		return NULL;
	}
}

enum store_err store_ping(struct store *s)
{
	enum store_err err;
	PGresult *res = store_exec(s, "ping", 0, NULL, NULL, NULL, &err);

	PQclear(res);
	return err;
}
