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

/* Counts one failure for addr. Returns the failures in its current window. */
long guard_fail(const char *addr, long window, time_t now);

#endif
