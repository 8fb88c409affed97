/* cleanup_sessions: batched deletion of dead sessions and aged-out audit events. */
#include "cleanup.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "locks.h"
#include "statements.h"


/*
 * Both cutoffs are computed once per run, in whole seconds, so every batch and
 * the dry run use the same boundary and the report shows it exactly.
 */
static const char SQL_CUTOFFS[] =
	"SELECT to_char((date_trunc('second', now()) - make_interval(secs => $1::int)) AT TIME ZONE 'UTC', " SQL_TS_FORMAT "),"
	"       to_char((date_trunc('second', now()) - make_interval(days => $2::int)) AT TIME ZONE 'UTC', " SQL_TS_FORMAT "),"
	"       to_char((date_trunc('second', now()) - make_interval(secs => $3::int)) AT TIME ZONE 'UTC', " SQL_TS_FORMAT ")";

/*
 * A session goes when it expired or was revoked at or before the cutoff. It
 * counts as "revoked" when its revocation is past the grace period, otherwise
 * as "expired". Idle expiry (idle_timeout) is not a reason: an idle session is
 * refused by sessiond and goes here once its expires_at is past the grace.
 *
 * One statement per batch: lock up to $2 candidates (skipping rows a request
 * holds), delete them and their cache rows, count what was deleted.
 * Pass 1 walks the expiry index, pass 2 the revocation index.
 */
#define BATCH_TAIL \
	"gone AS (DELETE FROM sessions s USING doomed d WHERE s.id = d.id " \
	"         RETURNING s.id, s.expires_at, s.revoked_at), " \
	"cache AS (DELETE FROM session_cache c USING gone g WHERE c.id = g.id RETURNING 1) " \
	"SELECT count(*) FILTER (WHERE revoked_at IS NULL OR revoked_at > $1::timestamptz), " \
	"       count(*) FILTER (WHERE revoked_at <= $1::timestamptz), " \
	"       (SELECT count(*) FROM cache), " \
	"       to_char(min(expires_at) AT TIME ZONE 'UTC', " SQL_TS_FORMAT "), " \
	"       count(*) " \
	"FROM gone"

/*
 * A batch picks the oldest rows (an init plan over the time index), then
 * locks them in id order through the primary key, the one order every
 * statement locking several sessions rows uses (sql/006_lock_order.sql).
 * The outer re-check of the time (a row changed meanwhile is left alone) is
 * written so that it cannot use the time index: with stale statistics the
 * planner would otherwise walk every dead row there, filtering on the ids.
 */
static const char SQL_BATCH_EXPIRED[] =
	"WITH doomed AS (SELECT id FROM sessions WHERE id = ANY (ARRAY(SELECT id FROM sessions "
	"                WHERE expires_at <= $1::timestamptz ORDER BY expires_at LIMIT $2::int)) "
	"                AND (expires_at <= $1::timestamptz) IS TRUE ORDER BY id FOR UPDATE SKIP LOCKED), "
	BATCH_TAIL;

static const char SQL_BATCH_REVOKED[] =
	"WITH doomed AS (SELECT id FROM sessions WHERE id = ANY (ARRAY(SELECT id FROM sessions "
	"                WHERE revoked_at <= $1::timestamptz ORDER BY revoked_at LIMIT $2::int)) "
	"                AND (revoked_at <= $1::timestamptz) IS TRUE ORDER BY id FOR UPDATE SKIP LOCKED), "
	BATCH_TAIL;

/*
 * Stragglers: a cache row whose session is gone (a read-through that raced a
 * delete) or dead past the cutoff. Deleting a cache row is always safe: a read
 * falls through to the authoritative table.
 */
static const char SQL_BATCH_CACHE[] =
	"WITH doomed AS (SELECT token_hash FROM session_cache WHERE expires_at <= $1::timestamptz "
	"                LIMIT $2::int FOR UPDATE SKIP LOCKED) "
	"DELETE FROM session_cache c USING doomed d WHERE c.token_hash = d.token_hash";

/*
 * Events age out on their own, whether or not their session still exists. In
 * no particular order: the time index is BRIN (sql/014), which finds the old
 * ranges but cannot sort, and every row past the cutoff goes anyway.
 */
static const char SQL_BATCH_EVENTS[] =
	"WITH doomed AS (SELECT id FROM session_events WHERE occurred_at < $1::timestamptz "
	"                LIMIT $2::int FOR UPDATE SKIP LOCKED) "
	"DELETE FROM session_events e USING doomed d WHERE e.id = d.id";

/*
 * Records of gone tokens (migration 005) outlive every cookie of their token:
 * they go max_lifetime after the later of their session's expiry and deletion.
 */
static const char SQL_BATCH_GONE[] =
	"WITH doomed AS (SELECT token_hash FROM gone_tokens WHERE keep_from < $1::timestamptz "
	"                ORDER BY keep_from LIMIT $2::int FOR UPDATE SKIP LOCKED) "
	"DELETE FROM gone_tokens g USING doomed d WHERE g.token_hash = d.token_hash";

/*
 * Back-channel logout tokens seen (migration 015): once their token expired
 * (exp plus the leeway) a replay is refused by its exp, so the entry can go;
 * the sessions' cutoff ($1, now less cleanup_grace) is at or before now.
 */
static const char SQL_BATCH_JTIS[] =
	"WITH doomed AS (SELECT jti FROM logout_jtis WHERE expires_at < $1::timestamptz "
	"                ORDER BY expires_at LIMIT $2::int FOR UPDATE SKIP LOCKED) "
	"DELETE FROM logout_jtis j USING doomed d WHERE j.jti = d.jti";

/* The dry run: the same predicates, counted in one read-only snapshot. */
static const char SQL_COUNT_SESSIONS[] =
	"SELECT count(*) FILTER (WHERE revoked_at IS NULL OR revoked_at > $1::timestamptz), "
	"       count(*) FILTER (WHERE revoked_at <= $1::timestamptz), "
	"       to_char(min(expires_at) AT TIME ZONE 'UTC', " SQL_TS_FORMAT ") "
	"FROM sessions WHERE expires_at <= $1::timestamptz OR revoked_at <= $1::timestamptz";

static const char SQL_COUNT_CACHE[] =
	"SELECT count(*) FROM session_cache c WHERE c.expires_at <= $1::timestamptz "
	"   OR EXISTS (SELECT 1 FROM sessions s WHERE s.id = c.id "
	"              AND (s.expires_at <= $1::timestamptz OR s.revoked_at <= $1::timestamptz))";

static const char SQL_COUNT_EVENTS[] =
	"SELECT count(*) FROM session_events WHERE occurred_at < $1::timestamptz";

static const char SQL_COUNT_GONE[] =
	"SELECT count(*) FROM gone_tokens WHERE keep_from < $1::timestamptz";

static const char SQL_COUNT_JTIS[] =
	"SELECT count(*) FROM logout_jtis WHERE expires_at < $1::timestamptz";

/* --verbose: sessions in use, and dead ones kept for the grace period. */
static const char SQL_COUNT_LIVE[] =
	"SELECT count(*) FILTER (WHERE revoked_at IS NULL AND expires_at > now()), "
	"       count(*) FILTER (WHERE (revoked_at IS NOT NULL OR expires_at <= now()) "
	"                          AND expires_at > $1::timestamptz "
	"                          AND (revoked_at IS NULL OR revoked_at > $1::timestamptz)) "
	"FROM sessions";

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_err(char *err, size_t errlen, const char *what, const PGresult *res, PGconn *conn)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (msg == NULL || msg[0] == '\0')
		msg = res ? PQresultErrorMessage(res) : NULL;
	if (msg == NULL || msg[0] == '\0')
		msg = PQerrorMessage(conn);
	snprintf(err, errlen, "%s: %.*s", what, (int)strcspn(msg, "\n"), msg);
}

/* Runs sql with text parameters; returns the result on status want, else NULL with err set. */
static PGresult *run(PGconn *conn, const char *what, const char *sql, int n, const char *const *params,
		     ExecStatusType want, char *err, size_t errlen)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) == want)
		return res;
	set_err(err, errlen, what, res, conn);
	PQclear(res);
	return NULL;
}

static int run_cmd(PGconn *conn, const char *what, const char *sql, int n, const char *const *params,
		   char *err, size_t errlen)
{
	PGresult *res = run(conn, what, sql, n, params, PGRES_COMMAND_OK, err, errlen);

	PQclear(res);
	return res ? 0 : -1;
}

static long long num(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Keeps the earlier of two "YYYY-MM-DDTHH:MM:SSZ" stamps in acc ("none" = unset). */
static void keep_oldest(char *acc, size_t n, const PGresult *res, int col)
{
	const char *v;

	if (PQgetisnull(res, 0, col))
		return;
	v = PQgetvalue(res, 0, col);
	if (strcmp(acc, "none") == 0 || strcmp(v, acc) < 0)
		snprintf(acc, n, "%s", v);
}

/* A deadlock or serialization failure rolls back one batch; it is worth retrying. */
static int transient(const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return state && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0);
}

/*
 * Runs one batch statement, retrying a transient failure twice. Returns the
 * result (status want) or NULL with err set.
 */
static PGresult *batch(PGconn *conn, const char *what, const char *sql, const char *const *params,
		       ExecStatusType want, char *err, size_t errlen)
{
	for (int attempt = 0;; attempt++) {
		PGresult *res = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);

		if (PQresultStatus(res) == want)
			return res;
		if (attempt < 2 && transient(res)) {
			PQclear(res);
			continue;
		}
		set_err(err, errlen, what, res, conn);
		PQclear(res);
		return NULL;
	}
}

static int stopped(const struct cleanup_opts *o, struct cleanup_stats *st)
{
	if (o->stop && *o->stop) {
		st->interrupted = 1;
		return 1;
	}
	return 0;
}

static int delete_sessions(PGconn *conn, const struct cleanup_opts *o, struct cleanup_stats *st,
			   const char *limit, char *err, size_t errlen)
{
	static const struct { const char *what, *sql; } passes[] = {
		{ "deleting expired sessions", SQL_BATCH_EXPIRED },
		{ "deleting revoked sessions", SQL_BATCH_REVOKED },
	};
	const char *params[2] = { st->cutoff, limit };

	for (size_t p = 0; p < sizeof(passes) / sizeof(passes[0]); p++) {
		for (;;) {
			PGresult *res;
			long long total;

			if (stopped(o, st))
				return 0;
			res = batch(conn, passes[p].what, passes[p].sql, params, PGRES_TUPLES_OK, err, errlen);
			if (res == NULL)
				return -1;
			st->batches++;
			st->expired += num(res, 0, 0);
			st->revoked += num(res, 0, 1);
			st->cache_rows += num(res, 0, 2);
			keep_oldest(st->oldest_expiry, sizeof(st->oldest_expiry), res, 3);
			total = num(res, 0, 4);
			PQclear(res);
			/* Fewer than asked: nothing left that is not locked by a request right now. */
			if (total < o->batch_size)
				break;
		}
	}
	return 0;
}

/* Batches of sql (a DELETE) until one deletes fewer than batch_size rows; adds the rows to *count. */
static int delete_rows(PGconn *conn, const struct cleanup_opts *o, struct cleanup_stats *st, const char *what,
		       const char *sql, const char *cutoff, const char *limit, long long *count, char *err,
		       size_t errlen)
{
	const char *params[2] = { cutoff, limit };

	for (;;) {
		PGresult *res;
		long long n;

		if (stopped(o, st))
			return 0;
		res = batch(conn, what, sql, params, PGRES_COMMAND_OK, err, errlen);
		if (res == NULL)
			return -1;
		st->batches++;
		n = strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		*count += n;
		if (n < o->batch_size)
			return 0;
	}
}

/* Fills the --verbose counts in the current transaction. */
static int count_live(PGconn *conn, struct cleanup_stats *st, char *err, size_t errlen)
{
	const char *params[1] = { st->cutoff };
	PGresult *res = run(conn, "counting live sessions", SQL_COUNT_LIVE, 1, params, PGRES_TUPLES_OK, err, errlen);

	if (res == NULL)
		return -1;
	st->live = num(res, 0, 0);
	st->retained = num(res, 0, 1);
	PQclear(res);
	return 0;
}

/*
 * Counting scans whole indexes; it runs in a read-only transaction without
 * the service's statement timeout (it takes no lock a request waits for).
 */
static int begin_snapshot(PGconn *conn, char *err, size_t errlen)
{
	if (run_cmd(conn, "begin", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, err, errlen) != 0)
		return -1;
	PQclear(run(conn, "statement_timeout", "SELECT set_config('statement_timeout', '0', true)", 0, NULL,
		    PGRES_TUPLES_OK, err, errlen));
	return 0;
}

static void end_snapshot(PGconn *conn)
{
	PQclear(PQexec(conn, "ROLLBACK"));
}

/* Runs a one-parameter count; 0 with the number in *out, or -1 with a message in err. */
static int count(PGconn *conn, const char *what, const char *sql, const char *const *params, long long *out,
		 char *err, size_t errlen)
{
	PGresult *res = run(conn, what, sql, 1, params, PGRES_TUPLES_OK, err, errlen);

	if (res == NULL)
		return -1;
	*out = num(res, 0, 0);
	PQclear(res);
	return 0;
}

static int dry_run(PGconn *conn, const struct cleanup_opts *o, struct cleanup_stats *st, char *err, size_t errlen)
{
	const char *p1[1] = { st->cutoff }, *p2[1] = { st->event_cutoff }, *p3[1] = { st->gone_cutoff };
	PGresult *res;
	int rc = -1;

	if (begin_snapshot(conn, err, errlen) != 0)
		return -1;
	res = run(conn, "counting sessions", SQL_COUNT_SESSIONS, 1, p1, PGRES_TUPLES_OK, err, errlen);
	if (res == NULL)
		goto out;
	st->expired = num(res, 0, 0);
	st->revoked = num(res, 0, 1);
	keep_oldest(st->oldest_expiry, sizeof(st->oldest_expiry), res, 2);
	PQclear(res);
	if (count(conn, "counting cache rows", SQL_COUNT_CACHE, p1, &st->cache_rows, err, errlen) != 0 ||
	    count(conn, "counting events", SQL_COUNT_EVENTS, p2, &st->events, err, errlen) != 0 ||
	    count(conn, "counting gone tokens", SQL_COUNT_GONE, p3, &st->gone_tokens, err, errlen) != 0 ||
	    count(conn, "counting seen logout tokens", SQL_COUNT_JTIS, p1, &st->logout_jtis, err, errlen) != 0)
		goto out;
	if (o->verbose && count_live(conn, st, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	end_snapshot(conn);
	return rc;
}

enum cleanup_result cleanup_lock(PGconn *conn, char *err, size_t errlen)
{
	const char *params[1] = { LOCK_KEY_CLEANUP };
	PGresult *res = run(conn, "taking the cleanup lock", "SELECT pg_try_advisory_lock($1::bigint)", 1, params,
			    PGRES_TUPLES_OK, err, errlen);
	int got;

	if (res == NULL)
		return CLEANUP_ERROR;
	got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!got) {
		snprintf(err, errlen, "another cleanup_sessions run holds the lock (advisory lock %s)",
			 LOCK_KEY_CLEANUP);
		return CLEANUP_LOCKED;
	}
	return CLEANUP_OK;
}

enum cleanup_result cleanup_run(PGconn *conn, const struct cfg *c, const struct cleanup_opts *o,
				struct cleanup_stats *st, char *err, size_t errlen)
{
	char grace[24], days[24], limit[24], life[24];
	const char *params[3] = { grace, days, life };
	long long t0 = now_ms(), t1;
	PGresult *res;

	memset(st, 0, sizeof(*st));
	snprintf(st->oldest_expiry, sizeof(st->oldest_expiry), "none");
	snprintf(grace, sizeof(grace), "%ld", c->cleanup_grace);
	snprintf(days, sizeof(days), "%ld", c->event_retention_days);
	snprintf(limit, sizeof(limit), "%ld", o->batch_size);
	snprintf(life, sizeof(life), "%ld", c->max_lifetime);

	PQclear(run(conn, "application_name", "SELECT set_config('application_name', 'cleanup_sessions', false)",
		    0, NULL, PGRES_TUPLES_OK, err, errlen));
	res = run(conn, "computing cutoffs", SQL_CUTOFFS, 3, params, PGRES_TUPLES_OK, err, errlen);
	if (res == NULL)
		return CLEANUP_ERROR;
	snprintf(st->cutoff, sizeof(st->cutoff), "%s", PQgetvalue(res, 0, 0));
	snprintf(st->event_cutoff, sizeof(st->event_cutoff), "%s", PQgetvalue(res, 0, 1));
	snprintf(st->gone_cutoff, sizeof(st->gone_cutoff), "%s", PQgetvalue(res, 0, 2));
	PQclear(res);

	if (o->dry_run) {
		if (dry_run(conn, o, st, err, errlen) != 0)
			return CLEANUP_ERROR;
		st->total_ms = now_ms() - t0;
		return CLEANUP_OK;
	}

	if (delete_sessions(conn, o, st, limit, err, errlen) != 0 ||
	    delete_rows(conn, o, st, "deleting stale cache rows", SQL_BATCH_CACHE, st->cutoff, limit,
			&st->cache_rows, err, errlen) != 0)
		goto failed;
	t1 = now_ms();
	st->sessions_ms = t1 - t0;
	if (delete_rows(conn, o, st, "deleting old events", SQL_BATCH_EVENTS, st->event_cutoff, limit, &st->events,
			err, errlen) != 0 ||
	    delete_rows(conn, o, st, "deleting old gone tokens", SQL_BATCH_GONE, st->gone_cutoff, limit,
			&st->gone_tokens, err, errlen) != 0 ||
	    delete_rows(conn, o, st, "deleting expired logout token ids", SQL_BATCH_JTIS, st->cutoff, limit,
			&st->logout_jtis, err, errlen) != 0)
		goto failed;
	st->events_ms = now_ms() - t1;
	if (o->verbose && !st->interrupted) {
		int rc;

		if (begin_snapshot(conn, err, errlen) != 0)
			goto failed;
		rc = count_live(conn, st, err, errlen);
		end_snapshot(conn);
		if (rc != 0)
			goto failed;
	}
	st->total_ms = now_ms() - t0;
	return CLEANUP_OK;
failed:
	st->total_ms = now_ms() - t0;
	return CLEANUP_ERROR;
}

void cleanup_report(FILE *out, const struct cleanup_opts *o, const struct cleanup_stats *st, const char *status)
{
	fprintf(out, "cleanup mode=%s\n", o->dry_run ? "dry-run" : "delete");
	fprintf(out, "cleanup cutoff=%s\n", st->cutoff[0] ? st->cutoff : "none");
	fprintf(out, "cleanup event_cutoff=%s\n", st->event_cutoff[0] ? st->event_cutoff : "none");
	fprintf(out, "cleanup sessions_expired=%lld\n", st->expired);
	fprintf(out, "cleanup sessions_revoked=%lld\n", st->revoked);
	fprintf(out, "cleanup cache_rows=%lld\n", st->cache_rows);
	fprintf(out, "cleanup oldest_expiry=%s\n", st->oldest_expiry[0] ? st->oldest_expiry : "none");
	fprintf(out, "cleanup events=%lld\n", st->events);
	fprintf(out, "cleanup gone_tokens=%lld\n", st->gone_tokens);
	fprintf(out, "cleanup logout_jtis=%lld\n", st->logout_jtis);
	if (o->verbose) {
		fprintf(out, "cleanup sessions_live=%lld\n", st->live);
		fprintf(out, "cleanup sessions_in_grace=%lld\n", st->retained);
		fprintf(out, "cleanup batch_size=%ld\n", o->batch_size);
		fprintf(out, "cleanup batches=%lld\n", st->batches);
		fprintf(out, "cleanup sessions_ms=%lld\n", st->sessions_ms);
		fprintf(out, "cleanup events_ms=%lld\n", st->events_ms);
		fprintf(out, "cleanup elapsed_ms=%lld\n", st->total_ms);
	}
	fprintf(out, "cleanup status=%s\n", status);
	fflush(out);
}
