/* The per-host cache's invalidation listener (see listener.h and docs/invalidation.md). */
#include "listener.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "lcache.h"
#include "log.h"
#include "signals.h"
#include "store.h"

/*
 * What committed since snapshot $1 (NULL: nothing yet, only the snapshot).
 * pg_current_snapshot() is this statement's own snapshot, the one the scan
 * sees, so a row is returned exactly once: in the first read whose snapshot
 * sees its transaction committed. Rows of transactions older than $1's xmin
 * were all visible to $1 already; the index on xid bounds the scan.
 */
static const char POLL_SQL[] =
	"WITH cur AS (SELECT pg_current_snapshot() AS s) "
	"SELECT cur.s::text, encode(i.token_hash, 'hex') FROM cur "
	"LEFT JOIN session_invalidations i ON i.xid >= pg_snapshot_xmin($1::pg_snapshot) "
	"AND NOT pg_visible_in_snapshot(i.xid, $1::pg_snapshot)";

/* More rows than this in one read: flushing is cheaper than invalidating one by one. */
#define MAX_ROWS_PER_READ 4096
/* While PostgreSQL stays unreachable, one warning per this many ms. */
#define WARN_EVERY_MS 30000
#define RECONNECT_DELAY_MS 250
/* Rings closer together than this share one read (a busy writer host rings thousands of times a second). */
#define MIN_READ_GAP_MS 2

struct listener {
	const struct cfg *c;
	PGconn *conn;
	char *snap;                 /* the last read's snapshot (text), NULL before the first */
	int64_t last_ok_ms;         /* when the last successful read was sent */
	int64_t next_read_ms;
	unsigned long failures;     /* connection attempts failed in this streak */
	int64_t down_since_ms, last_warn_ms;
	const char *fault_dir;      /* tests only */
};

static volatile sig_atomic_t listener_stop;

static void on_term(int sig)
{
	(void)sig;
	listener_stop = 1;
}

/* Sleeps up to ms, returning early on SIGTERM. */
static void nap(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000 };
	sigset_t none;

	sigemptyset(&none);
	ppoll(NULL, 0, &t, &none);
}

/*
 * Sends sql and waits for its result until deadline (CLOCK_MONOTONIC ms).
 * NULL on failure or when the deadline passed (the connection is then unusable).
 */
static PGresult *query_until(PGconn *conn, const char *sql, const char *arg, int64_t deadline)
{
	const char *vals[1] = { arg };
	PGresult *res = NULL, *r;
	sigset_t none;

	sigemptyset(&none);
	if (!PQsendQueryParams(conn, sql, 1, NULL, vals, NULL, NULL, 0))
		return NULL;
	for (;;) {
		struct pollfd p = { PQsocket(conn), POLLIN, 0 };
		int64_t left;
		struct timespec t;

		while (!PQisBusy(conn)) {
			r = PQgetResult(conn);
			if (r == NULL)
				return res;
			PQclear(res);
			res = r;
		}
		left = deadline - lcache_clock_ms();
		if (left <= 0 || listener_stop)
			break;
		t.tv_sec = left / 1000;
		t.tv_nsec = (left % 1000) * 1000000;
		if (ppoll(&p, 1, &t, &none) < 0 && errno != EINTR)
			break;
		if (p.revents && !PQconsumeInput(conn))
			break;
	}
	PQclear(res);
	return NULL;
}

/* Connection lost, or it cannot prove it is current: bypass the cache until it can. */
static void drop(struct listener *l, const char *why, const char *detail)
{
	char q[300];

	lcache_set_enabled(0);
	lcache_flush();
	log_warn("event=cache_listener_lost reason=%s error=%s", why, log_quote(detail ? detail : "", q, sizeof(q)));
	PQfinish(l->conn);
	l->conn = NULL;
	free(l->snap);
	l->snap = NULL;
	l->down_since_ms = lcache_clock_ms();
	l->last_warn_ms = l->down_since_ms;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Test harness only (SESSIOND_TEST_LCACHE_FAULT_DIR, see lcache.h): while
 * DIR/listener_deaf exists the listener keeps beating but applies nothing, so
 * a test can prove that a host's own writes invalidate its cache by themselves.
 */
static int deaf(const struct listener *l)
{
	char path[512];

	if (l->fault_dir == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/listener_deaf", l->fault_dir);
	return access(path, F_OK) == 0;
}

/* One read of session_invalidations; on success beats the heartbeat. Returns 0 or -1 (dropped). */
static int read_log(struct listener *l)
{
	int64_t sent = lcache_clock_ms();
	PGresult *res = query_until(l->conn, POLL_SQL, l->snap, sent + LISTENER_QUERY_TIMEOUT_MS);
	char *snap;
	int n;

	if (res == NULL && listener_stop)
		return -1;   /* SIGTERM while waiting: not a fault */
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1) {
		const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(l->conn);
		int late = lcache_clock_ms() >= sent + LISTENER_QUERY_TIMEOUT_MS;

		drop(l, res ? "read_failed" : late ? "read_timeout" : "connection_lost", late ? NULL : msg);
		PQclear(res);
		return -1;
	}
	n = PQntuples(res);
	if (l->snap == NULL || n > MAX_ROWS_PER_READ || sent - l->last_ok_ms > LC_LOG_KEEP_MS / 2) {
		/* First read, a burst, or a gap in which rows it has not read may have been collected. */
		log_debug("event=cache_flushed reason=%s rows=%d", l->snap == NULL ? "first_read" :
			  n > MAX_ROWS_PER_READ ? "burst" : "gap", n);
		lcache_flush();
	} else if (!deaf(l)) {
		for (int i = 0; i < n; i++) {
			const char *hex = PQgetvalue(res, i, 1);
			unsigned char hash[32];
			int ok = !PQgetisnull(res, i, 1) && strlen(hex) == 64;

			for (int j = 0; ok && j < 32; j++) {
				int hi = hexval(hex[2 * j]), lo = hexval(hex[2 * j + 1]);

				ok = hi >= 0 && lo >= 0;
				hash[j] = (unsigned char)(hi << 4 | lo);
			}
			if (ok)
				lcache_invalidate_hash(hash);
		}
	}
	snap = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (snap == NULL) {
		drop(l, "out_of_memory", NULL);
		return -1;
	}
	free(l->snap);
	l->snap = snap;
	/* Everything committed before `sent` is applied: that is what the beat vouches for. */
	l->last_ok_ms = sent;
	l->next_read_ms = sent + l->c->local_cache_poll_ms;
	lcache_heartbeat(sent);
	return 0;
}

static int connect_and_listen(struct listener *l)
{
	struct cfg direct = *l->c;
	char err[256], q[300];
	int64_t now;
	PGresult *res;

	/* LISTEN needs a session of its own: never through a transaction pooler. */
	if (l->c->listen_database_url[0])
		direct.database_url = l->c->listen_database_url;
	l->conn = store_connect_raw(&direct, err, sizeof(err));
	if (l->conn != NULL) {
		/* Its own name, to tell it from the workers in pg_stat_activity. */
		res = PQexec(l->conn, "SET application_name = 'sessiond-cache'; LISTEN sessiond_cache");
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			snprintf(err, sizeof(err), "LISTEN: %s", PQresultErrorMessage(res));
			err[strcspn(err, "\n")] = '\0';
			PQfinish(l->conn);
			l->conn = NULL;
		}
		PQclear(res);
	}
	now = lcache_clock_ms();
	if (l->conn == NULL) {
		/* One warning per failure streak, then a reminder every WARN_EVERY_MS. */
		if (l->failures++ == 0 || now - l->last_warn_ms >= WARN_EVERY_MS) {
			log_warn("event=cache_listener_connect_failed failures=%lu error=%s", l->failures,
				 log_quote(err, q, sizeof(q)));
			l->last_warn_ms = now;
		}
		return -1;
	}
	return 0;
}

int listener_main(const struct cfg *c)
{
	struct listener l;
	sigset_t none;

	memset(&l, 0, sizeof(l));
	l.c = c;
#ifdef SESSIOND_FAULT_HOOKS
	l.fault_dir = getenv("SESSIOND_TEST_LCACHE_FAULT_DIR");
#endif
	signals_install(on_term, NULL);   /* SIGHUP re-reads nothing here */
	sigemptyset(&none);
	log_info("event=cache_listener_ready poll_ms=%ld", c->local_cache_poll_ms);
	while (!listener_stop) {
		struct pollfd p;
		struct timespec t;
		int64_t wait;
		int rung = 0;
		PGnotify *n;

		if (l.conn == NULL) {
			lcache_set_enabled(0);
			if (connect_and_listen(&l) != 0) {
				nap(RECONNECT_DELAY_MS);
				continue;
			}
			/* Whatever changed while we were not listening is unknown: the first read flushes. */
			if (read_log(&l) != 0)
				continue;
			lcache_set_enabled(1);
			if (l.failures || l.down_since_ms)
				log_info("event=cache_listener_listening after_failures=%lu down_ms=%lld", l.failures,
					 (long long)(lcache_clock_ms() - l.down_since_ms));
			else
				log_info("event=cache_listener_listening");
			l.failures = 0;
			l.down_since_ms = 0;
		}
		wait = l.next_read_ms - lcache_clock_ms();
		if (wait < 0)
			wait = 0;
		t.tv_sec = wait / 1000;
		t.tv_nsec = (wait % 1000) * 1000000;
		p.fd = PQsocket(l.conn);
		p.events = POLLIN;
		p.revents = 0;
		if (ppoll(&p, 1, &t, &none) < 0 && errno != EINTR)
			break;
		if (p.revents && (PQconsumeInput(l.conn) == 0 || PQstatus(l.conn) == CONNECTION_BAD)) {
			drop(&l, "connection_lost", PQerrorMessage(l.conn));
			continue;
		}
		/* Rings carry no payload: any number of them is one read. */
		while ((n = PQnotifies(l.conn)) != NULL) {
			rung = 1;
			PQfreemem(n);
		}
		if (rung && l.next_read_ms > l.last_ok_ms + MIN_READ_GAP_MS)
			l.next_read_ms = l.last_ok_ms + MIN_READ_GAP_MS;
		if (lcache_clock_ms() >= l.next_read_ms && read_log(&l) != 0)
			continue;
	}
	lcache_set_enabled(0);
	PQfinish(l.conn);
	free(l.snap);
	return 0;
}
