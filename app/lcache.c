/* Per-host shared-memory session cache: seqlocked slots, robust writer locks. See lcache.h. */
#include "lcache.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "statements.h"   /* SQL_TS_LEN */

/*
 * Readers never lock: they copy the slot and retry nothing (a torn or
 * in-progress copy is a miss). Writers take the slot's mutex, which is
 * process-shared and robust: the kernel hands a dead holder's lock to the next
 * taker with EOWNERDEAD, so a worker killed inside a write cannot wedge the
 * host, and a blocked taker sleeps in the kernel instead of spinning while a
 * descheduled holder waits for a CPU.
 */
struct lc_slot {
	pthread_mutex_t mu;         /* writers only */
	uint32_t seq;               /* odd while being written (or its writer died) */
	uint64_t epoch;             /* the flush epoch it was filled in */
	struct lc_entry e;
};

struct lc_head {
	uint64_t generation;        /* bumped by every invalidation */
	uint64_t epoch;             /* bumped by every flush */
	int64_t beat_ms;            /* listener heartbeat, CLOCK_MONOTONIC ms (host-wide) */
	uint64_t recovered;         /* slots taken over from a dead writer */
	uint32_t enabled;
	uint32_t nslots;
};

/* How long an invalidation waits for a slot before it flushes instead (a stopped holder). */
#define INVALIDATE_WAIT_MS 20
/* How long last_activity waits; giving up only leaves the cached copy's value older. */
#define TOUCH_WAIT_MS 5

static struct lc_head *head;
static struct lc_slot *slots;
static const char *fault_dir;   /* tests only: see lcache.h */

int64_t lcache_clock_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int lcache_setup(long entries, char *err, size_t errlen)
{
	pthread_mutexattr_t attr;
	size_t size;
	void *p;
	int rc = -1;

	if (entries <= 0 || head)
		return 0;
	size = sizeof(struct lc_head) + 64 + (size_t)entries * sizeof(struct lc_slot);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "local cache: %s", strerror(errno));
		return -1;
	}
	if (pthread_mutexattr_init(&attr) != 0) {
		snprintf(err, errlen, "local cache: cannot create a mutex attribute");
		munmap(p, size);
		return -1;
	}
	if (pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) != 0) {
		snprintf(err, errlen, "local cache: process-shared robust mutexes are not supported");
		goto out;
	}
	slots = (struct lc_slot *)((char *)p + ((sizeof(struct lc_head) + 63) & ~(size_t)63));
	for (long i = 0; i < entries; i++)
		if (pthread_mutex_init(&slots[i].mu, &attr) != 0) {
			snprintf(err, errlen, "local cache: cannot initialise a slot lock");
			goto out;
		}
	head = p;
	head->nslots = (uint32_t)entries;
#ifdef SESSIOND_FAULT_HOOKS
	fault_dir = getenv("SESSIOND_TEST_LCACHE_FAULT_DIR");
#endif
	rc = 0;
out:
	pthread_mutexattr_destroy(&attr);
	if (rc != 0) {
		slots = NULL;
		munmap(p, size);
	}
	return rc;
}

int lcache_usable_setup(void)
{
	return head != NULL;
}

int lcache_usable(void)
{
	return head && __atomic_load_n(&head->enabled, __ATOMIC_ACQUIRE) &&
	       lcache_clock_ms() - __atomic_load_n(&head->beat_ms, __ATOMIC_ACQUIRE) <= LC_BEAT_MAX_AGE_MS;
}

static struct lc_slot *slot_of(const unsigned char *hash)
{
	uint32_t h;

	memcpy(&h, hash, sizeof(h)); /* SHA-256 output: already uniform */
	return &slots[h % head->nslots];
}

/*
 * Takes s for writing, waiting at most wait_ms (0: only if free). Returns 0
 * when it could not. A slot whose writer died is emptied and taken over.
 */
static int slot_lock(struct lc_slot *s, long wait_ms)
{
	int r;

	if (wait_ms == 0) {
		r = pthread_mutex_trylock(&s->mu);
	} else {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += wait_ms * 1000000;
		until.tv_sec += until.tv_nsec / 1000000000;
		until.tv_nsec %= 1000000000;
		r = pthread_mutex_timedlock(&s->mu, &until);
	}
	if (r == EOWNERDEAD) {
		/* Whatever it was writing is suspect: empty the slot and make seq even again. */
		s->e.json_len = 0;
		if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) & 1)
			__atomic_add_fetch(&s->seq, 1, __ATOMIC_RELEASE);
		pthread_mutex_consistent(&s->mu);
		__atomic_add_fetch(&head->recovered, 1, __ATOMIC_RELAXED);
		log_warn("event=cache_slot_recovered slot=%ld reason=writer_died", (long)(s - slots));
		r = 0;
	}
	if (r != 0)
		return 0;
	__atomic_add_fetch(&s->seq, 1, __ATOMIC_ACQ_REL);   /* odd: readers back off */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	return 1;
}

static void slot_unlock(struct lc_slot *s)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_add_fetch(&s->seq, 1, __ATOMIC_RELEASE);   /* even again */
	pthread_mutex_unlock(&s->mu);
}

/* Test builds' fault hook: dies or stops while holding a slot lock when the harness asks (once). */
static void fault_point(const char *name)
{
	char path[512];

	if (fault_dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s_kill", fault_dir, name);
	if (unlink(path) == 0)
		raise(SIGKILL);
	snprintf(path, sizeof(path), "%s/%s_stop", fault_dir, name);
	if (unlink(path) == 0)
		raise(SIGSTOP);
}

/* Copies the slot under its seqlock; 0 when it changed while read or is being written. */
static int slot_read(const struct lc_slot *s, struct lc_entry *out, uint64_t *epoch)
{
	uint32_t seq1 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE), seq2;

	if (seq1 & 1)
		return 0;
	memcpy(out, &s->e, sizeof(*out));
	*epoch = s->epoch;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	seq2 = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
	return seq1 == seq2;
}

int lcache_get(const unsigned char *hash, long ttl, time_t now, struct lc_entry *out)
{
	struct lc_slot *s;
	uint64_t epoch;

	if (!lcache_usable())
		return 0;
	s = slot_of(hash);
	if (!slot_read(s, out, &epoch))
		return 0;
	if (epoch != __atomic_load_n(&head->epoch, __ATOMIC_ACQUIRE) || memcmp(out->hash, hash, sizeof(out->hash)) != 0)
		return 0;
	if (out->json_len == 0 || out->json_len >= LC_JSON_MAX || now - out->filled_at >= ttl ||
	    now >= out->expires_epoch)
		return 0;
	out->json[out->json_len] = '\0';
	return 1;
}

uint64_t lcache_generation(void)
{
	return head ? __atomic_load_n(&head->generation, __ATOMIC_SEQ_CST) : 0;
}

void lcache_put(const struct lc_entry *e, uint64_t gen)
{
	struct lc_slot *s;
	uint64_t epoch;

	if (head == NULL || e->json_len == 0 || e->json_len >= LC_JSON_MAX)
		return;
	s = slot_of(e->hash);
	/* A fill is optional: never wait for another writer. */
	if (!slot_lock(s, 0))
		return;
	fault_point("lcache_put");
	/*
	 * The epoch first, then the generation: a flush bumps the generation
	 * before the epoch, so either the check below fails or the entry carries
	 * the old epoch. That also holds when this writer was stopped in between.
	 */
	epoch = __atomic_load_n(&head->epoch, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&head->generation, __ATOMIC_SEQ_CST) == gen) {
		s->e = *e;
		s->epoch = epoch;
	}
	slot_unlock(s);
}

void lcache_touch(const unsigned char *hash, int64_t when, const char *text)
{
	struct lc_slot *s;

	if (head == NULL)
		return;
	s = slot_of(hash);
	if (!slot_lock(s, TOUCH_WAIT_MS))
		return;
	if (memcmp(s->e.hash, hash, sizeof(s->e.hash)) == 0 && s->e.json_len && strlen(text) == SQL_TS_LEN &&
	    s->e.la_offset + SQL_TS_LEN <= s->e.json_len) {
		s->e.last_activity = when;
		memcpy(s->e.json + s->e.la_offset, text, SQL_TS_LEN);
	}
	slot_unlock(s);
}

static void bump(void)
{
	__atomic_add_fetch(&head->generation, 1, __ATOMIC_SEQ_CST);
}

void lcache_invalidate_hash(const unsigned char *hash)
{
	struct lc_slot *s;

	if (head == NULL)
		return;
	bump();
	s = slot_of(hash);
	if (!slot_lock(s, INVALIDATE_WAIT_MS)) {
		/* Its holder is stuck (stopped, swapped out): drop everything rather than wait. */
		lcache_flush();
		return;
	}
	if (memcmp(s->e.hash, hash, sizeof(s->e.hash)) == 0)
		s->e.json_len = 0;
	slot_unlock(s);
}

/* Bounded by the field: an unlocked peek may see a half-written one. */
static int field_eq(const struct lc_entry *e, size_t offset, size_t cap, const char *value, size_t n)
{
	return n < cap && memcmp((const char *)e + offset, value, n + 1) == 0;
}

/* Clears every entry whose field (id or user_id, cap bytes) equals value. */
static void invalidate_matching(size_t offset, size_t cap, const char *value)
{
	size_t n;

	if (head == NULL || value == NULL)
		return;
	n = strlen(value);
	bump();
	for (uint32_t i = 0; i < head->nslots; i++) {
		struct lc_slot *s = &slots[i];

		/* An unlocked peek first; the locked re-check decides. */
		if (s->e.json_len == 0 || !field_eq(&s->e, offset, cap, value, n))
			continue;
		if (!slot_lock(s, INVALIDATE_WAIT_MS)) {
			lcache_flush();
			return;
		}
		if (field_eq(&s->e, offset, cap, value, n))
			s->e.json_len = 0;
		slot_unlock(s);
	}
}

void lcache_invalidate_session(const char *id)
{
	invalidate_matching(offsetof(struct lc_entry, id), LC_ID_MAX, id);
}

void lcache_invalidate_user(const char *user_id)
{
	invalidate_matching(offsetof(struct lc_entry, user_id), LC_USER_MAX, user_id);
}

void lcache_flush(void)
{
	if (head == NULL)
		return;
	bump();
	__atomic_add_fetch(&head->epoch, 1, __ATOMIC_SEQ_CST);
}

void lcache_set_enabled(int on)
{
	if (head)
		__atomic_store_n(&head->enabled, (uint32_t)on, __ATOMIC_RELEASE);
}

void lcache_heartbeat(int64_t mono_ms)
{
	if (head)
		__atomic_store_n(&head->beat_ms, mono_ms, __ATOMIC_RELEASE);
}

uint64_t lcache_recovered_slots(void)
{
	return head ? __atomic_load_n(&head->recovered, __ATOMIC_RELAXED) : 0;
}
