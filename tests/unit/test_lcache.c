/* Unit tests for the per-host cache: hits, invalidation, the fill race guard, flush, TTL, usability. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "lcache.h"

static struct lc_entry make(unsigned char key, const char *id, const char *user, time_t now)
{
	struct lc_entry e;

	memset(&e, 0, sizeof(e));
	memset(e.hash, key, sizeof(e.hash));
	snprintf(e.id, sizeof(e.id), "%s", id);
	snprintf(e.user_id, sizeof(e.user_id), "%s", user);
	e.expires_epoch = now + 3600;
	e.last_activity = now;
	e.filled_at = now;
	snprintf(e.json, sizeof(e.json), "{\"last_activity\":\"2026-11-29T10:00:00Z\",\"id\":\"%s\"}", id);
	e.json_len = (uint16_t)strlen(e.json);
	e.la_offset = 18;
	return e;
}

/* Arms the fault hook (see lcache.h) and lets a child die or stop inside lcache_put holding e's slot. */
static pid_t writer_faults(const char *dir, const char *how, const struct lc_entry *e)
{
	char path[256];
	FILE *f;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/lcache_put_%s", dir, how);
	f = fopen(path, "w");
	if (f)
		fclose(f);
	pid = fork();
	if (pid == 0) {
		lcache_put(e, lcache_generation());
		_exit(0);   /* not reached: the hook kills or stops it */
	}
	return pid;
}

int main(void)
{
	char err[128], dir[] = "/tmp/lcache-unit-XXXXXX";
	time_t now = time(NULL);
	struct lc_entry a, b, out;
	unsigned char key_a[32], key_b[32];

	memset(key_a, 0xA1, sizeof(key_a));
	memset(key_b, 0xB2, sizeof(key_b));
	a = make(0xA1, "id-a", "user-1", now);
	b = make(0xB2, "id-b", "user-2", now);

	CHECK(lcache_get(key_a, 60, now, &out) == 0); /* not set up: never a hit */
	CHECK(mkdtemp(dir) != NULL);
	setenv("SESSIOND_TEST_LCACHE_FAULT_DIR", dir, 1);
	CHECK(lcache_setup(64, err, sizeof(err)) == 0);
	CHECK(lcache_usable_setup() == 1);
	CHECK(lcache_usable() == 0);                  /* no listener yet */
	lcache_put(&a, lcache_generation());
	CHECK(lcache_get(key_a, 60, now, &out) == 0); /* stored, but not served without a listener */
	lcache_set_enabled(1);
	lcache_heartbeat(lcache_clock_ms());
	CHECK(lcache_usable() == 1);
	CHECK(lcache_get(key_a, 60, now, &out) == 1);
	CHECK_STR(out.id, "id-a");
	CHECK(out.json_len == a.json_len && memcmp(out.json, a.json, a.json_len) == 0);
	lcache_heartbeat(lcache_clock_ms() - LC_BEAT_MAX_AGE_MS - 100);
	CHECK(lcache_usable() == 0);                  /* a stale heartbeat: bypass */
	CHECK(lcache_get(key_a, 60, now, &out) == 0);
	lcache_heartbeat(lcache_clock_ms());

	/* TTL and expiry. */
	CHECK(lcache_get(key_a, 60, now + 61, &out) == 0);      /* older than the TTL */
	CHECK(lcache_get(key_a, 7200, now, &out) == 1);

	/* Invalidation by hash, session id and user. */
	lcache_invalidate_hash(key_a);
	CHECK(lcache_get(key_a, 60, now, &out) == 0);
	lcache_put(&a, lcache_generation());
	lcache_put(&b, lcache_generation());
	CHECK(lcache_get(key_a, 60, now, &out) == 1 && lcache_get(key_b, 60, now, &out) == 1);
	lcache_invalidate_session("id-b");
	CHECK(lcache_get(key_b, 60, now, &out) == 0);
	CHECK(lcache_get(key_a, 60, now, &out) == 1);           /* others untouched */
	lcache_invalidate_user("user-1");
	CHECK(lcache_get(key_a, 60, now, &out) == 0);
	lcache_invalidate_session("id-zzz");                    /* an unknown id: harmless */
	lcache_put(&b, lcache_generation());
	CHECK(lcache_get(key_b, 60, now, &out) == 1);
	lcache_invalidate_user("user-2");
	CHECK(lcache_get(key_b, 60, now, &out) == 0);

	/* A fill that read its row before an invalidation must not be stored. */
	{
		uint64_t gen = lcache_generation();

		lcache_invalidate_session("id-a");                 /* a write commits meanwhile */
		lcache_put(&a, gen);
		CHECK(lcache_get(key_a, 60, now, &out) == 0);
		lcache_put(&a, lcache_generation());
		CHECK(lcache_get(key_a, 60, now, &out) == 1);
	}

	/* Flush drops everything, also an entry whose fill read the generation before it. */
	lcache_put(&b, lcache_generation());
	lcache_flush();
	CHECK(lcache_get(key_a, 60, now, &out) == 0 && lcache_get(key_b, 60, now, &out) == 0);
	{
		uint64_t gen = lcache_generation();

		lcache_flush();
		lcache_put(&a, gen);
		CHECK(lcache_get(key_a, 60, now, &out) == 0);
	}

	/* Touch rewrites last_activity in place; expiry is honoured. */
	lcache_put(&a, lcache_generation());
	lcache_touch(key_a, now + 5, "2026-11-29T11:11:11Z");
	CHECK(lcache_get(key_a, 60, now, &out) == 1 && out.last_activity == now + 5);
	CHECK(strstr(out.json, "2026-11-29T11:11:11Z") != NULL);
	CHECK(lcache_get(key_a, 7200, now + 3600, &out) == 0); /* past expires_at */

	/* A writer killed holding a slot lock: the next writer takes the slot over, nothing waits. */
	{
		int status;
		pid_t pid = writer_faults(dir, "kill", &b);

		CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		CHECK(lcache_get(key_b, 60, now, &out) == 0);   /* its half-written slot is never read */
		CHECK(lcache_recovered_slots() == 0);
		lcache_put(&b, lcache_generation());
		CHECK(lcache_recovered_slots() == 1);
		CHECK(lcache_get(key_b, 60, now, &out) == 1 && strcmp(out.id, "id-b") == 0);
		lcache_invalidate_hash(key_b);
		CHECK(lcache_get(key_b, 60, now, &out) == 0);
	}

	/* A writer stopped holding a slot lock: fills skip it, an invalidation flushes instead of waiting. */
	{
		int status;
		pid_t pid;

		lcache_put(&a, lcache_generation());
		pid = writer_faults(dir, "stop", &b);
		CHECK(waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status));
		lcache_put(&b, lcache_generation());            /* returns at once, stores nothing */
		CHECK(lcache_get(key_b, 60, now, &out) == 0);
		CHECK(lcache_get(key_a, 60, now, &out) == 1);
		lcache_invalidate_hash(key_b);
		CHECK(lcache_get(key_a, 60, now, &out) == 0);   /* flushed */
		kill(pid, SIGCONT);                             /* it finishes a fill that raced the flush */
		CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
		CHECK(lcache_get(key_b, 60, now, &out) == 0);
		lcache_put(&b, lcache_generation());
		CHECK(lcache_get(key_b, 60, now, &out) == 1);
	}
	rmdir(dir);

	/* Disabled (listener gone): nothing served. */
	lcache_set_enabled(0);
	CHECK(lcache_get(key_a, 60, now, &out) == 0);
	return check_done();
}
