/* The JWKS fetcher process, and the messages between it and the workers (a kid miss and its bounded wait, a schedule, SIGHUP). */
#include "jwks_fetcher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "jwks_fetch.h"
#include "log.h"
#include "metrics.h"
#include "signals.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

#define WAIT_SLOTS 256     /* the most workers (config.h); jwks_kid_miss_waiters of them are used */

/* Shared by the fetcher and the workers (anonymous mapping made before fork). */
struct jwks_state {
	uint32_t req_seq;        /* bumped by a worker asking for a fetch */
	uint32_t done_seq;       /* the last req_seq the fetcher answered (fetched or refused) */
	uint32_t busy;           /* a fetch is running */
	int64_t last_fetch_ms;   /* CLOCK_MONOTONIC ms when the last fetch started; 0 = never */
	/*
	 * One slot per waiting worker: the CLOCK_MONOTONIC ms its wait ends. A
	 * slot whose time has passed is free, so a worker killed while waiting
	 * holds its slot no longer than its wait would have lasted.
	 */
	int64_t wait_until_ms[WAIT_SLOTS];
};

static struct jwks_state *st;
static int wake_rd = -1, wake_wr = -1;
static int64_t next_due_ms;      /* in-process mode (workers = 1): next scheduled fetch */
static volatile sig_atomic_t got_term, got_hup;

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int jwks_setup(const struct cfg *c, char *err, size_t errlen)
{
	int fds[2];
	void *p;

	if (!jwks_url_mode(c) || st != NULL)
		return 0;
	p = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "jwks: shared memory: %s", strerror(errno));
		return -1;
	}
	st = p;
	/* Workers never block on a full pipe: one pending byte is enough to wake the fetcher. */
	if (c->workers > 1) {
		if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
			snprintf(err, errlen, "jwks: pipe: %s", strerror(errno));
			return -1;
		}
		wake_rd = fds[0];
		wake_wr = fds[1];
	}
	return 0;
}

int jwks_fetcher_wanted(const struct cfg *c)
{
	return jwks_url_mode(c) && c->workers > 1 && st != NULL;
}

/* Seconds to the next scheduled fetch after one that succeeded (ok) or failed. */
static long next_interval(const struct cfg *c, int ok, long max_age)
{
	long s = c->jwks_refresh_interval;

	if (!ok)
		return c->jwks_min_refetch_interval < s ? c->jwks_min_refetch_interval : s;
	if (max_age >= 0 && max_age < s)
		s = max_age;
	return s < c->jwks_min_refetch_interval ? c->jwks_min_refetch_interval : s;
}

/* Runs one fetch recording it in the shared state; returns 1 on a new key set. */
static int fetch_now(const struct cfg *c, long timeout_ms)
{
	long max_age;
	int ok;

	/* The start time first: a waiter that sees busy reads this fetch's start, never an older one. */
	STORE(&st->last_fetch_ms, mono_ms());
	STORE(&st->busy, 1);
	ok = jwks_fetch_install(c, timeout_ms, &max_age);
	STORE(&st->busy, 0);
	next_due_ms = mono_ms() + next_interval(c, ok, max_age) * 1000;
	return ok;
}

/* 1 when a kid-miss fetch may start now (none in the last jwks_min_refetch_interval). */
static int refetch_allowed(const struct cfg *c, int64_t now)
{
	int64_t last = LOAD(&st->last_fetch_ms);

	return last == 0 || now - last >= c->jwks_min_refetch_interval * 1000;
}


/* ---- the fetcher process ---------------------------------------------------------------------- */

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

int jwks_fetcher_main(const struct cfg *c)
{
	sigset_t none;
	char buf[256];

	signals_install(on_signal, on_signal);
	/* Signals are taken only inside ppoll(), never in the middle of a transfer. */
	signals_block(&none);
	if (wake_wr >= 0) {
		close(wake_wr);
		wake_wr = -1;
	}
	log_info("event=jwks_fetcher_start refresh_s=%ld min_refetch_s=%ld", c->jwks_refresh_interval,
		 c->jwks_min_refetch_interval);
	next_due_ms = 0;	/* fetch at once: the cached file may be old */
	while (!got_term) {
		struct pollfd p = { .fd = wake_rd, .events = POLLIN };
		int64_t now = mono_ms(), wait = next_due_ms - now;
		struct timespec t;
		uint32_t want;
		int force;

		if (wait > 1000)
			wait = 1000;
		if (wait < 0)
			wait = 0;
		t.tv_sec = wait / 1000;
		t.tv_nsec = (long)(wait % 1000) * 1000000;
		if (ppoll(&p, 1, &t, &none) > 0)
			while (read(wake_rd, buf, sizeof(buf)) > 0)
				;
		if (got_term)
			break;
		force = got_hup;
		got_hup = 0;
		want = LOAD(&st->req_seq);
		now = mono_ms();
		if (force || now >= next_due_ms || (want != LOAD(&st->done_seq) && refetch_allowed(c, now))) {
			if (force)
				log_info("event=jwks_refetch reason=sighup");
			fetch_now(c, c->jwks_fetch_timeout * 1000);
		}
		/* Fetched or refused by the rate limit: either way the waiting workers are answered. */
		STORE(&st->done_seq, want);
	}
	jwks_fetch_done();
	log_info("event=jwks_fetcher_exit");
	return 0;
}

/* ---- workers ---------------------------------------------------------------------------------- */

/* How many requests may wait for a kid-miss fetch at once: jwks_kid_miss_waiters, else half the workers, at least one. */
static int waiters_cap(const struct cfg *c)
{
	int n = (int)c->jwks_kid_miss_waiters;

	if (n <= 0)
		n = (int)c->workers / 2;
	if (n > (int)c->workers)
		n = (int)c->workers;
	if (n > WAIT_SLOTS)
		n = WAIT_SLOTS;
	return n < 1 ? 1 : n;
}

/* Takes a free waiting slot until deadline; returns its index, or -1 when all cap slots are taken. */
static int slot_claim(int cap, int64_t now, int64_t deadline)
{
	for (int i = 0; i < cap; i++) {
		int64_t d = LOAD(&st->wait_until_ms[i]);

		if (d <= now && __atomic_compare_exchange_n(&st->wait_until_ms[i], &d, deadline, 0, __ATOMIC_ACQ_REL,
							    __ATOMIC_ACQUIRE))
			return i;
	}
	return -1;
}

/* 1 when a fetch is running and started wait_ms or more ago: no request waits for it any more. */
static int fetch_overdue(int64_t now, int64_t wait_ms)
{
	return LOAD(&st->busy) && now - LOAD(&st->last_fetch_ms) >= wait_ms;
}

size_t jwks_waiting(void)
{
	int64_t now = mono_ms();
	size_t n = 0;

	if (st == NULL)
		return 0;
	for (int i = 0; i < WAIT_SLOTS; i++)
		if (LOAD(&st->wait_until_ms[i]) > now)
			n++;
	return n;
}

int jwks_kid_miss(const struct cfg *c)
{
	int64_t now, deadline, wait_ms = c->jwks_kid_miss_wait_ms;
	uint32_t seq;
	int slot, got = 0;
	enum metrics_kid_miss outcome = MK_WAIT_EXPIRED;

	if (!jwks_url_mode(c) || st == NULL)
		return 0;
	now = mono_ms();
	if (wake_wr < 0) {
		/* workers = 1: this process is its own fetcher, bounded by the wait. */
		if (!refetch_allowed(c, now)) {
			metrics_jwks_kid_miss(MK_RATE_LIMITED);
			return 0;
		}
		metrics_jwks_kid_miss(MK_FETCHED);
		return fetch_now(c, wait_ms);
	}
	/* Rate-limited and nothing running: answer at once instead of waiting for nothing. */
	if (!LOAD(&st->busy) && !refetch_allowed(c, now)) {
		metrics_jwks_kid_miss(MK_RATE_LIMITED);
		return 0;
	}
	/* A fetch already older than the wait would not finish within it for this request either. */
	if (fetch_overdue(now, wait_ms)) {
		metrics_jwks_kid_miss(MK_FETCH_OVERDUE);
		return 0;
	}
	/* At most the cap of workers wait; the rest stay free for known kids and sessions. */
	deadline = now + wait_ms;
	slot = slot_claim(waiters_cap(c), now, deadline);
	if (slot < 0) {
		metrics_jwks_kid_miss(MK_WAITERS_FULL);
		return 0;
	}
	seq = __atomic_add_fetch(&st->req_seq, 1, __ATOMIC_ACQ_REL);
	if (write(wake_wr, "k", 1) < 0 && errno != EAGAIN)
		goto out;
	for (;;) {
		struct timespec t = { 0, 5 * 1000000 };

		if ((int32_t)(LOAD(&st->done_seq) - seq) >= 0) {
			got = 1;
			outcome = MK_FETCHED;
			break;
		}
		now = mono_ms();
		if (now >= deadline || fetch_overdue(now, wait_ms))
			break;
		nanosleep(&t, NULL);
	}
out:
	STORE(&st->wait_until_ms[slot], 0);
	metrics_jwks_kid_miss(outcome);
	return got;
}

void jwks_tick(const struct cfg *c)
{
	if (!jwks_url_mode(c) || st == NULL || wake_wr >= 0)
		return;
	if (mono_ms() >= next_due_ms)
		fetch_now(c, c->jwks_fetch_timeout * 1000);
}

void jwks_hup(const struct cfg *c)
{
	if (jwks_url_mode(c) && st != NULL && wake_wr < 0)
		next_due_ms = 0;
}

const char *jwks_health(const struct cfg *c, size_t nkeys, time_t loaded_mtime, time_t now)
{
	if (nkeys == 0)
		return "missing";
	if (jwks_url_mode(c) && now - loaded_mtime > 2 * c->jwks_refresh_interval)
		return "stale";
	return "ok";
}

