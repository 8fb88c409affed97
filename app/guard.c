/* Per-bucket failure counting in the shared region (open addressing, fixed windows) and the audit-row bound. */
#include "guard.h"

#include <stdint.h>
#include <string.h>

#include "metrics.h"
#include "shm.h"

#define PROBES 16

static uint32_t hash_key(const struct clientaddr_key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < sizeof(*k); i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static const struct clientaddr_key unknown_key; /* all zero: CA_UNKNOWN */

/*
 * Finds k's slot. create: claim a free or expired probed slot, else evict the
 * oldest window below the limit; never an active block (NULL then: untracked).
 * Caller holds the region lock.
 */
static struct guard_slot *find(struct shm_region *r, const struct clientaddr_key *k, long limit, long window,
			       time_t now, int create)
{
	uint32_t h = hash_key(k);
	struct guard_slot *victim = NULL;
	int victim_stale = 0;

	for (int i = 0; i < PROBES; i++) {
		struct guard_slot *s = &r->guard[(h + (uint32_t)i) % r->guard_slots];
		int stale = s->window_start == 0 || s->window_start + window <= now;

		if (!stale && memcmp(&s->key, k, sizeof(*k)) == 0)
			return s;
		if (!create || victim_stale)
			continue;
		if (stale) {
			victim = s;
			victim_stale = 1;
		} else if ((limit <= 0 || s->failures < (uint32_t)limit) &&
			   (victim == NULL || s->window_start < victim->window_start)) {
			victim = s;
		}
	}
	if (!create)
		return NULL;
	if (victim == NULL) {
		metrics_add(MC_GUARD_UNTRACKED, 1);
		return NULL;
	}
	if (!victim_stale)
		metrics_add(MC_GUARD_EVICTIONS, 1);
	victim->key = *k;
	victim->window_start = now;
	victim->failures = 0;
	victim->events = 0;
	victim->audit_mark = r->audit.epoch - 1;
	return victim;
}

long guard_blocked(const struct clientaddr_key *k, long limit, long window, time_t now)
{
	struct shm_region *r = shm_get();
	struct guard_slot *s;
	long left = 0;

	if (r == NULL || limit <= 0)
		return 0;
	shm_lock(r);
	s = find(r, k ? k : &unknown_key, limit, window, now, 0);
	if (s && s->failures >= (uint32_t)limit)
		left = (long)(s->window_start + window - now);
	shm_unlock(r);
	return left > 0 ? left : 0;
}

/* 1 when one more row fits in this second's audit_rate; else counts it as dropped. Region locked. */
static int audit_admit(struct shm_region *r, struct guard_slot *s, long audit_rate, time_t now)
{
	struct guard_audit *au = &r->audit;

	if (au->second != now) {
		au->second = now;
		au->rows = 0;
	}
	if (au->rows < (uint64_t)audit_rate) {
		au->rows++;
		return 1;
	}
	if (au->dropped == 0)
		au->dropped_from = now;
	au->dropped++;
	/* An untracked bucket cannot be told apart: each of its rows counts as one more address. */
	if (s == NULL || s->audit_mark != au->epoch) {
		au->distinct++;
		if (s)
			s->audit_mark = au->epoch;
	}
	metrics_add(MC_AUDIT_ROWS_DROPPED, 1);
	return 0;
}

int guard_note(const struct clientaddr_key *k, int guess, long limit, long window, long audit_rate, time_t now,
	       long *failures, long *events)
{
	struct shm_region *r = shm_get();
	struct guard_slot *s;
	int write = 1;

	*failures = *events = 0;
	if (r == NULL)
		return 1;
	shm_lock(r);
	s = find(r, k ? k : &unknown_key, limit, window, now, 1);
	if (s) {
		if (guess)
			s->failures++;
		s->events++;
		*failures = s->failures;
		*events = s->events;
		write = s->events == 1 || (guess && limit > 0 && s->failures == (uint32_t)limit);
	}
	if (write)
		write = audit_admit(r, s, audit_rate, now);
	shm_unlock(r);
	return write;
}

int guard_audit_summary(time_t now, struct guard_summary *out)
{
	struct shm_region *r = shm_get();
	struct guard_audit *au;
	int due = 0;

	if (r == NULL)
		return 0;
	au = &r->audit;
	shm_lock(r);
	/* Rows dropped in the current second may still be joined by more: summarized once it ends. */
	if (au->dropped > 0 && au->second < now) {
		out->from = au->dropped_from;
		out->to = au->second + 1;
		out->dropped = au->dropped;
		out->distinct = au->distinct;
		au->dropped = au->distinct = 0;
		au->dropped_from = 0;
		au->epoch++;
		due = 1;
	}
	shm_unlock(r);
	return due;
}
