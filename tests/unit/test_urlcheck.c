/* Unit tests for app/urlcheck.c: the JWKS URL rule on libcurl's own parse of the URL. */
#include <string.h>

#include "urlcheck.h"
#include "check.h"

static int ok(const char *url)
{
	char err[128];

	return urlcheck_jwks(url, err, sizeof(err)) == 0;
}

int main(void)
{
	char err[128];

	CHECK_MSG(ok("https://tenant.eu.auth0.com/.well-known/jwks.json"), "https to any host");
	CHECK_MSG(ok("HTTPS://tenant.example/k"), "the scheme in capitals");
	CHECK_MSG(ok("http://127.0.0.1:8443/k"), "plain http to 127.0.0.1");
	CHECK_MSG(ok("http://127.8.9.10/k"), "plain http to another 127/8 address");
	CHECK_MSG(ok("http://[::1]:9000/k"), "plain http to [::1]");
	CHECK_MSG(ok("http://localhost/k"), "plain http to localhost");

	/* The issue-25 probe: a prefix check saw 127.0.0.1, libcurl connects to other.host. */
	CHECK_MSG(!ok("http://127.0.0.1:80@other.host/jwks.json"), "http://127.0.0.1:80@other.host is refused");
	CHECK_MSG(!ok("http://127.0.0.1@other.host/jwks.json"), "http://127.0.0.1@other.host is refused");
	CHECK_MSG(!ok("http://localhost:x@evil.example/k"), "http://localhost:x@evil.example is refused");
	CHECK_MSG(!ok("https://user:pw@tenant.example/k"), "userinfo is refused with https too");
	CHECK_MSG(!ok("https://user@tenant.example/k"), "a user name alone is refused");
	urlcheck_jwks("https://u:p@tenant.example/k", err, sizeof(err));
	CHECK_MSG(strstr(err, "user information") != NULL, "the reason names the user information");

	CHECK_MSG(!ok("http://127.0.0.1.evil/k"), "a host that only starts like a loopback address");
	CHECK_MSG(!ok("http://issuer.example/k"), "plain http to a remote host");
	CHECK_MSG(!ok("http://10.0.0.1/k"), "plain http to a private (not loopback) address");
	CHECK_MSG(!ok("http://[2001:db8::1]/k"), "plain http to a remote IPv6 host");
	CHECK_MSG(!ok("ftp://x/k"), "ftp");
	CHECK_MSG(!ok("file:///etc/passwd"), "file:");
	CHECK_MSG(!ok("https://"), "no host");
	CHECK_MSG(!ok("not a url"), "not a URL");
	CHECK_MSG(!ok(""), "empty");
	return check_done();
}
