/* One JWKS fetch over verified HTTPS (libcurl) and its atomic install as the key file the workers read. */
#include "jwks_fetch.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "jwk_set.h"
#include "log.h"
#include "metrics.h"

static int curl_ready;

/* What one fetch reports for the logs: the last failure kind and the kids installed. */
static enum metrics_jwks_result last_fail = MJ_OK;
static char last_kids[512], last_skipped[512];

int jwks_url_mode(const struct cfg *c)
{
	return c->jwks_file[0] == '\0';
}

const char *jwks_key_file(const struct cfg *c)
{
	return jwks_url_mode(c) ? c->jwks_cache_file : c->jwks_file;
}

long jwks_max_age(const char *value, size_t len)
{
	const char *p = value, *end = value + len;

	while (p < end) {
		const char *q;
		long n = 0;

		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		if ((size_t)(end - p) > 8 && strncasecmp(p, "max-age=", 8) == 0) {
			q = p + 8;
			if (q < end && *q == '"')
				q++;
			if (q >= end || !isdigit((unsigned char)*q))
				return -1;
			while (q < end && isdigit((unsigned char)*q)) {
				if (n < 100000000)
					n = n * 10 + (*q - '0');
				q++;
			}
			return n;
		}
		while (p < end && *p != ',')
			p++;
	}
	return -1;
}

/* ---- one fetch ------------------------------------------------------------------------------ */


static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct jwks_body *b = userp;
	size_t n = size * nmemb;

	if (b->len + n > JWKS_FETCH_MAX) {
		b->over = 1;
		return 0;	/* aborts the transfer: CURLE_WRITE_ERROR */
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	return n;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *userp)
{
	struct jwks_body *b = userp;
	size_t n = size * nitems;

	if (n > 14 && strncasecmp(data, "cache-control:", 14) == 0)
		b->max_age = jwks_max_age(data + 14, n - 14);
	return n;
}

static enum metrics_jwks_result classify(CURLcode rc, const struct jwks_body *b)
{
	switch (rc) {
	case CURLE_OK:
		return MJ_OK;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		return b->over || rc == CURLE_FILESIZE_EXCEEDED ? MJ_TOO_LARGE : MJ_NETWORK;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
		return MJ_TLS;
	default:
		return MJ_NETWORK;
	}
}

enum metrics_jwks_result jwks_fetch_doc(const struct cfg *c, long timeout_ms, struct jwks_body *b, char *err,
					  size_t errlen)
{
	char url[1024], cerr[CURL_ERROR_SIZE] = "";
	CURL *h = NULL;
	CURLcode rc;
	long status = 0;
	enum metrics_jwks_result res;

	b->len = 0;
	b->over = 0;
	b->max_age = -1;
	if (cfg_jwks_url(c, url, sizeof(url)) != 0) {
		snprintf(err, errlen, "URL too long");
		return MJ_NETWORK;
	}
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			snprintf(err, errlen, "curl_global_init failed");
			return MJ_NETWORK;
		}
		curl_ready = 1;
	}
	if ((h = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "curl_easy_init failed");
		return MJ_NETWORK;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	/* config.c allows plain http only to a loopback host (the tests' server); redirects only to https. */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, strncasecmp(url, "http://", 7) == 0 ? "http" : "https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->jwks_ca_file[0] != '\0')
		curl_easy_setopt(h, CURLOPT_CAINFO, c->jwks_ca_file);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)JWKS_FETCH_MAX);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");	/* decoded size is what the cap counts */
	curl_easy_setopt(h, CURLOPT_USERAGENT, "sessiond/" SESSIOND_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	rc = curl_easy_perform(h);
	res = classify(rc, b);
	if (res == MJ_TOO_LARGE) {
		snprintf(err, errlen, "the body is larger than %d bytes", JWKS_FETCH_MAX);
	} else if (res != MJ_OK) {
		snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200) {
			snprintf(err, errlen, "HTTP status %ld", status);
			res = MJ_HTTP_STATUS;
		}
	}
	curl_easy_cleanup(h);
	return res;
}

/* Writes buf to path atomically: a temporary file beside it, fsync, rename, fsync of the directory. */
static int write_atomic(const char *path, const char *buf, size_t len, char *err, size_t errlen)
{
	char tmp[4200], dir[4200];
	size_t off = 0;
	int fd, dfd, rc = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp)) {
		snprintf(err, errlen, "path too long");
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%.200s: %s", tmp, strerror(errno));
		return -1;
	}
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "%.200s: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		snprintf(err, errlen, "%.200s: fsync: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "%.200s: rename: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
	/* The rename itself survives a crash only once the directory is synced. */
	snprintf(dir, sizeof(dir), "%s", path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	close(fd);
	if (rc != 0)
		unlink(tmp);
	return rc;
}

static const char *result_name(enum metrics_jwks_result r)
{
	static const char *const names[MJ_COUNT] = { "ok", "network", "tls", "http_status", "too_large", "invalid" };

	return r < MJ_COUNT ? names[r] : "other";
}

int jwks_fetch_install(const struct cfg *c, long timeout_ms, long *max_age)
{
	struct jwks_body b = { 0 };
	struct jwks_info info;
	enum metrics_jwks_result res;
	char err[CURL_ERROR_SIZE + 64] = "", url[1024], q[600], q2[600];
	int ok = 0;

	if (cfg_jwks_url(c, url, sizeof(url)) != 0)
		url[0] = '\0';
	b.buf = malloc(JWKS_FETCH_MAX + 1);
	if (b.buf == NULL)
		abort();
	*max_age = -1;
	res = jwks_fetch_doc(c, timeout_ms, &b, err, sizeof(err));
	if (res == MJ_OK && jwk_set_check(b.buf, b.len, &info, err, sizeof(err)) != 0)
		res = MJ_INVALID;
	if (res == MJ_OK && write_atomic(c->jwks_cache_file, b.buf, b.len, err, sizeof(err)) != 0) {
		/* A fetch that cannot be installed keeps the old keys like any failure; the log says why. */
		log_error("event=jwks_cache_write_failed file=%s error=%s", c->jwks_cache_file,
			  log_quote(err, q, sizeof(q)));
		res = MJ_INVALID;
		snprintf(err, sizeof(err), "cannot write jwks_cache_file");
	}
	metrics_jwks_fetch(res);
	if (res != MJ_OK) {
		/* Logged once per failure streak and kind; the metrics count every one. */
		log_msg(res != last_fail ? LOGL_WARN : LOGL_DEBUG,
			"event=jwks_fetch_failed url=%s result=%s error=%s keys=kept", url, result_name(res),
			log_quote(err, q, sizeof(q)));
		last_fail = res;
		goto out;
	}
	if (last_fail != MJ_OK)
		log_info("event=jwks_fetch_recovered url=%s", url);
	last_fail = MJ_OK;
	*max_age = b.max_age;
	ok = 1;
	if (strcmp(info.kids, last_kids) != 0 || strcmp(info.skipped, last_skipped) != 0) {
		log_info("event=jwks_keys url=%s keys=%zu kids=%s", url, info.nkeys,
			 log_quote(info.kids, q, sizeof(q)));
		if (info.nskipped > 0)
			log_warn("event=jwks_keys_skipped url=%s skipped=%zu keys=%s", url, info.nskipped,
				 log_quote(info.skipped, q2, sizeof(q2)));
		snprintf(last_kids, sizeof(last_kids), "%s", info.kids);
		snprintf(last_skipped, sizeof(last_skipped), "%s", info.skipped);
	} else {
		log_debug("event=jwks_fetched url=%s keys=%zu", url, info.nkeys);
	}
out:
	free(b.buf);
	return ok;
}

void jwks_fetch_done(void)
{
	if (curl_ready) {
		curl_global_cleanup();
		curl_ready = 0;
	}
}
