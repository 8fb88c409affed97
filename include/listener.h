/*
 * The per-host cache's invalidation listener: one process per host, forked by
 * the master when the per-host cache is on (lcache.h).
 *
 * It reads, from the UNLOGGED table session_invalidations, the token hashes of
 * sessions whose rows changed in transactions that committed since its last
 * read (snapshot difference, sql/007), and invalidates them in the per-host
 * cache. It reads when a writer rings (NOTIFY sessiond_cache after its commit)
 * and at least every local_cache_poll_ms. Each successful read, bounded by a
 * short client-side deadline, is its proof of liveness: only then does it beat
 * the cache's heartbeat. A connection that cannot answer is dropped, the cache
 * bypassed, and on reconnect flushed.
 */
#ifndef SESSIOND_LISTENER_H
#define SESSIOND_LISTENER_H

#include "config.h"

/* A read of session_invalidations that takes longer than this drops the connection. */
#define LISTENER_QUERY_TIMEOUT_MS 1000

/* Runs the listener until SIGTERM. Returns the exit code. */
int listener_main(const struct cfg *c);

#endif
