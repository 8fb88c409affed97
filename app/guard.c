/* Per-address failure counting in the shared region (open addressing, fixed windows). */
#include "guard.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "shm.h"

#define PROBES 16

static uint32_t hash_addr(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/*
 * Finds addr's slot (create: claim a free, stale or the oldest probed slot).
 * Caller holds the region lock.
 */
static struct guard_slot *find(struct shm_region *r, const char *addr, long window, time_t now, int create)
{
	uint32_t h = hash_addr(addr);
	struct guard_slot *victim = NULL;
	int victim_stale = 0;

	for (int i = 0; i < PROBES; i++) {
		struct guard_slot *s = &r->guard[(h + (uint32_t)i) % GUARD_SLOTS];
		int stale = s->window_start == 0 || s->window_start + window <= now;

		if (!stale && strcmp(s->addr, addr) == 0)
			return s;
		if (!create || victim_stale)
			continue;
		/* Prefer a free or expired slot; else evict the oldest window among the probes. */
		if (stale) {
			victim = s;
			victim_stale = 1;
		} else if (victim == NULL || s->window_start < victim->window_start) {
			victim = s;
		}
	}
	if (victim) {
		snprintf(victim->addr, sizeof(victim->addr), "%s", addr);
		victim->window_start = now;
		victim->failures = 0;
		victim->events = 0;
	}
	return victim;
}

long guard_blocked(const char *addr, long limit, long window, time_t now)
{
	struct shm_region *r = shm_get();
	struct guard_slot *s;
	long left = 0;

	if (r == NULL || limit <= 0)
		return 0;
	shm_lock(r);
	s = find(r, addr ? addr : "unknown", window, now, 0);
	if (s && s->failures >= (uint32_t)limit)
		left = (long)(s->window_start + window - now);
	shm_unlock(r);
	return left > 0 ? left : 0;
}

int guard_note(const char *addr, int guess, long limit, long window, time_t now, long *failures, long *events)
{
	struct shm_region *r = shm_get();
	struct guard_slot *s;
	int write = 1;

	*failures = *events = 0;
	if (r == NULL)
		return 1;
	shm_lock(r);
	s = find(r, addr ? addr : "unknown", window, now, 1);
	if (s) {
		if (guess)
			s->failures++;
		s->events++;
		*failures = s->failures;
		*events = s->events;
		write = s->events == 1 || (guess && limit > 0 && s->failures == (uint32_t)limit);
	}
	shm_unlock(r);
	return write;
}
