/*
 * Prefork process model.
 *
 * Signals never interrupt a request: workers keep SIGTERM/SIGINT/SIGHUP
 * blocked while serving (libfcgi's reads and writes do not retry on EINTR)
 * and take them only inside ppoll() on the listen socket. The listen socket
 * is non-blocking, so a worker that loses the accept race to another just
 * polls again. The master handles signals synchronously with sigtimedwait().
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "app.h"
#include "jwks_fetcher.h"
#include "lcache.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "signals.h"

static volatile sig_atomic_t got_term;
static volatile sig_atomic_t got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int listen_unix(const struct cfg *c, int *created, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	if (strlen(c->listen) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "listen: socket path too long: %s", c->listen);
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, c->listen, strlen(c->listen));
	/*
	 * Remove a stale socket left by a crash, never any other kind of file,
	 * and never a live one: unlinking the socket of a running sessiond
	 * would cut its web server off. Only a refused connection proves nobody
	 * listens there.
	 */
	if (lstat(c->listen, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "listen: %s exists and is not a socket", c->listen);
			return -1;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			snprintf(err, errlen, "listen: %s: %s", c->listen, strerror(errno));
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			snprintf(err, errlen, "another sessiond is listening on %s", c->listen);
			close(fd);
			return -1;
		}
		if (errno != ECONNREFUSED) {
			snprintf(err, errlen, "listen: %s exists and cannot be checked (%s); not removing it",
				 c->listen, strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
		unlink(c->listen);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(c->listen, (mode_t)c->listen_mode) != 0 || listen(fd, (int)c->listen_backlog) != 0) {
		snprintf(err, errlen, "listen: %s: %s", c->listen, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*created = 1;
	return fd;
}

static int listen_tcp(const struct cfg *c, char *err, size_t errlen)
{
	char host[256];
	const char *port;
	const char *colon = strrchr(c->listen, ':');
	struct addrinfo hints, *ai = NULL, *p;
	int fd = -1, one = 1, rc;
	size_t hlen;

	if (colon == NULL || colon[1] == '\0') {
		snprintf(err, errlen, "listen: expected a unix socket path or host:port, got '%s'", c->listen);
		return -1;
	}
	hlen = (size_t)(colon - c->listen);
	if (hlen >= sizeof(host)) {
		snprintf(err, errlen, "listen: host too long");
		return -1;
	}
	memcpy(host, c->listen, hlen);
	host[hlen] = '\0';
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
	}
	port = colon + 1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "listen: %s: %s", c->listen, gai_strerror(rc));
		return -1;
	}
	for (p = ai; p; p = p->ai_next) {
		fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, p->ai_addr, p->ai_addrlen) == 0 && listen(fd, (int)c->listen_backlog) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		snprintf(err, errlen, "listen: %s: %s", c->listen, strerror(errno));
	freeaddrinfo(ai);
	return fd;
}

int server_listen(const struct cfg *c, int *created_path, char *err, size_t errlen)
{
	int fd;

	*created_path = 0;
	if (c->listen[0] == '\0') {
		int type = 0, acc = 0;
		socklen_t len = sizeof(type), alen = sizeof(acc);

		/* spawn-fcgi and mod_fcgid hand over a listening socket as fd 0. */
		if (getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
		    getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) != 0 || !acc) {
			snprintf(err, errlen, "listen is empty and fd 0 is not a listening socket "
				 "(set listen, or start under spawn-fcgi or mod_fcgid)");
			return -1;
		}
		fd = 0;
	} else if (strchr(c->listen, '/')) {
		fd = listen_unix(c, created_path, err, errlen);
	} else {
		fd = listen_tcp(c, err, errlen);
	}
	if (fd >= 0 && set_nonblock(fd) != 0) {
		snprintf(err, errlen, "listen: cannot make socket non-blocking: %s", strerror(errno));
		return -1;
	}
	return fd;
}

static void install_handlers(void)
{
	signals_install(on_signal, on_signal);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Idle workers wait for a connection on the shared listening socket. With
 * plain poll every idle worker wakes for every connection and all but one
 * find nothing to accept (with 8 workers on 2 cores that herd cost more than
 * a third of the read throughput). EPOLLEXCLUSIVE wakes one idle waiter per
 * connection, as nginx does for its own workers. Returns -1 where the kernel
 * lacks it (before Linux 4.5); listen_wait() then falls back to ppoll.
 */
static int listen_waiter_open(int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = lfd };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) {
		log_warn("event=epoll_exclusive_unavailable error=%s fallback=ppoll", strerror(errno));
		close(ep);
		ep = -1;
	}
	return ep;
}

/* Waits up to 1 s for a connection with only the signals outside mask blocked; > 0 when one may be accepted. */
static int listen_wait(int ep, int lfd, const sigset_t *mask)
{
	if (ep >= 0) {
		struct epoll_event ev;

		return epoll_pwait(ep, &ev, 1, 1000, mask);
	}
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	struct timespec timeout = { 1, 0 };
	int n = ppoll(&p, 1, &timeout, mask);

	return n > 0 && (p.revents & POLLIN) ? 1 : n;
}

/* The worker loop; returns when SIGTERM/SIGINT arrived and no request is in flight. */
static int worker_main(struct cfg *c, int lfd)
{
	sigset_t none;
	FCGX_Request fr;
	struct app app;
	double last_tick = now_s();
	int unix_socket, may_close, ep;

	signals_block(&none);
	install_handlers();
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		unix_socket = getsockname(lfd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_UNIX;
	}

	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, lfd, 0) != 0) {
		log_error("event=fcgi_init_failed");
		return 1;
	}
	app_worker_init(&app, c);
	ep = listen_waiter_open(lfd);
	log_info("event=worker_ready");
	while (!got_term) {
		int n = listen_wait(ep, lfd, &none);

		if (got_hup) {
			got_hup = 0;
			app_reload(&app);
		}
		if (got_term)
			break;
		if (now_s() - last_tick >= 1.0) {
			last_tick = now_s();
			app_tick(&app);
		}
		if (n <= 0)
			continue;
		/* Another worker may win the race: EAGAIN comes back as < 0. */
		if (FCGX_Accept_r(&fr) < 0)
			continue;
		may_close = app_handle(&app, &fr);
		/*
		 * libfcgi's close shuts down the write side and then waits for the
		 * web server to close (a lingering close, up to 2 s), idling the
		 * worker for a round trip per request. On a unix socket nothing is
		 * lost by closing at once (the response stays readable by the peer)
		 * once the request body was read; a body left unread (413) still
		 * gets the lingering close, or the web server's write would fail.
		 */
		if (unix_socket && may_close)
			FCGX_Detach(&fr);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 1);
	if (ep >= 0)
		close(ep);
	app_worker_free(&app);
	log_info("event=worker_exit reason=signal");
	return 0;
}

struct slot {
	pid_t pid;
	double started;
	double respawn_at;   /* 0 = running or due now */
	double backoff;
};

enum role { ROLE_WORKER, ROLE_LISTENER, ROLE_FETCHER };

/* Forks a worker, the per-host cache's invalidation listener, or the JWKS fetcher. */
static pid_t spawn(struct cfg *c, int lfd, struct slot *s, pid_t master, enum role role)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_error("event=fork_failed error=%s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		sigset_t none;

		/* Workers die with the master instead of lingering. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != master)
			_exit(0);
		signal(SIGCHLD, SIG_DFL);
		sigemptyset(&none);
		sigaddset(&none, SIGCHLD);
		sigprocmask(SIG_UNBLOCK, &none, NULL);
		if (role == ROLE_LISTENER) {
			sigemptyset(&none);
			sigaddset(&none, SIGTERM);
			sigaddset(&none, SIGINT);
			sigprocmask(SIG_UNBLOCK, &none, NULL);
			close(lfd);
			prctl(PR_SET_NAME, "sessiond-cache");   /* tells it apart from the workers in ps */
			_exit(listener_main(c));
		}
		if (role == ROLE_FETCHER) {
			close(lfd);
			prctl(PR_SET_NAME, "sessiond-jwks");
			_exit(jwks_fetcher_main(c));
		}
		_exit(worker_main(c, lfd));
	}
	s->pid = pid;
	s->started = now_s();
	s->respawn_at = 0;
	log_info("event=%s_started worker_pid=%d",
		 role == ROLE_LISTENER ? "cache_listener" : role == ROLE_FETCHER ? "jwks_fetcher" : "worker", (int)pid);
	return pid;
}

static void describe_status(int status, char *buf, size_t n)
{
	if (WIFEXITED(status))
		snprintf(buf, n, "exit=%d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, n, "signal=%d", WTERMSIG(status));
	else
		snprintf(buf, n, "status=%d", status);
}

static enum role slot_role(int i, int listener, int fetcher)
{
	return i == listener ? ROLE_LISTENER : i == fetcher ? ROLE_FETCHER : ROLE_WORKER;
}

static int master_main(struct cfg *c, int lfd)
{
	int nworkers = (int)c->workers;
	/* One more slot for the cache listener when the per-host cache is on. */
	int listener = lcache_usable_setup() ? nworkers : -1;
	/* And one for the JWKS fetcher when the keys come from a URL. */
	int fetcher = jwks_fetcher_wanted(c) ? nworkers + (listener >= 0) : -1;
	int nslots = nworkers + (listener >= 0) + (fetcher >= 0);
	struct slot *slots = calloc((size_t)nslots, sizeof(*slots));
	sigset_t set;
	pid_t self = getpid();
	int stopping = 0, alive;
	double deadline = 0;

	if (slots == NULL)
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_info("event=master_start workers=%d", nworkers);
	for (int i = 0; i < nslots; i++)
		spawn(c, lfd, &slots[i], self, slot_role(i, listener, fetcher));

	for (;;) {
		siginfo_t info;
		struct timespec tick = { 0, 200000000 };
		int sig = sigtimedwait(&set, &info, &tick);
		double now = now_s();
		pid_t pid;
		int status;

		if (sig == SIGTERM || sig == SIGINT) {
			if (!stopping) {
				stopping = 1;
				deadline = now + (double)c->shutdown_grace;
				log_info("event=master_stopping grace_s=%ld", c->shutdown_grace);
				for (int i = 0; i < nslots; i++)
					if (slots[i].pid > 0)
						kill(slots[i].pid, SIGTERM);
			}
		} else if (sig == SIGHUP) {
			log_info("event=master_reload");
			for (int i = 0; i < nslots; i++)
				if (slots[i].pid > 0)
					kill(slots[i].pid, SIGHUP);
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (int i = 0; i < nslots; i++) {
				char how[32];

				if (slots[i].pid != pid)
					continue;
				slots[i].pid = 0;
				if (i == listener) {
					/* Nobody hears invalidations now: serve every read from PostgreSQL. */
					lcache_set_enabled(0);
					lcache_flush();
				} else {
					metrics_worker_gone(pid);
				}
				describe_status(status, how, sizeof(how));
				if (stopping) {
					log_info("event=worker_stopped worker_pid=%d %s", (int)pid, how);
					break;
				}
				/* Back off when a worker keeps dying right after start. */
				if (now - slots[i].started < 1.0)
					slots[i].backoff = slots[i].backoff ? slots[i].backoff * 2 : 0.1;
				else
					slots[i].backoff = 0;
				if (slots[i].backoff > 5.0)
					slots[i].backoff = 5.0;
				slots[i].respawn_at = now + slots[i].backoff;
				log_warn("event=worker_died worker_pid=%d %s respawn_in_s=%.1f", (int)pid, how,
					 slots[i].backoff);
			}
		}
		alive = 0;
		for (int i = 0; i < nslots; i++) {
			if (slots[i].pid > 0)
				alive++;
			else if (!stopping && now >= slots[i].respawn_at &&
				 spawn(c, lfd, &slots[i], self, slot_role(i, listener, fetcher)) > 0)
				alive++;
		}
		if (stopping && alive == 0)
			break;
		if (stopping && now > deadline) {
			for (int i = 0; i < nslots; i++)
				if (slots[i].pid > 0) {
					log_warn("event=worker_killed worker_pid=%d reason=grace_expired", (int)slots[i].pid);
					kill(slots[i].pid, SIGKILL);
				}
			deadline = now + 5;
		}
	}
	free(slots);
	log_info("event=master_exit");
	return 0;
}

int server_run(struct cfg *c, int lfd)
{
	if (c->workers <= 1)
		return worker_main(c, lfd);
	return master_main(c, lfd);
}
