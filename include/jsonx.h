/*
 * The one JSON policy for outside input over json-c: a strict parser front
 * end (RFC 8259 grammar, UTF-8, depth, number-range and duplicate-name checks
 * before and after json-c builds the tree), and a growing buffer with a
 * string escaper for the fast response writers. Request bodies, JWT headers
 * and claims and JWKS documents all go through jsonx_parse.
 *
 * json-c represents JSON null as a NULL pointer; every function here takes
 * NULL to mean null.
 */
#ifndef SESSIOND_JSONX_H
#define SESSIOND_JSONX_H

#include <json-c/json.h>
#include <stddef.h>

/* The nesting outside input may have: request bodies, JWT headers and claim sets, JWKS documents. */
#define JSONX_INPUT_DEPTH 16

/* Upper bound applied to jsonx_parse's max_depth (keeps json-c's recursive serializer and free safe). */
#define JSONX_DEPTH_CAP 1000

enum jsonx_err { JSONX_OK = 0, JSONX_SYNTAX, JSONX_TOO_DEEP, JSONX_NOT_OBJECT, JSONX_NUL, JSONX_DUPLICATE };

/*
 * Parses buf[0..len) strictly: exactly one RFC 8259 value with optional surrounding whitespace
 * (space, tab, CR, LF); no NUL bytes, no control characters in strings, valid UTF-8 (no overlongs,
 * surrogates or > U+10FFFF), no NaN/Infinity/single quotes/leading zeros/trailing commas, and no
 * number json-c cannot hold (an integer outside [-2^63, 2^64-1] or a value overflowing a double),
 * all JSONX_SYNTAX. Container nesting ({} and [] 1, {"a":[]} 2) above max_depth (clamped to
 * 0..JSONX_DEPTH_CAP) is JSONX_TOO_DEEP. An escaped NUL (\\u0000) in any key or string is JSONX_NUL
 * (json-c would cut a key at it, PostgreSQL refuses it in jsonb). A member name repeated in one
 * object (after unescaping: "a" and "\\u0061" are the same name) is JSONX_DUPLICATE: json-c would
 * keep the last, a reader of the text may take the first. When require_object, a non-object
 * is JSONX_NOT_OBJECT. On JSONX_OK *out holds a new reference (NULL for the literal null; caller
 * json_object_put); otherwise *out is NULL.
 */
enum jsonx_err jsonx_parse(const char *buf, size_t len, int max_depth, int require_object, struct json_object **out);

/*
 * jsonx_parse that, on JSONX_NUL, also names the top-level object member holding the NUL: the raw
 * text of its key (escapes as written, truncated to cap - 1 bytes) in field, or "" when the NUL is
 * not inside a member of a top-level object. field may be NULL.
 */
enum jsonx_err jsonx_parse_named(const char *buf, size_t len, int max_depth, int require_object,
				 struct json_object **out, char *field, size_t cap);

/*
 * A growing output buffer; start from {0}. data is NUL-terminated after every successful append
 * (not part of len). Free with jsonx_buf_free.
 */
struct jsonx_buf { char *data; size_t len, cap; };

/* Appends n raw bytes; 0, or -1 on ENOMEM (b unchanged). */
int jsonx_buf_append(struct jsonx_buf *b, const char *s, size_t n);

/* Appends a string literal (its length counted by the compiler). */
#define jsonx_buf_lit(b, lit) jsonx_buf_append((b), "" lit, sizeof(lit) - 1)

/*
 * Appends s as a JSON string literal: quotes, \" and \\ escaped, control characters as \u00XX, '/'
 * not escaped, invalid UTF-8 replaced by U+FFFD; s NULL appends null. 0, or -1 on ENOMEM (b may
 * hold a partial literal).
 */
int jsonx_buf_str(struct jsonx_buf *b, const char *s);

/* Frees b->data and resets b to empty; b itself is the caller's. */
void jsonx_buf_free(struct jsonx_buf *b);

#endif
