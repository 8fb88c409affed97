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

#include "config.h"

#define GUARD_SLOTS 4096
#define GUARD_ADDR_MAX 48
#define METRICS_BYTES (256 * 1024)

struct guard_slot {
	char addr[GUARD_ADDR_MAX];
	int64_t window_start;   /* unix seconds; 0 = free */
	uint32_t failures;      /* guesses in the window (toward auth_fail_limit) */
	uint32_t events;        /* every failed authentication in the window (bounds the audit rows) */
};

struct shm_region {
	uint64_t magic;
	uint64_t size;
	pthread_mutex_t lock;   /* process-shared, robust: guards the guard table */
	struct guard_slot guard[GUARD_SLOTS];
	/* Counters updated with atomic adds, laid out by metrics.c. */
	_Alignas(64) unsigned char metrics[METRICS_BYTES];
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
