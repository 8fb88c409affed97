/*
 * Every SQL statement sessiond runs, prepared once per connection. All take
 * their values as parameters. Token hashes are bound as binary bytea. The
 * last field says whether running one twice is harmless (1: reads, cache
 * fills, touches) or not (0: writes); see statements.h.
 */
#include "statements.h"

#include "locks.h"

/* One column of SESSION_COLUMNS with the row prefix p ("" or "(r.sess)."), as SQL text. */
#define COL_PLAIN(p, c) p c
#define COL_TS(p, c) "to_char(" p c " AT TIME ZONE 'UTC', " SQL_TS_FORMAT ")"
#define COL_EPOCH(p, c) "extract(epoch FROM " p c ")::int8"
#define COL_HOST(p, c) "host(" p c ")"
#define COL_FIRST(e, kind, p, c) COL_##kind(p, c)
#define COL_NEXT(e, kind, p, c) ", " COL_##kind(p, c)

/*
 * The session row, in enum sess_col order. One list for the cache table and
 * the authoritative table (and the functions' rows, with a prefix), so a cache
 * hit and a miss render the same object.
 */
#define SESSION_COLS(p) SESSION_COLUMNS(COL_FIRST, COL_NEXT, p)

/* GET /api/sessions/ lists at most this many sessions (the newest by activity). */
#define LIST_MAX "200"

#define EXPIRED_SQL(idle) \
	"(expires_at <= now() OR (" idle "::int > 0 AND last_activity <= now() - make_interval(secs => " idle "::int)))"

const struct statement statements[] = {
	{ "ping", "SELECT 1", 1 },

	/*
	 * Every read past the per-host cache, in one round trip: the cache table's
	 * row; only when it has none, sessiond_fill (sql/012_first_reads.sql)
	 * reads the authoritative row under FOR SHARE, caches it when live, and
	 * lets its transaction commit without waiting for a WAL flush. The row
	 * comes back either way, so revoked and expired sessions are told from
	 * unknown tokens. docs/invalidation.md, "First reads", has why a write
	 * racing the fill never leaves a live or stale cache row.
	 * Columns: the session row, expired, touch due, revoked, from the cache.
	 * $1 hash, $2 idle_timeout, $3 touch_interval.
	 */
	{ "sess_read",
	  "SELECT " SESSION_COLS("") ", " EXPIRED_SQL("$2") ", "
	  "last_activity <= now() - make_interval(secs => $3::int), false, true "
	  "FROM session_cache WHERE token_hash = $1 "
	  "UNION ALL "
	  "SELECT " SESSION_COLS("") ", " EXPIRED_SQL("$2") ", false, revoked_at IS NOT NULL, false "
	  "FROM sessiond_fill($1, $2::int) f "
	  "WHERE f.id IS NOT NULL AND NOT EXISTS (SELECT FROM session_cache WHERE token_hash = $1)", 1 },

	/* Activity, in the UNLOGGED table only. Returns the new value for the per-host cache. */
	{ "sess_touch",
	  "UPDATE session_cache SET last_activity = now() WHERE token_hash = $1 "
	  "RETURNING " COL_TS("", "last_activity") ", extract(epoch FROM last_activity)::int8", 1 },

	/* A token no session holds any more: was it one (revoked, expired, rotated) before cleanup? $1 hash. */
	{ "sess_gone", "SELECT reason FROM gone_tokens WHERE token_hash = $1", 1 },

	{ "sess_expire",
	  "WITH d AS (DELETE FROM session_cache WHERE token_hash = $1 RETURNING id, user_id) "
	  "INSERT INTO session_events (event, session_id, user_id, ip_address) "
	  "SELECT 'expired', id, user_id, $2::inet FROM d", 1 },

	/*
	 * Server-owned billing recorded for the user wins over the defaults (and
	 * over the body). session_data over $19 bytes (sessiond_data_size, the
	 * measure PATCH uses too) raises SQLSTATE SD413.
	 */
	{ "sess_create",
	  "WITH b AS (SELECT subscription_plan, subscription_status FROM user_billing WHERE user_id = $3), "
	  "ins AS (INSERT INTO sessions (id, token_hash, user_id, user_email, user_name, user_picture, "
	  "  tenant_id, tenant_name, needs_onboarding, onboarding_completed, onboarding_step, "
	  "  subscription_plan, subscription_status, session_data, session_type, expires_at, "
	  "  ip_address, user_agent, idp_sid) "
	  "VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9::bool, $10::bool, $11, "
	  "  coalesce((SELECT subscription_plan FROM b), $12, 'free'), "
	  "  coalesce((SELECT subscription_status FROM b), $13, 'active'), "
	  "  sessiond_sized($14::jsonb, $19::int), $15, now() + make_interval(secs => $16::int), $17::inet, $18, $20) "
	  "RETURNING *), "
	  "c AS (INSERT INTO session_cache (token_hash, id, user_id, user_email, user_name, user_picture, "
	  "  tenant_id, tenant_name, needs_onboarding, onboarding_completed, onboarding_step, "
	  "  subscription_plan, subscription_status, session_data, session_type, version, created_at, "
	  "  updated_at, last_activity, expires_at, ip_address, user_agent, flushed_activity) "
	  "  SELECT token_hash, id, user_id, user_email, user_name, user_picture, tenant_id, tenant_name, "
	  "  needs_onboarding, onboarding_completed, onboarding_step, subscription_plan, "
	  "  subscription_status, session_data, session_type, version, created_at, updated_at, "
	  "  last_activity, expires_at, ip_address, user_agent, last_activity FROM ins), "
	  "e AS (INSERT INTO session_events (event, session_id, user_id, ip_address) "
	  "  SELECT 'created', id, user_id, ip_address FROM ins) "
	  "SELECT " SESSION_COLS("") " FROM ins", 0 },

	{ "sess_evict", "SELECT sessiond_evict($1, $2::int, $3::inet)", 0 },

	/*
	 * The token-keyed writes (sql/013): each finds its session by $1, the
	 * token hash, under a read's liveness conditions ($2 idle_timeout).
	 */
	/*
	 * PATCH, one plain statement (sql/016_plain_patch.sql): the UPDATE, its
	 * cache-table row, the invalidation log row and the audit row, the work
	 * the change trigger and a PL/pgSQL function used to do. The set_config()
	 * in the WHERE marks this transaction (only this statement: sessiond sends
	 * it as its own) so that the trigger's WHEN skips the row; it runs before
	 * the row is written because it is one of the row's filters. The cache
	 * row is an upsert, not an UPDATE: a first read's fill that committed
	 * while this UPDATE waited on the row lock is not in this statement's
	 * snapshot, and only ON CONFLICT finds (and replaces) a row the snapshot
	 * cannot see (docs/invalidation.md, "a write racing a fill"). $1 hash,
	 * $2 idle_timeout, $3 If-Match version, $4-$10 the values to set ($8 the
	 * merge patch), $11/$12 server-owned values the client sent (must equal
	 * the stored ones), $13 max_session_data_bytes (over it: SD413, undoing
	 * the whole statement), $14 ip. No row written: sessiond_patch_refused()
	 * says why, in a snapshot of its own.
	 */
	{ "sess_patch",
	  "WITH u AS (UPDATE sessions s SET "
	  "  needs_onboarding = coalesce($4::bool, s.needs_onboarding), "
	  "  onboarding_completed = coalesce($5::bool, s.onboarding_completed), "
	  "  onboarding_step = CASE WHEN $6::bool THEN $7::text ELSE s.onboarding_step END, "
	  "  subscription_plan = coalesce($9::text, s.subscription_plan), "
	  "  subscription_status = coalesce($10::text, s.subscription_status), "
	  "  session_data = CASE WHEN $8::jsonb IS NULL THEN s.session_data "
	  "    ELSE sessiond_sized(sessiond_merge(s.session_data, $8::jsonb), $13::int) END, "
	  "  version = s.version + 1, updated_at = now(), last_activity = now() "
	  "WHERE s.token_hash = $1::bytea AND s.revoked_at IS NULL AND s.expires_at > now() "
	  "  AND ($2::int = 0 OR greatest(s.last_activity, "
	  "    (SELECT c.last_activity FROM session_cache c WHERE c.token_hash = $1::bytea)) "
	  "    > now() - make_interval(secs => $2::int)) "
	  "  AND ($3::int8 IS NULL OR s.version = $3::int8) "
	  "  AND ($11::text IS NULL OR s.subscription_plan = $11::text) "
	  "  AND ($12::text IS NULL OR s.subscription_status = $12::text) "
	  "  AND set_config('sessiond.write_keeps_cache', 'on', true) = 'on' "
	  "RETURNING s.*), "
	  "c AS (INSERT INTO session_cache AS c (token_hash, id, user_id, user_email, user_name, "
	  "  user_picture, tenant_id, tenant_name, needs_onboarding, onboarding_completed, onboarding_step, "
	  "  subscription_plan, subscription_status, session_data, session_type, version, created_at, "
	  "  updated_at, last_activity, expires_at, ip_address, user_agent, flushed_activity) "
	  "  SELECT token_hash, id, user_id, user_email, user_name, user_picture, tenant_id, tenant_name, "
	  "  needs_onboarding, onboarding_completed, onboarding_step, subscription_plan, "
	  "  subscription_status, session_data, session_type, version, created_at, updated_at, "
	  "  last_activity, expires_at, ip_address, user_agent, last_activity FROM u "
	  "  ON CONFLICT (token_hash) DO UPDATE SET user_id = EXCLUDED.user_id, "
	  "  user_email = EXCLUDED.user_email, user_name = EXCLUDED.user_name, "
	  "  user_picture = EXCLUDED.user_picture, tenant_id = EXCLUDED.tenant_id, "
	  "  tenant_name = EXCLUDED.tenant_name, needs_onboarding = EXCLUDED.needs_onboarding, "
	  "  onboarding_completed = EXCLUDED.onboarding_completed, "
	  "  onboarding_step = EXCLUDED.onboarding_step, subscription_plan = EXCLUDED.subscription_plan, "
	  "  subscription_status = EXCLUDED.subscription_status, session_data = EXCLUDED.session_data, "
	  "  session_type = EXCLUDED.session_type, version = EXCLUDED.version, "
	  "  created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, "
	  "  last_activity = greatest(c.last_activity, EXCLUDED.last_activity), "
	  "  expires_at = EXCLUDED.expires_at, ip_address = EXCLUDED.ip_address, "
	  "  user_agent = EXCLUDED.user_agent, flushed_activity = EXCLUDED.flushed_activity), "
	  "i AS (INSERT INTO session_invalidations (token_hash) SELECT token_hash FROM u), "
	  "e AS (INSERT INTO session_events (event, session_id, user_id, ip_address, detail) "
	  "  SELECT 'updated', id, user_id, $14::inet, jsonb_build_object('version', version) FROM u) "
	  "SELECT 'ok'::text, " SESSION_COLS("u.") " FROM u "
	  "UNION ALL "
	  "SELECT r.status, " SESSION_COLS("(r.sess).") " FROM sessiond_patch_refused($1::bytea, $2::int, "
	  "  $3::int8, $11::text, $12::text) r WHERE NOT EXISTS (SELECT 1 FROM u)", 0 },

	{ "sess_refresh",
	  "SELECT r.status, " SESSION_COLS("(r.sess).") " FROM sessiond_refresh_by_token($1, $2::int, $3::int, "
	  "$4::int, $5::bytea, $6::inet) r", 0 },

	{ "sess_logout",
	  "SELECT r.status, " SESSION_COLS("(r.sess).") " FROM sessiond_logout($1, $2::int, $3::inet) r", 0 },

	/* A rotated-away token presented again past the grace: revokes its session (sql/015). $1 hash, $2 grace, $3 ip. */
	{ "sess_token_reuse", "SELECT o_id::text, o_user FROM sessiond_token_reuse($1, $2::int, $3::inet)", 0 },

	/* A verified logout token: $1 jti, $2 its exp (unix seconds, leeway added), $3 sid, $4 sub, $5 ip (sql/015). */
	{ "sess_backchannel",
	  "SELECT status, o_id::text, o_user FROM sessiond_backchannel_logout($1, to_timestamp($2::int8), $3, $4, "
	  "$5::inet)", 0 },

	/*
	 * The caller's live sessions, newest activity first (the cache knows the
	 * freshest activity). $1 user, $2 idle_timeout.
	 */
	{ "sess_list",
	  "SELECT " SESSION_COLS("") " FROM ("
	  "  SELECT s.id, s.user_id, s.user_email, s.user_name, s.user_picture, s.tenant_id, s.tenant_name, "
	  "         s.needs_onboarding, s.onboarding_completed, s.onboarding_step, s.subscription_plan, "
	  "         s.subscription_status, s.session_data, s.session_type, s.version, s.created_at, "
	  "         s.updated_at, greatest(s.last_activity, c.last_activity) AS last_activity, "
	  "         s.expires_at, s.ip_address, s.user_agent "
	  "  FROM sessions s LEFT JOIN session_cache c ON c.id = s.id "
	  "  WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()) x "
	  "WHERE ($2::int = 0 OR last_activity > now() - make_interval(secs => $2::int)) "
	  "ORDER BY last_activity DESC, created_at DESC LIMIT " LIST_MAX, 1 },

	/*
	 * After a committed write: wakes every host's cache listener (sql/007).
	 * Its own transaction writes no WAL, so its commit does not wait for a
	 * flush while it holds PostgreSQL's notification lock.
	 */
	{ "cache_ring", "SELECT pg_notify('sessiond_cache', '')", 1 },

	/*
	 * Deletes the invalidation log rows of transactions older than $1, the
	 * xmin of a snapshot this worker took LC_LOG_KEEP_MS or more ago (every
	 * current listener has read them), and returns this snapshot's xmin for
	 * next time. SKIP LOCKED: workers collecting at once never wait for each
	 * other; LIMIT bounds the work.
	 */
	{ "inval_collect",
	  "WITH d AS (DELETE FROM session_invalidations WHERE ctid = ANY (ARRAY("
	  "  SELECT ctid FROM session_invalidations WHERE xid < $1::xid8 LIMIT 20000 FOR UPDATE SKIP LOCKED))) "
	  "SELECT pg_snapshot_xmin(pg_current_snapshot())::text", 1 },

	{ "set_billing", "SELECT sessiond_set_billing($1, $2, $3, $4::inet)", 0 },

	{ "sess_revoke", "SELECT sessiond_revoke($1, $2::uuid, $3::uuid, $4, $5::inet)", 0 },

	/* Sampled by the guard: the first failure per address and window, and the one reaching the limit. */
	{ "event_auth_failed",
	  "INSERT INTO session_events (event, ip_address, detail) "
	  "VALUES ('auth_failed', $1::inet, jsonb_build_object('reason', $2::text, 'route', $3::text, "
	  "'window_failures', $4::int))", 0 },
	/* Past auth_fail_audit_rate: one row for the rows not written (no address: they came from many). */
	{ "event_auth_failed_summary",
	  "INSERT INTO session_events (event, ip_address, detail) "
	  "VALUES ('auth_failed', NULL, jsonb_build_object('reason', 'audit_summary', 'dropped', $1::bigint, "
	  "'distinct_addresses', $2::bigint, 'from', to_timestamp($3::bigint), 'to', to_timestamp($4::bigint)))", 0 },

	/*
	 * One worker at a time (advisory xact lock) copies touched activity to
	 * sessions, locking the sessions rows in id order first, like every
	 * statement that locks several (sql/006_lock_order.sql).
	 */
	{ "flush_activity",
	  "WITH l AS (SELECT pg_try_advisory_xact_lock(" LOCK_KEY_FLUSH ") AS got), "
	  "d AS (SELECT c.token_hash, c.id, c.last_activity FROM session_cache c, l "
	  "      WHERE l.got AND c.last_activity > c.flushed_activity LIMIT 5000), "
	  "k AS (SELECT s.id, d.last_activity FROM sessions s JOIN d ON s.id = d.id "
	  "      WHERE s.last_activity < d.last_activity ORDER BY s.id FOR UPDATE OF s), "
	  "u AS (UPDATE sessions s SET last_activity = k.last_activity FROM k "
	  "      WHERE s.id = k.id AND s.last_activity < k.last_activity RETURNING s.id) "
	  "UPDATE session_cache c SET flushed_activity = d.last_activity FROM d "
	  "WHERE c.token_hash = d.token_hash", 1 },

	/*
	 * Gauges for /metrics/, run by one worker every metrics_sample_interval
	 * seconds: live sessions, then rows and total size of each table.
	 */
	{ "metrics_sample",
	  "SELECT (SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > now()), "
	  "(SELECT count(*) FROM sessions), pg_total_relation_size('sessions'), "
	  "(SELECT count(*) FROM session_cache), pg_total_relation_size('session_cache'), "
	  "(SELECT count(*) FROM session_events), pg_total_relation_size('session_events')", 1 },
};

const size_t statement_count = sizeof(statements) / sizeof(statements[0]);
