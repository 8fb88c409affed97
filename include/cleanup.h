/*
 * cleanup_sessions: deletes sessions expired or revoked longer than
 * cleanup_grace ago (with their cache rows) and audit events older than
 * event_retention_days, in short batches, one run at a time.
 *
 * Each batch is one statement in its own transaction: it picks up to
 * batch_size rows with FOR UPDATE SKIP LOCKED (rows a live request holds are
 * left for the next run), deletes them and their cache rows, and counts what
 * it actually deleted (no count-then-act). Events are never deleted with the
 * sessions they describe; they age out on their own.
 */
#ifndef SESSIOND_CLEANUP_H
#define SESSIOND_CLEANUP_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>

#include "config.h"


#define CLEANUP_BATCH_DEFAULT 1000
#define CLEANUP_BATCH_MAX     100000

enum cleanup_result {
	CLEANUP_OK = 0,
	CLEANUP_LOCKED,       /* another run holds the advisory lock */
	CLEANUP_ERROR         /* SQL or connection failure; message in err */
};

struct cleanup_opts {
	int dry_run;
	int verbose;
	long batch_size;
	volatile sig_atomic_t *stop;   /* when set non-zero, stop between batches (may be NULL) */
};

struct cleanup_stats {
	char cutoff[40];              /* sessions expired/revoked at or before this go (RFC 3339 UTC) */
	char event_cutoff[40];        /* events that occurred before this go */
	long long expired;            /* sessions deleted (or to delete) because they expired */
	long long revoked;            /* sessions deleted (or to delete) because they were revoked */
	long long cache_rows;         /* session_cache rows deleted (or to delete) */
	long long events;             /* session_events rows deleted (or to delete) */
	char gone_cutoff[40];         /* gone_tokens records kept from before this go */
	long long gone_tokens;        /* gone_tokens records deleted (or to delete) */
	long long logout_jtis;        /* logout_jtis entries past their token's expiry deleted (or to delete) */
	char oldest_expiry[40];       /* smallest expires_at among those sessions, or "none" */
	long long batches;            /* delete statements run (0 in a dry run) */
	int interrupted;              /* stopped early by a signal */
	/* --verbose only */
	long long live;               /* sessions neither revoked nor expired, after the run */
	long long retained;           /* expired or revoked, but still within cleanup_grace */
	long long sessions_ms, events_ms, total_ms;
};

/*
 * Takes the session-level advisory lock LOCK_KEY_CLEANUP (include/locks.h) on conn. Returns
 * CLEANUP_OK (held until the connection closes), CLEANUP_LOCKED, or
 * CLEANUP_ERROR with a message in err.
 */
enum cleanup_result cleanup_lock(PGconn *conn, char *err, size_t errlen);

/*
 * Runs the cleanup described by o with the grace and retention of c: in a dry
 * run counts in one read-only snapshot and changes nothing; otherwise deletes
 * in batches. Fills st (zeroed first) with what was (or would be) deleted,
 * also when it fails part way. Returns CLEANUP_OK or CLEANUP_ERROR with a
 * message in err. The caller takes the lock first (cleanup_lock).
 */
enum cleanup_result cleanup_run(PGconn *conn, const struct cfg *c, const struct cleanup_opts *o,
				struct cleanup_stats *st, char *err, size_t errlen);

/*
 * Writes st as "cleanup key=value" lines, one fact per line, in a fixed
 * order (the format documented in the README); status is "ok", "interrupted"
 * or "failed". The --verbose lines are written when o->verbose is set.
 */
void cleanup_report(FILE *out, const struct cleanup_opts *o, const struct cleanup_stats *st,
		    const char *status);

#endif
