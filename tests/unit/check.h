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
