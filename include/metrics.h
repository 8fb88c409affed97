/*
 * Prometheus metrics in the shared region (shm_get()->metrics): counters and
 * histograms updated with relaxed atomic adds by every worker, so any worker
 * renders the sum over all of them; gauges of the store sampled by one worker
 * at a time every metrics_sample_interval seconds, never per request.
 *
 * Every label value comes from a fixed table (route names told at start-up,
 * a fixed list of statuses, fixed authentication failure reasons with an
 * "other" bucket), never from request data, so the number of series is
 * bounded. Without a shared region (unit tests, before shm_setup) every
 * update is a no-op.
 */
#ifndef SESSIOND_METRICS_H
#define SESSIOND_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "auth_reason.h"


#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Plain counters. */
enum metrics_counter {
	MC_SESSIONS_CREATED,
	MC_SESSIONS_REFRESHED,    /* refresh without rotation */
	MC_SESSIONS_ROTATED,      /* refresh with rotation (new token) */
	MC_SESSIONS_EXPIRED,      /* a session found expired when presented (once per session) */
	MC_CACHE_HITS,
	MC_CACHE_MISSES,
	MC_STORE_RECONNECTS,
	MC_WORKER_STARTS,
	MC_SAMPLE_FAILURES,
	MC_LOCAL_CACHE_HITS,      /* reads answered from this host's shared-memory cache, no store round trip */
	MC_GUARD_EVICTIONS,       /* guard windows below the limit evicted from a full table for a new address */
	MC_GUARD_UNTRACKED,       /* failures of an address the full guard table (all active blocks) could not track */
	MC_AUDIT_ROWS_DROPPED,    /* auth_failed audit rows not written past auth_fail_audit_rate (summarized) */
	MC_TOKEN_REUSE,           /* a token rotated away past the grace was presented and ended its session */
	MC_COUNT
};

/* Why sessions were revoked (label reason of sessiond_sessions_revoked_total). */
enum metrics_revoke {
	MR_LOGOUT, MR_REVOKE_ONE, MR_INVALIDATE_ALL, MR_SESSION_LIMIT,
	MR_TOKEN_REUSE,    /* a rotated-away token presented past rotation_reuse_grace */
	MR_BACKCHANNEL,    /* an identity provider's back-channel logout token */
	MR_SERVICE,        /* the service-key revoke route */
	MR_COUNT
};

/* Store failures (label kind of sessiond_store_errors_total). */
enum metrics_store_err {
	MS_QUERY,         /* a statement failed (500) */
	MS_UNAVAILABLE,   /* the connection failed under a statement (503) */
	MS_CONNECT,       /* a (re)connection attempt failed */
	MS_COUNT
};

/* Outcome of one JWKS fetch (label result of sessiond_jwks_fetches_total). */
enum metrics_jwks_result {
	MJ_OK,            /* fetched, valid, installed */
	MJ_NETWORK,       /* connection refused, DNS, timeout, reset */
	MJ_TLS,           /* certificate or host name not verified, handshake failed */
	MJ_HTTP_STATUS,   /* an answer other than 200 */
	MJ_TOO_LARGE,     /* the body exceeded the size cap */
	MJ_INVALID,       /* not JSON, or no usable key */
	MJ_COUNT
};

/* How a request with an unknown kid ended its wait (label outcome of sessiond_jwks_kid_miss_total). */
enum metrics_kid_miss {
	MK_FETCHED,         /* waited, and a fetch ended meanwhile (the key file is re-read) */
	MK_WAIT_EXPIRED,    /* waited jwks_kid_miss_wait_ms, or until the running fetch was older than that */
	MK_FETCH_OVERDUE,   /* at once: the running fetch was already older than jwks_kid_miss_wait_ms */
	MK_WAITERS_FULL,    /* at once: jwks_kid_miss_waiters requests were already waiting */
	MK_RATE_LIMITED,    /* at once: no fetch running and none allowed yet (jwks_min_refetch_interval) */
	MK_COUNT
};

/* Sampled store gauges, in the column order of the metrics_sample statement. */
enum metrics_gauge {
	MG_LIVE, MG_SESSIONS_ROWS, MG_SESSIONS_BYTES, MG_CACHE_ROWS, MG_CACHE_BYTES, MG_EVENTS_ROWS, MG_EVENTS_BYTES,
	MG_COUNT
};

/* Name of route label i, NULL past the last. */
typedef const char *(*metrics_route_name_fn)(size_t i);

/*
 * Tells the route label names (before shm_setup and any worker starts).
 * Without them every request is counted under route "other".
 */
void metrics_set_route_names(metrics_route_name_fn fn);

/* Adds n to counter c. */
void metrics_add(enum metrics_counter c, uint64_t n);

/* Counts n sessions revoked for reason why (n <= 0 counts nothing). */
void metrics_revoked(enum metrics_revoke why, long n);

/* Counts one JWKS fetch with its outcome. */
void metrics_jwks_fetch(enum metrics_jwks_result r);

/* Counts one request with an unknown kid by how its wait for a fetch ended. */
void metrics_jwks_kid_miss(enum metrics_kid_miss o);

/* Requests waiting for a kid-miss fetch on this host now (told at start-up; rendered as a gauge). */
typedef size_t (*metrics_count_fn)(void);
void metrics_set_jwks_waiting(metrics_count_fn fn);

/* The key set in use: its number of usable keys and the unix time it was fetched (file: written). */
void metrics_jwks_keys(size_t nkeys, int64_t loaded_at);

/* Counts one store failure of kind. */
void metrics_store_error(enum metrics_store_err kind);

/*
 * Counts one failed authentication. scheme is the WWW-Authenticate scheme
 * ("Session", "Bearer ...", "Service"); a scheme or a reason outside the
 * fixed lists is counted as "other".
 */
void metrics_auth_failure(const char *scheme, enum auth_reason reason);

/* Counts one request of route (a router name; NULL or unknown = "other") answered with status in seconds. */
void metrics_request(const char *route, int status, double seconds);

/* Observes the lifetime of a session ended by logout; created_epoch is its created_at in unix seconds (text). */
void metrics_session_ended(const char *created_epoch);

/* A worker (re)starts: counts it, registers it for sessiond_workers, records the start time once. */
void metrics_worker_start(void);

/* The master reaped worker pid: it is no longer counted in sessiond_workers. */
void metrics_worker_gone(int pid);

/*
 * About once a second per worker: refreshes this worker's heartbeat. Returns
 * 1 when this worker won the sampling slot (every sample_interval seconds
 * across all workers; 0 = off): the caller then samples the store gauges and
 * passes them to metrics_set_gauges.
 */
int metrics_tick(int sample_interval);

/* Stores a sample of the store gauges (MG_COUNT values), or records a failed sample when values is NULL. */
void metrics_set_gauges(const uint64_t *values);

/*
 * Renders the Prometheus text exposition into a new buffer (*out, length
 * *len; the caller frees *out). Returns 0, or -1 when out of memory.
 */
int metrics_render(char **out, size_t *len);

#endif
