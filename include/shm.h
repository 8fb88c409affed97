/*
 * The shared region: one mapping set up before fork (or a file mapped by every
 * process under mod_fcgid), holding the brute-force table and the metrics, so
 * every worker sees and updates the same numbers.
 */
#ifndef SESSIOND_SHM_H
#define SESSIOND_SHM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "clientaddr.h"
#include "config.h"

#define METRICS_BYTES (256 * 1024)

/* One guard bucket's window: 40 bytes (auth_fail_table_size of them). */
struct guard_slot {
	struct clientaddr_key key;
	int64_t window_start;   /* unix seconds; 0 = free */
	uint32_t failures;      /* guesses in the window (toward auth_fail_limit) */
	uint32_t events;        /* every failed authentication in the window (bounds the audit rows) */
	uint32_t audit_mark;    /* the audit summary epoch in which a row of this bucket was last dropped */
};

/* The host-wide bound on auth_failed audit rows (auth_fail_audit_rate per second). */
struct guard_audit {
	int64_t second;         /* the unix second rows are counted in */
	uint32_t rows;          /* rows written in that second */
	uint32_t dropped;       /* rows not written since the last summary */
	uint32_t distinct;      /* buckets among the dropped rows */
	uint32_t epoch;         /* bumped by each summary; slots marked with it are counted in distinct */
	int64_t dropped_from;   /* unix second of the first dropped row since the last summary; 0 = none */
};

struct shm_region {
	uint64_t magic;
	uint64_t size;
	pthread_mutex_t lock;   /* process-shared, robust: guards the guard table and audit */
	struct guard_audit audit;
	/* Counters updated with atomic adds, laid out by metrics.c. */
	_Alignas(64) unsigned char metrics[METRICS_BYTES];
	uint32_t guard_slots;   /* auth_fail_table_size */
	struct guard_slot guard[];
};

/*
 * Maps the region: anonymous shared memory (inherited by forked workers), or
 * the file c->shm_file when set (shared by unrelated processes, e.g. under
 * mod_fcgid). Returns 0, or -1 with a message in err.
 */
int shm_setup(const struct cfg *c, char *err, size_t errlen);

/* The region, or NULL before shm_setup(). */
struct shm_region *shm_get(void);

/* Locks/unlocks the region mutex, recovering it when its owner died. */
void shm_lock(struct shm_region *r);
void shm_unlock(struct shm_region *r);

#endif
