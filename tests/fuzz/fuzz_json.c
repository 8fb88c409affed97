/*
 * libFuzzer driver for the JSON every piece of outside input goes through:
 * jsonx_parse as production calls it (a request body with jsonx_parse_named,
 * a JWT header or claim set, a JWKS: JSONX_INPUT_DEPTH, an object required),
 * and jsonx_buf_str, which writes the answers. The first byte picks the
 * depth (production's, or 0..15) and whether an object is required.
 * Invariants: a refused input leaves nothing behind; an accepted one respects
 * the depth, re-serializes to text that parses to an equal value, and with
 * its first member repeated is refused as a duplicate; a refused NUL
 * (\\u0000) is refused alike by jsonx_parse_named, whose member name stays
 * in its buffer; jsonx_buf_str output parses back to the string.
 * Built and run by tests/fuzz/run.
 */
#include "jsonx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Container nesting of o ({} and [] 1), as jsonx_parse counts it. */
static int depth_of(struct json_object *o)
{
	int max = 0, d;

	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if ((d = depth_of(v)) > max)
				max = d;
		}
		return max + 1;
	}
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if ((d = depth_of(json_object_array_get_idx(o, i))) > max)
				max = d;
		return max + 1;
	}
	return 0;
}

/* An accepted object with its first member written twice must be refused as a duplicate. */
static void check_duplicate(struct json_object *o, int depth)
{
	struct jsonx_buf b = { 0 };
	struct json_object *again = NULL;
	const char *all;

	if (!json_object_is_type(o, json_type_object) || json_object_object_length(o) == 0)
		return;
	all = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	json_object_object_foreach(o, k, v) {
		jsonx_buf_lit(&b, "{");
		jsonx_buf_str(&b, k);
		jsonx_buf_lit(&b, ":");
		jsonx_buf_append(&b, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
				 strlen(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)));
		jsonx_buf_lit(&b, ",");
		jsonx_buf_append(&b, all + 1, strlen(all + 1));
		break;
	}
	if (jsonx_parse(b.data, b.len, depth, 1, &again) != JSONX_DUPLICATE || again != NULL)
		abort();
	jsonx_buf_free(&b);
}

static struct json_object *parse_checked(const char *buf, size_t len, int depth, int req)
{
	struct json_object *o = NULL, *again = NULL;
	enum jsonx_err e = jsonx_parse(buf, len, depth, req, &o);
	const char *s;
	size_t slen;

	if (e != JSONX_OK) {
		if (o != NULL)
			abort();
		if (e == JSONX_NUL) {
			char field[8];

			memset(field, 'x', sizeof(field));
			if (jsonx_parse_named(buf, len, depth, req, &o, field, sizeof(field)) != JSONX_NUL || o != NULL ||
			    memchr(field, '\0', sizeof(field)) == NULL)
				abort();
		}
		return NULL;
	}
	if (depth_of(o) > depth || (req && !json_object_is_type(o, json_type_object)))
		abort();
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &slen);
	if (s == NULL || jsonx_parse(s, slen, depth, req, &again) != JSONX_OK || !json_object_equal(o, again))
		abort();
	json_object_put(again);
	check_duplicate(o, depth);
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *o;
	int depth, req;
	const char *rest;

	if (size < 1)
		return 0;
	/* Bit 5 clear: production's call (JSONX_INPUT_DEPTH, an object); set: depth from the low bits. */
	depth = data[0] & 0x20 ? data[0] & 15 : JSONX_INPUT_DEPTH;
	req = data[0] & 0x20 ? (data[0] >> 4) & 1 : 1;
	rest = (const char *)data + 1;
	size--;
	o = parse_checked(rest, size, depth, req);
	json_object_put(o);
	/* Any string value the parser accepts goes back out through the answer writer. */
	o = parse_checked(rest, size, depth, 0);
	if (json_object_is_type(o, json_type_string)) {
		struct jsonx_buf buf = { 0 };
		struct json_object *back = NULL;
		const char *s = json_object_get_string(o);

		if (jsonx_buf_str(&buf, s) != 0)
			abort();
		if (jsonx_parse(buf.data, buf.len, 0, 0, &back) != JSONX_OK || strcmp(json_object_get_string(back), s) != 0)
			abort();
		json_object_put(back);
		jsonx_buf_free(&buf);
	}
	json_object_put(o);
	return 0;
}
