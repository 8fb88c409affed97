/*
 * Configuration: one table of keys (type, default, bounds, one-line doc).
 * The parser, --check-config, --config-reference (the README's table) and the
 * test that checks conf/sessiond.conf.example all read CFG_KEYS below.
 */
#ifndef SESSIOND_CONFIG_H
#define SESSIOND_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define CFG_DEFAULT_PATH "/etc/sessiond/sessiond.conf"

/* X(type, name, default, min, max, choices, doc) */
#define CFG_KEYS(X) \
	X(DSN,  database_url, "dbname=sessiond", 0, 0, NULL, "libpq connection string of the PostgreSQL store") \
	X(STR,  listen, "", 0, 0, NULL, "unix socket path or host:port to listen on; empty = the FastCGI socket on fd 0 (spawn-fcgi, mod_fcgid)") \
	X(OCT,  listen_mode, "0660", 0, 0777, NULL, "permissions of a unix listen socket") \
	X(INT,  listen_backlog, "1024", 1, 65535, NULL, "listen(2) backlog") \
	X(INT,  workers, "2", 1, 256, NULL, "worker processes; 1 = no master, no fork (mod_fcgid owns the processes)") \
	X(STR,  pid_file, "", 0, 0, NULL, "file holding the master's pid, locked while it runs: a second sessiond with the same file refuses to start; empty = none; unused by single-worker processes on fd 0 (mod_fcgid)") \
	X(INT,  shutdown_grace, "10", 1, 600, NULL, "seconds SIGTERM waits for in-flight requests before workers are killed") \
	X(INT,  session_ttl, "86400", 60, 31536000, NULL, "seconds from creation to expires_at") \
	X(INT,  idle_timeout, "0", 0, 31536000, NULL, "seconds without activity after which a session expires; 0 = off") \
	X(INT,  max_lifetime, "604800", 60, 315360000, NULL, "no refresh extends a session past created_at + this many seconds") \
	X(INT,  max_extend_hours, "168", 1, 8760, NULL, "largest hours value POST /refresh/ accepts") \
	X(INT,  touch_interval, "60", 0, 86400, NULL, "last_activity is written at most once per this many seconds per session (cache table only); must be below idle_timeout when that is on") \
	X(INT,  activity_flush_interval, "60", 1, 86400, NULL, "seconds between copies of cached last_activity into the authoritative table") \
	X(INT,  max_sessions_per_user, "0", 0, 100000, NULL, "creating one more revokes the least recently active; 0 = unlimited") \
	X(INT,  max_session_data_bytes, "8192", 16, 1048576, NULL, "largest session_data, in bytes of PostgreSQL's jsonb text form (create and PATCH alike)") \
	X(STR,  cookie_name, "__Host-session_token", 0, 0, NULL, "cookie carrying the session token") \
	X(BOOL, set_cookie, "on", 0, 1, NULL, "send Set-Cookie on create/rotate and clear it on logout") \
	X(BOOL, logout_clear_site_data, "off", 0, 1, NULL, "logout (and invalidate-all of the current session) also sends Clear-Site-Data with cookies, which deletes every cookie of the site, other applications' on the same host too; the session cookie is cleared with Max-Age=0 either way") \
	X(STR,  cookie_domain, "", 0, 0, NULL, "Domain attribute (not allowed with a __Host- cookie name)") \
	X(BOOL, cookie_secure, "on", 0, 1, NULL, "Secure attribute; turn off only for plain-http local development") \
	X(ENUM, cookie_samesite, "Lax", 0, 0, "Lax,Strict,None", "SameSite attribute") \
	X(STR,  allowed_origins, "", 0, 0, NULL, "comma-separated origins allowed for cookie-authenticated writes (CSRF check)") \
	X(STR,  cors_allowed_origins, "", 0, 0, NULL, "comma-separated origins (scheme://host[:port]) that may call the API from a browser with credentials (CORS); they are trusted for the CSRF check too; empty = same-origin only") \
	X(STR,  jwks_file, "", 0, 0, NULL, "file mode (hosts without outbound access): JWKS JSON file of the Auth0 tenant, re-read when it changes or on SIGHUP; empty = fetch the keys from jwks_url") \
	X(STR,  jwks_url, "", 0, 0, NULL, "HTTPS URL of the JWKS; empty = <jwt_issuer>.well-known/jwks.json (Auth0's layout); not used with jwks_file") \
	X(STR,  jwks_ca_file, "", 0, 0, NULL, "PEM file of the CA(s) that verify the JWKS server; empty = the system CA store") \
	X(STR,  jwks_cache_file, "/var/lib/sessiond/jwks.json", 0, 0, NULL, "the last good fetched JWKS, replaced atomically; workers read it, and a restart while the issuer is unreachable starts from it") \
	X(INT,  jwks_refresh_interval, "600", 5, 86400, NULL, "seconds between scheduled JWKS fetches (a shorter Cache-Control max-age wins, down to jwks_min_refetch_interval); /health/ says stale after twice this without a successful fetch") \
	X(INT,  jwks_min_refetch_interval, "30", 1, 3600, NULL, "least seconds between JWKS fetches caused by tokens with an unknown kid (per host); also the retry delay after a failed fetch") \
	X(INT,  jwks_fetch_timeout, "10", 1, 120, NULL, "seconds one JWKS fetch may take in total, connection included") \
	X(INT,  jwks_kid_miss_wait_ms, "1000", 100, 30000, NULL, "milliseconds a request with an unknown kid waits for the fetch it asked for; no request waits once the running fetch is older than this") \
	X(INT,  jwks_kid_miss_waiters, "0", 0, 256, NULL, "requests (workers) that may wait for a kid-miss fetch at once, per host; the others with an unknown kid answer 401 unknown_kid at once; 0 = half the workers, at least one") \
	X(STR,  jwt_issuer, "", 0, 0, NULL, "required iss, e.g. https://TENANT.auth0.com/") \
	X(STR,  jwt_audience, "", 0, 0, NULL, "aud that must be present (the Auth0 API identifier)") \
	X(STR,  jwt_algorithms, "RS256", 0, 0, NULL, "comma-separated accepted algorithms (RS256, RS384, RS512); none and HS* are always refused") \
	X(INT,  jwt_leeway, "60", 0, 600, NULL, "seconds of clock skew allowed for exp and nbf") \
	X(STR,  claim_email, "email", 0, 0, NULL, "claim holding the user's email") \
	X(STR,  claim_name, "name", 0, 0, NULL, "claim holding the user's display name") \
	X(STR,  claim_picture, "picture", 0, 0, NULL, "claim holding the user's picture URL") \
	X(STR,  claim_tenant_id, "org_id", 0, 0, NULL, "claim holding the tenant id (Auth0 Organizations: org_id)") \
	X(STR,  claim_tenant_name, "org_name", 0, 0, NULL, "claim holding the tenant name") \
	X(STR,  claim_sid, "sid", 0, 0, NULL, "claim of the creating access token holding the Auth0 session id, recorded for back-channel logout; empty = none recorded") \
	X(BOOL, backchannel_logout, "off", 0, 1, NULL, "serve POST /api/sessions/backchannel-logout/ (OpenID Connect Back-Channel Logout); needs backchannel_audience") \
	X(STR,  backchannel_audience, "", 0, 0, NULL, "comma-separated aud values a logout token may carry (the Auth0 application's client id); one must be present") \
	X(INT,  rotation_reuse_grace, "30", 0, 86400, NULL, "seconds after a rotation during which the old token gets 401 only; presented later it revokes the whole session (token_reuse); 0 = any reuse does") \
	X(BOOL, client_writable_billing, "off", 0, 1, NULL, "let clients set subscription_plan/subscription_status (legacy migration aid)") \
	X(STR,  service_key_file, "", 0, 0, NULL, "file holding the key for Authorization: Service on the internal route; empty = route disabled") \
	X(INT,  auth_fail_limit, "20", 0, 1000000, NULL, "failed authentications per client address per window before 429; 0 = off") \
	X(INT,  auth_fail_window, "300", 1, 86400, NULL, "seconds of the brute-force window") \
	X(INT,  auth_fail_ipv6_prefix, "64", 1, 128, NULL, "IPv6 clients are counted per network of this many leading bits (a /64 is one subscriber's or host's usual share); IPv4 per address") \
	X(INT,  auth_fail_table_size, "4096", 64, 4194304, NULL, "client addresses the brute-force guard tracks at once in shared memory (40 bytes each); a full table evicts only expired or unblocked windows, never an active block") \
	X(INT,  auth_fail_audit_rate, "20", 0, 100000, NULL, "auth_failed audit rows written per second by this host; beyond it one summary row per second holds the count dropped and the distinct addresses; metrics count every failure") \
	X(STR,  shm_file, "", 0, 0, NULL, "file backing the shared counters (brute-force guard, metrics) when processes are not forked by sessiond, e.g. under mod_fcgid; empty = anonymous memory shared by the prefork workers") \
	X(STR,  trusted_proxies, "", 0, 0, NULL, "comma-separated addresses whose X-Forwarded-For is believed") \
	X(INT,  max_body_bytes, "16384", 256, 1048576, NULL, "largest request body; larger is 413") \
	X(INT,  local_cache_entries, "4096", 0, 1048576, NULL, "sessions kept rendered in this host's shared memory for GET /current/ and /auth/ (about 1.2 KiB each); 0 = off") \
	X(INT,  local_cache_ttl, "60", 1, 3600, NULL, "seconds a locally cached session is served before it is read from PostgreSQL again") \
	X(DSN,  listen_database_url, "", 0, 0, NULL, "direct (not transaction-pooled) libpq connection for the cache invalidation listener; empty = database_url") \
	X(INT,  local_cache_poll_ms, "100", 10, 1000, NULL, "milliseconds between the cache listener's reads of session_invalidations when no writer rang; bounds how late a change whose NOTIFY was lost reaches this host's cache") \
	X(INT,  db_connect_timeout, "3", 1, 60, NULL, "seconds to wait for a PostgreSQL connection") \
	X(INT,  db_statement_timeout, "5000", 100, 600000, NULL, "milliseconds before a statement is cancelled (503)") \
	X(INT,  metrics_sample_interval, "30", 0, 86400, NULL, "seconds between samples of the store gauges (live sessions, table rows and sizes) by one worker; 0 = off") \
	X(BOOL, db_prepared_statements, "on", 0, 1, NULL, "prepare every statement once per connection; off = unnamed statements, for PgBouncer in transaction pooling mode") \
	X(ENUM, log_level, "info", 0, 0, "debug,info,warn,error", "least severe level written to stderr") \
	X(INT,  cleanup_grace, "0", 0, 31536000, NULL, "cleanup_sessions keeps expired/revoked sessions this many seconds") \
	X(INT,  event_retention_days, "90", 1, 36500, NULL, "cleanup_sessions deletes audit events older than this")

/* CFG_DSN: a libpq connection string, a string shown without its secrets. */
enum cfg_type { CFG_STR, CFG_INT, CFG_OCT, CFG_BOOL, CFG_ENUM, CFG_DSN };

#define CFG_FIELD_STR(n)  char *n;
#define CFG_FIELD_INT(n)  long n;
#define CFG_FIELD_OCT(n)  long n;
#define CFG_FIELD_BOOL(n) int n;
#define CFG_FIELD_ENUM(n) char *n;
#define CFG_FIELD_DSN(n)  char *n;
#define CFG_FIELD(t, n, d, lo, hi, ch, doc) CFG_FIELD_##t(n)

struct cfg {
	CFG_KEYS(CFG_FIELD)
	char *path;   /* the file that was read, or NULL when none */
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;
	const char *def;
	long min, max;
	const char *choices;
	const char *doc;
};

extern const struct cfg_key cfg_keys[];
extern const size_t cfg_nkeys;

/*
 * Loads defaults, then the file at path (NULL: $SESSIOND_CONFIG, else
 * CFG_DEFAULT_PATH when it exists), then SESSIOND_<KEY> environment overrides,
 * then cross-key checks. Returns 0 (free with cfg_free()), or -1 with
 * "file:line: message" in err and nothing left to free.
 */
int cfg_load(struct cfg *c, const char *path, char *err, size_t errlen);

/* Sets one key from text; returns 0 or -1 with a message in err. */
int cfg_set(struct cfg *c, const char *key, const char *value, char *err, size_t errlen);

/* Releases the strings of c. */
void cfg_free(struct cfg *c);

/* Writes the effective configuration as key = value lines (secrets masked). */
void cfg_dump(const struct cfg *c, FILE *out);

/*
 * The URL the JWKS is fetched from: jwks_url, else <jwt_issuer>.well-known/jwks.json.
 * Meaningful only when jwks_file is empty (URL mode). Returns 0, or -1 when it does not fit in buf.
 */
int cfg_jwks_url(const struct cfg *c, char *buf, size_t n);

/* Writes the Markdown reference table generated from CFG_KEYS. */
void cfg_reference(FILE *out);

#endif
