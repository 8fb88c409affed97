/* libpq connection management for the workers. */
#include "store.h"

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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
	s->unnamed = 0;
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

/*
 * The server-side name of a prepared statement: its name and a hash of its SQL
 * (64-bit FNV-1a), so two sessiond versions behind one pooler never run each
 * other's statement under the same name.
 */
#define SERVER_NAME_MAX 64
static void server_name(const struct statement *st, char out[SERVER_NAME_MAX])
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (const unsigned char *p = (const unsigned char *)st->sql; *p; p++) {
		h ^= *p;
		h *= UINT64_C(1099511628211);
	}
	snprintf(out, SERVER_NAME_MAX, "%s_%016" PRIx64, st->name, h);
}

/* A failed result's SQLSTATE, or NULL. */
static const char *sqlstate(const PGresult *res)
{
	return res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
}

/* 1 when this connection sends its statements prepared. */
static int uses_prepared(const struct store *s)
{
	return s->cfg->db_prepared_statements && !s->unnamed;
}

/*
 * A transaction-pooling PgBouncer hands each transaction any server
 * connection: a statement prepared on one is missing on the next (26000), or
 * was prepared there by another client (42P05). Either way nothing ran. The
 * connection falls back to unnamed statements (logged once per process) and
 * the caller sends the statement again, unnamed. state: the failure's
 * SQLSTATE (may be NULL). 1 when that is what to do.
 */
static int fall_back_unnamed(struct store *s, const char *state)
{
	static int logged;

	if (!uses_prepared(s) || state == NULL || (strcmp(state, "26000") != 0 && strcmp(state, "42P05") != 0))
		return 0;
	s->unnamed = 1;
	if (!logged) {
		log_warn("event=store_prepared_fallback sqlstate=%s hint=prepared statements do not survive a "
			 "transaction-pooling PgBouncer: set db_prepared_statements = off", state);
		logged = 1;
	}
	return 1;
}

/* Prepares every statement on a fresh connection (or falls back to unnamed ones behind a pooler). */
static int prepare_all(struct store *s)
{
	for (size_t i = 0; i < statement_count; i++) {
		char sname[SERVER_NAME_MAX];
		PGresult *res;

		server_name(&statements[i], sname);
		res = PQprepare(s->conn, sname, statements[i].sql, 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK && fall_back_unnamed(s, sqlstate(res))) {
			PQclear(res);
			return 0;
		}
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
	s->unnamed = 0;
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

/* The statement called name, or NULL when there is none. */
static const struct statement *statement_find(const char *name)
{
	for (size_t i = 0; i < statement_count; i++)
		if (strcmp(statements[i].name, name) == 0)
			return &statements[i];
	return NULL;
}

/* Classifies a failed result: connection-level and transient problems are 503, the rest 500. */
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
	/*
	 * A deadlock or serialization failure rolled the statement back: nothing
	 * was applied and the same request may well succeed at once, so the
	 * client is told to retry (503 + Retry-After). The connection is fine.
	 */
	if (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0) {
		log_warn("event=store_retryable sqlstate=%s error=%s", state,
			 log_quote(PQresultErrorMessage(res), msg, sizeof(msg)));
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

/*
 * Whether an idle connection is still usable, asked before sending: a server
 * that restarted or dropped it has closed the socket (often after a FATAL
 * message), which shows as readable. Reading that here, before anything is
 * sent, proves a statement sent next on a fresh connection is its first run.
 */
static int idle_conn_alive(PGconn *conn)
{
	struct pollfd p = { .fd = PQsocket(conn), .events = POLLIN };

	if (p.fd < 0 || PQstatus(conn) != CONNECTION_OK)
		return 0;
	if (poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) && PQconsumeInput(conn) == 0)
		return 0;
	return PQstatus(conn) == CONNECTION_OK;
}

/*
 * Test-only fault injection, for proving what happens when a write commits
 * but its result never arrives: SESSIOND_TEST_DROP_AFTER (set by the test
 * harness alone) names the statements after whose success the connection is
 * cut and the result thrown away, exactly as if the network dropped it.
 * Compiled in only with SESSIOND_FAULT_HOOKS (make test's build).
 */
static int fault_drop_after(const char *name)
{
	/* Read once per process: this runs after every statement, environ never changes. */
	static const char *list;
	static int read_env;
	size_t n = strlen(name);

	if (!read_env) {
#ifdef SESSIOND_FAULT_HOOKS
		list = getenv("SESSIOND_TEST_DROP_AFTER");
#endif
		read_env = 1;
	}
	if (list == NULL)
		return 0;

	for (const char *p = list; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
	}
	return 0;
}

static PGresult *fault_cut(PGconn *conn, PGresult *res)
{
	PQclear(res);
	shutdown(PQsocket(conn), SHUT_RDWR);
	/* Fails on the cut socket: a result like the one a dropped connection gives. */
	return PQexec(conn, "SELECT 1");
}

static int succeeded(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}

/* A successful result of statement name, or what the fault hook leaves of it. */
static PGresult *fault_hook(struct store *s, const char *name, PGresult *res)
{
	return succeeded(res) && fault_drop_after(name) ? fault_cut(s->conn, res) : res;
}

/* A connection found dead before sending is replaced: nothing was sent on it. */
static void replace_if_dead(struct store *s)
{
	if (s->conn && !idle_conn_alive(s->conn)) {
		store_close(s);
		s->next_attempt.tv_sec = 0;
		s->next_attempt.tv_nsec = 0;
	}
}

/*
 * Runs one statement: prepared, or (db_prepared_statements off, or after a
 * fallback) its text as an unnamed statement (Parse/Bind/Execute in one round
 * trip, planned each time), which a transaction-pooling PgBouncer may send to
 * any server connection.
 */
static PGresult *exec_one(struct store *s, const struct statement *stmt, int nparams, const char *const *values,
			  const int *lengths, const int *formats)
{
	char sname[SERVER_NAME_MAX];

	if (!uses_prepared(s))
		return PQexecParams(s->conn, stmt->sql, nparams, NULL, values, lengths, formats, 0);
	server_name(stmt, sname);
	return PQexecPrepared(s->conn, sname, nparams, values, lengths, formats, 0);
}

PGresult *store_exec(struct store *s, const char *name, int nparams, const char *const *values,
		     const int *lengths, const int *formats, enum store_err *err)
{
	const struct statement *stmt = statement_find(name);
	PGresult *res;

	if (stmt == NULL) {
		log_error("event=store_unknown_statement statement=%s", name);
		*err = STORE_ERROR;
		return NULL;
	}
	for (int attempt = 0;; attempt++) {
		int was_open;

		replace_if_dead(s);
		was_open = s->conn != NULL;
		*err = store_ensure(s);
		if (*err != STORE_OK)
			return NULL;
		res = exec_one(s, stmt, nparams, values, lengths, formats);
		if (!succeeded(res) && fall_back_unnamed(s, sqlstate(res))) {
			/* It never ran (see fall_back_unnamed): sent again, unnamed. */
			PQclear(res);
			res = exec_one(s, stmt, nparams, values, lengths, formats);
		}
		res = fault_hook(s, name, res);
		if (succeeded(res))
			return res;
		/*
		 * The connection broke while the statement was in flight: it may
		 * or may not have committed. Only a statement that is safe to run
		 * twice is sent again (once); a write is reported as unavailable
		 * (503, Retry-After), never applied a second time.
		 */
		if (attempt == 0 && was_open && stmt->retry_safe && connection_lost(s->conn, res)) {
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

/* Sends one statement of a pipeline: prepared, or unnamed with its text. */
static int send_statement(struct store *s, const struct statement *stmt, int nparams, const char *const *values,
			  const int *lengths, const int *formats)
{
	char sname[SERVER_NAME_MAX];

	if (!uses_prepared(s))
		return PQsendQueryParams(s->conn, stmt->sql, nparams, NULL, values, lengths, formats, 0);
	server_name(stmt, sname);
	return PQsendQueryPrepared(s->conn, sname, nparams, values, lengths, formats, 0);
}

/* SQLSTATE 26000: the prepared statement is missing on the server connection (nothing ran). */
static int statement_missing(const PGresult *r)
{
	const char *state = sqlstate(r);

	return state != NULL && strcmp(state, "26000") == 0;
}

/*
 * Reads a pipeline's results up to its syncs: the first statement's first
 * result is kept in *first, everything else is cleared (*later_missing set
 * when a later statement met 26000). Bounded: a broken connection ends it
 * early. 1 when both syncs arrived (the pipeline is done).
 */
static int drain_pipeline(PGconn *conn, int syncs, PGresult **first, int *later_missing)
{
	for (int i = 0; i < 32 && syncs > 0; i++) {
		PGresult *r = PQgetResult(conn);

		if (r == NULL) {
			if (PQstatus(conn) != CONNECTION_OK)
				return 0;
			continue;
		}
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC)
			syncs--;
		else if (*first == NULL) {
			*first = r;
			continue;
		} else if (statement_missing(r))
			*later_missing = 1;
		PQclear(r);
	}
	return syncs == 0;
}

PGresult *store_exec_then(struct store *s, const char *name, int nparams, const char *const *values,
			  const int *lengths, const int *formats, const char *then, enum store_err *err)
{
	const struct statement *stmt = statement_find(name), *next = statement_find(then);
	PGresult *res = NULL;
	int then_missing = 0;

	if (stmt == NULL || next == NULL) {
		log_error("event=store_unknown_statement statement=%s", stmt ? then : name);
		*err = STORE_ERROR;
		return NULL;
	}
	replace_if_dead(s);
	*err = store_ensure(s);
	if (*err != STORE_OK)
		return NULL;
	/* Fails only on a connection that is not idle, which store_ensure never hands out. */
	if (PQenterPipelineMode(s->conn) != 1) {
		log_error("event=store_pipeline_failed statement=%s", name);
		*err = STORE_ERROR;
		return NULL;
	}
	/* Two syncs: each statement commits on its own, the second after the first. */
	if (send_statement(s, stmt, nparams, values, lengths, formats) != 1 || PQpipelineSync(s->conn) != 1 ||
	    send_statement(s, next, 0, NULL, NULL, NULL) != 1 || PQpipelineSync(s->conn) != 1 ||
	    !drain_pipeline(s->conn, 2, &res, &then_missing) || PQexitPipelineMode(s->conn) != 1) {
		/* The connection's state is unknown: it is replaced. */
		if (res != NULL && succeeded(res)) {
			/* The write committed; only the second statement was lost. */
			store_close(s);
			return res;
		}
		/* Sent or not, the write's outcome is unknown: reported, never retried. */
		*err = classify(s, res);
		PQclear(res);
		if (s->conn)
			store_close(s);
		return NULL;
	}
	res = fault_hook(s, name, res);
	if (succeeded(res)) {
		enum store_err then_err;

		/* The write committed: never sent again. Only `then`, if a pooler lost it, is. */
		if (then_missing && s->conn && fall_back_unnamed(s, "26000"))
			PQclear(store_exec(s, then, 0, NULL, NULL, NULL, &then_err));
		return res;
	}
	if (fall_back_unnamed(s, sqlstate(res))) {
		/* The write never ran (26000): the pair is sent again, unnamed (the ring before it was too early). */
		PQclear(res);
		return store_exec_then(s, name, nparams, values, lengths, formats, then, err);
	}
	*err = classify(s, res);
	PQclear(res);
	return NULL;
}

enum store_err store_ping(struct store *s)
{
	enum store_err err;
	PGresult *res = store_exec(s, "ping", 0, NULL, NULL, NULL, &err);

	PQclear(res);
	return err;
}

const char *store_num(char buf[STORE_NUM_LEN], long v)
{
	snprintf(buf, STORE_NUM_LEN, "%ld", v);
	return buf;
}
