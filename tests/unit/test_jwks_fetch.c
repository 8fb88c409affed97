/*
 * Unit tests for jwks_fetch's pure parts: the mode and URL derived from the
 * configuration, URL checks at load, Cache-Control max-age, the health
 * states. The fetching itself runs over real TLS in tests/integration/12_jwks.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	return cfg_load(c, "", err, errlen);
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

int main(void)
{
	test_modes();
	test_max_age();
	test_health();
	return check_done();
}
