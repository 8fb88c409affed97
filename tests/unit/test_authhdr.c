/* Unit tests for app/authhdr.c. */
#include "authhdr.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

/* What a parser found, p[0..n) inside header, as a static string; NULL when it found nothing. */
static const char *found(int ok, const char *header, const char *p, size_t n)
{
	static char buf[256];

	if (!ok)
		return NULL;
	if (p < header || p + n > header + strlen(header) || n >= sizeof buf)
		return "<out of range>";
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

/* One check: got equals want (both NULL counts as equal), named after fn and its input. */
static void expect(const char *fn, const char *input, const char *arg, const char *got, const char *want)
{
	char what[512];
	int n = snprintf(what, sizeof(what), "%s(%s, ", fn, check_quote(input));

	snprintf(what + n, sizeof(what) - (size_t)n, "%s) == %s", check_quote(arg), want ? want : "NULL");
	check_report(got == want || (got && want && strcmp(got, want) == 0), __FILE__, __LINE__, what);
}

/* The same for a yes/no answer. */
static void expect_yes(const char *fn, const char *input, const char *arg, int got, int want)
{
	expect(fn, input, arg, got ? "yes" : "no", want ? "yes" : "no");
}

/* A parser's input, its second argument and what it must find (NULL: nothing). */
struct str_case {
	const char *input, *arg, *want;
};

/* The param of header for scheme, or NULL when rejected. */
static const char *param_of(const char *header, const char *scheme)
{
	const char *p = NULL;
	size_t n = 0;
	int ok = authhdr_param(header, scheme, &p, &n);

	return found(ok, header, p, n);
}

/* The value of cookie name, or NULL when absent. */
static const char *cookie_of(const char *header, const char *name)
{
	const char *v = NULL;
	size_t n = 0;
	int ok = authhdr_cookie_get(header, name, &v, &n);

	return found(ok, header, v, n);
}

static void test_param(void)
{
	static const struct str_case cases[] = {
		{ "Session abc", "Session", "abc" },
		{ "session abc", "Session", "abc" },
		{ "SESSION abc", "session", "abc" },
		{ "Session  abc  ", "Session", "abc" },
		{ "Session\tabc\t", "Session", "abc" },
		{ " Session abc", "Session", "abc" },
		{ "Bearer eyJ.a-b_c.d==", "Bearer", "eyJ.a-b_c.d==" },
		{ "Sessionabc", "Session", NULL },
		{ "Session", "Session", NULL },
		{ "Session ", "Session", NULL },
		{ "Session \t ", "Session", NULL },
		{ "Session a b", "Session", NULL },
		{ "Session abc,", "Session", "abc," }, /* visible: part of param */
		{ "Session abc\r\n", "Session", NULL },
		{ "Session abc\x01", "Session", NULL },
		{ "Session ab\xc3\xa9", "Session", NULL },
		{ "Bearer x", "Session", NULL },
		{ "Sessio abc", "Session", NULL },
		{ "SessionX abc", "Session", NULL },
		{ "", "Session", NULL },
		{ NULL, "Session", NULL },
		{ "Session abc", "", NULL },
		{ "Session abc", NULL, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect("param_of", cases[i].input, cases[i].arg, param_of(cases[i].input, cases[i].arg), cases[i].want);
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
	static const struct str_case cases[] = {
		{ "session_token=abc", "session_token", "abc" },
		{ "a=1; session_token=abc; b=2", "session_token", "abc" },
		{ "session_token=first; session_token=second", "session_token", "first" },
		{ "a=1;session_token=x;b=2", "session_token", "x" },
		{ "session_token=\"quoted\"", "session_token", "quoted" },
		{ "session_token=\"\"", "session_token", "" },
		{ "session_token=\"", "session_token", "\"" },
		{ "session_token=", "session_token", "" },
		{ "session_token = v ; x=y", "session_token", "v" },
		{ "xsession_token=bad; session_token=good", "session_token", "good" },
		{ "xsession_token=bad", "session_token", NULL },
		{ "session_token_x=bad", "session_token", NULL },
		{ "Session_Token=bad", "session_token", NULL },
		{ "session_token=plain; __Host-session_token=host", "__Host-session_token", "host" },
		{ "__Host-session_token=host; session_token=plain", "session_token", "plain" },
		{ "__host-session_token=x", "__Host-session_token", NULL },
		{ "a=1; b=2", "session_token", NULL },
		{ "", "session_token", NULL },
		{ NULL, "session_token", NULL },
		{ "a=1", "", NULL },
		{ "=", "session_token", NULL },
		{ ";;", "session_token", NULL },
		{ "; ; ;", "session_token", NULL },
		{ "session_token", "session_token", NULL },
		{ "session_token; session_token=v", "session_token", "v" },
		{ "=x; session_token=v", "session_token", "v" },
		{ "a=b=c; session_token=v=w", "session_token", "v=w" },
		{ ";;session_token=v;;", "session_token", "v" },
	};
	char *big;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect("cookie_of", cases[i].input, cases[i].arg, cookie_of(cases[i].input, cases[i].arg), cases[i].want);

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
	static const struct str_case cases[] = {
		{ "session_token=a; other=x; session_token=b;session_token=\"c\"", "session_token", "a|b|c" },
		{ "session_token=a", "session_token", "a" },
		{ "xsession_token=a; session_tokenx=b; session_token", "session_token", "" },
		{ "session_token=; session_token=z", "session_token", "|z" },
	};
	static const struct {
		const char *header, *scheme;
		int want;
	} schemes[] = {
		{ "Session", "Session", 1 },
		{ "Session ", "Session", 1 },
		{ "  session\t", "Session", 1 },
		{ "SESSION abc def", "Session", 1 },
		{ "Sessions abc", "Session", 0 },
		{ "Bearer abc", "Session", 0 },
		{ "", "Session", 0 },
		{ NULL, "Session", 0 },
		{ "Session", "", 0 },
	};
	const char *cur = NULL, *v;
	size_t n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect("cookies_of", cases[i].input, cases[i].arg, cookies_of(cases[i].input, cases[i].arg), cases[i].want);
	CHECK(authhdr_cookie_next(&cur, "session_token", &v, &n) == 0);
	CHECK(authhdr_cookie_next(NULL, "session_token", &v, &n) == 0);
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		expect_yes("authhdr_is_scheme", schemes[i].header, schemes[i].scheme, authhdr_is_scheme(schemes[i].header, schemes[i].scheme),
			   schemes[i].want);

}

#define ALLOWED "https://app.example.com, http://localhost:3000 https://Other.example"

static void test_origin(void)
{
	static const struct {
		const char *origin;
		int referer;   /* a Referer (a URL with a path), not an Origin */
		const char *allowed;
		int want;
	} cases[] = {
		{ "https://app.example.com", 0, ALLOWED, 1 },
		{ "HTTPS://APP.EXAMPLE.COM", 0, ALLOWED, 1 },
		{ "http://localhost:3000", 0, ALLOWED, 1 },
		{ "https://other.example", 0, ALLOWED, 1 },
		{ "http://localhost:3001", 0, ALLOWED, 0 },
		{ "http://localhost", 0, ALLOWED, 0 },
		{ "https://app.example.com:443", 0, ALLOWED, 0 },
		{ "http://app.example.com", 0, ALLOWED, 0 },
		{ "https://app.example.com.evil.com", 0, ALLOWED, 0 },
		{ "https://app.example.co", 0, ALLOWED, 0 },
		{ "https://app.example.com/", 0, ALLOWED, 0 },
		{ "https://app.example.com/path", 0, ALLOWED, 0 },
		{ "null", 0, ALLOWED, 0 },
		{ "null", 0, "null, https://app.example.com", 0 },
		{ "", 0, ALLOWED, 0 },
		{ NULL, 0, ALLOWED, 0 },
		{ "https://app.example.com", 0, NULL, 0 },
		{ "https://app.example.com", 0, "", 0 },
		{ "https://app.example.com", 0, " , ,,", 0 },
		{ "https://app.example.com/some/page?x=1", 1, ALLOWED, 1 },
		{ "https://app.example.com", 1, ALLOWED, 1 },
		{ "https://app.example.com/", 1, ALLOWED, 1 },
		{ "http://localhost:3000/x", 1, ALLOWED, 1 },
		{ "https://app.example.com?q=1", 1, ALLOWED, 1 },
		{ "http://localhost:3001/x", 1, ALLOWED, 0 },
		{ "https://evil.com/https://app.example.com", 1, ALLOWED, 0 },
		{ "https://app.example.com.evil.com/", 1, ALLOWED, 0 },
		{ "https://app.example.com@evil.com/", 1, ALLOWED, 0 },
		{ "app.example.com/x", 1, ALLOWED, 0 },
		{ "null", 1, ALLOWED, 0 },
		{ "https://app.example.com/x", 0, ALLOWED, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_yes(cases[i].referer ? "authhdr_origin_allowed(referer)" : "authhdr_origin_allowed", cases[i].origin,
			   cases[i].allowed, authhdr_origin_allowed(cases[i].origin, cases[i].referer, cases[i].allowed), cases[i].want);
}

int main(void)
{
	test_param();
	test_cookie();
	test_cookie_next_and_scheme();
	test_origin();
	return check_done();
}
