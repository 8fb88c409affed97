/*
 * Unit tests for jwks_fetch's pure parts: the mode and URL derived from the
 * configuration, URL checks at load, Cache-Control max-age, the health
 * states, and the shared slots that bound the kid-miss waits (no fetcher
 * runs here, so a waiter waits until its deadline). The fetching itself runs
 * over real TLS in tests/integration/12_jwks.sh.
 */
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "jwks_fetch.h"
#include "jwks_fetcher.h"
#include "check.h"

/* Loads the defaults plus the given environment overrides (NULL-terminated name, value pairs). */
static int load(struct cfg *c, const char *const *env, char *err, size_t errlen)
{
	static const char *const keys[] = { "SESSIOND_JWKS_FILE", "SESSIOND_JWKS_URL", "SESSIOND_JWT_ISSUER", NULL };

	for (size_t i = 0; keys[i]; i++)
		unsetenv(keys[i]);
	setenv("SESSIOND_JWT_AUDIENCE", "https://api.example.com", 1);
	for (size_t i = 0; env[i]; i += 2)
		setenv(env[i], env[i + 1], 1);
	/* An empty file, never the installed /etc/sessiond/sessiond.conf (15_deb installs one). */
	return cfg_load(c, "/dev/null", err, errlen);
}

static void test_modes(void)
{
	struct cfg c;
	char err[512], url[256];

	{
		const char *env[] = { "SESSIOND_JWT_ISSUER", "https://tenant.eu.auth0.com/", NULL };

		CHECK(load(&c, env, err, sizeof(err)) == 0);
		CHECK(jwks_url_mode(&c));
		CHECK(cfg_jwks_url(&c, url, sizeof(url)) == 0);
		CHECK_STR(url, "https://tenant.eu.auth0.com/.well-known/jwks.json");
		CHECK_STR(jwks_key_file(&c), "/var/lib/sessiond/jwks.json");
		CHECK(jwks_kid_miss(&c) == 0);	/* no fetcher set up: answers at once */
		cfg_free(&c);
	}
	{
		const char *env[] = { "SESSIOND_JWT_ISSUER", "https://issuer.example", NULL };

		CHECK(load(&c, env, err, sizeof(err)) == 0);
		CHECK(cfg_jwks_url(&c, url, sizeof(url)) == 0);
		CHECK_STR(url, "https://issuer.example/.well-known/jwks.json");
		cfg_free(&c);
	}
	{
		const char *env[] = { "SESSIOND_JWT_ISSUER", "https://x/", "SESSIOND_JWKS_FILE", "/etc/j.json", NULL };

		CHECK(load(&c, env, err, sizeof(err)) == 0);
		CHECK(!jwks_url_mode(&c));
		CHECK_STR(jwks_key_file(&c), "/etc/j.json");
		cfg_free(&c);
	}
	{
		const char *env[] = { "SESSIOND_JWT_ISSUER", "http://issuer.example/", NULL };

		CHECK(load(&c, env, err, sizeof(err)) == -1 && strstr(err, "https://") != NULL);
		cfg_free(&c);
	}
	{
		const char *env[] = { "SESSIOND_JWT_ISSUER", "https://x/", "SESSIOND_JWKS_URL", "http://127.0.0.1:8443/k", NULL };

		CHECK(load(&c, env, err, sizeof(err)) == 0);	/* plain http to loopback: tests only */
		cfg_free(&c);
	}
	{
		const char *env[] = { "SESSIOND_JWT_ISSUER", "https://x/", "SESSIOND_JWKS_URL", "http://127.0.0.1.evil/k", NULL };

		CHECK(load(&c, env, err, sizeof(err)) == -1);
		cfg_free(&c);
	}
	{
		const char *env[] = { "SESSIOND_JWT_ISSUER", "https://x/", "SESSIOND_JWKS_URL", "ftp://x/k", NULL };

		CHECK(load(&c, env, err, sizeof(err)) == -1);
		cfg_free(&c);
	}
	{
		const char *env[] = { "SESSIOND_JWT_ISSUER", "https://x/", "SESSIOND_JWKS_URL", "https://x/k",
				      "SESSIOND_JWKS_FILE", "/etc/j.json", NULL };

		CHECK(load(&c, env, err, sizeof(err)) == -1 && strstr(err, "not both") != NULL);
		cfg_free(&c);
	}
	unsetenv("SESSIOND_JWKS_URL");
	unsetenv("SESSIOND_JWKS_FILE");
}

static void test_max_age(void)
{
	const char *h;

	h = " public, max-age=15, stale-while-revalidate=15";
	CHECK(jwks_max_age(h, strlen(h)) == 15);
	h = " MAX-AGE=600\r\n";
	CHECK(jwks_max_age(h, strlen(h)) == 600);
	h = " no-cache";
	CHECK(jwks_max_age(h, strlen(h)) == -1);
	h = " s-maxage=5";
	CHECK(jwks_max_age(h, strlen(h)) == -1);
	h = " max-age=abc";
	CHECK(jwks_max_age(h, strlen(h)) == -1);
	h = " max-age=99999999999999999999";
	CHECK(jwks_max_age(h, strlen(h)) >= 100000000);	/* saturates, never overflows */
	h = " max-age=";
	CHECK(jwks_max_age(h, strlen(h)) == -1);
}

static void test_health(void)
{
	struct cfg c;
	char err[512];
	const char *env[] = { "SESSIOND_JWT_ISSUER", "https://x/", "SESSIOND_JWKS_REFRESH_INTERVAL", "600", NULL };

	CHECK(load(&c, env, err, sizeof(err)) == 0);
	CHECK_STR(jwks_health(&c, 0, 0, 5000), "missing");
	CHECK_STR(jwks_health(&c, 2, 5000 - 1200, 5000), "ok");
	CHECK_STR(jwks_health(&c, 2, 5000 - 1201, 5000), "stale");
	cfg_free(&c);
	c.jwks_file = "/etc/j.json";	/* file mode: never stale */
	c.jwks_refresh_interval = 600;
	CHECK_STR(jwks_health(&c, 1, 0, 5000), "ok");
	unsetenv("SESSIOND_JWKS_REFRESH_INTERVAL");
}

/* A child process that asks for a kid-miss fetch and waits wait_ms for it (nothing answers). */
static pid_t waiter(struct cfg *c, long wait_ms)
{
	pid_t pid = fork();

	if (pid == 0) {
		c->jwks_kid_miss_wait_ms = wait_ms;
		_exit(jwks_kid_miss(c) == 0 ? 0 : 1);
	}
	return pid;
}

/* Polls jwks_waiting() every 10 ms until it is n, for at most 10 s (a liveness bound). */
static int waiting_becomes(size_t n)
{
	for (int i = 0; i < 1000; i++) {
		struct timespec t = { 0, 10 * 1000000 };

		if (jwks_waiting() == n)
			return 1;
		nanosleep(&t, NULL);
	}
	return jwks_waiting() == n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_kid_miss_waiters(void)
{
	struct cfg c;
	char err[512];
	const char *env[] = { "SESSIOND_JWT_ISSUER", "https://x/", "SESSIOND_WORKERS", "4", NULL };
	pid_t k, a, b;
	double t0, took;
	int ok;

	CHECK(load(&c, env, err, sizeof(err)) == 0);
	unsetenv("SESSIOND_WORKERS");
	CHECK(c.jwks_kid_miss_waiters == 0 && c.jwks_kid_miss_wait_ms == 1000);
	CHECK(jwks_setup(&c, err, sizeof(err)) == 0);
	CHECK(jwks_waiting() == 0);
	/* A waiter killed mid-wait never releases its slot: the slot frees itself at the waiter's deadline. */
	k = waiter(&c, 1500);
	CHECK(waiting_becomes(1));
	kill(k, SIGKILL);
	waitpid(k, NULL, 0);
	CHECK(waiting_becomes(0));
	/* Workers = 4: two may wait (half the workers); both slots are usable again. */
	a = waiter(&c, 30000);
	b = waiter(&c, 30000);
	CHECK(waiting_becomes(2));
	/* A third answers at once, long before its own 20 s wait could have ended. */
	c.jwks_kid_miss_wait_ms = 20000;
	t0 = now_s();
	ok = jwks_kid_miss(&c) == 0;
	took = now_s() - t0;
	CHECK(ok && took < 10);
	printf("# third kid miss answered in %.3f s with both slots taken\n", took);
	CHECK(jwks_waiting() == 2);
	/* An explicit cap of 3 lets it wait: it holds a third slot until its (short) wait ends. */
	c.jwks_kid_miss_waiters = 3;
	c.jwks_kid_miss_wait_ms = 300;
	t0 = now_s();
	ok = jwks_kid_miss(&c) == 0;
	took = now_s() - t0;
	CHECK(ok && took >= 0.29);	/* it waited: nothing fetched, so its whole wait */
	CHECK(jwks_waiting() == 2);
	kill(a, SIGKILL);
	kill(b, SIGKILL);
	waitpid(a, NULL, 0);
	waitpid(b, NULL, 0);
	cfg_free(&c);
}

int main(void)
{
	test_modes();
	test_max_age();
	test_health();
	test_kid_miss_waiters();
	return check_done();
}
