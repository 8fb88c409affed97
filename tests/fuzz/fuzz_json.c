/*
 * libFuzzer driver for app/jsonx.c. The first byte picks max_depth and
 * require_object; the rest is split in two halves, each parsed, and when
 * both parse the second is merged into the first as an RFC 7396 patch.
 * Invariants: parse results respect max_depth, serializations re-parse,
 * merging never fails for a non-null patch, jsonx_buf_str output is valid
 * JSON that decodes back to the string, and a refused NUL (\\u0000) is
 * refused alike by jsonx_parse_named, whose member name stays in its buffer.
 *
 * clang -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -Iinclude $(pkg-config --cflags json-c openssl) tests/fuzz/fuzz_json.c app/jsonx.c -o /tmp/fuzz_json $(pkg-config --libs json-c openssl)
 * /tmp/fuzz_json -max_total_time=20 tests/fuzz/corpus/json
 */
#include "jsonx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct json_object *parse_checked(const char *buf, size_t len, int depth, int req, int *ok)
{
	struct json_object *o = NULL, *again = NULL;
	enum jsonx_err e = jsonx_parse(buf, len, depth, req, &o);
	const char *s;
	size_t slen;

	*ok = e == JSONX_OK;
	if (e != JSONX_OK) {
		if (o != NULL)
			abort();
		if (e == JSONX_NUL) {
			/* The named variant agrees, and the member name it writes stays inside its buffer. */
			char field[8];

			memset(field, 'x', sizeof(field));
			if (jsonx_parse_named(buf, len, depth, req, &o, field, sizeof(field)) != JSONX_NUL || o != NULL ||
			    memchr(field, '\0', sizeof(field)) == NULL)
				abort();
		}
		return NULL;
	}
	if (jsonx_depth(o) > depth || (req && !json_object_is_type(o, json_type_object)))
		abort();
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &slen);
	if (s == NULL || slen != jsonx_size(o))
		abort();
	if (jsonx_parse(s, slen, depth, req, &again) != JSONX_OK || !json_object_equal(o, again))
		abort();
	json_object_put(again);
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *a, *b, *m;
	int depth, req, oka, okb;
	size_t half;
	const char *rest;

	if (size < 1)
		return 0;
	depth = data[0] & 15;
	req = (data[0] >> 4) & 1;
	rest = (const char *)data + 1;
	size--;

	/* whole input, then halves */
	a = parse_checked(rest, size, depth, req, &oka);
	json_object_put(a);
	half = size / 2;
	a = parse_checked(rest, half, depth, 0, &oka);
	b = parse_checked(rest + half, size - half, depth, 0, &okb);
	if (oka && okb) {
		m = jsonx_merge_patch(a, b);
		if (m == NULL && b != NULL)
			abort();
		if (jsonx_depth(m) > depth)
			abort();
		json_object_put(m);
	}
	if (json_object_is_type(a, json_type_string)) {
		struct jsonx_buf buf = {0};
		struct json_object *back = NULL;
		const char *s = json_object_get_string(a);
		if (jsonx_buf_str(&buf, s) != 0)
			abort();
		if (jsonx_parse(buf.data, buf.len, 0, 0, &back) != JSONX_OK)
			abort();
		/* strings without embedded NULs come back unchanged */
		if ((size_t)json_object_get_string_len(a) == strlen(s) && strcmp(json_object_get_string(back), s) != 0)
			abort();
		json_object_put(back);
		jsonx_buf_free(&buf);
	}
	json_object_put(a);
	json_object_put(b);
	return 0;
}
