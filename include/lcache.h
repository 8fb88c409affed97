/*
 * The per-host session cache: rendered sessions in shared memory, read by
 * every worker without a PostgreSQL round trip (GET /current/ and /auth/).
 *
 * Coherence (docs/invalidation.md has the whole argument):
 *  - On this host, every write invalidates its entries before responding, so
 *    the next request on any worker sees the change.
 *  - Across hosts, every change of a session row logs its old token hash in
 *    the UNLOGGED table session_invalidations (trigger, in the write's
 *    transaction); each host's listener (listener.h) reads what committed
 *    since its last poll and invalidates those hashes. Writers ring a NOTIFY
 *    after their commit so listeners poll at once; they also poll on a timer.
 *  - Entries are served only while that listener proves it is current
 *    (heartbeat after each successful poll, at most LC_BEAT_MAX_AGE_MS old);
 *    otherwise every read goes to PostgreSQL, and when it reconnects the cache
 *    is flushed. Entries older than local_cache_ttl are refetched regardless.
 *  - A fill that raced an invalidation is dropped (global generation check).
 *  - Writers lock a slot with a process-shared robust mutex (a dead holder's
 *    slot is emptied and taken over); readers never lock. An invalidation that
 *    cannot get a slot within a few ms (its holder is stopped) flushes instead.
 */
#ifndef SESSIOND_LCACHE_H
#define SESSIOND_LCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>


#define LC_JSON_MAX 900
#define LC_ID_MAX 37
#define LC_USER_MAX 128
#define LC_TENANT_MAX 128
/* A heartbeat older than this and the cache is bypassed. */
#define LC_BEAT_MAX_AGE_MS 2000
/*
 * Rows of session_invalidations are deleted (by the workers) only once they
 * have been visible for at least this long; a listener whose previous read is
 * older than half of it flushes instead of trusting the log.
 */
#define LC_LOG_KEEP_MS 10000

/* What a cached read returns (a private copy). */
struct lc_entry {
	unsigned char hash[32];
	int64_t expires_epoch;
	int64_t last_activity;      /* unix seconds */
	int64_t filled_at;
	uint16_t json_len;
	uint16_t la_offset;         /* offset of the last_activity value (SQL_TS_LEN chars) in json */
	char id[LC_ID_MAX];
	char user_id[LC_USER_MAX];
	char tenant_id[LC_TENANT_MAX];   /* "" when none */
	char json[LC_JSON_MAX];
};

/* Maps the cache (before fork). entries 0 disables it. Returns 0 or -1 with err. */
int lcache_setup(long entries, char *err, size_t errlen);

/* 1 when lcache_setup() mapped a cache (it needs a listener). */
int lcache_usable_setup(void);

/* 1 when entries may be served now: enabled, and the listener's heartbeat is fresh. */
int lcache_usable(void);

/* CLOCK_MONOTONIC in milliseconds: the heartbeat's clock (one per host). */
int64_t lcache_clock_ms(void);

/* Looks hash up; fills *out and returns 1 on a hit younger than ttl seconds. */
int lcache_get(const unsigned char *hash, long ttl, time_t now, struct lc_entry *out);

/* The invalidation generation to read before fetching a row that may be stored. */
uint64_t lcache_generation(void);

/* Stores e unless an invalidation happened since gen was read. */
void lcache_put(const struct lc_entry *e, uint64_t gen);

/* Updates last_activity of a cached entry (value: unix seconds and its SQL_TS_LEN-char RFC 3339 text). */
void lcache_touch(const unsigned char *hash, int64_t when, const char *text);

/* Invalidations: one token hash, one session id, all of a user's sessions, everything. */
void lcache_invalidate_hash(const unsigned char *hash);
void lcache_invalidate_session(const char *id);
void lcache_invalidate_user(const char *user_id);
void lcache_flush(void);

/* Listener side: mark the cache served (1) or bypassed (0), and beat the heartbeat (lcache_clock_ms()). */
void lcache_set_enabled(int on);
void lcache_heartbeat(int64_t mono_ms);

/* Slots taken over from a writer that died holding their lock. */
uint64_t lcache_recovered_slots(void);

/*
 * Fault injection for the test harness only, compiled in only with
 * SESSIOND_FAULT_HOOKS (make test's build; docs/development.md): when the environment variable
 * SESSIOND_TEST_LCACHE_FAULT_DIR names a directory at lcache_setup(), a writer
 * holding a slot lock in lcache_put() removes DIR/lcache_put_kill and SIGKILLs
 * itself, or DIR/lcache_put_stop and SIGSTOPs itself (whichever exists; once),
 * and the listener applies nothing while DIR/listener_deaf exists (listener.c).
 */

#endif
