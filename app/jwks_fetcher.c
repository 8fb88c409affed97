/* The JWKS fetcher process, and the messages between it and the workers (a kid miss, a schedule, SIGHUP). */
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
#include "signals.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* Shared by the fetcher and the workers (anonymous mapping made before fork). */
struct jwks_state {
	uint32_t req_seq;        /* bumped by a worker asking for a fetch */
	uint32_t done_seq;       /* the last req_seq the fetcher answered (fetched or refused) */
	uint32_t busy;           /* a fetch is running */
	int64_t last_fetch_ms;   /* CLOCK_MONOTONIC ms when the last fetch started; 0 = never */
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

	STORE(&st->busy, 1);
	STORE(&st->last_fetch_ms, mono_ms());
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

int jwks_kid_miss(const struct cfg *c)
{
	int64_t now, deadline;
	uint32_t seq;

	if (!jwks_url_mode(c) || st == NULL)
		return 0;
	now = mono_ms();
	if (wake_wr < 0) {
		/* workers = 1: this process is its own fetcher, bounded by the wait. */
		if (!refetch_allowed(c, now))
			return 0;
		return fetch_now(c, JWKS_WAIT_MS);
	}
	/* Rate-limited and nothing running: answer at once instead of waiting for nothing. */
	if (!LOAD(&st->busy) && !refetch_allowed(c, now))
		return 0;
	seq = __atomic_add_fetch(&st->req_seq, 1, __ATOMIC_ACQ_REL);
	if (write(wake_wr, "k", 1) < 0 && errno != EAGAIN)
		return 0;
	deadline = now + JWKS_WAIT_MS;
	while (mono_ms() < deadline) {
		struct timespec t = { 0, 5 * 1000000 };

		if ((int32_t)(LOAD(&st->done_seq) - seq) >= 0)
			return 1;
		nanosleep(&t, NULL);
	}
	return 0;
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

