/* Prometheus metrics over the shared region: atomic counters, fixed-bucket histograms, sampled gauges. */
#include "metrics.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "shm.h"

#define LAYOUT_VERSION 1
#define MAX_ROUTES 32          /* router names, then "other" */
#define WORKER_SLOTS 512
#define WORKER_STALE_S 10      /* a worker silent this long is no longer counted */

#define ADD(p, n) __atomic_fetch_add((p), (n), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* Statuses counted exactly; any other is counted as "other". */
static const int statuses[] = { 200, 201, 204, 400, 401, 403, 404, 405, 411, 412, 413, 415, 429, 500, 503 };
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]) + 1)

/* Request duration buckets: upper bounds in nanoseconds and as printed; +Inf last. */
static const uint64_t dur_ns[] = { 500000, 1000000, 2500000, 5000000, 10000000, 25000000, 50000000,
				   100000000, 250000000, 500000000, 1000000000, 2500000000 };
static const char *const dur_le[] = { "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
				      "0.1", "0.25", "0.5", "1", "2.5" };
#define NDUR (sizeof(dur_ns) / sizeof(dur_ns[0]) + 1)

/* Session lifetime at logout, seconds. */
static const uint64_t life_s[] = { 60, 300, 900, 3600, 14400, 43200, 86400, 259200, 604800 };
#define NLIFE (sizeof(life_s) / sizeof(life_s[0]) + 1)

/*
 * Authentication failures: (scheme, reason) → the series' labels, in
 * exposition order. A row with reason OTHER is the scheme's bucket for any
 * reason it does not list; the label is the reason's own except where noted.
 */
enum { S_SESSION, S_BEARER, S_SERVICE, S_OTHER };
static const char *const scheme_labels[] = { "session", "bearer", "service", "other" };
#define OTHER AR_COUNT
static const struct {
	int scheme;
	enum auth_reason reason;
	const char *label;    /* NULL: auth_reason_label(reason), or "other" */
} auth_labels[] = {
	{ S_SESSION, AR_MISSING, NULL }, { S_SESSION, AR_MALFORMED, NULL }, { S_SESSION, AR_UNKNOWN, NULL },
	{ S_SESSION, AR_REVOKED, NULL }, { S_SESSION, AR_EXPIRED, NULL }, { S_SESSION, AR_ROTATED, NULL },
	{ S_SESSION, OTHER, NULL },
	{ S_BEARER, AR_MISSING_BEARER, "missing" }, { S_BEARER, AR_MALFORMED, NULL },
	{ S_BEARER, AR_TOO_LARGE, NULL }, { S_BEARER, AR_BAD_ALG, NULL }, { S_BEARER, AR_UNKNOWN_KID, NULL },
	{ S_BEARER, AR_BAD_SIGNATURE, NULL }, { S_BEARER, AR_EXPIRED, NULL }, { S_BEARER, AR_NOT_YET_VALID, NULL },
	{ S_BEARER, AR_BAD_ISSUER, NULL }, { S_BEARER, AR_BAD_AUDIENCE, NULL }, { S_BEARER, AR_MISSING_SUB, NULL },
	{ S_BEARER, AR_NO_KEYS, NULL }, { S_BEARER, AR_BAD_CLAIM, NULL }, { S_BEARER, AR_NOT_JWS, NULL },
	{ S_BEARER, OTHER, NULL },
	{ S_SERVICE, AR_SERVICE_KEY, "invalid_key" }, { S_SERVICE, OTHER, NULL },
	{ S_OTHER, OTHER, NULL },
};
#define NAUTH (sizeof(auth_labels) / sizeof(auth_labels[0]))

static const char *const revoke_reasons[MR_COUNT] = { "logout", "revoke", "invalidate_all", "session_limit",
							"token_reuse", "backchannel", "service" };
static const char *const store_kinds[MS_COUNT] = { "query", "unavailable", "connect" };
static const char *const jwks_results[MJ_COUNT] = { "ok", "network", "tls", "http_status", "too_large", "invalid" };
static const char *const kid_miss_outcomes[MK_COUNT] = {
	"fetched", "wait_expired", "fetch_overdue", "waiters_full", "rate_limited"
};

/* The route label names, told once at start-up (metrics_set_route_names). */
static metrics_route_name_fn route_name;
/* The kid-miss waiters of this host, told once at start-up (metrics_set_jwks_waiting). */
static metrics_count_fn jwks_waiting;

struct metrics_shm {
	uint64_t signature;         /* layout + route names; a mismatch (an upgraded binary on an old shm_file) resets */
	uint64_t start_time;
	uint64_t next_sample;       /* unix seconds; the worker that advances it samples */
	uint64_t counters[MC_COUNT];
	uint64_t revoked[MR_COUNT];
	uint64_t store_errors[MS_COUNT];
	uint64_t auth[NAUTH];
	uint64_t requests[MAX_ROUTES][NSTATUS];
	uint64_t req_bucket[MAX_ROUTES][NDUR];   /* not cumulative; rendered cumulative */
	uint64_t req_sum_ns[MAX_ROUTES];
	uint64_t life_bucket[NLIFE];
	uint64_t life_sum_s;
	uint64_t gauges[MG_COUNT];
	uint64_t sampled_at;        /* last successful sample, unix seconds; 0 = never */
	uint64_t sample_tried;
	uint64_t store_up;
	uint64_t workers[WORKER_SLOTS];   /* pid << 32 | last heartbeat (unix seconds, 32 bits) */
	uint64_t jwks_fetches[MJ_COUNT];
	uint64_t jwks_keys;
	uint64_t jwks_loaded_at;    /* unix seconds; 0 = no key set */
	uint64_t jwks_kid_miss[MK_COUNT];
};

static_assert(sizeof(struct metrics_shm) <= METRICS_BYTES, "metrics layout exceeds METRICS_BYTES");

static int my_slot = -1;

static struct metrics_shm *M(void)
{
	struct shm_region *r = shm_get();

	return r ? (struct metrics_shm *)(void *)r->metrics : NULL;
}

void metrics_set_route_names(metrics_route_name_fn fn)
{
	route_name = fn;
}

void metrics_set_jwks_waiting(metrics_count_fn fn)
{
	jwks_waiting = fn;
}

static size_t route_count(void)
{
	size_t n = 0;

	while (route_name && n < MAX_ROUTES - 1 && route_name(n))
		n++;
	return n;
}

/* Index of route among the router's names; the last used index + 1 ("other") otherwise. */
static size_t route_index(const char *route)
{
	size_t n = route_count();

	if (route)
		for (size_t i = 0; i < n; i++)
			if (strcmp(route_name(i), route) == 0)
				return i;
	return n;
}

static size_t status_index(int status)
{
	for (size_t i = 0; i < NSTATUS - 1; i++)
		if (statuses[i] == status)
			return i;
	return NSTATUS - 1;
}

void metrics_add(enum metrics_counter c, uint64_t n)
{
	struct metrics_shm *m = M();

	if (m && c < MC_COUNT)
		ADD(&m->counters[c], n);
}

void metrics_revoked(enum metrics_revoke why, long n)
{
	struct metrics_shm *m = M();

	if (m && why < MR_COUNT && n > 0)
		ADD(&m->revoked[why], (uint64_t)n);
}

void metrics_store_error(enum metrics_store_err kind)
{
	struct metrics_shm *m = M();

	if (m && kind < MS_COUNT)
		ADD(&m->store_errors[kind], 1);
}

static const char *auth_label(size_t i)
{
	if (auth_labels[i].label)
		return auth_labels[i].label;
	return auth_labels[i].reason == OTHER ? "other" : auth_reason_label(auth_labels[i].reason);
}

void metrics_auth_failure(const char *scheme, enum auth_reason reason)
{
	struct metrics_shm *m = M();
	int s = S_OTHER;
	size_t i;

	if (m == NULL)
		return;
	/* The scheme is the WWW-Authenticate value's first word ("Bearer error=..." is bearer). */
	if (scheme && strncasecmp(scheme, "Session", 7) == 0)
		s = S_SESSION;
	else if (scheme && strncasecmp(scheme, "Bearer", 6) == 0)
		s = S_BEARER;
	else if (scheme && strncasecmp(scheme, "Service", 7) == 0)
		s = S_SERVICE;
	/* The scheme's rows end with its OTHER row, which takes any reason not listed. */
	for (i = 0; i < NAUTH; i++)
		if (auth_labels[i].scheme == s && (auth_labels[i].reason == reason || auth_labels[i].reason == OTHER))
			break;
	if (i < NAUTH)
		ADD(&m->auth[i], 1);
}

void metrics_request(const char *route, int status, double seconds)
{
	struct metrics_shm *m = M();
	size_t ri, b = 0;
	uint64_t ns;

	if (m == NULL)
		return;
	ri = route_index(route);
	ns = seconds > 0 ? (uint64_t)(seconds * 1e9) : 0;
	while (b < NDUR - 1 && ns > dur_ns[b])
		b++;
	ADD(&m->requests[ri][status_index(status)], 1);
	ADD(&m->req_bucket[ri][b], 1);
	ADD(&m->req_sum_ns[ri], ns);
}

void metrics_jwks_fetch(enum metrics_jwks_result r)
{
	struct metrics_shm *m = M();

	if (m && r < MJ_COUNT)
		ADD(&m->jwks_fetches[r], 1);
}

void metrics_jwks_kid_miss(enum metrics_kid_miss o)
{
	struct metrics_shm *m = M();

	if (m && o < MK_COUNT)
		ADD(&m->jwks_kid_miss[o], 1);
}

void metrics_jwks_keys(size_t nkeys, int64_t loaded_at)
{
	struct metrics_shm *m = M();

	if (m == NULL)
		return;
	STORE(&m->jwks_keys, (uint64_t)nkeys);
	STORE(&m->jwks_loaded_at, loaded_at > 0 ? (uint64_t)loaded_at : 0);
}

void metrics_session_ended(const char *created_epoch)
{
	struct metrics_shm *m = M();
	long long created, now = (long long)time(NULL);
	uint64_t d;
	size_t b = 0;

	if (m == NULL || created_epoch == NULL)
		return;
	created = strtoll(created_epoch, NULL, 10);
	d = created > 0 && now > created ? (uint64_t)(now - created) : 0;
	while (b < NLIFE - 1 && d > life_s[b])
		b++;
	ADD(&m->life_bucket[b], 1);
	ADD(&m->life_sum_s, d);
}

static uint64_t layout_signature(void)
{
	uint64_t h = 1469598103934665603ULL ^ LAYOUT_VERSION ^ ((uint64_t)sizeof(struct metrics_shm) << 20);

	for (size_t i = 0; i < route_count(); i++)
		for (const char *p = route_name(i); *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h ? h : 1;
}

static void heartbeat(struct metrics_shm *m, uint64_t now)
{
	uint64_t pid = (uint64_t)(uint32_t)getpid();

	if (my_slot >= 0 && LOAD(&m->workers[my_slot]) >> 32 == pid) {
		STORE(&m->workers[my_slot], pid << 32 | (now & 0xffffffffu));
		return;
	}
	/* Claim a free or stale slot (a killed worker's slot goes stale). */
	my_slot = -1;
	for (int i = 0; i < WORKER_SLOTS; i++) {
		uint64_t old = LOAD(&m->workers[i]);

		if (old != 0 && (old & 0xffffffffu) + WORKER_STALE_S >= (now & 0xffffffffu))
			continue;
		if (__atomic_compare_exchange_n(&m->workers[i], &old, pid << 32 | (now & 0xffffffffu), 0,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
			my_slot = i;
			return;
		}
	}
}

void metrics_worker_gone(int pid)
{
	struct metrics_shm *m = M();

	if (m == NULL)
		return;
	for (int i = 0; i < WORKER_SLOTS; i++) {
		uint64_t w = LOAD(&m->workers[i]);

		if (w >> 32 == (uint64_t)(uint32_t)pid)
			__atomic_compare_exchange_n(&m->workers[i], &w, 0, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	}
}

void metrics_worker_start(void)
{
	struct metrics_shm *m = M();
	uint64_t want, old, zero = 0, now = (uint64_t)time(NULL);

	if (m == NULL)
		return;
	want = layout_signature();
	old = LOAD(&m->signature);
	if (old != want && __atomic_compare_exchange_n(&m->signature, &old, want, 0, __ATOMIC_ACQ_REL,
						       __ATOMIC_RELAXED) && old != 0) {
		/* A shm_file written by another build: start from zero rather than mislabel. */
		memset((unsigned char *)m + sizeof(m->signature), 0, sizeof(*m) - sizeof(m->signature));
		log_warn("event=metrics_reset reason=layout_changed");
	}
	__atomic_compare_exchange_n(&m->start_time, &zero, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	ADD(&m->counters[MC_WORKER_STARTS], 1);
	my_slot = -1;
	heartbeat(m, now);
}

int metrics_tick(int sample_interval)
{
	struct metrics_shm *m = M();
	uint64_t now = (uint64_t)time(NULL), next;

	if (m == NULL)
		return 0;
	heartbeat(m, now);
	if (sample_interval <= 0)
		return 0;
	next = LOAD(&m->next_sample);
	return now >= next && __atomic_compare_exchange_n(&m->next_sample, &next, now + (uint64_t)sample_interval, 0,
							  __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

void metrics_set_gauges(const uint64_t *values)
{
	struct metrics_shm *m = M();

	if (m == NULL)
		return;
	ADD(&m->sample_tried, 1);
	if (values == NULL) {
		STORE(&m->store_up, 0);
		ADD(&m->counters[MC_SAMPLE_FAILURES], 1);
		return;
	}
	for (int i = 0; i < MG_COUNT; i++)
		STORE(&m->gauges[i], values[i]);
	STORE(&m->store_up, 1);
	STORE(&m->sampled_at, (uint64_t)time(NULL));
}

/* ---- exposition ---------------------------------------------------------------------------- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void scalar(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	family(f, name, type, help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

/* A counter family with one label: a series name{label="names[i]"} per value. */
static void labelled(FILE *f, const char *name, const char *help, const char *label, const char *const *names,
		     const uint64_t *values, int n)
{
	family(f, name, "counter", help);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label, names[i], LOAD(&values[i]));
}

static void render_requests(FILE *f, struct metrics_shm *m)
{
	size_t nr = route_count();

	family(f, "sessiond_requests_total", "counter", "Requests answered, by route and HTTP status.");
	for (size_t r = 0; r <= nr; r++)
		for (size_t s = 0; s < NSTATUS; s++) {
			uint64_t v = LOAD(&m->requests[r][s]);
			char st[8];

			if (v == 0)
				continue;
			if (s < NSTATUS - 1)
				snprintf(st, sizeof(st), "%d", statuses[s]);
			else
				snprintf(st, sizeof(st), "other");
			fprintf(f, "sessiond_requests_total{route=\"%s\",status=\"%s\"} %" PRIu64 "\n",
				r < nr ? route_name(r) : "other", st, v);
		}
	family(f, "sessiond_request_duration_seconds", "histogram",
	       "Time from request start to the response being written, by route.");
	for (size_t r = 0; r <= nr; r++) {
		uint64_t b[NDUR], cum = 0;
		const char *name = r < nr ? route_name(r) : "other";

		for (size_t i = 0; i < NDUR; i++) {
			b[i] = LOAD(&m->req_bucket[r][i]);
			cum += b[i];
		}
		if (cum == 0)
			continue;
		cum = 0;
		for (size_t i = 0; i < NDUR; i++) {
			cum += b[i];
			fprintf(f, "sessiond_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} %" PRIu64 "\n", name,
				i < NDUR - 1 ? dur_le[i] : "+Inf", cum);
		}
		fprintf(f, "sessiond_request_duration_seconds_sum{route=\"%s\"} %.9f\n", name,
			(double)LOAD(&m->req_sum_ns[r]) / 1e9);
		fprintf(f, "sessiond_request_duration_seconds_count{route=\"%s\"} %" PRIu64 "\n", name, cum);
	}
}

static void render_lifetime(FILE *f, struct metrics_shm *m)
{
	uint64_t cum = 0;

	family(f, "sessiond_session_duration_seconds", "histogram",
	       "Lifetime (now - created_at) of sessions ended by logout.");
	for (size_t i = 0; i < NLIFE; i++) {
		cum += LOAD(&m->life_bucket[i]);
		if (i < NLIFE - 1)
			fprintf(f, "sessiond_session_duration_seconds_bucket{le=\"%" PRIu64 "\"} %" PRIu64 "\n", life_s[i],
				cum);
		else
			fprintf(f, "sessiond_session_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
	}
	fprintf(f, "sessiond_session_duration_seconds_sum %" PRIu64 "\n", LOAD(&m->life_sum_s));
	fprintf(f, "sessiond_session_duration_seconds_count %" PRIu64 "\n", cum);
}

static void render_gauges(FILE *f, struct metrics_shm *m)
{
	static const char *const tables[3] = { "sessions", "session_cache", "session_events" };

	if (LOAD(&m->sample_tried) == 0)
		return;   /* sampling off, or not yet run */
	scalar(f, "sessiond_store_up", "gauge", "1 when the last sample query reached the store, else 0.",
	       LOAD(&m->store_up));
	scalar(f, "sessiond_metrics_sample_failures_total", "counter", "Sample queries that failed.",
	       LOAD(&m->counters[MC_SAMPLE_FAILURES]));
	if (LOAD(&m->sampled_at) == 0)
		return;
	scalar(f, "sessiond_metrics_sample_timestamp_seconds", "gauge",
	       "Unix time of the last successful sample of the store gauges.", LOAD(&m->sampled_at));
	scalar(f, "sessiond_sessions_live", "gauge",
	       "Sessions neither revoked nor past expires_at (sampled).", LOAD(&m->gauges[MG_LIVE]));
	family(f, "sessiond_table_rows", "gauge", "Rows in the store's tables (sampled).");
	for (int t = 0; t < 3; t++)
		fprintf(f, "sessiond_table_rows{table=\"%s\"} %" PRIu64 "\n", tables[t],
			LOAD(&m->gauges[MG_SESSIONS_ROWS + 2 * t]));
	family(f, "sessiond_table_bytes", "gauge",
	       "pg_total_relation_size of the store's tables, indexes and TOAST included (sampled).");
	for (int t = 0; t < 3; t++)
		fprintf(f, "sessiond_table_bytes{table=\"%s\"} %" PRIu64 "\n", tables[t],
			LOAD(&m->gauges[MG_SESSIONS_BYTES + 2 * t]));
}

int metrics_render(char **out, size_t *len)
{
	struct metrics_shm *m = M();
	FILE *f = open_memstream(out, len);
	uint64_t now = (uint64_t)time(NULL), workers = 0;

	if (f == NULL)
		return -1;
	family(f, "sessiond_build_info", "gauge", "Always 1; the version label is the running build.");
	fprintf(f, "sessiond_build_info{version=\"%s\"} 1\n", SESSIOND_VERSION);
	if (m == NULL)
		goto done;
	for (int i = 0; i < WORKER_SLOTS; i++) {
		uint64_t w = LOAD(&m->workers[i]);

		if (w != 0 && (w & 0xffffffffu) + WORKER_STALE_S >= (now & 0xffffffffu))
			workers++;
	}
	scalar(f, "sessiond_start_time_seconds", "gauge", "Unix time the first worker of this shared region started.",
	       LOAD(&m->start_time));
	scalar(f, "sessiond_workers", "gauge", "Worker processes alive (heard from in the last 10 seconds, and not reaped).", workers);
	scalar(f, "sessiond_worker_starts_total", "counter", "Worker processes started, respawns included.",
	       LOAD(&m->counters[MC_WORKER_STARTS]));
	scalar(f, "sessiond_sessions_created_total", "counter", "Sessions created.",
	       LOAD(&m->counters[MC_SESSIONS_CREATED]));
	scalar(f, "sessiond_sessions_refreshed_total", "counter", "Sessions extended by refresh without rotation.",
	       LOAD(&m->counters[MC_SESSIONS_REFRESHED]));
	scalar(f, "sessiond_sessions_rotated_total", "counter", "Sessions extended by refresh with a new token.",
	       LOAD(&m->counters[MC_SESSIONS_ROTATED]));
	labelled(f, "sessiond_sessions_revoked_total", "Sessions revoked, by reason.", "reason", revoke_reasons,
		 m->revoked, MR_COUNT);
	scalar(f, "sessiond_token_reuse_total", "counter",
	       "Tokens rotated away more than rotation_reuse_grace ago presented again: each ended its session.",
	       LOAD(&m->counters[MC_TOKEN_REUSE]));
	scalar(f, "sessiond_sessions_expired_total", "counter",
	       "Sessions found expired when presented (counted once per session).",
	       LOAD(&m->counters[MC_SESSIONS_EXPIRED]));
	family(f, "sessiond_auth_failures_total", "counter", "Failed authentications, by scheme and reason.");
	for (size_t i = 0; i < NAUTH; i++)
		fprintf(f, "sessiond_auth_failures_total{scheme=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
			scheme_labels[auth_labels[i].scheme], auth_label(i), LOAD(&m->auth[i]));
	render_requests(f, m);
	render_lifetime(f, m);
	labelled(f, "sessiond_store_errors_total",
		 "Store failures: query (a statement failed), unavailable (the connection failed), connect (a connection attempt failed).",
		 "kind", store_kinds, m->store_errors, MS_COUNT);
	scalar(f, "sessiond_store_reconnects_total", "counter", "Store connections re-established after a loss.",
	       LOAD(&m->counters[MC_STORE_RECONNECTS]));
	scalar(f, "sessiond_guard_evictions_total", "counter",
	       "Brute-force guard windows below the limit evicted from a full table for a new address.",
	       LOAD(&m->counters[MC_GUARD_EVICTIONS]));
	scalar(f, "sessiond_guard_untracked_total", "counter",
	       "Failed authentications of an address the guard could not track: its table was full of active blocks.",
	       LOAD(&m->counters[MC_GUARD_UNTRACKED]));
	scalar(f, "sessiond_audit_rows_dropped_total", "counter",
	       "auth_failed audit rows not written past auth_fail_audit_rate (each second's are summarized in one row).",
	       LOAD(&m->counters[MC_AUDIT_ROWS_DROPPED]));
	scalar(f, "sessiond_cache_hits_total", "counter", "Session lookups answered by the cache table.",
	       LOAD(&m->counters[MC_CACHE_HITS]));
	scalar(f, "sessiond_local_cache_hits_total", "counter",
	       "GET /current/ and /auth/ answered from this host's shared-memory cache (no store round trip).",
	       LOAD(&m->counters[MC_LOCAL_CACHE_HITS]));
	scalar(f, "sessiond_cache_misses_total", "counter",
	       "Session lookups that read through to the sessions table (unknown tokens included).",
	       LOAD(&m->counters[MC_CACHE_MISSES]));
	labelled(f, "sessiond_jwks_fetches_total", "JWKS fetches from the issuer, by result.", "result", jwks_results,
		 m->jwks_fetches, MJ_COUNT);
	scalar(f, "sessiond_jwks_keys", "gauge", "Usable signing keys in the key set in use (0 = none).",
	       LOAD(&m->jwks_keys));
	if (LOAD(&m->jwks_loaded_at) != 0) {
		uint64_t at = LOAD(&m->jwks_loaded_at);

		scalar(f, "sessiond_jwks_age_seconds", "gauge",
		       "Seconds since the key set in use was fetched (file mode: since the file was written).",
		       now > at ? now - at : 0);
	}
	labelled(f, "sessiond_jwks_kid_miss_total",
		 "Requests with an unknown kid, by how their wait for a JWKS fetch ended (at once: fetch_overdue, waiters_full, rate_limited).",
		 "outcome", kid_miss_outcomes, m->jwks_kid_miss, MK_COUNT);
	scalar(f, "sessiond_jwks_kid_miss_waiting", "gauge",
	       "Requests with an unknown kid waiting for a JWKS fetch on this host now (at most jwks_kid_miss_waiters).",
	       jwks_waiting ? (uint64_t)jwks_waiting() : 0);
	render_gauges(f, m);
done:
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}
