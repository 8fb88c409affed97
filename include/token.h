/*
 * Opaque session tokens: generation from OpenSSL's CSPRNG, shape checks done
 * before any store access, SHA-256 hashing for storage, base64url and
 * constant-time comparison. Nothing here logs or stores a token.
 */
#ifndef SESSIOND_TOKEN_H
#define SESSIOND_TOKEN_H

#include <stddef.h>

#define TOKEN_RAW_BYTES 32   /* 256 bits from RAND_bytes */
#define TOKEN_LEN 43         /* base64url without padding */
#define TOKEN_HASH_LEN 32    /* SHA-256 */

/*
 * Fills out[TOKEN_LEN+1] with a fresh NUL-terminated token from OpenSSL's CSPRNG. 0 on success, -1
 * if the RNG fails (out is then an empty string).
 */
int token_generate(char *out);

/*
 * 1 when s[0..len) has exactly TOKEN_LEN base64url characters ([A-Za-z0-9_-]) and decodes to 32
 * bytes (the last char must carry zero low bits), else 0. Never touches a store.
 */
int token_shape_ok(const char *s, size_t len);

/* SHA-256 of s[0..len) into out[TOKEN_HASH_LEN]. */
void token_hash(const char *s, size_t len, unsigned char *out);

/* Lower-case hex of in[0..n) into out[2*n+1], NUL-terminated. */
void token_hex(const unsigned char *in, size_t n, char *out);

/* base64url without padding; returns bytes written to out (out needs 4*ceil(n/3)+1), NUL-terminates. */
size_t token_b64url_encode(const unsigned char *in, size_t n, char *out);

/*
 * Decodes base64url without padding ('=' is rejected); returns the decoded length, or -1 on a bad
 * alphabet, an impossible length (n % 4 == 1) or when outcap is too small. Leftover low bits of the
 * last character are ignored (token_shape_ok checks them).
 */
long token_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outcap);

/* 0..63 for a base64url character, -1 otherwise (including NUL and non-ASCII). */
int token_b64url_value(unsigned char c);

/* Constant-time equality of two n-byte buffers (CRYPTO_memcmp). 1 equal, 0 not. */
int token_ct_equal(const void *a, const void *b, size_t n);

#endif
