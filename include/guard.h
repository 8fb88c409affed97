/*
 * Brute-force guard: failed authentications counted per client bucket (an
 * IPv4 address, an IPv6 network, a trusted proxy's own bucket; see
 * clientaddr.h) in a fixed window, shared by all workers. Past the limit the
 * bucket gets 429 until its window ends. Also the host-wide bound on
 * auth_failed audit rows.
 */
#ifndef SESSIOND_GUARD_H
#define SESSIOND_GUARD_H

#include <stdint.h>
#include <time.h>

#include "clientaddr.h"

/* Seconds the bucket k stays blocked (0 = not blocked) at time now. */
long guard_blocked(const struct clientaddr_key *k, long limit, long window, time_t now);

/*
 * Records one failed authentication of bucket k; guess: it counts toward the
 * limit (a stale or revoked session does not). Sets *failures to the guesses
 * and *events to all failures of k in its current window. Returns 1 when
 * this one should be written to the audit trail: the first of the window, and
 * the guess that reaches limit, so a flood writes O(1) rows per bucket and
 * window (metrics still count every failure); and, across all buckets, at
 * most audit_rate rows per second (the rest are counted for a summary, see
 * guard_audit_summary).
 *
 * A full table evicts only a window that expired or is below the limit; when
 * every probed slot holds an active block, k goes untracked (not counted, not
 * blocked; metric sessiond_guard_untracked_total), never into a shared slot.
 */
int guard_note(const struct clientaddr_key *k, int guess, long limit, long window, long audit_rate, time_t now,
	       long *failures, long *events);

/* The audit rows dropped over [from, to) seconds, and how many buckets they came from. */
struct guard_summary {
	int64_t from, to;
	long dropped, distinct;
};

/*
 * 1 when rows were dropped in a second that has ended by now: *out gets their
 * summary, which the caller writes as one row; the count starts again. Only
 * one caller gets each summary.
 */
int guard_audit_summary(time_t now, struct guard_summary *out);

#endif
