/* Unit tests for the per-host cache: hits, invalidation, the fill race guard, flush, TTL, usability. */
#include <stdio.h>
#include <string.h>
#include <time.h>

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

int main(void)
{
	char err[128];
	time_t now = time(NULL);
	struct lc_entry a, b, out;
	unsigned char key_a[32], key_b[32];

	memset(key_a, 0xA1, sizeof(key_a));
	memset(key_b, 0xB2, sizeof(key_b));
	a = make(0xA1, "id-a", "user-1", now);
	b = make(0xB2, "id-b", "user-2", now);

	CHECK(lcache_get(key_a, 60, now, &out) == 0); /* not set up: never a hit */
	CHECK(lcache_setup(64, err, sizeof(err)) == 0);
	CHECK(lcache_usable_setup() == 1);
	CHECK(lcache_usable(now) == 0);               /* no listener yet */
	lcache_put(&a, lcache_generation());
	CHECK(lcache_get(key_a, 60, now, &out) == 0); /* stored, but not served without a listener */
	lcache_set_enabled(1);
	lcache_heartbeat(now);
	CHECK(lcache_usable(now) == 1);
	CHECK(lcache_get(key_a, 60, now, &out) == 1);
	CHECK_STR(out.id, "id-a");
	CHECK(out.json_len == a.json_len && memcmp(out.json, a.json, a.json_len) == 0);
	CHECK(lcache_usable(now + 3) == 0);           /* a stale heartbeat: bypass */

	/* TTL and expiry. */
	lcache_heartbeat(now + 61);
	CHECK(lcache_get(key_a, 60, now + 61, &out) == 0);      /* older than the TTL */
	lcache_heartbeat(now);
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
	lcache_apply_notice("s:id-zzz");                        /* an unknown id: harmless */
	lcache_put(&b, lcache_generation());
	lcache_apply_notice("u:user-2");
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

	/* Flush drops everything; a notice "*" too. */
	lcache_put(&b, lcache_generation());
	lcache_flush();
	CHECK(lcache_get(key_a, 60, now, &out) == 0 && lcache_get(key_b, 60, now, &out) == 0);
	lcache_put(&a, lcache_generation());
	lcache_apply_notice("*");
	CHECK(lcache_get(key_a, 60, now, &out) == 0);

	/* Touch rewrites last_activity in place; expiry is honoured. */
	lcache_put(&a, lcache_generation());
	lcache_touch(key_a, now + 5, "2026-11-29T11:11:11Z");
	CHECK(lcache_get(key_a, 60, now, &out) == 1 && out.last_activity == now + 5);
	CHECK(strstr(out.json, "2026-11-29T11:11:11Z") != NULL);
	lcache_heartbeat(now + 3600);
	CHECK(lcache_get(key_a, 7200, now + 3600, &out) == 0); /* past expires_at */

	/* Disabled (listener gone): nothing served. */
	lcache_heartbeat(now);
	lcache_set_enabled(0);
	CHECK(lcache_get(key_a, 60, now, &out) == 0);
	return check_done();
}
