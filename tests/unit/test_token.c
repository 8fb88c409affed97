/* Unit tests for app/token.c. */
#include "token.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

#define NTOK 4000

static int cmp_tok(const void *a, const void *b)
{
	return memcmp(a, b, TOKEN_LEN + 1);
}

static void test_generate(void)
{
	static char toks[NTOK][TOKEN_LEN + 1];
	int i, all_ok = 1, all_len = 1, dup = 0;

	for (i = 0; i < NTOK; i++) {
		memset(toks[i], 'x', sizeof toks[i]);
		if (token_generate(toks[i]) != 0)
			all_ok = 0;
		if (strlen(toks[i]) != TOKEN_LEN || !token_shape_ok(toks[i], TOKEN_LEN))
			all_len = 0;
	}
	CHECK_MSG(all_ok, "token_generate returns 0 for 4000 tokens");
	CHECK_MSG(all_len, "4000 generated tokens are 43 chars and pass token_shape_ok");
	qsort(toks, NTOK, sizeof toks[0], cmp_tok);
	for (i = 1; i < NTOK; i++)
		if (memcmp(toks[i - 1], toks[i], TOKEN_LEN) == 0)
			dup++;
	CHECK_MSG(dup == 0, "4000 generated tokens are pairwise distinct");

	/* Every alphabet character should show up somewhere in 4000*43 chars. */
	{
		int seen[256] = {0}, missing = 0, j;
		const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		for (i = 0; i < NTOK; i++)
			for (j = 0; j < TOKEN_LEN; j++)
				seen[(unsigned char)toks[i][j]] = 1;
		for (j = 0; alpha[j]; j++)
			if (!seen[(unsigned char)alpha[j]])
				missing++;
		CHECK_MSG(missing == 0, "generated tokens use the whole base64url alphabet");
	}
}

static void test_shape(void)
{
	static const struct {
		size_t pos;
		char c;
		int ok;
		const char *what;
	} edits[] = {
		{ TOKEN_LEN - 1, '=', 0, "'=' rejected" },
		{ 5, '+', 0, "'+' rejected" },
		{ 7, '/', 0, "'/' rejected" },
		{ 0, (char)0xc3, 0, "non-ASCII byte rejected" },
		{ 20, '\0', 0, "embedded NUL rejected" },
		{ 20, ' ', 0, "space rejected" },
		{ TOKEN_LEN - 1, 'B', 0, "last char with non-zero low bits rejected (B)" },   /* value 1: a low bit set */
		{ TOKEN_LEN - 1, '_', 0, "last char with non-zero low bits rejected (_)" },   /* value 63 */
		{ TOKEN_LEN - 1, 'E', 1, "last char with zero low bits accepted (E)" },       /* value 4: low bits zero */
	};
	char t[TOKEN_LEN + 2];
	char good[TOKEN_LEN + 1];

	CHECK(token_generate(good) == 0);
	CHECK(token_shape_ok(good, TOKEN_LEN) == 1);
	CHECK(token_shape_ok("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 43) == 1);
	CHECK(token_shape_ok("_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-8", 43) == 1);
	CHECK(token_shape_ok(good, TOKEN_LEN - 1) == 0);
	CHECK(token_shape_ok(NULL, TOKEN_LEN) == 0);
	CHECK(token_shape_ok("", 0) == 0);

	memcpy(t, good, TOKEN_LEN);
	t[TOKEN_LEN] = 'A';
	t[TOKEN_LEN + 1] = '\0';
	CHECK_MSG(token_shape_ok(t, TOKEN_LEN + 1) == 0, "44 chars rejected");

	/* One byte of a good token changed: position, byte, and whether the shape still holds. */
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		memcpy(t, good, TOKEN_LEN + 1);
		t[edits[i].pos] = edits[i].c;
		CHECK_MSG(token_shape_ok(t, TOKEN_LEN) == edits[i].ok, edits[i].what);
	}
}

static void test_hash(void)
{
	unsigned char h[TOKEN_HASH_LEN], h2[TOKEN_HASH_LEN];
	char hex[2 * TOKEN_HASH_LEN + 1];

	token_hash("abc", 3, h);
	token_hex(h, sizeof h, hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	token_hash("", 0, h);
	token_hex(h, sizeof h, hex);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	token_hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, h);
	token_hex(h, sizeof h, hex);
	CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* Length is honoured, not strlen. */
	token_hash("abcdef", 3, h2);
	token_hash("abc", 3, h);
	CHECK(memcmp(h, h2, sizeof h) == 0);

	{
		unsigned char in[3] = {0x00, 0xab, 0xff};
		char out[7];
		token_hex(in, 3, out);
		CHECK_STR(out, "00abff");
		token_hex(in, 0, out);
		CHECK_STR(out, "");
	}
}

static void test_b64(void)
{
	unsigned char in[41], back[41];
	char enc[4 * 14 + 1];
	int n, bad = 0, badlen = 0;

	for (n = 0; n < 41; n++)
		in[n] = (unsigned char)(n * 37 + 250);
	for (n = 0; n <= 40; n++) {
		size_t el = token_b64url_encode(in, (size_t)n, enc);
		long dl;
		if (el != strlen(enc) || el != ((size_t)n * 4 + 2) / 3)
			badlen++;
		memset(back, 0, sizeof back);
		dl = token_b64url_decode(enc, el, back, sizeof back);
		if (dl != n || memcmp(in, back, (size_t)n) != 0)
			bad++;
		if (strchr(enc, '=') || strchr(enc, '+') || strchr(enc, '/'))
			bad++;
	}
	CHECK_MSG(badlen == 0, "b64url_encode lengths are ceil(4n/3) for n = 0..40");
	CHECK_MSG(bad == 0, "b64url round trips for n = 0..40");

	/* RFC 4648 vectors, url alphabet, no padding. */
	token_b64url_encode((const unsigned char *)"foobar", 6, enc);
	CHECK_STR(enc, "Zm9vYmFy");
	token_b64url_encode((const unsigned char *)"fo", 2, enc);
	CHECK_STR(enc, "Zm8");
	token_b64url_encode((const unsigned char *)"\xfb\xff\xbf", 3, enc);
	CHECK_STR(enc, "-_-_");
	token_b64url_encode((const unsigned char *)"", 0, enc);
	CHECK_STR(enc, "");

	CHECK(token_b64url_decode("-_-_", 4, back, sizeof back) == 3 && memcmp(back, "\xfb\xff\xbf", 3) == 0);
	CHECK(token_b64url_decode("Zm8", 3, back, sizeof back) == 2 && memcmp(back, "fo", 2) == 0);
	CHECK(token_b64url_decode("", 0, back, sizeof back) == 0);
	CHECK(token_b64url_decode("Zm8=", 4, back, sizeof back) == -1);
	CHECK(token_b64url_decode("+/+/", 4, back, sizeof back) == -1);
	CHECK(token_b64url_decode("Zm9vY", 5, back, sizeof back) == -1);
	CHECK(token_b64url_decode("Zm\0v", 4, back, sizeof back) == -1);
	CHECK(token_b64url_decode("Zm9vYmFy", 8, back, 5) == -1);
	CHECK(token_b64url_decode("Zm9vYmFy", 8, back, 6) == 6);
	CHECK(token_b64url_decode("Zm9", 3, back, 1) == -1);
}

static void test_ct(void)
{
	CHECK(token_ct_equal("abcd", "abcd", 4) == 1);
	CHECK(token_ct_equal("abcd", "abce", 4) == 0);
	CHECK(token_ct_equal("xbcd", "abcd", 4) == 0);
	CHECK(token_ct_equal("abcd", "abce", 3) == 1);
	CHECK(token_ct_equal("", "", 0) == 1);
}

int main(void)
{
	test_generate();
	test_shape();
	test_hash();
	test_b64();
	test_ct();
	return check_done();
}
