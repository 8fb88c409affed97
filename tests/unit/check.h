/*
 * Minimal unit-test helpers. Each CHECK prints one "PASS"/"FAIL" line that
 * tests/run counts; check_done() returns the exit status for main().
 */
#ifndef SESSIOND_TEST_CHECK_H
#define SESSIOND_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

static inline int check_report(int ok, const char *file, int line, const char *what)
{
	if (ok) {
		check_passed++;
		printf("PASS: %s\n", what);
	} else {
		check_failed++;
		printf("FAIL: %s (%s:%d)\n", what, file, line);
	}
	fflush(stdout);
	return ok;
}

/* s quoted for a check's message, control and non-ASCII bytes escaped, cut at 60 characters (static). */
static inline const char *check_quote(const char *s)
{
	static char buf[256];
	size_t used = 0;

	if (s == NULL)
		return "NULL";
	buf[used++] = '"';
	for (; *s && used < 60; s++) {
		unsigned char c = (unsigned char)*s;

		used += (size_t)snprintf(buf + used, sizeof(buf) - used, c < 0x20 || c >= 0x7f ? "\\x%02x" : "%c", c);
	}
	snprintf(buf + used, sizeof(buf) - used, "\"");
	return buf;
}

#define CHECK(cond) check_report(!!(cond), __FILE__, __LINE__, #cond)
#define CHECK_MSG(cond, msg) check_report(!!(cond), __FILE__, __LINE__, (msg))
#define CHECK_STR(a, b) \
	check_report((a) != NULL && (b) != NULL && strcmp((a), (b)) == 0, __FILE__, __LINE__, #a " == " #b)

static inline int check_done(void)
{
	printf("%d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
