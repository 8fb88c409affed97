/* Unit tests for app/authhdr.c. */
#include "authhdr.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

/* The param of header for scheme as a static string, or NULL when rejected. */
static const char *param_of(const char *header, const char *scheme)
{
	static char buf[256];
	const char *p = NULL;
	size_t n = 0;

	if (!authhdr_param(header, scheme, &p, &n))
		return NULL;
	if (p < header || p + n > header + strlen(header) || n >= sizeof buf)
		return "<out of range>";
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

/* The value of cookie name as a static string, or NULL when absent. */
static const char *cookie_of(const char *header, const char *name)
{
	static char buf[256];
	const char *v = NULL;
	size_t n = 0;

	if (!authhdr_cookie_get(header, name, &v, &n))
		return NULL;
	if (v < header || v + n > header + strlen(header) || n >= sizeof buf)
		return "<out of range>";
	memcpy(buf, v, n);
	buf[n] = '\0';
	return buf;
}

static void test_param(void)
{
	CHECK_STR(param_of("Session abc", "Session"), "abc");
	CHECK_STR(param_of("session abc", "Session"), "abc");
	CHECK_STR(param_of("SESSION abc", "session"), "abc");
	CHECK_STR(param_of("Session  abc  ", "Session"), "abc");
	CHECK_STR(param_of("Session\tabc\t", "Session"), "abc");
	CHECK_STR(param_of(" Session abc", "Session"), "abc");
	CHECK_STR(param_of("Bearer eyJ.a-b_c.d==", "Bearer"), "eyJ.a-b_c.d==");
	CHECK(param_of("Sessionabc", "Session") == NULL);
	CHECK(param_of("Session", "Session") == NULL);
	CHECK(param_of("Session ", "Session") == NULL);
	CHECK(param_of("Session \t ", "Session") == NULL);
	CHECK(param_of("Session a b", "Session") == NULL);
	CHECK_STR(param_of("Session abc,", "Session"), "abc,"); /* visible: part of param */
	CHECK(param_of("Session abc\r\n", "Session") == NULL);
	CHECK(param_of("Session abc\x01", "Session") == NULL);
	CHECK(param_of("Session ab\xc3\xa9", "Session") == NULL);
	CHECK(param_of("Bearer x", "Session") == NULL);
	CHECK(param_of("Sessio abc", "Session") == NULL);
	CHECK(param_of("SessionX abc", "Session") == NULL);
	CHECK(param_of("", "Session") == NULL);
	CHECK(param_of(NULL, "Session") == NULL);
	CHECK(param_of("Session abc", "") == NULL);
	CHECK(param_of("Session abc", NULL) == NULL);
	{
		const char *h = "Session tok";
		const char *p = NULL;
		size_t n = 0;
		CHECK(authhdr_param(h, "Session", &p, &n) == 1 && p == h + 8 && n == 3);
		p = NULL;
		n = 99;
		CHECK(authhdr_param("Session a b", "Session", &p, &n) == 0 && p == NULL);
	}
}

static void test_cookie(void)
{
	char *big;

	CHECK_STR(cookie_of("session_token=abc", "session_token"), "abc");
	CHECK_STR(cookie_of("a=1; session_token=abc; b=2", "session_token"), "abc");
	CHECK_STR(cookie_of("session_token=first; session_token=second", "session_token"), "first");
	CHECK_STR(cookie_of("a=1;session_token=x;b=2", "session_token"), "x");
	CHECK_STR(cookie_of("session_token=\"quoted\"", "session_token"), "quoted");
	CHECK_STR(cookie_of("session_token=\"\"", "session_token"), "");
	CHECK_STR(cookie_of("session_token=\"", "session_token"), "\"");
	CHECK_STR(cookie_of("session_token=", "session_token"), "");
	CHECK_STR(cookie_of("session_token = v ; x=y", "session_token"), "v");
	CHECK_STR(cookie_of("xsession_token=bad; session_token=good", "session_token"), "good");
	CHECK(cookie_of("xsession_token=bad", "session_token") == NULL);
	CHECK(cookie_of("session_token_x=bad", "session_token") == NULL);
	CHECK(cookie_of("Session_Token=bad", "session_token") == NULL);
	CHECK_STR(cookie_of("session_token=plain; __Host-session_token=host", "__Host-session_token"), "host");
	CHECK_STR(cookie_of("__Host-session_token=host; session_token=plain", "session_token"), "plain");
	CHECK(cookie_of("__host-session_token=x", "__Host-session_token") == NULL);
	CHECK(cookie_of("a=1; b=2", "session_token") == NULL);
	CHECK(cookie_of("", "session_token") == NULL);
	CHECK(cookie_of(NULL, "session_token") == NULL);
	CHECK(cookie_of("a=1", "") == NULL);
	CHECK(cookie_of("=", "session_token") == NULL);
	CHECK(cookie_of(";;", "session_token") == NULL);
	CHECK(cookie_of("; ; ;", "session_token") == NULL);
	CHECK(cookie_of("session_token", "session_token") == NULL);
	CHECK_STR(cookie_of("session_token; session_token=v", "session_token"), "v");
	CHECK_STR(cookie_of("=x; session_token=v", "session_token"), "v");
	CHECK_STR(cookie_of("a=b=c; session_token=v=w", "session_token"), "v=w");
	CHECK_STR(cookie_of(";;session_token=v;;", "session_token"), "v");

	big = malloc(200001);
	if (big != NULL) {
		memset(big, 'a', 200000);
		big[200000] = '\0';
		CHECK(cookie_of(big, "session_token") == NULL);
		memset(big, ';', 100000);
		memcpy(big + 199980, "session_token=tail", 18);
		big[199998] = '\0';
		CHECK(cookie_of(big, "session_token") == NULL); /* name preceded by 'a's */
		big[199979] = ';';
		CHECK_STR(cookie_of(big, "session_token"), "tail");
		free(big);
	}
}

/* Every cookie named name, in order, joined with '|' (static string). */
static const char *cookies_of(const char *header, const char *name)
{
	static char buf[256];
	const char *cur = header, *v;
	size_t n, used = 0;
	int k = 0;

	buf[0] = '\0';
	while (authhdr_cookie_next(&cur, name, &v, &n)) {
		if (v < header || v + n > header + strlen(header) || used + n + 2 > sizeof buf)
			return "<out of range>";
		if (k++)
			buf[used++] = '|';
		memcpy(buf + used, v, n);
		used += n;
		buf[used] = '\0';
	}
	return buf;
}

static void test_cookie_next_and_scheme(void)
{
	const char *cur = NULL, *v;
	size_t n;

	CHECK_STR(cookies_of("session_token=a; other=x; session_token=b;session_token=\"c\"", "session_token"), "a|b|c");
	CHECK_STR(cookies_of("session_token=a", "session_token"), "a");
	CHECK_STR(cookies_of("xsession_token=a; session_tokenx=b; session_token", "session_token"), "");
	CHECK_STR(cookies_of("session_token=; session_token=z", "session_token"), "|z");
	CHECK(authhdr_cookie_next(&cur, "session_token", &v, &n) == 0);
	CHECK(authhdr_cookie_next(NULL, "session_token", &v, &n) == 0);

	CHECK(authhdr_is_scheme("Session", "Session") == 1);
	CHECK(authhdr_is_scheme("Session ", "Session") == 1);
	CHECK(authhdr_is_scheme("  session\t", "Session") == 1);
	CHECK(authhdr_is_scheme("SESSION abc def", "Session") == 1);
	CHECK(authhdr_is_scheme("Sessions abc", "Session") == 0);
	CHECK(authhdr_is_scheme("Bearer abc", "Session") == 0);
	CHECK(authhdr_is_scheme("", "Session") == 0);
	CHECK(authhdr_is_scheme(NULL, "Session") == 0);
	CHECK(authhdr_is_scheme("Session", "") == 0);
}

static void test_origin(void)
{
	const char *allowed = "https://app.example.com, http://localhost:3000 https://Other.example";

	CHECK(authhdr_origin_allowed("https://app.example.com", 0, allowed) == 1);
	CHECK(authhdr_origin_allowed("HTTPS://APP.EXAMPLE.COM", 0, allowed) == 1);
	CHECK(authhdr_origin_allowed("http://localhost:3000", 0, allowed) == 1);
	CHECK(authhdr_origin_allowed("https://other.example", 0, allowed) == 1);
	CHECK(authhdr_origin_allowed("http://localhost:3001", 0, allowed) == 0);
	CHECK(authhdr_origin_allowed("http://localhost", 0, allowed) == 0);
	CHECK(authhdr_origin_allowed("https://app.example.com:443", 0, allowed) == 0);
	CHECK(authhdr_origin_allowed("http://app.example.com", 0, allowed) == 0);
	CHECK(authhdr_origin_allowed("https://app.example.com.evil.com", 0, allowed) == 0);
	CHECK(authhdr_origin_allowed("https://app.example.co", 0, allowed) == 0);
	CHECK(authhdr_origin_allowed("https://app.example.com/", 0, allowed) == 0);
	CHECK(authhdr_origin_allowed("https://app.example.com/path", 0, allowed) == 0);
	CHECK(authhdr_origin_allowed("null", 0, allowed) == 0);
	CHECK(authhdr_origin_allowed("null", 0, "null, https://app.example.com") == 0);
	CHECK(authhdr_origin_allowed("", 0, allowed) == 0);
	CHECK(authhdr_origin_allowed(NULL, 0, allowed) == 0);
	CHECK(authhdr_origin_allowed("https://app.example.com", 0, NULL) == 0);
	CHECK(authhdr_origin_allowed("https://app.example.com", 0, "") == 0);
	CHECK(authhdr_origin_allowed("https://app.example.com", 0, " , ,,") == 0);

	CHECK(authhdr_origin_allowed("https://app.example.com/some/page?x=1", 1, allowed) == 1);
	CHECK(authhdr_origin_allowed("https://app.example.com", 1, allowed) == 1);
	CHECK(authhdr_origin_allowed("https://app.example.com/", 1, allowed) == 1);
	CHECK(authhdr_origin_allowed("http://localhost:3000/x", 1, allowed) == 1);
	CHECK(authhdr_origin_allowed("https://app.example.com?q=1", 1, allowed) == 1);
	CHECK(authhdr_origin_allowed("http://localhost:3001/x", 1, allowed) == 0);
	CHECK(authhdr_origin_allowed("https://evil.com/https://app.example.com", 1, allowed) == 0);
	CHECK(authhdr_origin_allowed("https://app.example.com.evil.com/", 1, allowed) == 0);
	CHECK(authhdr_origin_allowed("https://app.example.com@evil.com/", 1, allowed) == 0);
	CHECK(authhdr_origin_allowed("app.example.com/x", 1, allowed) == 0);
	CHECK(authhdr_origin_allowed("null", 1, allowed) == 0);
	CHECK(authhdr_origin_allowed("https://app.example.com/x", 0, allowed) == 0);
}

int main(void)
{
	test_param();
	test_cookie();
	test_cookie_next_and_scheme();
	test_origin();
	return check_done();
}
