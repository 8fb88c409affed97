/*
 * PostgreSQL advisory lock keys, one per purpose, all named here so that no
 * two purposes ever share one (a shared key makes unrelated jobs exclude each
 * other). Strings, because they are bound as parameters or pasted into SQL.
 */
#ifndef SESSIOND_LOCKS_H
#define SESSIOND_LOCKS_H

/* sessiond --migrate: session-level, for the whole run. */
#define LOCK_KEY_MIGRATE "7462091833"
/* cleanup_sessions: session-level, for the whole run (exit 3 when held). */
#define LOCK_KEY_CLEANUP "7462091834"
/* The workers' activity flush: transaction-level, one flusher at a time. */
#define LOCK_KEY_FLUSH   "7462091835"

#endif
