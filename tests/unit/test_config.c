/* Unit tests for app/config.c: defaults, bounds of every typed value, file errors with line numbers, env overrides, cross-key checks. */
#include "config.h"
#include "check.h"

#include <stdlib.h>
#include <unistd.h>

static char path[64];

/* Loads text as a config file. Returns cfg_load's result; err holds its message. */
static int load(const char *text, struct cfg *c, char *err, size_t n)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (f == NULL)
		return -2;
	fputs(text, f);
	fclose(f);
	err[0] = '\0';
	rc = cfg_load(c, path, err, n);
	if (rc == 0)
		cfg_free(c);
	return rc;
}

#define BASE "jwt_issuer = https://t.example/\njwt_audience = https://api.example\n"

static int ok(const char *text)
{
	struct cfg c;
	char err[512];

	return load(text, &c, err, sizeof(err)) == 0;
}

/* 1 when loading text fails with a message containing want. */
static int refused(const char *text, const char *want)
{
	struct cfg c;
	char err[512];

	return load(text, &c, err, sizeof(err)) == -1 && strstr(err, want) != NULL;
}

int main(void)
{
	struct cfg c;
	char err[512];
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_config.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return 1;
	close(fd);
	for (size_t i = 0; i < cfg_nkeys; i++) {
		char var[96];

		snprintf(var, sizeof(var), "SESSIOND_%s", cfg_keys[i].name);
		for (char *p = var; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		unsetenv(var);
	}

	/* Defaults from the table. */
	CHECK(load(BASE, &c, err, sizeof(err)) == 0 || (printf("%s\n", err), 0));
	if (cfg_load(&c, path, err, sizeof(err)) == 0) {
		CHECK(c.workers == 2 && c.session_ttl == 86400 && c.listen_mode == 0660 && c.cookie_secure == 1);
		CHECK_STR(c.cookie_samesite, "Lax");
		CHECK_STR(c.path, path);
		cfg_free(&c);
	}

	/* Every integer key: its bounds are accepted, one past them refused. */
	for (size_t i = 0; i < cfg_nkeys; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		char text[512];
		int lo_ok, hi_ok, below, above;

		if (k->type != CFG_INT)
			continue;
		snprintf(text, sizeof(text), BASE "%s = %ld\n", k->name, k->min);
		lo_ok = ok(text) || refused(text, "exceeds") || refused(text, "must");
		snprintf(text, sizeof(text), BASE "%s = %ld\n", k->name, k->max);
		hi_ok = ok(text) || refused(text, "exceeds") || refused(text, "must");
		snprintf(text, sizeof(text), BASE "%s = %ld\n", k->name, k->min - 1);
		below = refused(text, "integer");
		snprintf(text, sizeof(text), BASE "%s = %ld\n", k->name, k->max + 1);
		above = refused(text, "integer");
		if (!(lo_ok && hi_ok && below && above))
			printf("key %s: lo %d hi %d below %d above %d\n", k->name, lo_ok, hi_ok, below, above);
		check_report(lo_ok && hi_ok && below && above, __FILE__, __LINE__, k->name);
	}

	/* Malformed values. */
	CHECK(refused(BASE "workers = 2x\n", "bad value '2x' for workers"));
	CHECK(refused(BASE "workers = \n", "workers"));
	CHECK(refused(BASE "workers = 99999999999999999999999\n", "workers"));
	CHECK(refused(BASE "workers = -1\n", "workers"));
	CHECK(refused(BASE "listen_mode = 0999\n", "octal"));
	CHECK(refused(BASE "listen_mode = 01000\n", "octal"));
	CHECK(refused(BASE "set_cookie = maybe\n", "on or off"));
	CHECK(refused(BASE "cookie_samesite = lax2\n", "one of Lax,Strict,None"));
	CHECK(refused(BASE "log_level = verbose\n", "log_level"));
	CHECK(refused(BASE "no_such_key = 1\n", "unknown key 'no_such_key'"));

	/* File errors name the file and the line. */
	{
		char want[96];

		snprintf(want, sizeof(want), "%s:3:", path);
		CHECK(refused(BASE "just words\n", want));
		CHECK(refused(BASE "workers = many\n", want));
	}
	CHECK(ok(BASE "# a comment\n\n   workers = 4   \n"));
	/* '#' starts a comment only at the start of a line: a value may hold one (a password). */
	CHECK(refused(BASE "workers = 4 # four\n", "bad value '4 # four'"));
	CHECK(cfg_load(&c, "/nonexistent/sessiond.conf", err, sizeof(err)) == -1 && strstr(err, "cannot open"));

	/* Environment overrides win over the file, and are checked the same way. */
	setenv("SESSIOND_WORKERS", "7", 1);
	if (load(BASE "workers = 3\n", &c, err, sizeof(err)) == 0 && cfg_load(&c, path, err, sizeof(err)) == 0) {
		CHECK_MSG(c.workers == 7, "SESSIOND_WORKERS overrides the file");
		cfg_free(&c);
	} else {
		CHECK_MSG(0, "load with SESSIOND_WORKERS");
	}
	setenv("SESSIOND_WORKERS", "0", 1);
	CHECK(refused(BASE, "environment SESSIOND_WORKERS"));
	unsetenv("SESSIOND_WORKERS");

	/* Cross-key checks. */
	CHECK(refused("jwt_audience = x\n", "jwt_issuer and jwt_audience must be set"));
	CHECK(refused(BASE "cookie_domain = example.com\n", "__Host-"));
	CHECK(refused(BASE "cookie_secure = off\n", "__Host-"));
	CHECK(ok(BASE "cookie_name = sid\ncookie_secure = off\n"));
	CHECK(refused(BASE "cookie_name = sid\ncookie_secure = off\ncookie_samesite = None\n", "requires cookie_secure"));
	CHECK(refused(BASE "jwt_algorithms = HS256\n", "jwt_algorithms"));
	CHECK(refused(BASE "session_ttl = 700000\n", "exceeds max_lifetime"));
	CHECK(refused(BASE "idle_timeout = 3\n", "idle_timeout (3) must be greater than touch_interval (60)"));
	CHECK(refused(BASE "idle_timeout = 60\n", "must be greater than touch_interval"));
	CHECK(ok(BASE "idle_timeout = 61\n"));
	CHECK(ok(BASE "idle_timeout = 3\ntouch_interval = 2\n"));
	CHECK(ok(BASE "idle_timeout = 0\ntouch_interval = 86400\n"));

	/* The dump masks the password of a connection string. */
	if (load(BASE "database_url = postgresql://u:s3cret@db/sessiond\n", &c, err, sizeof(err)) == 0 &&
	    cfg_load(&c, path, err, sizeof(err)) == 0) {
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		cfg_dump(&c, f);
		fclose(f);
		CHECK_MSG(text && !strstr(text, "s3cret"), "cfg_dump never prints the password");
		free(text);
		cfg_free(&c);
	} else {
		CHECK_MSG(0, "load with a database_url password");
	}
	unlink(path);
	return check_done();
}
