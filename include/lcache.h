/*
 * The per-host session cache: rendered sessions in shared memory, read by
 * every worker without a PostgreSQL round trip (GET /current/ and /auth/).
 *
 * Coherence:
 *  - On this host, every write invalidates its entries before responding, so
 *    the next request on any worker sees the change.
 *  - Across hosts, every write NOTIFYs sessiond_cache in its transaction; a
 *    listener process per host applies it when the transaction commits.
 *  - Entries are used only while that listener is connected (heartbeat); when
 *    it is not, every read goes to PostgreSQL, and on reconnect the cache is
 *    flushed. Entries older than local_cache_ttl are refetched regardless.
 *  - A fill that raced an invalidation is dropped (global generation check).
 */
#ifndef SESSIOND_LCACHE_H
#define SESSIOND_LCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

#define LC_JSON_MAX 900
#define LC_ID_MAX 37
#define LC_USER_MAX 128
#define LC_TENANT_MAX 128

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
int lcache_usable(time_t now);

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

/* Applies a NOTIFY payload: "s:<session id>", "u:<user id>" or "*". */
void lcache_apply_notice(const char *payload);

/* Listener side: mark the cache served (1) or bypassed (0), and beat the heartbeat. */
void lcache_set_enabled(int on);
void lcache_heartbeat(time_t now);

/* Runs the invalidation listener until SIGTERM: LISTEN sessiond_cache, apply notices. Returns the exit code. */
int lcache_listener_main(const struct cfg *c);

#endif
