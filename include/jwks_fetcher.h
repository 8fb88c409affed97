/*
 * The JWKS fetcher process, and the messages between it and the workers.
 *
 * Under prefork (workers > 1) the master forks a fetcher process
 * (sessiond-jwks) that fetches (jwks_fetch.h) at start, every
 * jwks_refresh_interval (a shorter Cache-Control max-age wins, but never
 * below jwks_min_refetch_interval), on SIGHUP, and when a worker asks because
 * a token named an unknown kid; the worker waits at most JWKS_WAIT_MS for it.
 * Requests are rate-limited per host to one fetch per
 * jwks_min_refetch_interval. With workers = 1 (mod_fcgid, no master) each
 * process fetches for itself, rate-limited the same way, a kid-miss fetch
 * bounded by JWKS_WAIT_MS. File mode: every function here does nothing.
 */
#ifndef SESSIOND_JWKS_FETCHER_H
#define SESSIOND_JWKS_FETCHER_H

#include <stddef.h>
#include <time.h>

#include "config.h"

#define JWKS_WAIT_MS 1000            /* longest a request waits for a kid-miss fetch */

/*
 * Before fork, URL mode only (a no-op otherwise): maps the state shared by
 * the fetcher and the workers and opens the pipe workers wake it with.
 * Returns 0, or -1 with a message in err.
 */
int jwks_setup(const struct cfg *c, char *err, size_t errlen);

/* 1 when the master must run a fetcher process (URL mode, workers > 1, after jwks_setup). */
int jwks_fetcher_wanted(const struct cfg *c);

/* The fetcher process: runs until SIGTERM/SIGINT (SIGHUP forces a fetch). Returns the exit code. */
int jwks_fetcher_main(const struct cfg *c);

/*
 * A worker met a token whose kid is not in its key set (or has no key set).
 * URL mode: asks for a fetch (rate-limited) and waits for it at most
 * JWKS_WAIT_MS. Returns 1 when a fetch completed meanwhile (re-read the key
 * file), 0 when none was allowed or it did not finish in time; always 0 in
 * file mode.
 */
int jwks_kid_miss(const struct cfg *c);

/* About once a second in every worker: with workers = 1 in URL mode, runs the scheduled fetch in-process. */
void jwks_tick(const struct cfg *c);

/* SIGHUP in a worker: with workers = 1 in URL mode, the next jwks_tick fetches at once (prefork: the fetcher gets its own SIGHUP). */
void jwks_hup(const struct cfg *c);

/*
 * The key state /health/ reports: "missing" without usable keys, "stale"
 * in URL mode when the key set was fetched more than twice
 * jwks_refresh_interval ago (loaded_mtime is the fetch time), else "ok".
 */
const char *jwks_health(const struct cfg *c, size_t nkeys, time_t loaded_mtime, time_t now);

#endif
