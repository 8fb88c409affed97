/*
 * Session tokens: 256 random bits, base64url, stored only as SHA-256.
 */
#include "token.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <string.h>

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int token_b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Returns the number of characters written (without the NUL); out is NUL-terminated. */
size_t token_b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i = 0, o = 0;

	for (; i + 3 <= n; i += 3) {
		unsigned long v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (n - i == 1) {
		unsigned long v = (unsigned long)in[i] << 16;
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
	} else if (n - i == 2) {
		unsigned long v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8;
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

/* Decoded length, or -1 on bad input or too small a buffer. Nothing is allocated. */
long token_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outcap)
{
	size_t rem = n % 4, need = n / 4 * 3 + (rem ? rem - 1 : 0), i, o = 0;
	unsigned long v = 0;
	int bits = 0;

	if (rem == 1 || need > outcap || need > (size_t)(((unsigned long)-1) >> 1))
		return -1;
	for (i = 0; i < n; i++) {
		int d = token_b64url_value((unsigned char)in[i]);
		if (d < 0)
			return -1;
		v = (v << 6 | (unsigned long)d) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	/* Leftover bits (2 or 4) are dropped; token_shape_ok insists they are zero. */
	return (long)o;
}

/* 0, or -1 when the CSPRNG fails; the raw bytes are wiped either way. */
int token_generate(char *out)
{
	unsigned char raw[TOKEN_RAW_BYTES];

	if (RAND_bytes(raw, sizeof raw) != 1) {
		OPENSSL_cleanse(raw, sizeof raw);
		out[0] = '\0';
		return -1;
	}
	token_b64url_encode(raw, sizeof raw, out);
	OPENSSL_cleanse(raw, sizeof raw);
	return 0;
}

/* 1 for a well-formed token shape, 0 otherwise. */
int token_shape_ok(const char *s, size_t len)
{
	size_t i;
	int d = 0;

	if (s == NULL || len != TOKEN_LEN)
		return 0;
	for (i = 0; i < len; i++) {
		d = token_b64url_value((unsigned char)s[i]);
		if (d < 0)
			return 0;
	}
	/* 43 characters carry 258 bits; the last two must be zero for 32 bytes. */
	return (d & 3) == 0;
}

/* Writes TOKEN_HASH_LEN bytes to out; allocates nothing. */
void token_hash(const char *s, size_t len, unsigned char *out)
{
	SHA256((const unsigned char *)s, len, out);
}

/* Writes 2*n hex digits and a NUL to out. */
void token_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* 1 when equal, 0 otherwise, in time independent of the contents. */
int token_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
