/*
 * Brute-force guard: failed authentications counted per client address in a
 * fixed window, shared by all workers. Past the limit the address gets 429
 * until its window ends.
 */
#ifndef SESSIOND_GUARD_H
#define SESSIOND_GUARD_H

#include <time.h>

/* Seconds addr stays blocked (0 = not blocked) at time now. */
long guard_blocked(const char *addr, long limit, long window, time_t now);

/*
 * Records one failed authentication of addr; guess: it counts toward the
 * limit (a stale or revoked session does not). Sets *failures to the guesses
 * and *events to all failures of addr in its current window. Returns 1 when
 * this one should be written to the audit trail: the first of the window, and
 * the guess that reaches limit, so a flood writes O(1) rows per address and
 * window (metrics still count every failure).
 */
int guard_note(const char *addr, int guess, long limit, long window, time_t now, long *failures, long *events);

#endif
