/* Unit tests for app/jsonx.c. */
#include "jsonx.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

static enum jsonx_err parse_str(const char *s, int depth, int require_object)
{
	struct json_object *o = (struct json_object *)&o; /* must be reset */
	enum jsonx_err e = jsonx_parse(s, strlen(s), depth, require_object, &o);

	if (e != JSONX_OK && o != NULL)
		return (enum jsonx_err)99;
	json_object_put(o);
	return e;
}

/* A document, the depth limit, whether an object is required, and the answer. */
struct parse_case {
	const char *text;
	int depth, require_object;
	enum jsonx_err want;
};

/* One check per case: parse_str(text, depth, require_object) == want. */
static void parse_cases(const struct parse_case *c, size_t n)
{
	char what[512];

	for (size_t i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "parse_str(%s, %d, %d) == %d", check_quote(c[i].text), c[i].depth,
			 c[i].require_object, (int)c[i].want);
		check_report(parse_str(c[i].text, c[i].depth, c[i].require_object) == c[i].want, __FILE__, __LINE__,
			     what);
	}
}

/* Plain serialization of parse(s), compared with want (want NULL: must fail to parse). */
static int parses_to(const char *s, const char *want)
{
	struct json_object *o = NULL;
	int ok;

	if (jsonx_parse(s, strlen(s), 32, 0, &o) != JSONX_OK)
		return want == NULL;
	ok = want != NULL && strcmp(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), want) == 0;
	json_object_put(o);
	return ok;
}

static void test_parse(void)
{
	struct json_object *o = NULL;

	{
		static const struct parse_case cases[] = {
			{ "{}", 8, 1, JSONX_OK },
			{ "  {\"a\": [1, 2.5, -3e2, true, false, null, \"x\"]}\r\n\t ", 8, 1, JSONX_OK },
			{ "[]", 8, 0, JSONX_OK },
			{ "123", 8, 0, JSONX_OK },
			{ "\"s\"", 8, 0, JSONX_OK },
			{ "true", 8, 0, JSONX_OK },
			{ "-0", 8, 0, JSONX_OK },
			{ "0.5e-3", 8, 0, JSONX_OK },
		};

		parse_cases(cases, sizeof(cases) / sizeof(cases[0]));
	}

	/* non-object */
	{
		static const struct parse_case cases[] = {
			{ "[]", 8, 1, JSONX_NOT_OBJECT },
			{ "123", 8, 1, JSONX_NOT_OBJECT },
			{ "\"s\"", 8, 1, JSONX_NOT_OBJECT },
			{ "null", 8, 1, JSONX_NOT_OBJECT },
		};

		parse_cases(cases, sizeof(cases) / sizeof(cases[0]));
	}
	CHECK(jsonx_parse("null", 4, 8, 0, &o) == JSONX_OK && o == NULL);

	/* trailing garbage and framing */
	{
		static const struct parse_case cases[] = {
			{ "{}x", 8, 1, JSONX_SYNTAX },
			{ "{} {}", 8, 1, JSONX_SYNTAX },
			{ "{}}", 8, 1, JSONX_SYNTAX },
			{ "12x", 8, 0, JSONX_SYNTAX },
			{ "1 2", 8, 0, JSONX_SYNTAX },
			{ "{} \f", 8, 1, JSONX_SYNTAX },
			{ "\v{}", 8, 1, JSONX_SYNTAX },
			{ "", 8, 0, JSONX_SYNTAX },
			{ "   ", 8, 0, JSONX_SYNTAX },
			{ "{", 8, 1, JSONX_SYNTAX },
			{ "{\"a\":1", 8, 1, JSONX_SYNTAX },
			{ "\"abc", 8, 0, JSONX_SYNTAX },
		};

		parse_cases(cases, sizeof(cases) / sizeof(cases[0]));
	}
	CHECK(jsonx_parse("{}\0", 3, 8, 1, &o) == JSONX_SYNTAX && o == NULL);
	CHECK(jsonx_parse("{\"a\":\"b\0c\"}", 11, 8, 1, &o) == JSONX_SYNTAX && o == NULL);
	CHECK(jsonx_parse("{\"a\":1}", 3, 8, 1, &o) == JSONX_SYNTAX && o == NULL); /* len honoured */
	CHECK(jsonx_parse(NULL, 0, 8, 0, &o) == JSONX_SYNTAX && o == NULL);

	/* things json-c's strict mode lets through */
	{
		static const struct parse_case cases[] = {
			{ "{'a':1}", 8, 1, JSONX_SYNTAX },
			{ "['a']", 8, 0, JSONX_SYNTAX },
			{ "NaN", 8, 0, JSONX_SYNTAX },
			{ "Infinity", 8, 0, JSONX_SYNTAX },
			{ "-Infinity", 8, 0, JSONX_SYNTAX },
			{ "[1,]", 8, 0, JSONX_SYNTAX },
			{ "{\"a\":1,}", 8, 1, JSONX_SYNTAX },
			{ "[,1]", 8, 0, JSONX_SYNTAX },
			{ "{\"a\" 1}", 8, 1, JSONX_SYNTAX },
			{ "{a:1}", 8, 1, JSONX_SYNTAX },
			{ "{1:1}", 8, 1, JSONX_SYNTAX },
			{ "01", 8, 0, JSONX_SYNTAX },
			{ "-", 8, 0, JSONX_SYNTAX },
			{ "1.", 8, 0, JSONX_SYNTAX },
			{ ".5", 8, 0, JSONX_SYNTAX },
			{ "1e", 8, 0, JSONX_SYNTAX },
			{ "+1", 8, 0, JSONX_SYNTAX },
			{ "0x10", 8, 0, JSONX_SYNTAX },
			{ "tru", 8, 0, JSONX_SYNTAX },
			{ "True", 8, 0, JSONX_SYNTAX },
			{ "nul", 8, 0, JSONX_SYNTAX },
			{ "/* c */ {}", 8, 1, JSONX_SYNTAX },
			{ "\"a\x01\"", 8, 0, JSONX_SYNTAX },
			{ "\"a\tb\"", 8, 0, JSONX_SYNTAX },
			{ "\"\\x\"", 8, 0, JSONX_SYNTAX },
			{ "\"\\u12\"", 8, 0, JSONX_SYNTAX },
			{ "\"\\u12g4\"", 8, 0, JSONX_SYNTAX },
			{ "\"\\", 8, 0, JSONX_SYNTAX },
		};

		parse_cases(cases, sizeof(cases) / sizeof(cases[0]));
	}
	CHECK(parses_to("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\tA\""));

	/* UTF-8 */
	CHECK(parses_to("\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", "\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""));
	{
		static const struct parse_case cases[] = {
			{ "\"\xff\"", 8, 0, JSONX_SYNTAX },
			{ "\"\xc3\"", 8, 0, JSONX_SYNTAX }, /* truncated */
			{ "\"\xc3(\"", 8, 0, JSONX_SYNTAX }, /* bad continuation */
			{ "\"\xc0\xaf\"", 8, 0, JSONX_SYNTAX }, /* overlong '/' */
			{ "\"\xe0\x80\xaf\"", 8, 0, JSONX_SYNTAX },
			{ "\"\xed\xa0\x80\"", 8, 0, JSONX_SYNTAX }, /* surrogate */
			{ "\"\xf4\x90\x80\x80\"", 8, 0, JSONX_SYNTAX }, /* > U+10FFFF */
			{ "\"\x80\"", 8, 0, JSONX_SYNTAX },
			{ "{\"\xfe\":1}", 8, 1, JSONX_SYNTAX }, /* in a key */
			{ "\xef\xbb\xbf{}", 8, 1, JSONX_SYNTAX }, /* BOM */
		};

		parse_cases(cases, sizeof(cases) / sizeof(cases[0]));
	}

	/* depth: {} and [] count 1, max_depth inclusive */
	{
		static const struct parse_case cases[] = {
			{ "[[[1]]]", 3, 0, JSONX_OK },
			{ "[[[1]]]", 2, 0, JSONX_TOO_DEEP },
			{ "{\"a\":{\"b\":{}}}", 3, 1, JSONX_OK },
			{ "{\"a\":{\"b\":{}}}", 2, 1, JSONX_TOO_DEEP },
			{ "{}", 0, 1, JSONX_TOO_DEEP },
			{ "7", 0, 0, JSONX_OK },
		};

		parse_cases(cases, sizeof(cases) / sizeof(cases[0]));
	}
	CHECK(parse_str("{}", -5, 1) == JSONX_TOO_DEEP);
	{
		size_t n = 100000, i;
		char *deep = malloc(2 * n + 1);
		if (deep != NULL) {
			for (i = 0; i < n; i++) {
				deep[i] = '[';
				deep[n + i] = ']';
			}
			deep[2 * n] = '\0';
			CHECK(parse_str(deep, 32, 0) == JSONX_TOO_DEEP);
			CHECK(parse_str(deep, 1 << 30, 0) == JSONX_TOO_DEEP); /* clamped to JSONX_DEPTH_CAP */
			deep[JSONX_DEPTH_CAP] = '\0';
			memset(deep + JSONX_DEPTH_CAP / 2, ']', JSONX_DEPTH_CAP / 2);
			CHECK(parse_str(deep, JSONX_DEPTH_CAP, 0) == JSONX_OK);
			free(deep);
		}
	}

	/* big numbers */
	CHECK(parses_to("9223372036854775807", "9223372036854775807"));
	CHECK(parses_to("-9223372036854775808", "-9223372036854775808"));
	CHECK(parses_to("18446744073709551615", "18446744073709551615"));
	CHECK(parses_to("18446744073709551616", NULL));
	CHECK(parses_to("-9223372036854775809", NULL));
	CHECK(parses_to("99999999999999999999999999", NULL));
	CHECK(parses_to("[1e400]", NULL));
	CHECK(parses_to("{\"a\":-1e400}", NULL));
	CHECK(parses_to("1e308", "1e308"));
	CHECK(parses_to("1e-400", "1e-400"));
	CHECK(parses_to("123456789012345678901234567890.5", "123456789012345678901234567890.5"));
	CHECK(parses_to("00", NULL));
	CHECK(parses_to("-01", NULL));
}

/* jsonx_parse_named on s: the error, with the member it named in f (cap bytes). */
static enum jsonx_err parse_named(const char *s, int require_object, char *f, size_t cap)
{
	struct json_object *o = (struct json_object *)&o;
	enum jsonx_err e = jsonx_parse_named(s, strlen(s), 8, require_object, &o, f, cap);

	if (e != JSONX_OK && o != NULL)
		return (enum jsonx_err)99;
	json_object_put(o);
	return e;
}

/* An escaped NUL is refused anywhere, and the top-level member holding it is named. */
static void test_nul(void)
{
	char f[16];

	{
		static const struct parse_case cases[] = {
			{ "\"a\\u0000b\"", 8, 0, JSONX_NUL },
			{ "{\"a\\u0000b\":1}", 8, 1, JSONX_NUL },
		};

		parse_cases(cases, sizeof(cases) / sizeof(cases[0]));
	}
	CHECK(parses_to("\"\\u0001\\u0100\\u1000\"", "\"\\u0001\xc4\x80\xe1\x80\x80\"")); /* other escapes stay */
	CHECK(parse_named("{\"x\":1,\"session_data\":{\"a\":[\"x\\u0000y\"]}}", 1, f, sizeof(f)) == JSONX_NUL &&
	      strcmp(f, "session_data") == 0);
	CHECK(parse_named("{\"onboarding_step\":\"a\\u0000b\"}", 1, f, sizeof(f)) == JSONX_NUL &&
	      strcmp(f, "onboarding_step") == 0);
	CHECK(parse_named("{\"onboarding_step\":\"\\u0000\"}", 1, f, 9) == JSONX_NUL && strcmp(f, "onboardi") == 0);
	CHECK(parse_named("{\"k\\u0000\":1}", 1, f, sizeof(f)) == JSONX_NUL && strcmp(f, "k\\u0000") == 0);
	CHECK(parse_named("[\"\\u0000\"]", 0, f, sizeof(f)) == JSONX_NUL && f[0] == '\0');
	CHECK(parse_named("{\"\xc3\xa9\":\"\\u0000\"}", 1, f, sizeof(f)) == JSONX_NUL && strcmp(f, "??") == 0);
	CHECK(parse_named("{\"a\":\"\\u0000\"}", 1, NULL, 0) == JSONX_NUL);
	CHECK(parse_named("{\"a\":\"ok\"}", 1, f, sizeof(f)) == JSONX_OK && f[0] == '\0');
}

/* A member name repeated in one object is refused, whatever the escapes; the same name in two objects is not. */
static void test_duplicate(void)
{
	static const struct parse_case cases[] = {
		{ "{\"a\":1,\"a\":1}", 8, 1, JSONX_DUPLICATE },
		{ "{\"a\":1,\"b\":2,\"a\":3}", 8, 1, JSONX_DUPLICATE },
		{ "{\"a\":1,\"\\u0061\":2}", 8, 1, JSONX_DUPLICATE },          /* "a" escaped */
		{ "{\"alg\":\"RS256\",\"alg\":\"none\"}", 8, 1, JSONX_DUPLICATE },
		{ "{\"x\":{\"k\":1,\"k\":2}}", 8, 1, JSONX_DUPLICATE },        /* nested */
		{ "[{\"k\":1},{\"k\":1,\"k\":1}]", 8, 0, JSONX_DUPLICATE },    /* in an array */
		{ "{\"a\":{\"a\":1},\"b\":{\"a\":2}}", 8, 1, JSONX_OK },      /* one name per object */
		{ "[{\"k\":1},{\"k\":1}]", 8, 0, JSONX_OK },
		{ "{\"a\":1,\"A\":2}", 8, 1, JSONX_OK },                         /* names are case-sensitive */
		{ "{\"k\":1,\"k\":NaN}", 8, 1, JSONX_SYNTAX },                   /* the grammar first */
	};

	parse_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_buf(void)
{
	struct jsonx_buf b = {0};
	int i, ok = 1;

	CHECK(jsonx_buf_append(&b, "{", 1) == 0 && b.len == 1 && strcmp(b.data, "{") == 0);
	CHECK(jsonx_buf_str(&b, "a\"b\\c/d") == 0);
	CHECK_STR(b.data, "{\"a\\\"b\\\\c/d\"");
	jsonx_buf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);

	CHECK(jsonx_buf_str(&b, "\x01\n\t\r\x1f\x7f") == 0);
	CHECK_STR(b.data, "\"\\u0001\\u000a\\u0009\\u000d\\u001f\x7f\"");
	jsonx_buf_free(&b);

	CHECK(jsonx_buf_str(&b, NULL) == 0);
	CHECK_STR(b.data, "null");
	jsonx_buf_free(&b);

	CHECK(jsonx_buf_str(&b, "") == 0);
	CHECK_STR(b.data, "\"\"");
	jsonx_buf_free(&b);

	CHECK(jsonx_buf_str(&b, "h\xc3\xa9 \xf0\x9f\x98\x80") == 0);
	CHECK_STR(b.data, "\"h\xc3\xa9 \xf0\x9f\x98\x80\"");
	jsonx_buf_free(&b);

	CHECK(jsonx_buf_str(&b, "a\xff" "b\xc3") == 0);
	CHECK_STR(b.data, "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"");
	jsonx_buf_free(&b);

	/* Round trip through the strict parser: every control char and quote. */
	{
		char in[40];
		struct json_object *o = NULL;
		for (i = 0; i < 32; i++)
			in[i] = (char)(i + 1);
		in[31] = '"';
		in[32] = '\\';
		in[33] = '/';
		in[34] = '\0';
		CHECK(jsonx_buf_str(&b, in) == 0);
		CHECK(jsonx_parse(b.data, b.len, 1, 0, &o) == JSONX_OK && strcmp(json_object_get_string(o), in) == 0);
		json_object_put(o);
		jsonx_buf_free(&b);
	}

	/* growth */
	for (i = 0; i < 10000 && ok; i++)
		ok = jsonx_buf_append(&b, "0123456789", 10) == 0;
	CHECK(ok && b.len == 100000 && b.cap > b.len && b.data[b.len] == '\0');
	CHECK(memcmp(b.data + 99990, "0123456789", 10) == 0);
	CHECK(jsonx_buf_append(&b, "", 0) == 0 && b.len == 100000);
	jsonx_buf_free(&b);
	jsonx_buf_free(&b); /* twice is harmless */
	CHECK(b.data == NULL);
}

int main(void)
{
	test_parse();
	test_nul();
	test_duplicate();
	test_buf();
	return check_done();
}
