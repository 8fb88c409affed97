/*
 * The one JSON policy for outside input (request bodies, JWT headers and
 * claims, JWKS), and the response writers' buffer. json-c 0.16's strict mode
 * still accepts single quotes, NaN, Infinity, control characters in strings,
 * surrogates and overlong UTF-8, silently saturates huge integers and keeps
 * the last of repeated member names, so a small RFC 8259 scanner checks the
 * input first; json-c then only builds the tree.
 */
#include "jsonx.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct scan {
	const unsigned char *p, *end;
	int max_depth;
	const unsigned char *member;    /* opening quote of the top-level member's key being scanned, or NULL */
	const unsigned char *nul_member; /* that key when an escaped NUL was found */
	size_t members;                 /* object members seen, duplicates included */
};

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Length (1..4) of the well-formed UTF-8 sequence at p[0..avail), or 0. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && is_ws(*s->p))
		s->p++;
}

static enum jsonx_err scan_string(struct scan *s)
{
	s->p++; /* opening quote */
	while (s->p < s->end) {
		unsigned char c = *s->p;
		if (c == '"') {
			s->p++;
			return JSONX_OK;
		}
		if (c < 0x20)
			return JSONX_SYNTAX;
		if (c == '\\') {
			if (s->end - s->p < 2)
				return JSONX_SYNTAX;
			c = s->p[1];
			if (c == 'u') {
				int i;
				if (s->end - s->p < 6)
					return JSONX_SYNTAX;
				for (i = 2; i < 6; i++)
					if (!is_hex(s->p[i]))
						return JSONX_SYNTAX;
				/* json-c cuts keys at a NUL and PostgreSQL refuses it in jsonb: refuse it here. */
				if (memcmp(s->p + 2, "0000", 4) == 0) {
					s->nul_member = s->member;
					return JSONX_NUL;
				}
				s->p += 6;
			} else if (strchr("\"\\/bfnrt", c) != NULL && c != '\0') {
				s->p += 2;
			} else {
				return JSONX_SYNTAX;
			}
			continue;
		}
		{
			size_t n = utf8_len(s->p, (size_t)(s->end - s->p));
			if (n == 0)
				return JSONX_SYNTAX;
			s->p += n;
		}
	}
	return JSONX_SYNTAX;
}

/* Digit string d[0..n) (no leading zeros) compared with the decimal limit lim. */
static int digits_le(const unsigned char *d, size_t n, const char *lim)
{
	size_t ln = strlen(lim);

	if (n != ln)
		return n < ln;
	return memcmp(d, lim, n) <= 0;
}

static enum jsonx_err scan_number(struct scan *s)
{
	const unsigned char *ds;
	size_t nd;
	int neg = 0, integral = 1;

	if (*s->p == '-') {
		neg = 1;
		s->p++;
	}
	ds = s->p;
	if (s->p >= s->end || !is_digit(*s->p))
		return JSONX_SYNTAX;
	if (*s->p == '0') {
		s->p++;
	} else {
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
	}
	nd = (size_t)(s->p - ds);
	if (s->p < s->end && *s->p == '.') {
		integral = 0;
		s->p++;
		if (s->p >= s->end || !is_digit(*s->p))
			return JSONX_SYNTAX;
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		integral = 0;
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (s->p >= s->end || !is_digit(*s->p))
			return JSONX_SYNTAX;
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
	}
	/* json-c saturates integers it cannot hold; refuse them instead. */
	if (integral && !digits_le(ds, nd, neg ? "9223372036854775808" : "18446744073709551615"))
		return JSONX_SYNTAX;
	return JSONX_OK;
}

static enum jsonx_err scan_literal(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return JSONX_SYNTAX;
	s->p += n;
	return JSONX_OK;
}

static enum jsonx_err scan_value(struct scan *s, int depth);

/* Object or array at s->p; depth is the nesting of the container being opened. */
static enum jsonx_err scan_container(struct scan *s, int depth)
{
	unsigned char close = *s->p == '{' ? '}' : ']';
	enum jsonx_err e;

	if (depth > s->max_depth)
		return JSONX_TOO_DEEP;
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return JSONX_OK;
	}
	for (;;) {
		if (close == '}') {
			if (s->p >= s->end || *s->p != '"')
				return JSONX_SYNTAX;
			if (depth == 1)
				s->member = s->p;
			s->members++;
			if ((e = scan_string(s)) != JSONX_OK)
				return e;
			skip_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return JSONX_SYNTAX;
			s->p++;
			skip_ws(s);
		}
		if ((e = scan_value(s, depth)) != JSONX_OK)
			return e;
		skip_ws(s);
		if (s->p >= s->end)
			return JSONX_SYNTAX;
		if (*s->p == close) {
			s->p++;
			return JSONX_OK;
		}
		if (*s->p != ',')
			return JSONX_SYNTAX;
		s->p++;
		skip_ws(s);
	}
}

/* One value at s->p (no leading whitespace) inside containers nested depth deep. */
static enum jsonx_err scan_value(struct scan *s, int depth)
{
	if (s->p >= s->end)
		return JSONX_SYNTAX;
	switch (*s->p) {
	case '{':
	case '[':
		return scan_container(s, depth + 1);
	case '"':
		return scan_string(s);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		if (*s->p == '-' || is_digit(*s->p))
			return scan_number(s);
		return JSONX_SYNTAX;
	}
}

/*
 * 1 when every double in obj is finite (json-c turns 1e400 into inf); adds
 * the members of its objects to *members. json-c keeps one member per name,
 * so fewer than the scanner saw means a name was repeated.
 */
static int tree_ok(struct json_object *obj, size_t *members)
{
	switch (json_object_get_type(obj)) {
	case json_type_double:
		return isfinite(json_object_get_double(obj));
	case json_type_object: {
		*members += (size_t)json_object_object_length(obj);
		json_object_object_foreach(obj, key, val) {
			(void)key;
			if (!tree_ok(val, members))
				return 0;
		}
		return 1;
	}
	case json_type_array: {
		size_t i, n = json_object_array_length(obj);
		for (i = 0; i < n; i++)
			if (!tree_ok(json_object_array_get_idx(obj, i), members))
				return 0;
		return 1;
	}
	default:
		return 1;
	}
}

/* Copies the raw text of the JSON string literal at q (its opening quote) into field, truncated to cap. */
static void raw_key(const unsigned char *q, const unsigned char *end, char *field, size_t cap)
{
	size_t n = 0;

	if (cap == 0)
		return;
	for (q++; q < end && *q != '"' && n + 1 < cap; q++) {
		if (*q == '\\' && q + 1 < end && n + 2 < cap)
			field[n++] = (char)*q++;
		else if (*q == '\\')
			break;
		field[n++] = *q < 0x80 ? (char)*q : '?'; /* keeps the text ASCII whatever the cut */
	}
	field[n] = '\0';
}

enum jsonx_err jsonx_parse(const char *buf, size_t len, int max_depth, int require_object, struct json_object **out)
{
	return jsonx_parse_named(buf, len, max_depth, require_object, out, NULL, 0);
}

/* JSONX_OK with a new reference in *out (caller puts), or an error with *out NULL. */
enum jsonx_err jsonx_parse_named(const char *buf, size_t len, int max_depth, int require_object,
				 struct json_object **out, char *field, size_t cap)
{
	struct scan s;
	struct json_tokener *tok = NULL;
	struct json_object *obj = NULL;
	enum jsonx_err err;

	*out = NULL;
	if (buf == NULL || len > INT32_MAX)
		return JSONX_SYNTAX;
	if (max_depth < 0)
		max_depth = 0;
	if (max_depth > JSONX_DEPTH_CAP)
		max_depth = JSONX_DEPTH_CAP;
	s.p = (const unsigned char *)buf;
	s.end = s.p + len;
	s.max_depth = max_depth;
	s.member = s.nul_member = NULL;
	s.members = 0;
	if (field && cap)
		field[0] = '\0';
	skip_ws(&s);
	if ((err = scan_value(&s, 0)) != JSONX_OK) {
		if (err == JSONX_NUL && s.nul_member && field)
			raw_key(s.nul_member, s.end, field, cap);
		return err;
	}
	skip_ws(&s);
	if (s.p != s.end)
		return JSONX_SYNTAX;

	/* json-c counts the innermost scalar as a level too, hence +1. */
	tok = json_tokener_new_ex(max_depth + 1);
	if (tok == NULL)
		return JSONX_SYNTAX;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	if (obj == NULL && json_tokener_get_error(tok) == json_tokener_continue)
		obj = json_tokener_parse_ex(tok, "", 1); /* a bare number or literal ends at end of input */
	switch (json_tokener_get_error(tok)) {
	case json_tokener_success:
		err = JSONX_OK;
		break;
	case json_tokener_error_depth:
		err = JSONX_TOO_DEEP;
		break;
	default:
		err = JSONX_SYNTAX;
		break;
	}
	json_tokener_free(tok);
	if (err == JSONX_OK) {
		size_t members = 0;

		if (!tree_ok(obj, &members))
			err = JSONX_SYNTAX;
		else if (members != s.members)
			err = JSONX_DUPLICATE;
	}
	if (err == JSONX_OK && require_object && !json_object_is_type(obj, json_type_object))
		err = JSONX_NOT_OBJECT;
	if (err != JSONX_OK) {
		json_object_put(obj);
		return err;
	}
	*out = obj;
	return JSONX_OK;
}

/* Room for need more bytes plus a NUL; 0 or -1 on ENOMEM/overflow. */
static int reserve(struct jsonx_buf *b, size_t need)
{
	size_t cap;
	char *p;

	if (need > SIZE_MAX - b->len - 1)
		goto nomem;
	if (b->len + need + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < b->len + need + 1) {
		if (cap > SIZE_MAX / 2) {
			cap = b->len + need + 1;
			break;
		}
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (p == NULL)
		goto nomem;
	b->data = p;
	b->cap = cap;
	return 0;
nomem:
	errno = ENOMEM;
	return -1;
}

/* 0, or -1 on ENOMEM with b unchanged. */
int jsonx_buf_append(struct jsonx_buf *b, const char *s, size_t n)
{
	if (reserve(b, n) != 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* 0, or -1 on ENOMEM. */
int jsonx_buf_str(struct jsonx_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p, *run;
	size_t avail;

	if (s == NULL)
		return jsonx_buf_lit(b, "null");
	if (jsonx_buf_append(b, "\"", 1) != 0)
		return -1;
	avail = strlen(s);
	p = run = (const unsigned char *)s;
	while (avail > 0) {
		char esc[7];
		size_t elen = 0, n;

		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			elen = 2;
			n = 1;
		} else if (*p < 0x20) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			elen = 6;
			n = 1;
		} else if ((n = utf8_len(p, avail)) == 0) {
			memcpy(esc, "\xef\xbf\xbd", 3); /* U+FFFD for one bad byte */
			elen = 3;
			n = 1;
		}
		if (elen) {
			if (jsonx_buf_append(b, (const char *)run, (size_t)(p - run)) != 0 ||
			    jsonx_buf_append(b, esc, elen) != 0)
				return -1;
			run = p + n;
		}
		p += n;
		avail -= n;
	}
	if (jsonx_buf_append(b, (const char *)run, (size_t)(p - run)) != 0)
		return -1;
	return jsonx_buf_append(b, "\"", 1);
}

/* Frees the buffer's storage; b can be reused after. */
void jsonx_buf_free(struct jsonx_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
