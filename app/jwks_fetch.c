/*
 * The JWKS fetcher: libcurl (the well-kept HTTP/TLS client Debian ships;
 * sessiond does not speak HTTP or TLS itself), one fetcher per host, the
 * document checked with jwtv and installed atomically. See jwks_fetch.h.
 */
#include "jwks_fetch.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "jwtv.h"
#include "log.h"
#include "metrics.h"
#include "signals.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* Shared by the fetcher and the workers (anonymous mapping made before fork). */
struct jwks_state {
	uint32_t req_seq;        /* bumped by a worker asking for a fetch */
	uint32_t done_seq;       /* the last req_seq the fetcher answered (fetched or refused) */
	uint32_t busy;           /* a fetch is running */
	int64_t last_fetch_ms;   /* CLOCK_MONOTONIC ms when the last fetch started; 0 = never */
};

static struct jwks_state *st;
static int wake_rd = -1, wake_wr = -1;
static int64_t next_due_ms;      /* in-process mode (workers = 1): next scheduled fetch */
static int curl_ready;
static volatile sig_atomic_t got_term, got_hup;

/* What one fetch reports for the logs: the last failure kind and the kids installed. */
static enum metrics_jwks_result last_fail = MJ_OK;
static char last_kids[512], last_skipped[512];

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int jwks_url_mode(const struct cfg *c)
{
	return c->jwks_file[0] == '\0';
}

const char *jwks_key_file(const struct cfg *c)
{
	return jwks_url_mode(c) ? c->jwks_cache_file : c->jwks_file;
}

int jwks_setup(const struct cfg *c, char *err, size_t errlen)
{
	int fds[2];
	void *p;

	if (!jwks_url_mode(c) || st != NULL)
		return 0;
	p = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "jwks: shared memory: %s", strerror(errno));
		return -1;
	}
	st = p;
	/* Workers never block on a full pipe: one pending byte is enough to wake the fetcher. */
	if (c->workers > 1) {
		if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
			snprintf(err, errlen, "jwks: pipe: %s", strerror(errno));
			return -1;
		}
		wake_rd = fds[0];
		wake_wr = fds[1];
	}
	return 0;
}

int jwks_fetcher_wanted(const struct cfg *c)
{
	return jwks_url_mode(c) && c->workers > 1 && st != NULL;
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

struct body {
	char *buf;
	size_t len;
	int over;        /* the body went past JWKS_FETCH_MAX */
	long max_age;    /* from Cache-Control; -1 = none */
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct body *b = userp;
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
	struct body *b = userp;
	size_t n = size * nitems;

	if (n > 14 && strncasecmp(data, "cache-control:", 14) == 0)
		b->max_age = jwks_max_age(data + 14, n - 14);
	return n;
}

static enum metrics_jwks_result classify(CURLcode rc, const struct body *b)
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

/*
 * GETs the JWKS into b (b->buf of JWKS_FETCH_MAX bytes) within timeout_ms.
 * Returns MJ_OK with a 200 body, else the failure kind with a message in err.
 */
static enum metrics_jwks_result fetch_doc(const struct cfg *c, long timeout_ms, struct body *b, char *err,
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

/*
 * One fetch, check and install within timeout_ms. Returns 1 when a new key
 * set was installed; *max_age gets the answer's Cache-Control max-age (-1 none).
 */
static int fetch_install(const struct cfg *c, long timeout_ms, long *max_age)
{
	struct body b = { 0 };
	struct jwtv_jwks_info info;
	enum metrics_jwks_result res;
	char err[CURL_ERROR_SIZE + 64] = "", url[1024], q[600], q2[600];
	int ok = 0;

	if (cfg_jwks_url(c, url, sizeof(url)) != 0)
		url[0] = '\0';
	b.buf = malloc(JWKS_FETCH_MAX + 1);
	if (b.buf == NULL)
		abort();
	*max_age = -1;
	res = fetch_doc(c, timeout_ms, &b, err, sizeof(err));
	if (res == MJ_OK && jwtv_jwks_check(b.buf, b.len, &info, err, sizeof(err)) != 0)
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

/* Seconds to the next scheduled fetch after one that succeeded (ok) or failed. */
static long next_interval(const struct cfg *c, int ok, long max_age)
{
	long s = c->jwks_refresh_interval;

	if (!ok)
		return c->jwks_min_refetch_interval < s ? c->jwks_min_refetch_interval : s;
	if (max_age >= 0 && max_age < s)
		s = max_age;
	return s < c->jwks_min_refetch_interval ? c->jwks_min_refetch_interval : s;
}

/* Runs one fetch recording it in the shared state; returns 1 on a new key set. */
static int fetch_now(const struct cfg *c, long timeout_ms)
{
	long max_age;
	int ok;

	STORE(&st->busy, 1);
	STORE(&st->last_fetch_ms, mono_ms());
	ok = fetch_install(c, timeout_ms, &max_age);
	STORE(&st->busy, 0);
	next_due_ms = mono_ms() + next_interval(c, ok, max_age) * 1000;
	return ok;
}

/* 1 when a kid-miss fetch may start now (none in the last jwks_min_refetch_interval). */
static int refetch_allowed(const struct cfg *c, int64_t now)
{
	int64_t last = LOAD(&st->last_fetch_ms);

	return last == 0 || now - last >= c->jwks_min_refetch_interval * 1000;
}

/* ---- the fetcher process ---------------------------------------------------------------------- */

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

int jwks_fetcher_main(const struct cfg *c)
{
	sigset_t none;
	char buf[256];

	signals_install(on_signal, on_signal);
	/* Signals are taken only inside ppoll(), never in the middle of a transfer. */
	signals_block(&none);
	if (wake_wr >= 0) {
		close(wake_wr);
		wake_wr = -1;
	}
	log_info("event=jwks_fetcher_start refresh_s=%ld min_refetch_s=%ld", c->jwks_refresh_interval,
		 c->jwks_min_refetch_interval);
	next_due_ms = 0;	/* fetch at once: the cached file may be old */
	while (!got_term) {
		struct pollfd p = { .fd = wake_rd, .events = POLLIN };
		int64_t now = mono_ms(), wait = next_due_ms - now;
		struct timespec t;
		uint32_t want;
		int force;

		if (wait > 1000)
			wait = 1000;
		if (wait < 0)
			wait = 0;
		t.tv_sec = wait / 1000;
		t.tv_nsec = (long)(wait % 1000) * 1000000;
		if (ppoll(&p, 1, &t, &none) > 0)
			while (read(wake_rd, buf, sizeof(buf)) > 0)
				;
		if (got_term)
			break;
		force = got_hup;
		got_hup = 0;
		want = LOAD(&st->req_seq);
		now = mono_ms();
		if (force || now >= next_due_ms || (want != LOAD(&st->done_seq) && refetch_allowed(c, now))) {
			if (force)
				log_info("event=jwks_refetch reason=sighup");
			fetch_now(c, c->jwks_fetch_timeout * 1000);
		}
		/* Fetched or refused by the rate limit: either way the waiting workers are answered. */
		STORE(&st->done_seq, want);
	}
	if (curl_ready)
		curl_global_cleanup();
	log_info("event=jwks_fetcher_exit");
	return 0;
}

/* ---- workers ---------------------------------------------------------------------------------- */

int jwks_kid_miss(const struct cfg *c)
{
	int64_t now, deadline;
	uint32_t seq;

	if (!jwks_url_mode(c) || st == NULL)
		return 0;
	now = mono_ms();
	if (wake_wr < 0) {
		/* workers = 1: this process is its own fetcher, bounded by the wait. */
		if (!refetch_allowed(c, now))
			return 0;
		return fetch_now(c, JWKS_WAIT_MS);
	}
	/* Rate-limited and nothing running: answer at once instead of waiting for nothing. */
	if (!LOAD(&st->busy) && !refetch_allowed(c, now))
		return 0;
	seq = __atomic_add_fetch(&st->req_seq, 1, __ATOMIC_ACQ_REL);
	if (write(wake_wr, "k", 1) < 0 && errno != EAGAIN)
		return 0;
	deadline = now + JWKS_WAIT_MS;
	while (mono_ms() < deadline) {
		struct timespec t = { 0, 5 * 1000000 };

		if ((int32_t)(LOAD(&st->done_seq) - seq) >= 0)
			return 1;
		nanosleep(&t, NULL);
	}
	return 0;
}

void jwks_tick(const struct cfg *c)
{
	if (!jwks_url_mode(c) || st == NULL || wake_wr >= 0)
		return;
	if (mono_ms() >= next_due_ms)
		fetch_now(c, c->jwks_fetch_timeout * 1000);
}

void jwks_hup(const struct cfg *c)
{
	if (jwks_url_mode(c) && st != NULL && wake_wr < 0)
		next_due_ms = 0;
}

const char *jwks_health(const struct cfg *c, size_t nkeys, time_t loaded_mtime, time_t now)
{
	if (nkeys == 0)
		return "missing";
	if (jwks_url_mode(c) && now - loaded_mtime > 2 * c->jwks_refresh_interval)
		return "stale";
	return "ok";
}

/* ---- --check-config --------------------------------------------------------------------------- */

/* Reads path (at most JWKS_FETCH_MAX bytes) into b; returns 0 or -1 with a message. */
static int read_file(const char *path, struct body *b, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");

	b->len = 0;
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	b->len = fread(b->buf, 1, JWKS_FETCH_MAX + 1, f);
	fclose(f);
	if (b->len > JWKS_FETCH_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", path, JWKS_FETCH_MAX);
		return -1;
	}
	return 0;
}

static size_t print_keys(FILE *out, const char *from, const struct body *b)
{
	struct jwtv_jwks_info info;
	char err[256];

	if (jwtv_jwks_check(b->buf, b->len, &info, err, sizeof(err)) != 0) {
		fprintf(out, "jwks: %s: %s\n", from, err);
		return 0;
	}
	/* The same lines as for a jwks_file (app_check_keys). */
	fprintf(out, "jwks: %zu key%s from %s\n", info.nkeys, info.nkeys == 1 ? "" : "s", from);
	fprintf(out, "jwks: kids %s\n", info.kids);
	if (info.nskipped > 0)
		fprintf(out, "jwks: skipped %s\n", info.skipped);
	return info.nkeys;
}

size_t jwks_check(const struct cfg *c, FILE *out)
{
	struct body b = { 0 };
	char err[CURL_ERROR_SIZE + 64] = "", url[1024], from[1100];
	size_t n = 0;

	b.buf = malloc(JWKS_FETCH_MAX + 1);
	if (b.buf == NULL)
		abort();
	if (!jwks_url_mode(c)) {
		snprintf(from, sizeof(from), "jwks_file %s", c->jwks_file);
		if (read_file(c->jwks_file, &b, err, sizeof(err)) == 0)
			n = print_keys(out, from, &b);
		else
			fprintf(out, "jwks: %s\n", err);
		goto out;
	}
	if (cfg_jwks_url(c, url, sizeof(url)) != 0)
		url[0] = '\0';
	snprintf(from, sizeof(from), "%s", url);
	if (fetch_doc(c, c->jwks_fetch_timeout * 1000, &b, err, sizeof(err)) == MJ_OK) {
		n = print_keys(out, from, &b);
	} else {
		fprintf(out, "jwks: cannot fetch %s: %s\n", url, err);
	}
	if (n == 0) {
		snprintf(from, sizeof(from), "the cached copy %s", c->jwks_cache_file);
		if (read_file(c->jwks_cache_file, &b, err, sizeof(err)) == 0)
			n = print_keys(out, from, &b);
		else
			fprintf(out, "jwks: no cached copy: %s\n", err);
	}
	if (n == 0)
		fprintf(out, "jwks: no usable key: sessiond starts, but creates answer 503 until a fetch succeeds\n");
out:
	free(b.buf);
	if (curl_ready) {
		curl_global_cleanup();
		curl_ready = 0;
	}
	return n;
}
