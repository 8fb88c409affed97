/* Per-host shared-memory session cache with seqlocked slots. See lcache.h for the coherence rules. */
#include "lcache.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "log.h"
#include "statements.h"
#include "store.h"

struct lc_slot {
	uint32_t lock;              /* writers' spinlock */
	uint32_t seq;               /* odd while being written */
	uint64_t epoch;             /* the flush epoch it was filled in */
	struct lc_entry e;
};

struct lc_head {
	uint64_t generation;        /* bumped by every invalidation */
	uint64_t epoch;             /* bumped by every flush */
	int64_t beat;               /* listener heartbeat, unix seconds */
	uint32_t enabled;
	uint32_t nslots;
};

static struct lc_head *head;
static struct lc_slot *slots;

int lcache_setup(long entries, char *err, size_t errlen)
{
	size_t size;
	void *p;

	if (entries <= 0 || head)
		return 0;
	size = sizeof(struct lc_head) + 64 + (size_t)entries * sizeof(struct lc_slot);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "local cache: %s", strerror(errno));
		return -1;
	}
	head = p;
	head->nslots = (uint32_t)entries;
	slots = (struct lc_slot *)((char *)p + ((sizeof(struct lc_head) + 63) & ~(size_t)63));
	return 0;
}

int lcache_usable_setup(void)
{
	return head != NULL;
}

int lcache_usable(time_t now)
{
	return head && __atomic_load_n(&head->enabled, __ATOMIC_ACQUIRE) &&
	       now - __atomic_load_n(&head->beat, __ATOMIC_ACQUIRE) <= 2;
}

static struct lc_slot *slot_of(const unsigned char *hash)
{
	uint32_t h;

	memcpy(&h, hash, sizeof(h)); /* SHA-256 output: already uniform */
	return &slots[h % head->nslots];
}

static void slot_lock(struct lc_slot *s)
{
	while (__atomic_exchange_n(&s->lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&s->lock, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
	__atomic_add_fetch(&s->seq, 1, __ATOMIC_ACQ_REL);   /* odd: readers back off */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void slot_unlock(struct lc_slot *s)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_add_fetch(&s->seq, 1, __ATOMIC_RELEASE);   /* even again */
	__atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
}

/* Copies the slot under its seqlock; 0 when it changed while read or is being written. */
static int slot_read(const struct lc_slot *s, struct lc_entry *out, uint64_t *epoch)
{
	uint32_t seq1 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE), seq2;

	if (seq1 & 1)
		return 0;
	memcpy(out, &s->e, sizeof(*out));
	*epoch = s->epoch;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	seq2 = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
	return seq1 == seq2;
}

int lcache_get(const unsigned char *hash, long ttl, time_t now, struct lc_entry *out)
{
	struct lc_slot *s;
	uint64_t epoch;

	if (!lcache_usable(now))
		return 0;
	s = slot_of(hash);
	if (!slot_read(s, out, &epoch))
		return 0;
	if (epoch != __atomic_load_n(&head->epoch, __ATOMIC_ACQUIRE) || memcmp(out->hash, hash, 32) != 0)
		return 0;
	if (out->json_len == 0 || out->json_len >= LC_JSON_MAX || now - out->filled_at >= ttl ||
	    now >= out->expires_epoch)
		return 0;
	out->json[out->json_len] = '\0';
	return 1;
}

uint64_t lcache_generation(void)
{
	return head ? __atomic_load_n(&head->generation, __ATOMIC_SEQ_CST) : 0;
}

void lcache_put(const struct lc_entry *e, uint64_t gen)
{
	struct lc_slot *s;

	if (head == NULL || e->json_len == 0 || e->json_len >= LC_JSON_MAX)
		return;
	s = slot_of(e->hash);
	slot_lock(s);
	/* Under the slot lock: an invalidation after gen was read means the row may be stale. */
	if (__atomic_load_n(&head->generation, __ATOMIC_SEQ_CST) == gen) {
		s->e = *e;
		s->epoch = __atomic_load_n(&head->epoch, __ATOMIC_ACQUIRE);
	}
	slot_unlock(s);
}

void lcache_touch(const unsigned char *hash, int64_t when, const char *text)
{
	struct lc_slot *s;

	if (head == NULL)
		return;
	s = slot_of(hash);
	slot_lock(s);
	if (memcmp(s->e.hash, hash, 32) == 0 && s->e.json_len && strlen(text) == SQL_TS_LEN &&
	    s->e.la_offset + 20u <= s->e.json_len) {
		s->e.last_activity = when;
		memcpy(s->e.json + s->e.la_offset, text, SQL_TS_LEN);
	}
	slot_unlock(s);
}

static void bump(void)
{
	__atomic_add_fetch(&head->generation, 1, __ATOMIC_SEQ_CST);
}

void lcache_invalidate_hash(const unsigned char *hash)
{
	struct lc_slot *s;

	if (head == NULL)
		return;
	bump();
	s = slot_of(hash);
	slot_lock(s);
	if (memcmp(s->e.hash, hash, 32) == 0)
		s->e.json_len = 0;
	slot_unlock(s);
}

/* Clears every entry whose field (id or user_id) equals value. */
static void invalidate_matching(size_t offset, const char *value)
{
	if (head == NULL || value == NULL)
		return;
	bump();
	for (uint32_t i = 0; i < head->nslots; i++) {
		struct lc_slot *s = &slots[i];

		/* An unlocked peek first; the locked re-check decides. */
		if (s->e.json_len == 0 || strcmp((const char *)&s->e + offset, value) != 0)
			continue;
		slot_lock(s);
		if (strcmp((const char *)&s->e + offset, value) == 0)
			s->e.json_len = 0;
		slot_unlock(s);
	}
}

void lcache_invalidate_session(const char *id)
{
	invalidate_matching(offsetof(struct lc_entry, id), id);
}

void lcache_invalidate_user(const char *user_id)
{
	invalidate_matching(offsetof(struct lc_entry, user_id), user_id);
}

void lcache_flush(void)
{
	if (head == NULL)
		return;
	bump();
	__atomic_add_fetch(&head->epoch, 1, __ATOMIC_SEQ_CST);
}

void lcache_apply_notice(const char *p)
{
	if (p[0] == 's' && p[1] == ':')
		lcache_invalidate_session(p + 2);
	else if (p[0] == 'u' && p[1] == ':')
		lcache_invalidate_user(p + 2);
	else
		lcache_flush();
}

void lcache_set_enabled(int on)
{
	if (head)
		__atomic_store_n(&head->enabled, (uint32_t)on, __ATOMIC_RELEASE);
}

void lcache_heartbeat(time_t now)
{
	if (head)
		__atomic_store_n(&head->beat, (int64_t)now, __ATOMIC_RELEASE);
}

/* ---- the listener process ------------------------------------------------------------------ */

static volatile sig_atomic_t listener_stop;

static void on_term(int sig)
{
	(void)sig;
	listener_stop = 1;
}

static PGconn *listen_connect(const struct cfg *c)
{
	struct cfg direct = *c;
	char err[256], q[300];
	PGconn *conn;
	PGresult *res;

	/* LISTEN needs a session of its own: never through a transaction pooler. */
	if (c->listen_database_url[0])
		direct.database_url = c->listen_database_url;
	conn = store_connect_raw(&direct, err, sizeof(err));
	if (conn == NULL) {
		log_warn("event=cache_listener_connect_failed error=%s", log_quote(err, q, sizeof(q)));
		return NULL;
	}
	res = PQexec(conn, "LISTEN sessiond_cache");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		log_warn("event=cache_listener_listen_failed error=%s",
			 log_quote(PQresultErrorMessage(res), q, sizeof(q)));
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

int lcache_listener_main(const struct cfg *c)
{
	struct sigaction sa;
	sigset_t none;
	PGconn *conn = NULL;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&none);
	log_info("event=cache_listener_ready");
	while (!listener_stop) {
		struct pollfd p;
		struct timespec t = { 0, 250000000 };
		PGnotify *n;

		if (conn == NULL) {
			lcache_set_enabled(0);
			conn = listen_connect(c);
			if (conn == NULL) {
				struct timespec backoff = { 0, 250000000 };

				nanosleep(&backoff, NULL);
				continue;
			}
			/* Whatever changed while we were not listening is unknown: start empty. */
			lcache_flush();
			lcache_heartbeat(time(NULL));
			lcache_set_enabled(1);
			log_info("event=cache_listener_listening");
		}
		p.fd = PQsocket(conn);
		p.events = POLLIN;
		p.revents = 0;
		if (ppoll(&p, 1, &t, &none) < 0 && errno != EINTR)
			break;
		lcache_heartbeat(time(NULL));
		if (p.revents && PQconsumeInput(conn) == 0) {
			log_warn("event=cache_listener_lost");
			lcache_set_enabled(0);
			lcache_flush();
			PQfinish(conn);
			conn = NULL;
			continue;
		}
		while ((n = PQnotifies(conn)) != NULL) {
			log_debug("event=cache_invalidation kind=%c", n->extra[0]);
			lcache_apply_notice(n->extra);
			PQfreemem(n);
		}
	}
	lcache_set_enabled(0);
	if (conn)
		PQfinish(conn);
	return 0;
}
